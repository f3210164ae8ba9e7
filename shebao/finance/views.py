"""社会保险特殊业务 pages under /ts/: 收款方登记, 支出, 收入, a record's page (修改, 删除, 附件, 到账确认,
复核, 红冲, 经银行支付, 凭证打印), 财务复核, 收支报表 and 业务类型. Thin: parse, call one selector or service,
render. Every page is behind ``@page(rule)`` (``rules.py``, all 全市范围); a write needs its own rule,
checked before the service; every form that creates money or a record carries a one-time token."""

from __future__ import annotations

import io
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from shebao.benefits.models import Scheme
from shebao.common import policy
from shebao.common.identity import IdNumberError, parse_id_number
from shebao.common.masking import masker_for
from shebao.common.once import AlreadySubmitted, write_once
from shebao.common.sheets import XlsxWriter
from shebao.finance import forms as f
from shebao.finance import selectors as sel
from shebao.finance import services as svc
from shebao.finance.models import Attachment, BusinessType, Direction, Entry
from shebao.finance.rules import (
    ARRIVAL_RULE,
    MANAGE_RULE,
    REVIEW_PAGE_RULE,
    REVIEW_RULE,
    TYPES_RULE,
    VIEW_RULE,
)
from shebao.payroll.models import PayrollLine
from shebao.registry.models import Payee, Person
from shebao.registry.selectors import bank_choices, bank_label
from shebao.registry.services import RegistryError, payee_change, payee_create
from shebao.web.decide import act_once
from shebao.web.guards import page
from shebao.web.tables import ChoiceFilter, Column, DateRangeFilter, Table, TextFilter, render_table

ERRORS = (svc.FinanceError, RegistryError)


def _crumbs(*items):
    return [(str(_("社会保险特殊业务")), "")] + list(items)


def _entry(pk: int) -> Entry:
    entry = sel.entry_get(pk)
    if entry is None:
        raise Http404(gettext("没有该收支记录"))
    return entry


# --------------------------------------------------------------------------------------------------
# 支出 / 收入: list and 新增


class EntryTable(Table):
    columns = [
        Column("number", _("记录号"), sortable=True, link=lambda row: reverse("finance:entry", args=[row["id"]])),
        Column("type__name", _("业务类型")),
        Column("payee__name", _("收款方/付款方")),
        Column("person__name", _("人员")),
        Column("amount", _("金额"), kind="money", sortable=True),
        Column("occurred_on", _("业务日期"), kind="date", sortable=True),
        Column("voucher_no", _("凭证号")),
        Column("state", _("状态"), kind="choice", choices=Entry.State.choices),
        Column("pay_status", _("银行支付"), kind="choice", choices=Entry.PayStatus.choices),
        Column("created_by__username", _("经办人")),
        Column("reviewed_by__username", _("复核人")),
    ]
    filters = [
        TextFilter("q", _("记录号/凭证号/户名"), lookups=["number__contains", "voucher_no__contains",
                                                       "payee__name__contains", "person__name__contains"]),
        ChoiceFilter("state", _("状态"), choices=Entry.State.choices),
        ChoiceFilter("type", _("业务类型"), field="type__code",
                     choices=lambda request=None: [(t.code, t.name) for t in sel.types()]),
        DateRangeFilter("occurred", _("业务日期"), field="occurred_on"),
    ]
    extra_fields = ("id",)
    default_sort = "-occurred_on"
    prefix = "e_"
    dom_id = "ts-entries"


def _party(form) -> tuple[Payee | None, Person | None]:
    d = form.cleaned_data
    payee = person = None
    code = (d.get("payee_code") or "").strip().upper()
    if code:
        payee = Payee.objects.filter(code=code, current=True).first()
        if payee is None:
            form.add_error("payee_code", gettext("没有编号为 %(code)s 的收款方") % {"code": code})
    raw = (d.get("id_number") or "").strip()
    if raw:
        try:
            person = Person.objects.filter(id_number=parse_id_number(raw).number).first()
        except IdNumberError as exc:
            form.add_error("id_number", str(exc))
        else:
            if person is None:
                form.add_error("id_number", gettext("找不到该身份证号的登记人员"))
    return payee, person


