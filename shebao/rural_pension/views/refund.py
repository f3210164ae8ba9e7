"""老农保 pages: 退款 — form → quote (the confirm step) → settle → 结算单. Whether an account may be
refunded is ``rules.refund_refusal``, which the settle applies too."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from shebao.common.money import amount_in_words, format_yuan
from shebao.common.once import AlreadySubmitted, write_once
from shebao.registry.selectors import person_current_account
from shebao.rural_pension.forms import RefundForm, SettleForm
from shebao.rural_pension.rules import refund_refusal
from shebao.rural_pension.selectors import account_get
from shebao.rural_pension.services import RuralError, rural_refund_quote, rural_refund_settle
from shebao.rural_pension.views.base import (
    Doc,
    _account_crumbs,
    _already,
    _confirmed,
    _doc_link,
    _pay_note,
    _year_rows,
    _year_totals,
    refund_required,
)

# 退款: form → quote (the confirm step) → settle → 结算单


def _refund_context(request, account, form) -> dict:
    bank = person_current_account(account.person)
    return {"account": account, "form": form, "bank": bank,
            "breadcrumbs": _account_crumbs(account, (gettext("退款"), ""))}


@refund_required
def refund(request, pk: int):
    account = account_get(user=request.user, pk=pk)
    form = RefundForm(initial={"on": timezone.localdate(), "pay": Doc.PayMethod.BANK})
    ctx = _refund_context(request, account, form)
    ctx["refused"] = refund_refusal(account)
    return render(request, "rural_pension/refund.html", ctx)


@refund_required
def refund_quote(request, pk: int):
    """The quote on D: the yearly table to D and the amount, with the confirm button (nothing written)."""
    account = account_get(user=request.user, pk=pk)
    form = RefundForm(request.GET)
    ctx = _refund_context(request, account, form)
    if not form.is_valid():
        return render(request, "rural_pension/refund.html", ctx)
    on, pay = form.cleaned_data["on"], form.cleaned_data["pay"]
    if refusal := refund_refusal(account):
        ctx["refused"] = refusal
        return render(request, "rural_pension/refund.html", ctx)
    try:
        quote = rural_refund_quote(account=account, on=on)
    except RuralError as exc:
        ctx["refused"] = str(exc)
        return render(request, "rural_pension/refund.html", ctx)
    rows = _year_rows(quote.rows)
    ctx.update(
        on=on, pay=pay, pay_label=Doc.PayMethod(pay).label, quote=quote, rows=rows, totals=_year_totals(rows),
        amount=quote.amount, words=amount_in_words(quote.amount) if quote.amount > 0 else "",
        breadcrumbs=_account_crumbs(account, (gettext("退款"), reverse("rural:refund", args=[account.pk])),
                                    (gettext("试算"), "")),
    )
    ctx["refused"] = refund_refusal(account, amount=quote.amount, pay_method=pay)  # what the settle refuses
    return render(request, "rural_pension/refund_quote.html", ctx)


@refund_required
@require_POST
def refund_settle(request, pk: int):
    account = account_get(user=request.user, pk=pk)
    form = SettleForm(request.POST)
    back = reverse("rural:refund", args=[account.pk])
    if not form.is_valid() or not _confirmed(request):
        messages.error(request, gettext("请先试算并确认退款金额"))
        return redirect(back)
    on, pay, amount = form.cleaned_data["on"], form.cleaned_data["pay"], form.cleaned_data["amount"]
    try:
        doc = write_once(request, "nb.refund_settle", lambda: rural_refund_settle(
            account=account, on=on, pay_method=pay, user=request.user, expected_amount=amount))
    except AlreadySubmitted as exc:
        return _already(request, exc, Doc.objects.filter(account=account, state=Doc.State.SETTLED,
                                                         kind=Doc.Kind.REFUND).first(), account)
    except RuralError as exc:
        existing = Doc.objects.filter(account=account, state=Doc.State.SETTLED).first()
        if existing is not None:  # a second click on 确认退款: the first one did it
            messages.warning(request, format_html(gettext("{error}。{link}"), error=str(exc), link=_doc_link(existing)))
            return redirect("rural:document_detail", number=existing.number)
        messages.error(request, gettext("%(error)s。未做任何修改。") % {"error": exc})
        return redirect(f"{reverse('rural:refund_quote', args=[account.pk])}?on={on:%Y-%m-%d}&pay={pay}")
    pdf = reverse("rural:document_pdf", args=[doc.number])
    messages.success(request, format_html(
        gettext("已退款：{name} 结算单 {number}，金额 {amount} 元（{words}），{pay}；账户已退保。"
                "<a href=\"{pdf}\" target=\"_blank\">打印结算单</a>"),
        name=account.person.name, number=doc.number, amount=format_yuan(doc.amount),
        words=amount_in_words(doc.amount), pay=_pay_note(doc), pdf=pdf))
    return redirect("rural:document_detail", number=doc.number)
