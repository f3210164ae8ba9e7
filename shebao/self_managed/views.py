"""自管人员管理支付 pages (except 月度结算/报盘/零星发放导出/统计, which live with payroll and bank).
Thin: parse, call one selector or service, render. Persons are looked up within the user's region
scope (out of scope is a 404, the same as missing).

Every page is behind ``@page(rule(…, scheme="ZG"))`` (the rules are in ``permissions.py``). Every form
that creates money or a record carries a one-time token (``{% once_field %}``), claimed in the write's
transaction (``_once``): a second submit of the same form page — a double click, two tabs, a resend — is
refused with a message and writes nothing."""

from __future__ import annotations

import io
import json
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from shebao.benefits.models import Adjustment, BenefitAmount, PaymentStatus
from shebao.benefits.months import MonthError, format_month
from shebao.benefits.raises import raise_apply, raise_preview, raise_terms_parse
from shebao.benefits.services import (
    BenefitError,
    adjustment_create,
    benefit_amount_set,
    enrollment_resume,
    enrollment_suspend,
    enrollment_terminate,
)
from shebao.common import policy
from shebao.common.display import operator_name
from shebao.common.identity import IdNumberError, parse_id_number
from shebao.common.masking import masker_for
from shebao.common.once import AlreadySubmitted, write_once
from shebao.common.safefile import read_text_upload
from shebao.payroll.models import PayrollRun
from shebao.registry.models import Person
from shebao.registry.selectors import (
    bank_choices,
    person_get,
    person_search,
    persons_visible,
    town_choices,
    towns_visible,
)
from shebao.registry.services import RegistryError
from shebao.self_managed import forms as f
from shebao.self_managed import selectors as sel
from shebao.self_managed.models import Income, RosterImport
from shebao.self_managed.permissions import (
    INCOME_ADD_RULE,
    INCOME_VIEW_RULE,
    MANAGE_RULE,
    RAISE_APPLY_RULE,
    RAISE_VIEW_RULE,
    VIEW_RULE,
)
from shebao.self_managed.roster import (
    roster_export_rows,
    write_roster,
)
from shebao.self_managed.services import (
    ZgError,
    flex_payment_create,
    income_record,
    roster_confirm,
    roster_upload,
    zg_enroll,
)
from shebao.web.guards import page
from shebao.web.imports import confirm_once, upload_once
from shebao.web.tables import ChoiceFilter, Column, DateRangeFilter, Table, TextFilter, render_table

ERRORS = (ZgError, BenefitError, RegistryError, MonthError)


def _can_manage(request) -> bool:
    return policy.allows(request.user, MANAGE_RULE)


def _crumbs(*items):
    return [(str(_("自管人员管理支付")), "")] + list(items)


def _person_by_id_number(user, raw: str) -> Person | None:
    try:
        number = parse_id_number(raw).number
    except IdNumberError:
        return None
    return persons_visible(user).filter(id_number=number).first()


def _zg_person(request, pk: int):
    person = person_get(user=request.user, pk=pk)
    enrollment = sel.zg_enrollment_of(person)
    if enrollment is None:
        raise Http404(gettext("该人员不是自管人员"))
    return person, enrollment


# --------------------------------------------------------------------------------------------------
# 人员管理: list


def _search(qs, value, request):
    return person_search(user=request.user, q=value, limit=None, within=qs, person="person")


def _has_item(qs, value, request):
    today = timezone.localdate().replace(day=1)
    amounts = BenefitAmount.objects.filter(enrollment=OuterRef("pk"), item__code=value, from_month__lte=today,
                                           amount__gt=0).exclude(to_month__lt=today)
    return qs.filter(Exists(amounts))


