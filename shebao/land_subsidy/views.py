"""土保补贴 pages. Thin: parse, call one selector or service, render. Persons are looked up within the
user's region scope (out of scope is a 404, the same as missing). The yearly run itself (compute,
approve, 报盘, 回盘, 二次报盘, 核销) is the engine's pages (payroll, bank); ours list the yearly runs with
links to them and give the roster (年度发放明细) in the business's layout.

Every page is behind ``@page(rule(…, scheme="TB"))`` (rules in ``permissions.py``); every form that creates
or changes a record carries a one-time token claimed in the write's transaction."""

from __future__ import annotations

import io
from urllib.parse import quote

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from shebao.benefits.models import PaymentStatus
from shebao.benefits.months import MonthError
from shebao.benefits.services import BenefitError, enrollment_resume, enrollment_suspend, enrollment_terminate
from shebao.common import policy
from shebao.common.masking import masker_for
from shebao.common.once import AlreadySubmitted, write_once
from shebao.common.sheets import XlsxWriter
from shebao.land_subsidy import forms as f
from shebao.land_subsidy import selectors as sel
from shebao.land_subsidy.importing import COLUMNS as IMPORT_COLUMNS
from shebao.land_subsidy.importing import export_rows
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule, TbImport
from shebao.land_subsidy.permissions import MANAGE_RULE, ROSTER_RULE, RULES_MANAGE_RULE, VIEW_RULE
from shebao.land_subsidy.roster import write_roster
from shebao.land_subsidy.rules import entitlement
from shebao.land_subsidy.services import (
    TbError,
    TbRowError,
    category_current_persons,
    category_save,
    subsidy_person_add,
    subsidy_person_update,
    subsidy_rule_save,
    tb_confirm,
    tb_upload,
)
from shebao.payroll.models import PayrollRun
from shebao.payroll.selectors import payroll_account_rejections
from shebao.registry.selectors import bank_choices, person_search, town_choices
from shebao.web.guards import page
from shebao.web.imports import confirm_once, upload_once
from shebao.web.tables import ChoiceFilter, Column, Table, TextFilter, render_table

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _crumbs(*items):
    return [(str(_("土保补贴")), reverse("land_subsidy:person_list"))] + list(items)


def _save_maintained(request, form, key: str, write):
    """A category or rule edit: saved once (a repeat submit says so), a refusal onto the form, success back
    to the list. → the redirect, or None to show the form again."""
    try:
        write_once(request, key, write)
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
    except TbError as exc:
        form.add_error(None, str(exc))
        return None
    else:
        messages.success(request, gettext("已保存"))
    return redirect("land_subsidy:categories")


def _record(request, pk: int) -> SubsidyPerson:
    record = sel.subsidy_persons(user=request.user).filter(person_id=pk).first()
    if record is None:
        raise Http404(gettext("人员不存在、不是土保补贴人员或不在您的管辖范围内"))
    return record


def _download(buffer: io.BytesIO, title: str, ascii_name: str) -> FileResponse:
    buffer.seek(0)
    name = f"{title}-{timezone.localtime():%Y%m%d-%H%M}.xlsx"
    response = FileResponse(buffer, content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    return response


# --------------------------------------------------------------------------------------------------
# 人员数据


def _search(qs, value, request):
    return person_search(user=request.user, q=value, limit=None, within=qs, person="person")


class TbPersonTable(Table):
    columns = [
        Column("person__name", _("姓名"), sortable=True, css="nowrap",  # a name never breaks over two lines
               link=lambda row: reverse("land_subsidy:person", args=[row["person_id"]])),
        Column("person__id_number", _("身份证号"), kind="id_number", sortable=True),
        Column("person__sex", _("性别"), kind="choice", choices=[("M", _("男")), ("F", _("女"))]),
        Column("person__birth_date", _("出生日期"), kind="date", sortable=True),
        Column("person__town__name", _("镇街道"), sortable=True, sort_field="person__town__sort"),
        Column("category__name", _("补贴类别"), sortable=True),
        Column("enrollment__payment_status", _("发放状态"), kind="choice", choices=PaymentStatus.choices,
               sortable=True),
        Column("enrollment__start_month", _("开始年月"), kind="month", sortable=True),
        Column("land_date", _("征地时间"), kind="date", sortable=True),
        Column("land_project", _("征地项目")),
        Column("bank", _("开户银行"), kind="choice", choices=lambda: bank_choices(include_inactive=True)),
        Column("account_number", _("银行账号"), kind="account"),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), method=_search, placeholder=_("姓名、身份证号或后几位、拼音首字母")),
        ChoiceFilter("town", _("镇街道"), field="person__town_id", choices=lambda request: town_choices(request.user)),
        ChoiceFilter("category", _("补贴类别"), field="category_id",
                     choices=lambda request: [(c.pk, c.name) for c in sel.categories()]),
        ChoiceFilter("status", _("发放状态"), field="enrollment__payment_status", choices=PaymentStatus.choices),
    ]
    extra_fields = ("person_id",)
    default_sort = "person__name"
    export_name = _("土保补贴人员名单")
    dom_id = "tb-persons"
    sort_after = frozenset({"q"})  # a search's few persons are found, then sorted (Table.sort_after)


