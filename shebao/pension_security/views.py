"""养老保障 pages under /bz/. Thin: parse, call one selector or service, render. Every page is behind
``@page(rule)`` (``permissions.py``); persons are looked up within the user's towns (another town's
person looks missing, 404); every form that creates money or a record carries a one-time token."""

from __future__ import annotations

import io
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from shebao.benefits.forms import MonthField
from shebao.benefits.models import Adjustment, BenefitAmount, PaymentStatus, StatusChange
from shebao.benefits.months import MonthError, format_month, month_of
from shebao.benefits.raises import raise_apply, raise_preview, raise_terms_parse
from shebao.benefits.services import BenefitError, adjustment_create, enrollment_resume, enrollment_suspend
from shebao.common import policy
from shebao.common.fields import DecimalField
from shebao.common.masking import masker_for
from shebao.common.once import AlreadySubmitted, write_once
from shebao.common.safefile import read_text_upload
from shebao.pension_security import selectors as sel
from shebao.pension_security.models import Category, Member, PaidIn, Phase, RosterImport, Settlement
from shebao.pension_security.permissions import (
    APPROVE_RULE,
    COUNTY_MANAGE_RULE,
    COUNTY_VIEW_RULE,
    MANAGE_RULE,
    VIEW_RULE,
)
from shebao.pension_security.roster import (
    RosterFileError,
    roster_confirm,
    roster_export_rows,
    roster_upload,
    write_roster,
)
from shebao.pension_security.services import (
    BzError,
    bz_convert,
    bz_settle,
    conversion_review,
    member_register,
    paid_in_add,
    proposal_approve,
    proposal_create,
    proposal_refuse,
    settlement_printed,
)
from shebao.registry.selectors import person_get, person_search
from shebao.registry.services import RegistryError
from shebao.web.guards import page
from shebao.web.imports import confirm_once, upload_once
from shebao.web.tables import ChoiceFilter, Column, Table, TextFilter, render_table

ERRORS = (BzError, BenefitError, RegistryError, MonthError, RosterFileError)


def _crumbs(*items):
    return [(str(_("养老保障人员管理支付")), "")] + list(items)


def _member(request, pk: int) -> Member:
    person = person_get(user=request.user, pk=pk)
    member = sel.member_of(person)
    if member is None:
        raise Http404(gettext("该人员不是养老保障人员"))
    return member


def _this_month() -> str:
    return format_month(month_of(timezone.localdate()))


# --------------------------------------------------------------------------------------------------
# forms (shapes only: the services decide)


class RegisterForm(forms.Form):
    q = forms.CharField(label=_("身份证号或姓名"), max_length=50, help_text=_("已登记的人员"))
    category = forms.ModelChoiceField(label=_("类别"), queryset=Category.objects.filter(active=True))
    note = forms.CharField(label=_("备注"), max_length=200, required=False)


class ProposeForm(forms.Form):
    start_month = MonthField(label=_("开始年月"))
    amount = DecimalField(label=_("月金额"), max_digits=14, decimal_places=2, min_value=0, required=False,
                          help_text=_("留空 = 按类别标准"))
    note = forms.CharField(label=_("说明"), max_length=300, required=False)


class DecideForm(forms.Form):
    reason = forms.CharField(label=_("意见 / 退回原因"), max_length=300, required=False)


class PaidInForm(forms.Form):
    kind = forms.ChoiceField(label=_("缴费方式"), choices=PaidIn.Kind.choices)
    paid_on = forms.DateField(label=_("缴费日期"), help_text="YYYY-MM-DD")
    amount = DecimalField(label=_("缴费金额"), max_digits=14, decimal_places=2, min_value=0)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)


class StatusForm(forms.Form):
    from_month = MonthField(label=_("生效年月"))
    reason = forms.ChoiceField(label=_("暂停原因"), required=False, choices=[
        ("no_cert", _("未提供生存证明")), ("prison", _("判刑收监")), ("missing", _("下落不明")), ("other", _("其他"))])
    note = forms.CharField(label=_("说明"), max_length=300, required=False)


class AdjustForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=Adjustment.Kind.choices)
    total = DecimalField(label=_("金额"), max_digits=14, decimal_places=2, min_value=0)
    monthly_cap = DecimalField(label=_("每月上限"), max_digits=14, decimal_places=2, min_value=0, required=False)
    reason = forms.CharField(label=_("原因"), max_length=200)


