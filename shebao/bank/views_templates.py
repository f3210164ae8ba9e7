"""银行模板 editing: add or change a template's definition (JSON, checked by the engine), preview it as
a sample file from a chosen run with the byte widths of every field, and list a template's versions.
Thin: a form, ``bank_template_preview`` (writes nothing) or one service (``bank_template_save``:
versioned, audited), render. Reviewers (county-wide) edit; the versions list is read by everyone who
reads the bank pages."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from shebao.bank.formats import BankFileError, TemplateError, builtin_definition
from shebao.bank.models import BankTemplate, BankTemplateVersion
from shebao.bank.preview import bank_template_preview
from shebao.bank.services import BankError, bank_template_save
from shebao.bank.views_banks import BANKS_VIEW
from shebao.common.masking import masker_for
from shebao.common.policy import rule
from shebao.payroll.models import PayrollRun
from shebao.web.guards import page

TEMPLATE_EDIT = rule("accounts.review", county=True, note="审核员（全市范围）维护银行模板")
RECENT_RUNS = 30


def _run_choices():
    runs = PayrollRun.objects.select_related("scheme").order_by("-id")[:RECENT_RUNS]
    return [("", "—")] + [(r.pk, f"#{r.pk} {r}") for r in runs]


class TemplateForm(forms.Form):
    code = forms.RegexField(label=_l("模板代码"), regex=r"^[a-z][a-z0-9_]{1,29}$", max_length=30,
                            help_text=_l("小写字母、数字、下划线，如 icbc_fixed；保存后不能修改"))
    name = forms.CharField(label=_l("名称"), max_length=100)
    definition = forms.CharField(label=_l("定义（JSON）"), widget=forms.Textarea(attrs={"rows": 24, "class": "mono"}),
                                 help_text=_l("格式说明见 README“银行模板”一节及 shebao/bank/formats/__init__.py"))
    active = forms.BooleanField(label=_l("启用"), required=False, initial=True)
    note = forms.CharField(label=_l("修改说明"), max_length=200, required=False)
    run = forms.TypedChoiceField(label=_l("预览用结算批次"), coerce=int, required=False, empty_value=None,
                                 choices=_run_choices)

    def clean_definition(self):
        try:
            value = json.loads(self.cleaned_data["definition"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("不是有效的 JSON：第 %(l)s 行第 %(c)s 列 %(m)s") % {
                "l": exc.lineno, "c": exc.colno, "m": exc.msg}) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("定义须为 JSON 对象"))
        return value


def _crumbs(*items):
    return [(_("银行专线接口"), reverse("bank:file_list")), (_("银行模板"), reverse("bank:templates")), *items]


def _edit(request, template: BankTemplate | None):
    if template is None:
        initial = {"definition": json.dumps(builtin_definition("standard"), ensure_ascii=False, indent=2),
                   "active": True}
    else:
        initial = {"code": template.code, "name": template.name, "active": template.active,
                   "definition": json.dumps(template.definition, ensure_ascii=False, indent=2)}
    data = None
    if request.method == "POST":
        data = request.POST.copy()
        if template is not None:
            data["code"] = template.code  # the key never changes
    form = TemplateForm(data, initial=initial)
    if template is not None:
        form.fields["code"].disabled = True
    preview = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        definition = {**d["definition"], "code": d["code"], "name": d["name"]}
        if request.POST.get("action") == "preview":
            run = PayrollRun.objects.filter(pk=d["run"]).first() if d["run"] else None
            if run is None:
                form.add_error("run", _("请选择一个结算批次用于预览"))
            else:
                try:
                    preview = bank_template_preview(definition=definition, run=run, masker=masker_for(request.user))
                except (TemplateError, BankFileError) as exc:
                    form.add_error(None, str(exc))
        else:
            try:
                saved = bank_template_save(code=d["code"], definition=definition, name=d["name"], user=request.user,
                                           active=d["active"], note=d["note"], create=template is None)
            except BankError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("已保存银行模板 %(code)s（当前版本 %(v)s）") % {
                    "code": saved.code, "v": saved.version})
                return redirect("bank:template_versions", code=saved.code)
    files_with_current = (template.files.filter(template_version__version=template.version).count()
                          if template is not None else 0)
    return render(request, "bank/template_form.html", {
        "form": form, "template": template, "preview": preview, "files_with_current": files_with_current,
        "breadcrumbs": _crumbs((template.code if template else _("新增"), ""))})


@page(TEMPLATE_EDIT)
def template_add(request):
    return _edit(request, None)


@page(TEMPLATE_EDIT)
def template_edit(request, code: str):
    template = BankTemplate.objects.filter(code=code).first()
    if template is None:
        raise Http404(_("银行模板不存在"))
    return _edit(request, template)


@page(BANKS_VIEW)
def template_versions(request, code: str):
    template = BankTemplate.objects.filter(code=code).first()
    if template is None:
        raise Http404(_("银行模板不存在"))
    versions = (BankTemplateVersion.objects.filter(template=template).select_related("created_by")
                .annotate(n_files=Count("files")).order_by("-version"))
    rows = [{"v": v, "json": json.dumps(v.definition, ensure_ascii=False, indent=2)} for v in versions]
    return render(request, "bank/template_versions.html", {
        "template": template, "rows": rows, "breadcrumbs": _crumbs((template.code, ""))})