def _ledger(request, direction: str):
    label = Direction(direction).label
    form = f.EntryForm(request.POST or None, direction=direction, initial={"occurred_on": timezone.localdate()})
    if request.method == "POST":
        policy.check(request.user, MANAGE_RULE)
        if form.is_valid():
            payee, person = _party(form)
            if form.is_valid():
                d = form.cleaned_data
                try:
                    entry = write_once(request, f"finance.{direction}", lambda: svc.entry_create(
                        user=request.user, type=d["type"], amount=d["amount"], occurred_on=d["occurred_on"],
                        payee=payee, person=person, voucher_no=d["voucher_no"], note=d["note"]))
                except AlreadySubmitted as exc:
                    messages.warning(request, str(exc))
                    return redirect(f"finance:{direction}")
                except ERRORS as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, gettext("已录入%(what)s %(number)s，金额 %(amount)s 元，待到账确认") % {
                        "what": label, "number": entry.number, "amount": entry.amount})
                    return redirect("finance:entry", pk=entry.pk)
    table = EntryTable(request, sel.entries(direction))
    table.export_name = str(label)
    return render_table(request, table, "finance/entries.html", {
        "form": form, "can_manage": policy.allows(request.user, MANAGE_RULE), "label": label,
        "direction": str(direction), "can_review_page": policy.allows(request.user, REVIEW_PAGE_RULE),
        "breadcrumbs": _crumbs((str(label), "")),
    })


@page(VIEW_RULE)
def expenditure(request):
    return _ledger(request, Direction.EXPENDITURE)


@page(VIEW_RULE)
def income(request):
    return _ledger(request, Direction.INCOME)


# --------------------------------------------------------------------------------------------------
# a record


@page(VIEW_RULE)
def entry(request, pk: int):
    e = _entry(pk)
    masker = masker_for(request.user)
    user = request.user
    can_manage = policy.allows(user, MANAGE_RULE)
    editable = e.state == Entry.State.ENTERED and not e.reversal_of_id and not e.run_id
    return render(request, "finance/entry.html", {
        "e": e, "attachments": list(Attachment.objects.filter(entry=e).defer("content")),
        "payee_account": masker.account(e.payee.account_number) if e.payee_id else "",
        "payee_bank": bank_label(e.payee.bank) if e.payee_id else "",
        "person_id_number": masker.id_number(e.person.id_number) if e.person_id else "",
        "reversal": Entry.objects.filter(reversal_of=e).first(),
        "can_edit": can_manage and editable, "can_delete": can_manage and editable and not e.source,
        "can_attach": can_manage and e.state != Entry.State.REVIEWED,
        "can_pay": (can_manage and editable and e.direction == Direction.EXPENDITURE and e.type.scheme_id
                    and (e.payee_id or e.person_id)),
        "can_arrive": policy.allows(user, ARRIVAL_RULE) and e.state == Entry.State.ENTERED
                      and not (e.run_id and e.pay_status != Entry.PayStatus.PAID),
        "can_review": policy.allows(user, REVIEW_RULE) and e.state == Entry.State.ARRIVED and e.created_by_id != user.pk,
        "own_record": e.state == Entry.State.ARRIVED and e.created_by_id == user.pk,
        "can_reverse": policy.allows(user, REVIEW_RULE) and e.state == Entry.State.REVIEWED and not e.reversal_of_id
                       and not Entry.objects.filter(reversal_of=e).exists(),
        "arrival_form": f.ArrivalForm(initial={"arrival_on": timezone.localdate(), "amount": e.amount}),
        "reason_form": f.ReasonForm(), "attachment_form": f.AttachmentForm(),
        "breadcrumbs": _crumbs((str(e.get_direction_display()), reverse(f"finance:{e.direction}")), (e.number, "")),
    })