class SettleForm(forms.Form):
    reason = forms.ChoiceField(label=_("原因"), choices=Settlement.Reason.choices)
    on = forms.DateField(label=_("终止日期"), help_text=_("退保：最后发放日；死亡：死亡日期"))
    heir = forms.CharField(label=_("继承人身份证号"), max_length=18, required=False, help_text=_("死亡且尚有应付款时必填"))
    note = forms.CharField(label=_("说明"), max_length=300, required=False)


class ConvertForm(forms.Form):
    month = MonthField(label=_("转换年月"))


class RosterForm(forms.Form):
    file = forms.FileField(label=_("花名册文件"), help_text=_("xlsx、xls 或 csv"))


# --------------------------------------------------------------------------------------------------
# 人员信息


def _search(qs, value, request):
    return person_search(user=request.user, q=value, limit=None, within=qs, person="person")


class MemberTable(Table):
    columns = [
        Column("person__name", _("姓名"), sortable=True,
               link=lambda row: reverse("pension_security:person", args=[row["person_id"]])),
        Column("person__id_number", _("身份证号"), kind="id_number", sortable=True),
        Column("person__town__name", _("镇街道"), sortable=True, sort_field="person__town__sort"),
        Column("category__name", _("类别"), sortable=True),
        Column("phase", _("阶段"), kind="choice", choices=Phase.choices, sortable=True),
        Column("enrollment__payment_status", _("发放状态"), kind="choice", choices=PaymentStatus.choices, sortable=True),
        Column("enrollment__start_month", _("开始年月"), kind="month", sortable=True),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), method=_search),
        ChoiceFilter("category", _("类别"), field="category_id",
                     choices=lambda request: [(c.pk, c.name) for c in Category.objects.all()]),
        ChoiceFilter("status", _("发放状态"), field="enrollment__payment_status", choices=PaymentStatus.choices),
        ChoiceFilter("phase", _("阶段"), field="phase", choices=Phase.choices),
    ]
    extra_fields = ("person_id",)
    default_sort = "person__name"
    export_name = _("养老保障人员名单")
    dom_id = "bz-persons"
    sort_after = frozenset({"q"})  # a search's few persons are found, then sorted (Table.sort_after)


@page(VIEW_RULE)
def person_list(request):
    table = MemberTable(request, sel.members_visible(request.user))
    return render_table(request, table, "pension_security/list.html", {
        "title": _("人员信息"), "can_manage": policy.allows(request.user, MANAGE_RULE),
        "breadcrumbs": _crumbs((str(_("人员信息")), "")),
    })


@page(MANAGE_RULE)
def register(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        found = list(person_search(user=request.user, q=d["q"], limit=2))
        if len(found) != 1:
            form.add_error("q", gettext("请输入唯一确定一人的身份证号（新人员请先在“新增人员”登记）"))
        else:
            try:
                member = write_once(request, "bz.register", lambda: member_register(
                    user=request.user, category=d["category"], person=found[0], note=d["note"]))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("pension_security:person_list")
            except ERRORS as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("%(name)s 已登记为养老保障人员") % {"name": member.person.name})
                return redirect("pension_security:person", pk=member.person_id)
    return render(request, "pension_security/form.html", {
        "form": form, "title": gettext("登记养老保障人员"), "submit": gettext("登记"),
        "breadcrumbs": _crumbs((str(_("人员信息")), reverse("pension_security:person_list")), (gettext("登记"), "")),
    })


@page(VIEW_RULE)
def person(request, pk: int):
    member = _member(request, pk)
    e = member.enrollment
    can_manage = policy.allows(request.user, MANAGE_RULE)
    return render(request, "pension_security/person.html", {
        "member": member, "person": member.person, "enrollment": e,
        "account": member.person.bank_accounts.filter(valid_to__isnull=True).first(),
        "paid_in": member.paid_in.all(), "paid_in_total": sel.paid_in_total(member),
        "received": sel.received_total(member),
        "proposals": sel.proposals_of(member),
        "amounts": BenefitAmount.objects.filter(enrollment=e).select_related("item").order_by("item__sort", "from_month")
        if e else [],
        "history": StatusChange.objects.filter(enrollment=e).select_related("reason", "operator") if e else [],
        "adjustments": Adjustment.objects.filter(enrollment=e).order_by("-id") if e else [],
        "conversion": getattr(member, "conversion", None) if hasattr(member, "conversion") else None,
        "settlement": Settlement.objects.filter(member=member).first(),
        "payable": sel.payable_paid(user=request.user, person_id=member.person_id)[-24:],
        "can_manage": can_manage, "can_approve": policy.allows(request.user, APPROVE_RULE),
        "propose_form": ProposeForm(initial={"start_month": _this_month()}), "paid_in_form": PaidInForm(),
        "breadcrumbs": _crumbs((str(_("人员信息")), reverse("pension_security:person_list")), (member.person.name, "")),
    })