@page(VIEW_RULE)
def person_list(request):
    table = TbPersonTable(request, sel.subsidy_persons(user=request.user))
    return render_table(request, table, "land_subsidy/person_list.html", {
        "can_manage": policy.allows(request.user, MANAGE_RULE),
        "breadcrumbs": _crumbs((str(_("人员数据")), "")),
    })


@page(VIEW_RULE)
def person(request, pk: int):
    record = _record(request, pk)
    year = sel.this_year()
    return render(request, "land_subsidy/person.html", {
        "record": record, "person": record.person, "enrollment": record.enrollment,
        "account": record.person.bank_accounts.filter(valid_to__isnull=True).first(),
        "entitlements": [entitlement(record, y) for y in (year - 1, year, year + 1)],
        "lines": sel.person_lines(pk), "can_manage": policy.allows(request.user, MANAGE_RULE),
        "breadcrumbs": _crumbs((str(_("人员数据")), reverse("land_subsidy:person_list")), (record.person.name, "")),
    })


@page(MANAGE_RULE)
def person_edit(request, pk: int):
    record = _record(request, pk)
    initial = {"category": record.category_id, "land_date": record.land_date, "land_project": record.land_project,
               "note": record.note}
    form = f.RecordForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            write_once(request, "tb.person_edit", lambda: subsidy_person_update(
                user=request.user, record=record, reason=d["reason"], category=d["category"],
                land_date=d["land_date"], land_project=d["land_project"], note=d["note"]))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
        except TbError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已保存"))
            return redirect("land_subsidy:person", pk=pk)
    return render(request, "land_subsidy/form.html", {
        "form": form, "title": gettext("修改补贴信息"), "person": record.person,
        "cancel": reverse("land_subsidy:person", args=[pk]),
        "breadcrumbs": _crumbs((record.person.name, reverse("land_subsidy:person", args=[pk])),
                               (str(_("修改补贴信息")), "")),
    })


@page(MANAGE_RULE)
def person_new(request):
    """人员新增: one person into 土保补贴, checked by the import's own row check (services)."""
    form = f.PersonAddForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            added = write_once(request, "tb.person_new", lambda: subsidy_person_add(user=request.user, **d))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("land_subsidy:person_list")
        except TbRowError as exc:
            for field, message in exc.errors:
                form.add_error(field if field in form.fields else None, message)
        except TbError as exc:
            form.add_error(None, str(exc))
        else:
            record = added.record
            messages.success(request, gettext("已纳入土保补贴：%(name)s（%(category)s）") % {
                "name": record.person.name, "category": record.category.name})
            for warning in added.warnings:
                messages.warning(request, gettext("请核对账号：%(warning)s") % {"warning": warning})
            if d.get("account_number"):
                account = record.person.bank_accounts.filter(valid_to__isnull=True).first()
                for line in payroll_account_rejections(account_number=account.account_number if account else ""):
                    messages.warning(request, gettext(
                        "该账号曾被银行退回：%(period)s 结算批次 #%(run)s 第 %(seq)s 笔（%(reason)s）。"
                        "如账户仍有问题，发往该账户的待遇在报盘时将作为风险明细暂缓，须审核员放行") % {
                        "period": f"{line.run.period:%Y-%m}", "run": line.run_id, "seq": line.seq,
                        "reason": line.reason or gettext("失败")})
            return redirect("land_subsidy:person", pk=record.person_id)
    return render(request, "land_subsidy/form.html", {
        "form": form, "title": gettext("新增土保补贴人员"), "cancel": reverse("land_subsidy:person_list"),
        "intro": gettext("与人员导入的一行相同的检查：身份证号（15 位自动升位）、姓名、本人管辖的镇街道、启用的补贴类别、"
                         "开始年月和发放账户。已登记的人员按身份证号沿用其登记信息。"),
        "breadcrumbs": _crumbs((str(_("人员数据")), reverse("land_subsidy:person_list")),
                               (gettext("新增人员"), "")),
    })