class ZgPersonTable(Table):
    columns = [
        Column("person__name", _("姓名"), sortable=True, link=lambda row: reverse("self_managed:person",
                                                                                     args=[row["person_id"]])),
        Column("person__id_number", _("身份证号"), kind="id_number", sortable=True),
        Column("person__town__name", _("镇街道"), sortable=True, sort_field="person__town__sort"),
        Column("payment_status", _("发放状态"), kind="choice", choices=PaymentStatus.choices, sortable=True),
        Column("start_month", _("开始年月"), kind="month", sortable=True),
        Column("service_years", _("工龄(年)"), kind="num", sortable=True),
        Column("monthly_total", _("当前月发放合计"), kind="money", sortable=True),
        Column("bank", _("开户银行"), kind="choice", choices=lambda: bank_choices(include_inactive=True)),
        Column("account_number", _("银行账号"), kind="account"),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), method=_search, placeholder=_("姓名、身份证号或后几位、拼音首字母")),
        ChoiceFilter("town", _("镇街道"), field="person__town_id", choices=lambda request: town_choices(request.user)),
        ChoiceFilter("status", _("发放状态"), field="payment_status", choices=PaymentStatus.choices),
        ChoiceFilter("item", _("待遇项目"), method=_has_item,
                     choices=lambda request: [(i.code, i.name) for i in sel.zg_items()]),
    ]
    extra_fields = ("person_id",)
    default_sort = "person__name"
    export_name = _("自管人员名单")
    dom_id = "zg-persons"
    sort_after = frozenset({"q"})  # a search's few persons are found, then sorted (Table.sort_after)


@page(VIEW_RULE)
def person_list(request):
    table = ZgPersonTable(request, sel.zg_enrollments(user=request.user))
    return render_table(request, table, "self_managed/person_list.html", {
        "can_manage": _can_manage(request), "breadcrumbs": _crumbs((str(_("人员管理")), "")),
    })


# --------------------------------------------------------------------------------------------------
# 人员新增


@page(MANAGE_RULE)
def enroll(request):
    """人员新增. A registered person is chosen from the search by an opaque id (``person``), never by
    carrying their 身份证号 through the page: the number is shown masked unless the user may see it, and
    the current bank account is not put into the form (left empty = unchanged)."""
    q = (request.GET.get("q") or "").strip()
    found = list(person_search(user=request.user, q=q, limit=20)) if q else []
    chosen = None
    raw_choice = request.POST.get("person") or request.GET.get("person")
    if raw_choice:
        if not str(raw_choice).isdigit():
            raise Http404(gettext("人员不存在或不在您的管辖范围内"))
        chosen = person_get(user=request.user, pk=int(raw_choice))
    masker = masker_for(request.user)
    initial = {"start_month": f.this_month()}
    current_account = None
    if chosen:
        initial.update(person=chosen.pk, id_number=masker.id_number(chosen.id_number), name=chosen.name,
                       town=chosen.town_id, mobile=masker.phone(chosen.mobile or ""))
        current_account = chosen.bank_accounts.filter(valid_to__isnull=True).first()
    form = f.EnrollForm(request.POST or None, user=request.user, initial=initial, chosen=chosen,
                        current_account=current_account, masker=masker)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        person = chosen if chosen is not None else _person_by_id_number(request.user, d["id_number"])
        try:
            if person is not None and d["name"] and d["name"].strip() != person.name:
                raise ZgError(gettext("姓名“%(name)s”与登记的“%(registered)s”不一致")
                              % {"name": d["name"], "registered": person.name})
            new_person = None
            if person is None:
                if not d["town"]:
                    raise ZgError(gettext("新人员须选择镇街道"))
                town = towns_visible(request.user).get(pk=d["town"])
                new_person = {"id_number": d["id_number"], "name": d["name"], "town": town, "mobile": d["mobile"]}
            account = None
            if d["account_number"]:
                current = person.bank_accounts.filter(valid_to__isnull=True).first() if person else None
                wanted = (d["bank"], d["account_number"].replace(" ", ""), d["holder_name"].strip())
                if current is None or (current.bank, current.account_number, current.holder_name) != wanted:
                    account = {"bank": d["bank"], "account_number": d["account_number"],
                               "holder_name": d["holder_name"]}
            enrollment = write_once(request, "zg.enroll", lambda: zg_enroll(
                user=request.user, person=person, new_person=new_person, account=account,
                start_month=d["start_month"], items=form.item_amounts(), service_years=d["service_years"],
                note=d["note"]))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            if person is not None:
                return redirect("self_managed:person", pk=person.pk)
            return redirect("self_managed:person_list")
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("%(name)s 已纳入自管人员，%(month)s 起发放") % {
                "name": enrollment.person.name, "month": format_month(enrollment.start_month)})
            return redirect("self_managed:person", pk=enrollment.person_id)
    return render(request, "self_managed/enroll.html", {
        "form": form, "q": q, "found": found, "chosen": chosen,
        "breadcrumbs": _crumbs((str(_("人员管理")), reverse("self_managed:person_list")), (gettext("人员新增"), "")),
    })