def _person_action(request, pk, *, form_class, title, key, write, ok, initial=None):
    member = _member(request, pk)
    form = form_class(request.POST or None, initial=initial or {})
    if request.method == "POST" and form.is_valid():
        try:
            result = write_once(request, key, lambda: write(member, form.cleaned_data))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("pension_security:person", pk=member.person_id)
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, ok(member, result))
            return redirect("pension_security:person", pk=member.person_id)
    return render(request, "pension_security/form.html", {
        "form": form, "title": f"{title}：{member.person.name}", "submit": gettext("确定"), "member": member,
        "breadcrumbs": _crumbs((member.person.name, reverse("pension_security:person", args=[member.person_id])),
                               (title, "")),
    })


@page(MANAGE_RULE)
def propose(request, pk: int):
    def write(member, d):
        items = None
        if d.get("amount") is not None:
            from shebao.pension_security.services import phase_at

            code = "basic" if phase_at(member, d["start_month"]) == Phase.PENSION else "living"
            items = {code: d["amount"]}
        return proposal_create(member=member, user=request.user, start_month=d["start_month"], items=items,
                               note=d["note"])
    return _person_action(request, pk, form_class=ProposeForm, title=gettext("申报待遇"), key="bz.propose",
                          write=write, initial={"start_month": _this_month()},
                          ok=lambda m, p: gettext("已申报 %(name)s 的待遇（月 %(total)s 元），待另一人核准") % {
                              "name": m.person.name, "total": p.monthly_total})


@page(MANAGE_RULE)
def paid_in(request, pk: int):
    return _person_action(request, pk, form_class=PaidInForm, title=gettext("登记缴费"), key="bz.paid_in",
                          write=lambda m, d: paid_in_add(member=m, kind=d["kind"], paid_on=d["paid_on"],
                                                         amount=d["amount"], user=request.user, note=d["note"]),
                          ok=lambda m, r: gettext("已登记缴费 %(amount)s 元") % {"amount": r.amount})


@page(MANAGE_RULE)
def status(request, pk: int):
    def write(member, d):
        e = member.enrollment
        if e is None:
            raise BzError(gettext("尚未核准待遇"))
        if e.payment_status == PaymentStatus.ACTIVE:
            return enrollment_suspend(enrollment=e, reason=d["reason"] or "other", from_month=d["from_month"],
                                      user=request.user, note=d["note"])
        return enrollment_resume(enrollment=e, from_month=d["from_month"], user=request.user, note=d["note"])
    return _person_action(request, pk, form_class=StatusForm, title=gettext("暂停/恢复发放"), key="bz.status",
                          write=write, initial={"from_month": _this_month()},
                          ok=lambda m, r: gettext("%(name)s 发放状态已变更") % {"name": m.person.name})


@page(MANAGE_RULE)
def adjust(request, pk: int):
    def write(member, d):
        if member.enrollment is None:
            raise BzError(gettext("尚未核准待遇"))
        return adjustment_create(enrollment=member.enrollment, kind=d["kind"], total=d["total"], reason=d["reason"],
                                 user=request.user, monthly_cap=d.get("monthly_cap"), source="养老保障补发扣发")
    return _person_action(request, pk, form_class=AdjustForm, title=gettext("补发/扣发"), key="bz.adjust", write=write,
                          ok=lambda m, a: gettext("已登记%(kind)s %(amount)s 元") % {
                              "kind": a.get_kind_display(), "amount": a.total})


@page(MANAGE_RULE)
def settle(request, pk: int):
    def write(member, d):
        heir = None
        if d["heir"]:
            found = list(person_search(user=request.user, q=d["heir"], limit=2))
            if len(found) != 1:
                raise BzError(gettext("找不到继承人（请输入已登记人员的身份证号）"))
            heir = found[0]
        return bz_settle(member=member, reason=d["reason"], on=d["on"], user=request.user, heir=heir, note=d["note"])
    return _person_action(request, pk, form_class=SettleForm, title=gettext("退保清算"), key="bz.settle", write=write,
                          ok=lambda m, s: gettext("已办理退保清算 %(number)s：退还 %(refund)s 元，结算净额 %(net)s 元") % {
                              "number": s.number, "refund": s.refund, "net": s.net})