@page(MANAGE_RULE)
def entry_edit(request, pk: int):
    e = _entry(pk)
    initial = {"type": e.type, "payee_code": e.payee.code if e.payee_id else "", "amount": e.amount,
               "occurred_on": e.occurred_on, "voucher_no": e.voucher_no, "note": e.note,
               "id_number": ""}
    form = f.EntryForm(request.POST or None, direction=e.direction, initial=initial)
    if e.person_id:
        form.fields["id_number"].help_text = gettext("当前：%(name)s；留空 = 不变") % {"name": e.person.name}
    if request.method == "POST" and form.is_valid():
        payee, person = _party(form)
        if form.is_valid():
            d = form.cleaned_data
            changes = {"type": d["type"], "amount": d["amount"], "occurred_on": d["occurred_on"],
                       "voucher_no": d["voucher_no"], "note": d["note"]}
            if payee is not None or not (d.get("payee_code") or "").strip():
                changes["payee"] = payee
            changes["person"] = person if person is not None else (e.person if not payee else None)
            if e.source:  # a record from a scheme: the rest is the scheme's
                changes = {k: v for k, v in changes.items() if k in svc.LINKED_EDITABLE}
            try:
                with transaction.atomic():
                    svc.entry_update(entry=e, user=request.user, **changes)
            except ERRORS as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("已保存 %(number)s") % {"number": e.number})
                return redirect("finance:entry", pk=e.pk)
    return render(request, "finance/entry_edit.html", {
        "e": e, "form": form,
        "breadcrumbs": _crumbs((str(e.get_direction_display()), reverse(f"finance:{e.direction}")),
                               (e.number, reverse("finance:entry", args=[e.pk])), (gettext("修改"), "")),
    })


def _act(request, pk: int, form_name: str, write, done: str):
    """One act of a record's page (到账确认, 复核, 红冲 …): once, in one transaction, with its message
    (``shebao.web.decide``)."""
    e = _entry(pk)
    e.act_result = act_once(request, form=form_name, write=lambda: write(e), done=done, errors=ERRORS)[1]
    return e


@require_POST
@page(MANAGE_RULE)
def entry_delete(request, pk: int):
    form = f.ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    e = _act(request, pk, "finance.delete", lambda e: svc.entry_delete(entry=e, user=request.user, reason=reason),
             gettext("已删除"))
    if Entry.objects.filter(pk=e.pk).exists():
        return redirect("finance:entry", pk=e.pk)
    return redirect(f"finance:{e.direction}")


@require_POST
@page(ARRIVAL_RULE)
def entry_arrival(request, pk: int):
    form = f.ArrivalForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("请填写到账日期和到账金额（两位小数）"))
        return redirect("finance:entry", pk=pk)
    d = form.cleaned_data
    _act(request, pk, "finance.arrival", lambda e: svc.entry_confirm_arrival(
        entry=e, user=request.user, arrival_on=d["arrival_on"], amount=d["amount"]), gettext("已到账确认，待复核"))
    return redirect("finance:entry", pk=pk)


@require_POST
@page(REVIEW_RULE)
def entry_review(request, pk: int):
    _act(request, pk, "finance.review", lambda e: svc.entry_review(entry=e, user=request.user),
         gettext("已复核，记录已锁定"))
    return redirect("finance:entry", pk=pk)


@require_POST
@page(REVIEW_RULE)
def entry_reverse(request, pk: int):
    form = f.ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    e = _act(request, pk, "finance.reverse", lambda e: svc.entry_reverse(entry=e, user=request.user, reason=reason),
             gettext("已红冲，红冲记录待另一位复核人复核"))
    return redirect("finance:entry", pk=e.act_result.pk if e.act_result is not None else pk)


@require_POST
@page(MANAGE_RULE)
def entry_pay(request, pk: int):
    _act(request, pk, "finance.pay", lambda e: svc.entry_pay_by_bank(entry=e, user=request.user),
         gettext("已生成零星发放批次，待另一位审核员审核后报盘"))
    return redirect("finance:entry", pk=pk)


@require_POST
@page(MANAGE_RULE)
def entry_attach(request, pk: int):
    form = f.AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("finance:entry", pk=pk)
    upload = form.cleaned_data["file"]
    _act(request, pk, "finance.attach", lambda e: svc.attachment_add(
        entry=e, user=request.user, file_name=upload.name, data=upload.read()), gettext("已添加附件"))
    return redirect("finance:entry", pk=pk)


@require_POST
@page(MANAGE_RULE)
def attachment_delete(request, pk: int, att: int):
    """删除附件 of a record not yet reviewed (the service, and the database's trigger, refuse it after)."""
    found = Attachment.objects.filter(entry_id=pk, pk=att).defer("content").first()
    if found is None:
        raise Http404(gettext("没有该附件"))
    _act(request, pk, "finance.attach_delete", lambda e: svc.attachment_delete(attachment=found, user=request.user),
         gettext("已删除附件 %(name)s") % {"name": found.file_name})
    return redirect("finance:entry", pk=pk)