# --------------------------------------------------------------------------------------------------
# one person: status, items, adjustments


@page(VIEW_RULE)
def person(request, pk: int):
    person, enrollment = _zg_person(request, pk)
    return render(request, "self_managed/person.html", {
        "person": person, "enrollment": enrollment,
        "account": person.bank_accounts.filter(valid_to__isnull=True).first(),
        "current": sel.current_amounts(enrollment), "amounts": sel.amounts_history(enrollment),
        "history": sel.enrollment_history(enrollment=enrollment),
        "adjustments": sel.adjustments_of(enrollment), "lines": sel.last_lines(person, 12),
        "can_manage": _can_manage(request),
        "breadcrumbs": _crumbs((str(_("人员管理")), reverse("self_managed:person_list")), (person.name, "")),
    })


def _action_page(request, person, *, form, title, intro="", submit=None, extra=None):
    submit = submit or gettext("确定")
    return render(request, "self_managed/action.html", {
        "person": person, "form": form, "title": title, "intro": intro, "submit": submit, **(extra or {}),
        "breadcrumbs": _crumbs((person.name, reverse("self_managed:person", args=[person.pk])), (title, "")),
    })


@page(MANAGE_RULE)
def terminate(request, pk: int):
    """减员: the first POST shows what will happen (the overpaid months after a death); the second,
    with confirm=1, does it."""
    person, enrollment = _zg_person(request, pk)
    form = f.TerminateForm(request.POST or None)
    extra = {}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        last = form.last_paid_month()
        months, total = sel.overpaid_after(enrollment=enrollment, last_month=last)
        if request.POST.get("confirm") == "1":
            try:
                result = write_once(request, "zg.terminate", lambda: enrollment_terminate(
                    enrollment=enrollment, reason=d["reason"], user=request.user, death_date=d.get("death_date"),
                    last_month=d.get("last_month"), note=d["note"]))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("self_managed:person", pk=person.pk)
            except ERRORS as exc:
                form.add_error(None, str(exc))
            else:
                msg = gettext("%(name)s 已减员（%(reason)s），最后发放年月 %(month)s") % {
                    "name": person.name, "reason": form.reasons[d["reason"]].name,
                    "month": format_month(result.end_month)}
                if result.overpaid:
                    msg += gettext("；多发 %(amount)s 元（%(months)s）已登记为扣减，待扣回或追回") % {
                        "amount": result.overpaid,
                        "months": gettext("、").join(format_month(m) for m in result.overpaid_months)}
                messages.success(request, msg)
                return redirect("self_managed:person", pk=person.pk)
        extra = {"preview": {"last": last, "months": months, "total": total,
                             "reason": form.reasons[d["reason"]].name}}
    return _action_page(request, person, form=form, title=gettext("减员"), extra=extra,
                        intro=gettext("死亡减员：发放到死亡当月为止，之后已发的月份为多发，登记为扣减待扣回或追回。"),
                        submit=gettext("预览"))