# --------------------------------------------------------------------------------------------------
# 待遇核准


@page(VIEW_RULE)
def approvals(request):
    return render(request, "pension_security/approvals.html", {
        "proposals": sel.proposals_open(request.user)[:500], "can_approve": policy.allows(request.user, APPROVE_RULE),
        "form": DecideForm(), "breadcrumbs": _crumbs((str(_("待遇核准")), "")),
    })


@page(APPROVE_RULE)
@require_POST
def decide(request, pk: int):
    proposal = get_object_or_404(sel.proposals_open(request.user), pk=pk)
    form = DecideForm(request.POST)
    form.is_valid()
    reason = form.cleaned_data.get("reason", "")
    try:
        if request.POST.get("decision") == "approve":
            write_once(request, "bz.decide", lambda: proposal_approve(proposal=proposal, user=request.user, note=reason))
            messages.success(request, gettext("已核准 %(name)s 的待遇") % {"name": proposal.member.person.name})
        else:
            write_once(request, "bz.decide", lambda: proposal_refuse(proposal=proposal, user=request.user, reason=reason))
            messages.success(request, gettext("已退回 %(name)s 的申报") % {"name": proposal.member.person.name})
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
    except ERRORS as exc:
        messages.error(request, str(exc))
    return redirect("pension_security:approvals")


# --------------------------------------------------------------------------------------------------
# 到龄转换


@page(COUNTY_VIEW_RULE)
def conversions(request):
    form = ConvertForm(request.POST or None, initial={"month": _this_month()})
    preview = None
    if request.method == "POST":
        policy.check(request.user, COUNTY_MANAGE_RULE)
        if request.POST.get("review"):
            try:
                n = write_once(request, "bz.conv_review", lambda: conversion_review(
                    conversions=[int(x) for x in request.POST.getlist("conversion") if x.isdigit()], user=request.user))
                messages.success(request, gettext("已复核 %(n)s 条转换") % {"n": n})
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
            except ERRORS as exc:
                messages.error(request, str(exc))
            return redirect("pension_security:conversions")
        if form.is_valid():
            month = form.cleaned_data["month"]
            try:
                if request.POST.get("confirm") == "1":
                    result = write_once(request, "bz.convert", lambda: bz_convert(month=month, user=request.user))
                    messages.success(request, gettext("%(month)s 到龄转换：已转换 %(n)s 人") % {
                        "month": format_month(month), "n": len(result.converted)})
                    return redirect("pension_security:conversions")
                preview = bz_convert(month=month, user=request.user, dry_run=True)
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("pension_security:conversions")
            except ERRORS as exc:
                form.add_error(None, str(exc))
    return render(request, "pension_security/conversions.html", {
        "form": form, "preview": preview, "conversions": sel.conversions_visible(request.user)[:300],
        "can_manage": policy.allows(request.user, COUNTY_MANAGE_RULE), "masker": masker_for(request.user),
        "breadcrumbs": _crumbs((str(_("到龄转换")), "")),
    })


# --------------------------------------------------------------------------------------------------
# 暂停恢复, 补发扣发 lists


@page(VIEW_RULE)
def suspensions(request):
    qs = sel.members_visible(request.user).filter(enrollment__payment_status=PaymentStatus.SUSPENDED)
    table = MemberTable(request, qs)
    return render_table(request, table, "pension_security/list.html", {
        "title": _("暂停恢复"), "intro": _("暂停发放的人员（含生存认证逾期暂停）；点姓名办理恢复。"),
        "breadcrumbs": _crumbs((str(_("暂停恢复")), "")),
    })


@page(VIEW_RULE)
def adjustments(request):
    rows = (Adjustment.objects.filter(enrollment__scheme__code="BZ", state=Adjustment.State.PENDING)
            .select_related("enrollment__person").order_by("-id"))
    rows = policy.scope_town(rows, request.user, "enrollment__person__town_id")[:500]
    return render(request, "pension_security/adjustments.html", {
        "rows": rows, "breadcrumbs": _crumbs((str(_("补发扣发")), "")),
    })


# --------------------------------------------------------------------------------------------------
# 增资 (the raise rule file, "scheme": "BZ")