# --------------------------------------------------------------------------------------------------
# 补贴类别与标准


@page(VIEW_RULE)
def categories(request):
    can_manage = policy.allows(request.user, RULES_MANAGE_RULE)
    category_form = f.CategoryForm(request.POST if request.POST.get("what") == "category" else None)
    rule_form = f.RuleForm(request.POST if request.POST.get("what") == "rule" else None)
    if request.method == "POST":
        policy.check(request.user, RULES_MANAGE_RULE)
        form = category_form if request.POST.get("what") == "category" else rule_form
        if form.is_valid():
            d = form.cleaned_data
            try:
                if form is category_form:
                    write_once(request, "tb.category", lambda: category_save(user=request.user, **d))
                else:
                    write_once(request, "tb.rule", lambda: subsidy_rule_save(user=request.user, **d))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
            except TbError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("已保存"))
                return redirect("land_subsidy:categories")
    return render(request, "land_subsidy/categories.html", {
        "categories": sel.categories(), "rules": sel.rules(), "can_manage": can_manage,
        "category_form": category_form, "rule_form": rule_form,
        "breadcrumbs": _crumbs((str(_("补贴类别与标准")), "")),
    })


@page(RULES_MANAGE_RULE)
def category_edit(request, pk: int):
    """修改或停用一个补贴类别 (停用 refused while persons not yet 减员 are in it)."""
    category = get_object_or_404(SubsidyCategory, pk=pk)
    initial = {"code": category.code, "name": category.name, "sort": category.sort, "note": category.note,
               "active": category.active}
    form = f.CategoryEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        done = _save_maintained(request, form, "tb.category_edit", lambda: category_save(
            user=request.user, category=category, **form.cleaned_data))
        if done:
            return done
    return render(request, "land_subsidy/form.html", {
        "form": form, "title": gettext("修改补贴类别"), "cancel": reverse("land_subsidy:categories"),
        "intro": gettext("类别名称改后，人员名单和年度发放明细按新名称显示；已计算的发放明细行保留计算时的说明。"
                         "年补贴金额在该类别的补贴标准中修改。现有未减员人员 %(n)s 人。")
        % {"n": category_current_persons(category)},
        "breadcrumbs": _crumbs((str(_("补贴类别与标准")), reverse("land_subsidy:categories")), (category.name, "")),
    })


@page(RULES_MANAGE_RULE)
def rule_edit(request, pk: int):
    """修改或停用一条补贴标准: refused for a rule (or a change) of a year whose yearly run is computed."""
    rule = get_object_or_404(SubsidyRule.objects.select_related("category"), pk=pk)
    initial = {k: getattr(rule, k) for k in ("from_year", "amount", "reference_month", "reference_day",
                                             "min_age_male", "min_age_female", "pays_suspended", "active", "note")}
    form = f.RuleEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        done = _save_maintained(request, form, "tb.rule_edit", lambda: subsidy_rule_save(
            user=request.user, category=rule.category, rule=rule, **form.cleaned_data))
        if done:
            return done
    label = gettext("%(category)s %(year)s 年起") % {"category": rule.category.name, "year": rule.from_year}
    return render(request, "land_subsidy/form.html", {
        "form": form, "title": gettext("修改补贴标准"), "cancel": reverse("land_subsidy:categories"),
        "intro": gettext("已计算年度发放所用的标准不能修改或停用（只可改说明）：标准调整请新增以后年度起始的标准。"),
        "breadcrumbs": _crumbs((str(_("补贴类别与标准")), reverse("land_subsidy:categories")), (label, "")),
    })


# --------------------------------------------------------------------------------------------------
# 人员导入


@page(MANAGE_RULE)
def import_page(request):
    form = f.UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        done = upload_once(request, form, key="tb.upload", upload=tb_upload, errors=(TbError,),
                           again="land_subsidy:import", preview="land_subsidy:import_batch")
        if done:
            return done
    batches = TbImport.objects.defer("content").filter(created_by=request.user)[:20]
    return render(request, "land_subsidy/import.html", {
        "form": form, "batches": batches, "columns": IMPORT_COLUMNS,
        "breadcrumbs": _crumbs((str(_("人员导入")), "")),
    })


def _own_batch(request, pk: int) -> TbImport:
    batch = get_object_or_404(TbImport.objects.defer("content"), pk=pk)
    if batch.created_by_id != request.user.pk and not request.user.is_superuser:
        raise Http404
    return batch