@page(MANAGE_RULE)
def status(request, pk: int):
    person, enrollment = _zg_person(request, pk)
    if enrollment.payment_status == PaymentStatus.ACTIVE:
        form = f.SuspendForm(request.POST or None)
        title = gettext("暂停发放")
    elif enrollment.payment_status == PaymentStatus.SUSPENDED:
        form = f.ResumeForm(request.POST or None)
        title = gettext("恢复发放")
    else:
        messages.error(request, gettext("%(name)s 已终止发放，不能暂停或恢复") % {"name": person.name})
        return redirect("self_managed:person", pk=person.pk)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if enrollment.payment_status == PaymentStatus.ACTIVE:
                write_once(request, "zg.status", lambda: enrollment_suspend(
                    enrollment=enrollment, reason=d["reason"], from_month=d["from_month"], user=request.user,
                    note=d["note"]))
                messages.success(request, gettext("%(name)s %(month)s 起暂停发放") % {
                    "name": person.name, "month": format_month(d["from_month"])})
            else:
                result = write_once(request, "zg.status", lambda: enrollment_resume(
                    enrollment=enrollment, from_month=d["from_month"], user=request.user, note=d["note"]))
                msg = gettext("%(name)s %(month)s 起恢复发放") % {
                    "name": person.name, "month": format_month(d["from_month"])}
                if result.arrears:
                    msg += gettext("，补发 %(amount)s 元（%(count)s 个月）") % {
                        "amount": result.arrears.total, "count": len(result.months)}
                messages.success(request, msg)
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("self_managed:person", pk=person.pk)
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("self_managed:person", pk=person.pk)
    return _action_page(request, person, form=form, title=title)


@page(MANAGE_RULE)
def amount(request, pk: int):
    person, enrollment = _zg_person(request, pk)
    form = f.AmountForm(request.POST or None, initial={"item": request.GET.get("item")})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            new = write_once(request, "zg.amount", lambda: benefit_amount_set(
                enrollment=enrollment, item=d["item"], amount=d["amount"], from_month=d["from_month"],
                user=request.user, note=d["note"]))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("self_managed:person", pk=person.pk)
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("%(name)s %(item)s %(month)s 起为 %(amount)s") % {
                "name": person.name, "item": new.item.name, "month": format_month(new.from_month),
                "amount": new.amount})
            return redirect("self_managed:person", pk=person.pk)
    return _action_page(request, person, form=form, title=gettext("调整待遇金额"),
                        extra={"amounts": sel.amounts_history(enrollment)})


@page(MANAGE_RULE)
def adjust(request, pk: int):
    person, enrollment = _zg_person(request, pk)
    form = f.AdjustmentForm(request.POST or None, initial={"kind": request.GET.get("kind") or "arrears"})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            adj = write_once(request, "zg.adjust", lambda: adjustment_create(
                enrollment=enrollment, kind=d["kind"], total=d["total"], reason=d["reason"], user=request.user,
                monthly_cap=d.get("monthly_cap"), source=d["source"]))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("self_managed:person", pk=person.pk)
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已登记%(kind)s %(amount)s 元，下次月度结算时处理") % {
                "kind": adj.get_kind_display(), "amount": adj.total})
            return redirect("self_managed:person", pk=person.pk)
    return _action_page(request, person, form=form, title=gettext("补发/扣减"),
                        intro=gettext("补发在下一次月度结算中一次发放；扣减每月最多扣到应发金额（或每月上限），余额顺延。"))


# --------------------------------------------------------------------------------------------------
# 待遇管理: pending adjustments


class AdjustmentTable(Table):
    columns = [
        Column("enrollment__person__name", _("姓名"), sortable=True,
               link=lambda row: reverse("self_managed:person", args=[row["enrollment__person_id"]])),
        Column("enrollment__person__id_number", _("身份证号"), kind="id_number"),
        Column("kind", _("类型"), kind="choice", choices=Adjustment.Kind.choices),
        Column("total", _("总金额"), kind="money", sortable=True),
        Column("remaining", _("未结金额"), kind="money", sortable=True),
        Column("monthly_cap", _("每月上限"), kind="money"),
        Column("state", _("状态"), kind="choice", choices=Adjustment.State.choices),
        Column("reason", _("原因")),
        Column("source", _("来源")),
        Column("created_at", _("登记时间"), kind="datetime", sortable=True),
    ]
    filters = [
        ChoiceFilter("kind", _("类型"), choices=Adjustment.Kind.choices),
        ChoiceFilter("state", _("状态"), choices=Adjustment.State.choices),
    ]
    extra_fields = ("enrollment__person_id",)
    default_sort = "-created_at"
    export_name = _("自管人员补发扣减")
    dom_id = "zg-adjustments"