@page(COUNTY_VIEW_RULE)
def raise_page(request):
    preview = None
    rule_json = request.POST.get("rule_json", "")
    apply_month = request.POST.get("apply_month") or _this_month()
    error = ""
    if request.method == "POST":
        import json

        try:
            if request.FILES.get("rule_file"):
                rule_json = read_text_upload(request.FILES["rule_file"], what="规则文件")
            data = json.loads(rule_json)
            if str(data.get("scheme", "")).upper() != "BZ":
                raise BzError(gettext("此页面只处理养老保障（\"scheme\": \"BZ\"）的增资规则"))
            terms = raise_terms_parse(data)
            if request.POST.get("apply") == "1":
                policy.check(request.user, COUNTY_MANAGE_RULE)
                rule, _done = write_once(request, "bz.raise", lambda: raise_apply(terms=terms, apply_month=apply_month,
                                                                               user=request.user))
                messages.success(request, gettext("已执行增资“%(name)s”：%(count)s 人") % {
                    "name": rule.name, "count": rule.person_count})
                return redirect("pension_security:raise")
            preview = raise_preview(terms=terms, apply_month=apply_month)
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("pension_security:raise")
        except json.JSONDecodeError as exc:
            error = gettext("规则文件不是有效的 JSON：%(msg)s") % {"msg": exc.msg}
        except (*ERRORS, ValueError) as exc:
            error = str(exc)
    return render(request, "pension_security/raise.html", {
        "preview": preview, "rule_json": rule_json, "apply_month": apply_month, "error": error,
        "can_manage": policy.allows(request.user, COUNTY_MANAGE_RULE), "breadcrumbs": _crumbs((str(_("增资")), "")),
    })


# --------------------------------------------------------------------------------------------------
# 应付/实付, reports


def _month_param(request, name):
    raw = request.GET.get(name) or ""
    try:
        from shebao.benefits.months import parse_month

        return parse_month(raw) if raw else None
    except MonthError:
        return None


def _xlsx(name: str, headers: list, rows: list, money: set) -> HttpResponse:
    from shebao.common.sheets import XlsxWriter

    buf = io.BytesIO()
    with XlsxWriter(buf, sheet_name=name[:30], headers=headers, money_columns=money) as w:
        for r in rows:
            w.write_row(r)
    resp = HttpResponse(buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}.xlsx"
    return resp


@page(VIEW_RULE)
def payable(request):
    m_from, m_to = _month_param(request, "from"), _month_param(request, "to")
    report = sel.payable_paid_report(user=request.user, month_from=m_from, month_to=m_to)
    totals = sel.run_totals(month_from=m_from, month_to=m_to)
    by_month: dict = {}
    for r in report:
        t = by_month.setdefault(r["period"], {"period": r["period"], "persons": 0, "payable": 0, "paid": 0,
                                              "written_off": 0, "owed": 0})
        for k in ("persons", "payable", "paid", "written_off", "owed"):
            t[k] += r[k]
    months = sorted(by_month.values(), key=lambda t: t["period"])
    for t in months:
        t["run_total"] = totals.get(t["period"])
        t["reconciled"] = t["run_total"] == t["payable"]
    if request.GET.get("export") == "xlsx":
        return _xlsx(gettext("养老保障应付实付"), [gettext("年月"), gettext("镇街道"), gettext("类别"), gettext("人数"),
                                            gettext("应付"), gettext("实付"), gettext("核销"), gettext("尚欠")],
                     [[format_month(r["period"]), r["town"], r["category"], r["persons"], r["payable"], r["paid"],
                       r["written_off"], r["owed"]] for r in report], {4, 5, 6, 7})
    peak = max([t["payable"] for t in months] or [1]) or 1
    for t in months:
        t["bar"] = int(t["payable"] * 100 / peak) // 5 * 5
        t["bar_paid"] = int(t["paid"] * 100 / peak) // 5 * 5
    return render(request, "pension_security/payable.html", {
        "report": report, "months": months, "county": policy.county_wide(request.user),
        "from": request.GET.get("from", ""), "to": request.GET.get("to", ""),
        "breadcrumbs": _crumbs((str(_("应付实付与报盘发放")), "")),
    })