@page(VIEW_RULE)
def attachment(request, pk: int, att: int):
    found = Attachment.objects.filter(entry_id=pk, pk=att).first()
    if found is None:
        raise Http404(gettext("没有该附件"))
    response = HttpResponse(bytes(found.content), content_type=found.content_type)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''" + _quote(found.file_name)
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


@page(VIEW_RULE)
def voucher(request, pk: int):
    from shebao.finance.voucher import render_voucher

    e = _entry(pk)
    data = render_voucher(e, masker=masker_for(request.user), agency=settings.SHEBAO_AGENCY_NAME)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="voucher-{e.number}.pdf"'
    return response


# --------------------------------------------------------------------------------------------------
# 财务复核


@page(REVIEW_PAGE_RULE)
def review(request):
    table = EntryTable(request, sel.review_queue(request.user))
    table.export_name = gettext("财务复核")
    return render_table(request, table, "finance/review.html", {
        "breadcrumbs": _crumbs((gettext("财务复核"), "")),
    })


# --------------------------------------------------------------------------------------------------
# 收款方登记 (registry.Payee: versioned by the registry's services)


class PayeeTable(Table):
    columns = [
        Column("code", _("编号"), sortable=True, link=lambda row: reverse("finance:payee", args=[row["code"]])),
        Column("name", _("户名"), sortable=True),
        Column("uscc", _("统一社会信用代码")),
        Column("bank", _("开户银行"), kind="choice",
               choices=lambda request=None: bank_choices(request, include_inactive=True)),
        Column("branch", _("开户网点")),
        Column("account_number", _("银行账号"), kind="account"),
        Column("version", _("版本"), kind="num"),
    ]
    filters = [TextFilter("q", _("户名/编号/信用代码"), lookups=["name__contains", "code__contains", "uscc__contains"])]
    default_sort = "code"
    export_name = _("收款方")
    prefix = "p_"
    dom_id = "ts-payees"


@page(VIEW_RULE)
def payees(request):
    form = f.PayeeForm(request.POST or None)
    if request.method == "POST":
        policy.check(request.user, MANAGE_RULE)
        if form.is_valid():
            d = form.cleaned_data
            try:
                payee = write_once(request, "finance.payee", lambda: payee_create(user=request.user, **d))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("finance:payees")
            except ERRORS as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("已登记收款方 %(name)s（%(code)s）") % {"name": payee.name,
                                                                                   "code": payee.code})
                return redirect("finance:payee", code=payee.code)
    return render_table(request, PayeeTable(request, sel.payees_current()), "finance/payees.html", {
        "form": form, "can_manage": policy.allows(request.user, MANAGE_RULE),
        "breadcrumbs": _crumbs((gettext("收款方登记"), "")),
    })


@page(VIEW_RULE)
def payee(request, code: str):
    versions = sel.payee_versions(code)
    if not versions:
        raise Http404(gettext("没有该收款方"))
    current = versions[0]
    masker = masker_for(request.user)
    initial = {k: getattr(current, k) for k in ("name", "uscc", "bank", "branch", "account_number", "note")}
    form = f.PayeeChangeForm(request.POST or None, initial=initial)
    if request.method == "POST":
        policy.check(request.user, MANAGE_RULE)
        if form.is_valid():
            d = dict(form.cleaned_data)
            reason = d.pop("reason")
            try:
                with transaction.atomic():
                    new = payee_change(payee=current, user=request.user, reason=reason, **d)
            except ERRORS as exc:
                form.add_error(None, str(exc))
            else:
                if new.pk == current.pk:
                    messages.info(request, gettext("没有变动"))
                else:
                    messages.success(request, gettext("已变更为第 %(v)s 版；已用旧版本的记录保持不变") % {"v": new.version})
                return redirect("finance:payee", code=code)
    return render(request, "finance/payee.html", {
        "current": current, "form": form, "can_manage": policy.allows(request.user, MANAGE_RULE),
        "versions": [(v, masker.account(v.account_number), bank_label(v.bank)) for v in versions],
        "entries": list(sel.payee_entries(code)[:50]),
        "breadcrumbs": _crumbs((gettext("收款方登记"), reverse("finance:payees")), (current.name, "")),
    })