@page(VIEW_RULE)
def benefits(request):
    qs = sel.adjustments_visible(request.user)
    if "state" not in request.GET:
        qs = qs.filter(state=Adjustment.State.PENDING)
    table = AdjustmentTable(request, qs)
    suspended = sel.zg_enrollments(user=request.user).filter(payment_status=PaymentStatus.SUSPENDED).count()
    return render_table(request, table, "self_managed/benefits.html", {
        "suspended": suspended, "breadcrumbs": _crumbs((str(_("待遇管理")), "")),
    })


# --------------------------------------------------------------------------------------------------
# 批量调待


@page(RAISE_VIEW_RULE)
def raise_page(request):
    form = f.RaiseForm(request.POST or None, request.FILES or None)
    preview = None
    rule_json = ""
    if request.method == "POST":
        try:
            if request.POST.get("rule_json"):
                data = json.loads(request.POST["rule_json"])
                apply_month = request.POST.get("apply_month_confirm", "")
            elif request.FILES.get("rule_file"):
                data = json.loads(read_text_upload(request.FILES["rule_file"], what="规则文件"))
                apply_month = request.POST.get("apply_month") or f.this_month()
                data.setdefault("scheme", "ZG")
            elif form.is_valid():
                data = form.rule_data()
                apply_month = format_month(form.cleaned_data["apply_month"])
            else:
                data = None
            if data is not None:
                if str(data.get("scheme", "ZG")).upper() != "ZG":
                    raise ZgError(gettext("此页面只处理自管人员（ZG）的调待规则"))
                terms = raise_terms_parse(data)
                rule_json = json.dumps(data, ensure_ascii=False)
                if request.POST.get("apply") == "1":
                    if not policy.allows(request.user, RAISE_APPLY_RULE):
                        raise ZgError(gettext("您没有执行调待的权限"))
                    try:
                        rule, done = write_once(request, "zg.raise", lambda: raise_apply(
                            terms=terms, apply_month=apply_month, user=request.user))
                    except AlreadySubmitted as exc:
                        messages.warning(request, str(exc))
                        return redirect("self_managed:raise")
                    messages.success(request, gettext(
                        "已执行调待“%(name)s”：%(count)s 人，月增 %(monthly)s 元，补发合计 %(arrears)s 元") % {
                        "name": rule.name, "count": rule.person_count, "monthly": rule.monthly_total,
                        "arrears": rule.arrears_total})
                    return redirect("self_managed:raise")
                preview = raise_preview(terms=terms, apply_month=apply_month)
        except json.JSONDecodeError as exc:
            form.add_error(None, gettext("规则文件不是有效的 JSON：第 %(line)s 行 %(msg)s") % {"line": exc.lineno, "msg": exc.msg})
        except UnicodeDecodeError:
            form.add_error(None, gettext("规则文件应为 UTF-8 编码的 JSON"))
        except ValidationError as exc:  # a malformed 年龄倾斜 from RaiseForm.rule_data
            form.add_error(None, exc)
        except (*ERRORS, ValueError) as exc:
            form.add_error(None, str(exc))
    return render(request, "self_managed/raise.html", {
        "form": form, "preview": preview, "rule_json": rule_json, "rules": sel.raise_rules()[:20],
        "can_manage": policy.allows(request.user, RAISE_APPLY_RULE), "breadcrumbs": _crumbs((str(_("批量调待")), "")),
    })


# --------------------------------------------------------------------------------------------------
# 综合查询


@page(VIEW_RULE)
def query(request):
    q = (request.GET.get("q") or "").strip()
    found = list(person_search(user=request.user, q=q, limit=50)) if q else []
    if len(found) == 1:
        return redirect("self_managed:query_person", pk=found[0].pk)
    return render(request, "self_managed/query.html", {
        "q": q, "found": found, "breadcrumbs": _crumbs((str(_("综合查询")), "")),
    })


@page(VIEW_RULE)
def query_person(request, pk: int):
    person = person_get(user=request.user, pk=pk)
    return render(request, "self_managed/query_person.html", {
        **sel.person_overview(person),
        "breadcrumbs": _crumbs((str(_("综合查询")), reverse("self_managed:query")), (person.name, "")),
    })


