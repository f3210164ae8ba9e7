"""老农保 pages: 结算单 (list, page, PDF), 退款回退, and the home page's work item for refunds awaiting
the bank."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from shebao.common.masking import masker_for
from shebao.common.money import amount_in_words, format_yuan
from shebao.common.once import AlreadySubmitted, write_once
from shebao.rural_pension.forms import ReasonForm
from shebao.rural_pension.models import AccountStatus, RuralDocument
from shebao.rural_pension.payment import nb_payment_sent, nb_payment_state
from shebao.rural_pension.selectors import document_get, documents_list
from shebao.rural_pension.services import RuralError, rural_document_pdf, rural_refund_rollback
from shebao.rural_pension.views.base import (
    REFUND_RULE,
    ROLLBACK_RULE,
    Doc,
    _account_link,
    _confirmed,
    _crumbs,
    _may,
    _month_start,
    _year_month,
    _year_rows,
    _year_totals,
    refund_required,
    rollback_required,
    viewer_required,
)
from shebao.web.tables import ChoiceFilter, Column, DateRangeFilter, Table, TextFilter, render_table

# 结算单: list, page, PDF, rollback


def _doc_q(qs, value, request):
    value = value.strip()
    if value.upper().startswith("NB"):
        return qs.filter(number__icontains=value)
    if value[-1:].isdigit() or value[-1:] in "xX":
        return qs.filter(account__person__id_number__endswith=value.upper())
    return qs.filter(account__person__name__contains=value)


class DocumentTable(Table):
    columns = [
        Column("number", _("结算单号"), sortable=True, link=lambda row: reverse("rural:document_detail",
                                                                        args=[row["number"]])),
        Column("kind", _("类型"), kind="choice", choices=Doc.Kind.choices),
        Column("name", _("姓名"), field="account__person__name", sortable=True,
               link=lambda row: reverse("rural:account_detail", args=[row["account_id"]])),
        Column("id_number", _("身份证号"), field="account__person__id_number", kind="id_number"),
        Column("payee", _("领款人"), field="payee__name"),
        Column("on_date", _("结算日期"), kind="date", sortable=True),
        Column("amount", _("金额"), kind="money", sortable=True),
        Column("pay_method", _("支付方式"), kind="choice", choices=Doc.PayMethod.choices),
        Column("state", _("状态"), kind="choice", choices=Doc.State.choices, sortable=True),
        Column("operator", _("经办人"), field="operator__full_name"),
        Column("created_at", _("经办时间"), kind="datetime", sortable=True),
    ]
    filters = [
        TextFilter("q", _("结算单号/姓名/身份证号"), method=_doc_q),
        ChoiceFilter("kind", _("类型"), choices=Doc.Kind.choices),
        ChoiceFilter("state", _("状态"), choices=Doc.State.choices),
        ChoiceFilter("pay", _("支付方式"), field="pay_method", choices=Doc.PayMethod.choices),
        DateRangeFilter("on", _("结算日期"), field="on_date"),
        DateRangeFilter("created", _("经办日期"), field="created_at", datetime=True),
    ]
    extra_fields = ("account_id",)
    default_sort = "-created_at"
    export_name = _("老农保结算单")
    dom_id = "tbl-documents"

    def cell_state(self, value, row):
        return format_html('<span class="tag {}">{}</span>', "ok" if value == "settled" else "warn",
                           Doc.State(value).label)


class RollbackTable(DocumentTable):
    columns = [*DocumentTable.columns, Column("action", _("操作"), field="pk", export=False)]
    filters = [DocumentTable.filters[0], DocumentTable.filters[3]]
    export_name = _("本月可回退结算单")
    dom_id = "tbl-rollback"

    def cell_action(self, value, row):
        return format_html('<a class="btn small danger" href="{}">{}</a>',
                           reverse("rural:document_rollback", args=[row["number"]]), gettext("回退"))


@viewer_required
def document_list(request):
    table = DocumentTable(request, documents_list(user=request.user))
    return render_table(request, table, "rural_pension/document_list.html", {
        "title": gettext("结算单查询"), "breadcrumbs": _crumbs((gettext("结算单"), "")),
    })


@rollback_required
def rollback_list(request):
    """退款回退: this month's settled documents, each with its 回退 action."""
    today = timezone.localdate()
    qs = documents_list(user=request.user, state=Doc.State.SETTLED, kind=Doc.Kind.REFUND).filter(
        created_at__gte=_month_start(today))
    table = RollbackTable(request, qs)
    return render_table(request, table, "rural_pension/document_list.html", {
        "title": gettext("退款回退"), "breadcrumbs": _crumbs((gettext("退款回退"), "")),
        "hint": gettext("本月（%(month)s）办理、尚未回退的结算单。只能回退当月办理且款项尚未报盘（发往银行）的结算单。")
        % {"month": _year_month(today)},
    })


def _payment(doc: RuralDocument) -> dict:
    state = nb_payment_state(run_id=doc.payroll_run_id, line_id=doc.payroll_line_id)
    if doc.state == Doc.State.SETTLED and doc.payroll_run_id:
        state["sent"] = nb_payment_sent(run_id=doc.payroll_run_id, line_id=doc.payroll_line_id)
    return state