# --------------------------------------------------------------------------------------------------
# 收支报表


@page(VIEW_RULE)
def report(request):
    period = (request.GET.get("period") or timezone.localdate().strftime("%Y-%m")).strip()[:7]
    error = ""
    try:
        rep = sel.report_for(period)
    except ValueError as exc:
        error, rep = str(exc), sel.report_for(timezone.localdate().strftime("%Y-%m"))
    if request.GET.get("export") == "xlsx" and not error:
        buffer = io.BytesIO()
        with XlsxWriter(buffer, sheet_name="特殊业务收支", headers=["项目", "类型/编号", "科目/户名", "笔数", "金额"]) as xlsx:
            for row in sel.report_rows(rep):
                xlsx.write_row(row, money_columns={4} if isinstance(row[4], Decimal) else set())
        response = HttpResponse(buffer.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="finance-{rep.label}.xlsx"'
        return response
    chart = sel.report_chart(rep, labels={"income": gettext("收入"), "expenditure": gettext("支出"),
                                          "yuan": gettext("元")})
    return render(request, "finance/report.html", {
        "r": rep, "period": period, "error": error, "directions": dict(Direction.choices), "chart": chart,
        "breadcrumbs": _crumbs((gettext("收支报表"), "")),
    })


# --------------------------------------------------------------------------------------------------
# 业务类型


@page(TYPES_RULE)
def types_page(request):
    code = (request.GET.get("code") or "").strip().upper()
    found = BusinessType.objects.filter(code=code).first() if code else None
    initial = ({k: getattr(found, k) for k in ("code", "name", "direction", "subject_code", "subject_name",
                                              "active", "sort", "note")} | {"scheme": found.scheme.code if found.scheme
                                                                             else ""}) if found else {}
    form = f.TypeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = dict(form.cleaned_data)
        scheme = Scheme.objects.filter(code=d.pop("scheme")).first()
        create = request.POST.get("create") == "1"
        try:
            saved = write_once(request, "finance.type", lambda: svc.type_save(user=request.user, scheme=scheme,
                                                                        create=create, **d))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("finance:types")
        except ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已保存业务类型 %(name)s") % {"name": saved.name})
            return redirect("finance:types")
    types = list(sel.types().select_related("subject_confirmed_by"))
    return render(request, "finance/types.html", {
        "types": types, "form": form, "editing": found,
        "unconfirmed": sum(1 for t in types if not t.subject_confirmed),
        "breadcrumbs": _crumbs((gettext("业务类型"), "")),
    })


@require_POST
@page(TYPES_RULE)
def type_confirm(request, code: str):
    """财务确认会计科目 of one type (the code the page showed is sent back: a change since refuses)."""
    found = BusinessType.objects.filter(code=code).first()
    if found is None:
        raise Http404(gettext("没有该业务类型"))
    act_once(request, form="finance.type_confirm", errors=ERRORS,
             write=lambda: svc.type_confirm_subject(user=request.user, type=found,
                                                    subject_code=request.POST.get("subject_code", "")),
             done=lambda saved: gettext("已确认 %(name)s 的会计科目 %(code)s") % {
                 "name": saved.name, "code": saved.subject_code})
    return redirect("finance:types")


# --------------------------------------------------------------------------------------------------
# 银行退回 (money the bank returned after a paid line)


@page(MANAGE_RULE)
def returned(request):
    form = f.ReturnedForm(request.POST or None, initial={"returned_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        line = PayrollLine.objects.filter(run_id=d["run"], seq=d["seq"]).first()
        if line is None:
            form.add_error(None, gettext("结算批次 %(run)s 没有第 %(seq)s 笔") % {"run": d["run"], "seq": d["seq"]})
        else:
            try:
                e = write_once(request, "finance.returned", lambda: svc.report_returned_payment(
                    line=line, amount=d["amount"], on=d["returned_on"], user=request.user, note=d["note"]))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("finance:returned")
            except ERRORS as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("已登记银行退回 %(number)s") % {"number": e.number})
                return redirect("finance:entry", pk=e.pk)
    return render(request, "finance/returned.html", {
        "form": form, "breadcrumbs": _crumbs((gettext("收入"), reverse("finance:income")), (gettext("银行退回"), "")),
    })