# --------------------------------------------------------------------------------------------------
# 花名册


@page(VIEW_RULE)
def roster(request):
    form = f.RosterUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        policy.check(request.user, MANAGE_RULE)
        done = upload_once(request, form, key="zg.roster_upload", upload=roster_upload, errors=(ZgError,),
                           again="self_managed:roster", preview="self_managed:roster_batch")
        if done:
            return done
    batches = RosterImport.objects.defer("content").select_related("created_by")
    if not policy.county_wide(request.user):  # a town's clerk sees the batches they uploaded
        batches = batches.filter(created_by=request.user)
    batches = batches[:20]
    return render(request, "self_managed/roster.html", {
        "form": form, "batches": batches, "can_manage": _can_manage(request),
        "breadcrumbs": _crumbs((str(_("花名册")), "")),
    })


@page(MANAGE_RULE)
def roster_batch(request, pk: int):
    batch = get_object_or_404(RosterImport, pk=pk)
    if batch.created_by_id != request.user.pk and not request.user.is_superuser:
        raise Http404
    # the check stored at upload (``batch.preview``): the file is never parsed again to show this page
    plan = batch.preview or None if batch.state != RosterImport.State.APPLIED else None
    return render(request, "self_managed/roster_batch.html", {
        "batch": batch, "plan": plan, "changed": plan["changed"] if plan else [],
        "errors": plan["errors"] if plan else [],
        "breadcrumbs": _crumbs((str(_("花名册")), reverse("self_managed:roster")), (batch.file_name, "")),
    })


@page(MANAGE_RULE)
@require_POST
def roster_batch_confirm(request, pk: int):
    batch = get_object_or_404(RosterImport, pk=pk)
    if batch.created_by_id != request.user.pk and not request.user.is_superuser:
        raise Http404
    return confirm_once(request, batch, key="zg.roster_confirm", confirm=roster_confirm, errors=ERRORS,
                        done=lambda result: gettext("已导入：%(summary)s") % {"summary": result.plan.summary_text()},
                        back="self_managed:roster_batch")


@page(VIEW_RULE)
def roster_export(request):
    """The roster in the import layout; 身份证号 and 银行账号 masked unless the user may see them (a
    masked file cannot be imported back)."""
    fmt = "csv" if request.GET.get("format") == "csv" else "xlsx"
    rows = roster_export_rows(persons_qs=persons_visible(request.user))
    masker = masker_for(request.user)
    if not masker.can_view:
        rows = [[masker.id_number(r[0]), *r[1:7], masker.account(r[7]), r[8], r[9], r[10], masker.phone(r[11] or ""),
                 r[12]] for r in rows]
    buffer = io.BytesIO()
    write_roster(buffer, rows, fmt=fmt)
    buffer.seek(0)
    title = gettext("自管人员花名册")
    name = f"{title}-{timezone.localtime():%Y%m%d-%H%M}.{fmt}"
    response = FileResponse(buffer, content_type="text/csv; charset=utf-8" if fmt == "csv" else
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f"attachment; filename=\"roster.{fmt}\"; filename*=UTF-8''{quote(name)}"
    return response


# --------------------------------------------------------------------------------------------------
# 灵活支付和收入


class FlexTable(Table):
    columns = [
        Column("person__name", _("收款人"), sortable=True,
               link=lambda row: reverse("self_managed:query_person", args=[row["person_id"]])),
        Column("person__id_number", _("身份证号"), kind="id_number"),
        Column("amount", _("金额"), kind="money", sortable=True),
        Column("reason", _("事由")),
        Column("source", _("依据/来源")),
        Column("run_id", _("零星发放批次"), kind="num"),
        # the run's own states (部分回盘 too): one list, the model's, for the label and the filter
        Column("run__state", _("批次状态"), kind="choice", choices=PayrollRun.State.choices),
        Column("created_at", _("登记时间"), kind="datetime", sortable=True),
    ]
    filters = [ChoiceFilter("run_state", _("批次状态"), field="run__state", choices=PayrollRun.State.choices)]
    extra_fields = ("person_id",)
    default_sort = "-created_at"
    export_name = _("灵活支付")
    prefix = "f_"
    dom_id = "zg-flex"


@page(VIEW_RULE)
def flex(request):
    form = f.FlexForm(request.POST or None)
    if request.method == "POST":
        policy.check(request.user, MANAGE_RULE)
        if form.is_valid():
            d = form.cleaned_data
            person = _person_by_id_number(request.user, d["id_number"])
            if person is None:
                form.add_error("id_number", gettext("找不到该身份证号的人员（或不在您的管辖范围内）"))
            else:
                try:
                    payment = write_once(request, "zg.flex", lambda: flex_payment_create(
                        person=person, amount=d["amount"], reason=d["reason"], source=d["source"],
                        user=request.user))
                except AlreadySubmitted as exc:
                    messages.warning(request, str(exc))
                    return redirect("self_managed:flex")
                except ERRORS as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, gettext(
                        "已登记灵活支付 %(name)s %(amount)s 元，生成零星发放批次 %(run)s，待另一位审核员审核后报盘") % {
                        "name": person.name, "amount": payment.amount, "run": payment.run_id})
                    return redirect("self_managed:flex")
    table = FlexTable(request, sel.flex_visible(request.user))
    return render_table(request, table, "self_managed/flex.html", {
        "form": form, "can_manage": _can_manage(request),
        "breadcrumbs": _crumbs((str(_("灵活支付和收入")), ""), (gettext("灵活支付"), "")),
    })


