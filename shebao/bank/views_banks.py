"""开户银行 pages: the banks table (code, name, account-number length range, active) — a list for
everyone who reads the bank pages, add and edit for reviewers (county-wide). Thin: a form, one
registry service (``bank_save``, audited), render."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.db.models.functions import Length
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from shebao.common.policy import allows, rule
from shebao.registry.models import Bank, BankAccount
from shebao.registry.services import RegistryError, bank_save
from shebao.web.guards import page

BANKS_VIEW = rule("payroll.view_payrollrun", "accounts.review", note="读银行专线接口页面的用户，或审核员")
BANKS_EDIT = rule("accounts.review", county=True, note="审核员（全市范围）维护开户银行")


class BankForm(forms.Form):
    code = forms.RegexField(label=_l("银行代码"), regex=r"^[A-Za-z][A-Za-z0-9]{1,9}$", max_length=10,
                            help_text=_l("2–10 位字母或数字，以字母开头；保存后不能修改（账户、报盘文件都用它）"))
    name = forms.CharField(label=_l("银行名称"), max_length=50)
    account_min_length = forms.IntegerField(label=_l("账号最短位数"), min_value=6, max_value=32)
    account_max_length = forms.IntegerField(label=_l("账号最长位数"), min_value=6, max_value=32)
    sort = forms.IntegerField(label=_l("排序"), min_value=0, max_value=32767, initial=100)
    active = forms.BooleanField(label=_l("启用"), required=False, initial=True,
                                help_text=_l("停用后不能再登记该银行的新账户；已有账户和文件不受影响"))
    luhn_check = forms.BooleanField(label=_l("账号须通过 Luhn 校验"), required=False, initial=False,
                                    help_text=_l("该行账号（借记卡）均应通过 Luhn 校验时勾选：未通过的账号登记时提示，"
                                                 "报盘时作为风险明细暂缓，须审核员放行"))
    notes = forms.CharField(label=_l("说明"), max_length=200, required=False)
    reason = forms.CharField(label=_l("原因"), max_length=500, required=False)

    def clean(self):
        data = super().clean()
        lo, hi = data.get("account_min_length"), data.get("account_max_length")
        if lo is not None and hi is not None and lo > hi:
            raise forms.ValidationError(_("账号最短位数不能大于最长位数"))
        return data


def _crumbs(*items):
    return [(_("银行专线接口"), reverse("bank:file_list")), (_("开户银行"), reverse("bank:banks")), *items]


@page(BANKS_VIEW)
def bank_list(request):
    """Every bank, with its current accounts and how many of them fall outside the length range."""
    current = Q(valid_to__isnull=True)
    counts = {r["bank"]: r for r in BankAccount.objects.filter(current).values("bank").annotate(n=Count("id"))}
    rows = []
    for b in Bank.objects.order_by("sort", "code"):
        outside = (BankAccount.objects.filter(current, bank=b.code).annotate(digits=Length("account_number"))
                   .exclude(digits__range=(b.account_min_length, b.account_max_length)).count())
        rows.append({"b": b, "accounts": counts.get(b.code, {}).get("n", 0), "outside": outside})
    return render(request, "bank/banks.html", {
        "rows": rows, "can_edit": allows(request.user, BANKS_EDIT),
        "breadcrumbs": [(_("银行专线接口"), reverse("bank:file_list")), (_("开户银行"), "")]})


def _save(request, form: BankForm, *, create: bool):
    d = form.cleaned_data
    try:
        bank = bank_save(user=request.user, code=d["code"], name=d["name"], create=create,
                         account_min_length=d["account_min_length"], account_max_length=d["account_max_length"],
                         active=d["active"], sort=d["sort"], notes=d["notes"], reason=d["reason"],
                         luhn_check=d["luhn_check"])
    except RegistryError as exc:
        form.add_error(None, str(exc))
        return None
    messages.success(request, _("已保存开户银行 %(code)s %(name)s") % {"code": bank.code, "name": bank.name})
    return redirect("bank:banks")


@page(BANKS_EDIT)
def bank_add(request):
    form = BankForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = _save(request, form, create=True)
        if done:
            return done
    return render(request, "bank/bank_form.html", {"form": form, "bank": None,
                                                   "breadcrumbs": _crumbs((_("新增"), ""))})


@page(BANKS_EDIT)
def bank_edit(request, code: str):
    bank = Bank.objects.filter(code=code).first()
    if bank is None:
        raise Http404(_("开户银行不存在"))
    initial = {f: getattr(bank, f) for f in ("code", "name", "account_min_length", "account_max_length", "sort",
                                             "active", "luhn_check", "notes")}
    data = None
    if request.method == "POST":
        data = request.POST.copy()
        data["code"] = bank.code  # the key never changes
    form = BankForm(data, initial=initial)
    form.fields["code"].disabled = True
    if request.method == "POST" and form.is_valid():
        done = _save(request, form, create=False)
        if done:
            return done
    return render(request, "bank/bank_form.html", {"form": form, "bank": bank,
                                                   "breadcrumbs": _crumbs((bank.code, ""))})