@page(VIEW_RULE)
def reports(request):
    persons = sel.persons_report(user=request.user)
    conv = list(sel.conversions_visible(request.user).values_list("month").order_by("month"))
    conv_by_month: dict = {}
    for (m,) in conv:
        conv_by_month[m] = conv_by_month.get(m, 0) + 1
    settlements = sel.settlements_visible(request.user)
    status_label = {**dict(PaymentStatus.choices), "unapproved": gettext("未核准")}
    phase_label = dict(Phase.choices)
    for r in persons:
        r["status_label"], r["phase_label"] = status_label.get(r["status"], r["status"]), phase_label[r["phase"]]
    if request.GET.get("export") == "xlsx":
        return _xlsx(gettext("养老保障人员统计"), [gettext("类别"), gettext("发放状态"), gettext("阶段"), gettext("镇街道"),
                                            gettext("人数")],
                     [[r["category"], str(r["status_label"]), str(r["phase_label"]), r["town"], r["persons"]]
                      for r in persons], set())
    by_category: dict = {}
    for r in persons:
        by_category[r["category"]] = by_category.get(r["category"], 0) + r["persons"]
    peak = max(by_category.values() or [1]) or 1
    return render(request, "pension_security/reports.html", {
        "persons": persons, "total": sum(r["persons"] for r in persons),
        "by_category": [(k, v, int(v * 100 / peak) // 5 * 5) for k, v in by_category.items()],
        "conversions": sorted(conv_by_month.items()), "settlements": settlements[:200],
        "breadcrumbs": _crumbs((str(_("报表")), "")),
    })


# --------------------------------------------------------------------------------------------------
# 退保清算: list and statement


@page(VIEW_RULE)
def settlements(request):
    return render(request, "pension_security/settlements.html", {
        "settlements": sel.settlements_visible(request.user)[:500], "breadcrumbs": _crumbs((str(_("退保清算")), "")),
    })


@page(VIEW_RULE)
def settlement_pdf(request, number: str):
    settlement = get_object_or_404(sel.settlements_visible(request.user), number=number)
    from shebao.pension_security.statement import render_bz_statement

    settlement = settlement_printed(settlement=settlement, user=request.user)
    data = render_bz_statement(settlement, masker=masker_for(request.user), reprint=settlement.print_count > 1)
    return FileResponse(io.BytesIO(data), content_type="application/pdf", filename=f"{settlement.number}.pdf")


# --------------------------------------------------------------------------------------------------
# 花名册


@page(VIEW_RULE)
def roster(request):
    form = RosterForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        policy.check(request.user, MANAGE_RULE)
        done = upload_once(request, form, key="bz.roster_upload", upload=roster_upload, errors=ERRORS,
                           again="pension_security:roster", preview="pension_security:roster_batch")
        if done:
            return done
    batches = RosterImport.objects.defer("content").filter(created_by=request.user)[:20]
    return render(request, "pension_security/roster.html", {
        "form": form, "batches": batches, "can_manage": policy.allows(request.user, MANAGE_RULE),
        "breadcrumbs": _crumbs((str(_("花名册")), "")),
    })


@page(VIEW_RULE)
def roster_export(request):
    from shebao.pension_security.roster import COLUMNS

    masker = masker_for(request.user)
    rows = roster_export_rows(members_qs=sel.members_visible(request.user))
    rows = [[masker.id_number(r[0]), *r[1:4], masker.phone(r[4] or ""), r[5], masker.account(r[6]) if r[6] else "",
             *r[7:]] for r in rows]
    if request.GET.get("format") == "csv":
        buf = io.BytesIO()
        write_roster(buf, rows, fmt="csv")
        resp = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(gettext('养老保障花名册'))}.csv"
        return resp
    return _xlsx(gettext("养老保障花名册"), COLUMNS, rows, {COLUMNS.index("缴费金额")})


@page(MANAGE_RULE)
def roster_batch(request, pk: int):
    batch = get_object_or_404(RosterImport.objects.defer("content"), pk=pk, created_by=request.user)
    return render(request, "pension_security/roster_batch.html", {
        "batch": batch, "preview": batch.preview,
        "breadcrumbs": _crumbs((str(_("花名册")), reverse("pension_security:roster")), (batch.file_name, "")),
    })


@page(MANAGE_RULE)
@require_POST
def roster_batch_confirm(request, pk: int):
    batch = get_object_or_404(RosterImport.objects.defer("content"), pk=pk, created_by=request.user)
    return confirm_once(request, batch, key="bz.roster_confirm", confirm=roster_confirm, errors=ERRORS,
                        done=lambda result: gettext("已导入：%(s)s") % {"s": result.plan.summary_text()},
                        back="pension_security:roster_batch")