class IncomeTable(Table):
    columns = [
        Column("person__name", _("姓名"), sortable=True,
               link=lambda row: reverse("self_managed:query_person", args=[row["person_id"]])),
        Column("person__id_number", _("身份证号"), kind="id_number"),
        Column("kind", _("收入类型"), kind="choice"),
        Column("amount", _("金额"), kind="money", sortable=True),
        Column("applied", _("冲减扣减"), kind="money"),
        Column("received_on", _("到账日期"), kind="date", sortable=True),
        Column("source", _("来源")),
        Column("note", _("备注")),
        Column("created_by_name", _("经办人")),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), lookups=["person__name__contains", "person__id_number__endswith"]),
        ChoiceFilter("kind", _("收入类型"), choices=Income.Kind.choices),
        DateRangeFilter("received", _("到账日期"), field="received_on"),
    ]
    extra_fields = ("person_id",)
    default_sort = "-received_on"
    export_name = _("自管人员收入")
    prefix = "i_"
    dom_id = "zg-income"


@page(INCOME_VIEW_RULE)
def income(request):
    form = f.IncomeForm(request.POST or None, initial={"received_on": timezone.localdate()})
    if request.method == "POST":
        policy.check(request.user, INCOME_ADD_RULE)
        if form.is_valid():
            d = form.cleaned_data
            person = _person_by_id_number(request.user, d["id_number"])
            if person is None:
                form.add_error("id_number", gettext("找不到该身份证号的人员（或不在您的管辖范围内）"))
            else:
                try:
                    inc = write_once(request, "zg.income", lambda: income_record(
                        person=person, kind=d["kind"], amount=d["amount"], received_on=d["received_on"],
                        source=d["source"], note=d["note"], user=request.user))
                except AlreadySubmitted as exc:
                    messages.warning(request, str(exc))
                    return redirect("self_managed:income")
                except ERRORS as exc:
                    form.add_error(None, str(exc))
                else:
                    msg = gettext("已登记收入 %(name)s %(amount)s 元") % {"name": person.name, "amount": inc.amount}
                    if inc.applied:
                        msg += gettext("，冲减扣减 %(applied)s 元（未结 %(remaining)s 元）") % {
                            "applied": inc.applied, "remaining": inc.deduction.remaining}
                    messages.success(request, msg)
                    return redirect("self_managed:income")
    table = IncomeTable(request, sel.incomes_visible(request.user).annotate(created_by_name=operator_name("created_by")))
    return render_table(request, table, "self_managed/income.html", {
        "form": form, "can_add": policy.allows(request.user, INCOME_ADD_RULE),
        "breadcrumbs": _crumbs((str(_("灵活支付和收入")), reverse("self_managed:flex")), (gettext("收入"), "")),
    })