def _rollback_block(doc: RuralDocument, today: dt.date) -> str:
    """Why the document cannot be rolled back now ("" when it can): what the service will say."""
    if doc.state != Doc.State.SETTLED:
        return gettext("结算单 %(number)s 已回退") % {"number": doc.number}
    if doc.kind != Doc.Kind.REFUND:
        return gettext("结算单 %(number)s 是%(kind)s，不能按退款回退") % {"number": doc.number,
                                                                 "kind": doc.get_kind_display()}
    made = timezone.localtime(doc.created_at).date()
    if (made.year, made.month) != (today.year, today.month):
        return gettext("结算单 %(number)s 于 %(date)s 办理，只能在当月（%(month)s）回退，跨月不能回退") % {
            "number": doc.number, "date": f"{made:%Y-%m-%d}", "month": _year_month(made)}
    if doc.pay_method == Doc.PayMethod.BANK and doc.payroll_run_id:
        why = nb_payment_sent(run_id=doc.payroll_run_id, line_id=doc.payroll_line_id)
        if why:
            return gettext("款项已发往银行，不能回退：%(why)s") % {"why": why}
    return ""


@viewer_required
def document_detail(request, number: str):
    doc = document_get(user=request.user, number=number)
    table = doc.table or {}
    rows = _year_rows(table.get("years", []))
    user = request.user
    ctx = {
        "doc": doc, "account": doc.account, "rows": rows, "totals": _year_totals(rows),
        "guarantee": table.get("guarantee"), "words": amount_in_words(doc.amount), "payment": _payment(doc),
        "can_print": _may(user, REFUND_RULE), "can_rollback": _may(user, ROLLBACK_RULE),
        "rollback_block": _rollback_block(doc, timezone.localdate()),
        "breadcrumbs": _crumbs((gettext("结算单"), reverse("rural:document_list")), (doc.number, "")),
    }
    return render(request, "rural_pension/document_detail.html", ctx)


def _pdf_response(pdf: bytes, doc) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{doc.number}.pdf"'
    return response


@refund_required
@require_GET
def document_pdf(request, number: str):
    """The 结算单 PDF, inline (the browser's viewer prints it): the original the first time, a 副本 after
    (not counted: viewing is not reprinting)."""
    doc = document_get(user=request.user, number=number)
    return _pdf_response(rural_document_pdf(document=doc, user=request.user, masker=masker_for(request.user)), doc)


@refund_required
@require_POST
def document_reprint(request, number: str):
    """补打: the clerk asks for a reprint (a form with its one-time token): counted, audited, marked 补打.
    The same form sent twice prints once."""
    doc = document_get(user=request.user, number=number)
    try:
        pdf = write_once(request, "nb.reprint", lambda: rural_document_pdf(
            document=doc, user=request.user, masker=masker_for(request.user), reprint=True))
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
        return redirect("rural:document_detail", number=doc.number)
    return _pdf_response(pdf, doc)


@rollback_required
def document_rollback(request, number: str):
    doc = document_get(user=request.user, number=number)
    form = ReasonForm(request.POST or None)
    before = doc.account_before or {}
    ctx = {
        "doc": doc, "account": doc.account, "form": form, "payment": _payment(doc),
        "restore_status": AccountStatus(before["status"]).label if before.get("status") in AccountStatus.values
        else "",
        "blocked_reason": _rollback_block(doc, timezone.localdate()),
        "breadcrumbs": _crumbs((gettext("退款回退"), reverse("rural:rollback_list")), (doc.number, "")),
    }
    if _confirmed(request) and form.is_valid():
        try:
            doc = write_once(request, "nb.rollback", lambda: rural_refund_rollback(
                document=doc, user=request.user, reason=form.cleaned_data["reason"]))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("rural:document_detail", number=doc.number)
        except RuralError as exc:
            ctx["error"] = gettext("%(error)s。未做任何修改。") % {"error": exc}
        else:
            messages.success(request, format_html(
                gettext("已回退结算单 {number}：{name} 的账户已恢复为“{status}”，退款 {amount} 元{run}。{link}"),
                number=doc.number, name=doc.account.person.name, status=ctx["restore_status"],
                amount=format_yuan(doc.amount),
                run=gettext("，零星发放已撤销") if doc.pay_method == Doc.PayMethod.BANK else "",
                link=_account_link(doc.account)))
            return redirect("rural:document_detail", number=doc.number)
    return render(request, "rural_pension/document_rollback.html", ctx)


# --------------------------------------------------------------------------------------------------


def work_refunds_awaiting_bank(request):
    """This month's refunds paid by bank whose one-off run has not gone to a bank yet."""
    user = request.user
    if not (_may(user, REFUND_RULE) or _may(user, ROLLBACK_RULE)):
        return []
    from shebao.payroll.models import PayrollRun

    today = timezone.localdate()
    waiting = PayrollRun.objects.filter(state__in=[PayrollRun.State.COMPUTED, PayrollRun.State.APPROVED])
    n = (documents_list(user=user, state=Doc.State.SETTLED).filter(
        pay_method=Doc.PayMethod.BANK, created_at__gte=_month_start(today), payroll_run_id__in=waiting.values("pk"))
        .count())
    url = (reverse("rural:document_list") + f"?state=settled&pay=bank&created_from={today.replace(day=1):%Y-%m-%d}")
    return [(gettext("本月老农保退款待报盘"), n, url)] if n else []