@page(MANAGE_RULE)
def import_batch(request, pk: int):
    batch = _own_batch(request, pk)
    return render(request, "land_subsidy/import_batch.html", {
        "batch": batch, "preview": batch.preview or {},
        "breadcrumbs": _crumbs((str(_("人员导入")), reverse("land_subsidy:import")), (batch.file_name, "")),
    })


@page(MANAGE_RULE)
@require_POST
def import_confirm(request, pk: int):
    return confirm_once(request, _own_batch(request, pk), key="tb.confirm", confirm=tb_confirm, errors=(TbError,),
                        done=lambda result: gettext("已导入：%(summary)s") % {"summary": result.plan.summary_text()},
                        back="land_subsidy:import_batch")


@page(VIEW_RULE)
def import_export(request):
    """The persons in the import layout (身份证号、账号、电话 masked without the right: such a file cannot be
    imported back)."""
    rows = export_rows(sel.subsidy_persons(user=request.user))
    masker = masker_for(request.user)
    if not masker.can_view:
        rows = [[masker.id_number(r[0]), *r[1:6], masker.account(r[6]), r[7], r[8], r[9], masker.phone(r[10] or ""),
                 r[11]] for r in rows]
    buffer = io.BytesIO()
    with XlsxWriter(buffer, sheet_name="土保补贴人员", headers=IMPORT_COLUMNS) as w:
        for r in rows:
            w.write_row(r)
    return _download(buffer, gettext("土保补贴人员"), "tb_persons.xlsx")


# --------------------------------------------------------------------------------------------------
# 年度发放明细


@page(VIEW_RULE)
def runs(request):
    return render(request, "land_subsidy/runs.html", {
        "runs": list(sel.annual_runs().prefetch_related("reissues")),
        "can_roster": policy.allows(request.user, ROSTER_RULE),
        "breadcrumbs": _crumbs((str(_("年度发放明细")), "")),
    })


def _annual_run(pk: int) -> PayrollRun:
    return get_object_or_404(sel.annual_runs(), pk=pk)


@page(ROSTER_RULE)
def run_roster(request, pk: int):
    run = _annual_run(pk)
    rows = sel.roster_rows(run)
    return render(request, "land_subsidy/run_roster.html", {
        "run": run, "rows": rows[:300], "more": max(0, len(rows) - 300), "totals": sel.roster_totals(rows),
        "breadcrumbs": _crumbs((str(_("年度发放明细")), reverse("land_subsidy:runs")),
                               (gettext("%(year)s 年度") % {"year": run.period.year}, "")),
    })


@page(ROSTER_RULE)
def run_roster_xlsx(request, pk: int):
    run = _annual_run(pk)
    masker = masker_for(request.user)
    buffer = io.BytesIO()
    write_roster(buffer, run, masker=None if masker.can_view else masker)
    return _download(buffer, gettext("土保补贴%(year)s年度发放明细") % {"year": run.period.year},
                     f"tb_roster_{run.period.year}.xlsx")


# --------------------------------------------------------------------------------------------------
# 暂停 / 恢复 / 减员 (the engine's services)


@page(MANAGE_RULE)
def status(request, pk: int):
    """暂停, 恢复 or 减员 of a 土保补贴人员 through the engine (history kept, audited). The yearly rule reads
    the status on the reference date: a suspension over it leaves the person off that year's roster."""
    record = _record(request, pk)
    enrollment = record.enrollment
    form = f.StatusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if d["action"] == "suspend":
                write_once(request, "tb.status", lambda: enrollment_suspend(
                    enrollment=enrollment, reason=d["reason"], from_month=d["month"], user=request.user,
                    note=d["note"]))
            elif d["action"] == "resume":
                write_once(request, "tb.status", lambda: enrollment_resume(
                    enrollment=enrollment, from_month=d["month"], user=request.user, note=d["note"]))
            else:
                write_once(request, "tb.status", lambda: enrollment_terminate(
                    enrollment=enrollment, reason=d["reason"], user=request.user, death_date=d.get("death_date"),
                    last_month=None if d["reason"] == "death" else d["month"], note=d["note"]))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("land_subsidy:person", pk=pk)
        except (BenefitError, MonthError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已办理：%(action)s") % {
                "action": dict(form.fields["action"].choices)[d["action"]]})
            return redirect("land_subsidy:person", pk=pk)
    return render(request, "land_subsidy/form.html", {
        "form": form, "title": gettext("暂停、恢复或减员"), "person": record.person,
        "cancel": reverse("land_subsidy:person", args=[pk]),
        "breadcrumbs": _crumbs((record.person.name, reverse("land_subsidy:person", args=[pk])),
                               (gettext("暂停、恢复或减员"), "")),
    })
