"""老农保 pages of receipt: 开始领取 (the monthly benefit fixed at the start), 代领人 (the heir) and
死亡结算 (the preview and its refusals come from ``rural_death_quote``; the settle refuses the same)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from shebao.benefits.months import format_month, month_of
from shebao.common.money import amount_in_words, format_yuan
from shebao.common.once import AlreadySubmitted, write_once
from shebao.registry.selectors import person_current_account, person_search, persons_visible
from shebao.rural_pension.forms import (
    BenefitConfirmForm,
    BenefitStartForm,
    DeathForm,
    DeathSettleForm,
    HeirForm,
)
from shebao.rural_pension.models import OPEN_STATUSES, AccountStatus, RuralAccount
from shebao.rural_pension.rules import death_refusal
from shebao.rural_pension.selectors import account_get
from shebao.rural_pension.services import (
    RuralError,
    pension_month,
    rural_benefit_quote,
    rural_benefit_start,
    rural_death_quote,
    rural_death_settle,
    rural_heir_set,
)
from shebao.rural_pension.views.base import (
    Doc,
    _account_crumbs,
    _account_link,
    _already,
    _confirmed,
    _doc_link,
    _pay_note,
    _year_rows,
    _year_totals,
    refund_required,
)

# 开始领取: form → 试算 (accumulation × coefficient, the confirm step) → start → the account page


def _pension_refusal(account: RuralAccount) -> str:
    """Why 开始领取 is not offered for this account ("" when it is)."""
    person = account.person
    if account.status not in (AccountStatus.PAYING, AccountStatus.SUSPENDED):
        return gettext("%(name)s 的账户%(status)s，不能开始领取") % {"name": person.name,
                                                                 "status": account.get_status_display()}
    if person.death_date:
        return gettext("%(name)s 已于 %(date)s 死亡，请办理死亡结算") % {"name": person.name,
                                                           "date": f"{person.death_date:%Y-%m-%d}"}
    month = pension_month(person)
    if month > month_of(timezone.localdate()):
        return gettext("%(name)s %(month)s 才年满 60 周岁，不能开始领取") % {"name": person.name,
                                                              "month": format_month(month)}
    return ""


def _benefit_context(request, account, form) -> dict:
    return {"account": account, "form": form, "sixty": pension_month(account.person),
            "breadcrumbs": _account_crumbs(account, (gettext("开始领取"), ""))}


@refund_required
def benefit(request, pk: int):
    account = account_get(user=request.user, pk=pk)
    first = max(pension_month(account.person), month_of(timezone.localdate()))
    form = BenefitStartForm(initial={"start": first})
    ctx = _benefit_context(request, account, form)
    ctx["refused"] = _pension_refusal(account)
    return render(request, "rural_pension/benefit.html", ctx)


@refund_required
def benefit_quote(request, pk: int):
    """The accumulation on the first day of the start month (with its yearly table), the coefficient and
    the monthly benefit, with the confirm button (nothing written)."""
    account = account_get(user=request.user, pk=pk)
    form = BenefitStartForm(request.GET)
    ctx = _benefit_context(request, account, form)
    if not form.is_valid():
        return render(request, "rural_pension/benefit.html", ctx)
    start = form.cleaned_data["start"]
    try:
        fixed = rural_benefit_quote(account=account, start_month=start)
    except RuralError as exc:
        ctx["refused"] = str(exc)
        return render(request, "rural_pension/benefit.html", ctx)
    rows = _year_rows(fixed.quote.rows)
    ctx.update(start=start, note=form.cleaned_data["note"], fixed=fixed, rows=rows, totals=_year_totals(rows),
               words=amount_in_words(fixed.monthly),
               breadcrumbs=_account_crumbs(account, (gettext("开始领取"), reverse("rural:benefit", args=[account.pk])),
                                           (gettext("试算"), "")))
    return render(request, "rural_pension/benefit_quote.html", ctx)


@refund_required
@require_POST
def benefit_confirm(request, pk: int):
    account = account_get(user=request.user, pk=pk)
    form = BenefitConfirmForm(request.POST)
    if not form.is_valid() or not _confirmed(request):
        messages.error(request, gettext("请先试算并确认月养老金"))
        return redirect("rural:benefit", pk=account.pk)
    start, note, monthly = (form.cleaned_data[k] for k in ("start", "note", "monthly"))
    detail = reverse("rural:account_detail", args=[account.pk]) + "?tab=benefit"
    try:
        account = write_once(request, "nb.benefit_confirm", lambda: rural_benefit_start(
            account=account, start_month=start, user=request.user, note=note, expected_monthly=monthly))
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
        return redirect(detail)
    except RuralError as exc:
        current = RuralAccount.objects.get(pk=account.pk)
        if current.benefit_start_month and current.status == AccountStatus.RECEIVING:  # a second click
            messages.warning(request, gettext("%(error)s。%(name)s 已于 %(month)s 起领取，月养老金 %(monthly)s 元。") % {
                "error": exc, "name": account.person.name, "month": format_month(current.benefit_start_month),
                "monthly": format_yuan(current.monthly_benefit)})
            return redirect(detail)
        messages.error(request, gettext("%(error)s。未做任何修改。") % {"error": exc})
        return redirect(f"{reverse('rural:benefit_quote', args=[account.pk])}?start={format_month(start)}")
    messages.success(request, format_html(
        gettext("已开始领取：{name} 自 {month} 起每月 {monthly} 元（领取时账户积累额 {base} 元 × 计发系数 {c}），"
                "已纳入老农保按月发放。"),
        name=account.person.name, month=format_month(account.benefit_start_month),
        monthly=format_yuan(account.monthly_benefit), base=format_yuan(account.benefit_base), c=account.coefficient))
    return redirect(detail)


# --------------------------------------------------------------------------------------------------
# 代领人: find a registered person → see who (and their bank account) → set with a reason


def _heir_choice(request, value) -> tuple[object, str]:
    """(the person chosen as heir, or None; an error when the number names nobody the user may see)."""
    value = str(value or "").strip()
    if not value:
        return None, ""
    if not value.isdigit():
        return None, gettext("请从查找结果中选择代领人")
    person = persons_visible(request.user).filter(pk=int(value)).first()
    if person is None:
        return None, gettext("人员不存在或不在您的管辖范围内")
    return person, ""


@refund_required
def heir(request, pk: int):
    account = account_get(user=request.user, pk=pk)
    after = "death" if (request.POST.get("next") or request.GET.get("next")) == "death" else ""
    q = (request.GET.get("q") or "").strip()
    form = HeirForm(request.POST or None)
    chosen, error = _heir_choice(request, request.POST.get("heir") if request.method == "POST"
                                 else request.GET.get("heir"))
    ctx = {"account": account, "form": form, "q": q, "next": after, "chosen": chosen, "error": error,
           "current_bank": person_current_account(account.heir) if account.heir_id else None,
           "breadcrumbs": _account_crumbs(account, (gettext("代领人"), ""))}
    if account.status not in OPEN_STATUSES:
        ctx["refused"] = gettext("%(name)s 的账户%(status)s，不能变更代领人") % {
            "name": account.person.name, "status": account.get_status_display()}
        return render(request, "rural_pension/heir.html", ctx)
    if q:
        ctx["results"] = [{"p": p, "bank": person_current_account(p), "self": p.pk == account.person_id}
                          for p in person_search(user=request.user, q=q, limit=20)]
    if chosen is not None:
        ctx["chosen_bank"] = person_current_account(chosen)
    if request.method == "POST":
        if chosen is None:
            ctx["error"] = error or gettext("请先查找并选择代领人")
        elif form.is_valid() and _confirmed(request):
            back = (reverse("rural:death", args=[account.pk]) if after
                    else reverse("rural:account_detail", args=[account.pk]) + "?tab=benefit")
            if account.heir_id == chosen.pk:  # e.g. a second click: already done
                messages.info(request, gettext("%(name)s 的代领人已是 %(heir)s，未做修改。") % {
                    "name": account.person.name, "heir": chosen.name})
                return redirect(back)
            try:
                write_once(request, "nb.heir", lambda: rural_heir_set(
                    account=account, heir=chosen, user=request.user, reason=form.cleaned_data["reason"]))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect(back)
            except RuralError as exc:
                ctx["error"] = gettext("%(error)s。未做任何修改。") % {"error": exc}
            else:
                messages.success(request, format_html(gettext("已登记 {name} 的代领人：{heir}（原因：{reason}），已记入审计日志。"),
                                                      name=account.person.name, heir=chosen.name,
                                                      reason=form.cleaned_data["reason"]))
                return redirect(back)
    return render(request, "rural_pension/heir.html", ctx)


# --------------------------------------------------------------------------------------------------
# 死亡结算: form → 试算 (the whole balance, or the guarantee months × monthly) → settle → 结算单


def _death_context(request, account, form) -> dict:
    heir_ = account.heir
    return {"account": account, "form": form, "heir": heir_,
            "heir_bank": person_current_account(heir_) if heir_ else None,
            "breadcrumbs": _account_crumbs(account, (gettext("死亡结算"), ""))}


@refund_required
def death(request, pk: int):
    account = account_get(user=request.user, pk=pk)
    form = DeathForm(initial={"on": timezone.localdate(), "death_date": account.person.death_date,
                              "pay": Doc.PayMethod.BANK})
    ctx = _death_context(request, account, form)
    ctx["refused"] = death_refusal(account)
    return render(request, "rural_pension/death.html", ctx)


@refund_required
def death_quote(request, pk: int):
    """What the heir is due (nothing written): the balance on the settlement date with its yearly table
    (death before receipt), or the guaranteed months left × the monthly benefit (death while receiving)."""
    account = account_get(user=request.user, pk=pk)
    form = DeathForm(request.GET)
    ctx = _death_context(request, account, form)
    ctx["refused"] = death_refusal(account)
    if ctx["refused"] or not form.is_valid():
        return render(request, "rural_pension/death.html", ctx)
    death_date, on, pay = (form.cleaned_data[k] for k in ("death_date", "on", "pay"))
    try:
        due = rural_death_quote(account=account, death_date=death_date, on=on, pay_method=pay)
    except RuralError as exc:
        ctx["refused"] = str(exc)
        return render(request, "rural_pension/death.html", ctx)
    rows = _year_rows(due.quote.rows) if due.quote else []
    ctx.update(death_date=death_date, on=on, pay=pay, pay_label=Doc.PayMethod(pay).label, due=due, rows=rows,
               totals=_year_totals(rows), words=amount_in_words(due.amount) if due.amount > 0 else "",
               guarantee=due.table.get("guarantee"),
               breadcrumbs=_account_crumbs(account, (gettext("死亡结算"), reverse("rural:death", args=[account.pk])),
                                           (gettext("试算"), "")),
               blocked=due.blocked)  # what the settle refuses (rules.death_settle_refusal)
    return render(request, "rural_pension/death_quote.html", ctx)


@refund_required
@require_POST
def death_settle(request, pk: int):
    account = account_get(user=request.user, pk=pk)
    form = DeathSettleForm(request.POST)
    if not form.is_valid() or not _confirmed(request):
        messages.error(request, gettext("请先试算并确认应付金额"))
        return redirect("rural:death", pk=account.pk)
    death_date, on, pay, amount = (form.cleaned_data[k] for k in ("death_date", "on", "pay", "amount"))
    quote_url = (f"{reverse('rural:death_quote', args=[account.pk])}?death_date={death_date:%Y-%m-%d}"
                 f"&on={on:%Y-%m-%d}&pay={pay}")
    heir_, error = _heir_choice(request, form.cleaned_data["heir"])
    if heir_ is None:
        messages.error(request, gettext("%(error)s。未做任何修改。") % {"error": error})
        return redirect(quote_url)
    if account.status in OPEN_STATUSES and account.heir_id != heir_.pk:
        messages.error(request, gettext("代领人已变更，请重新试算。未做任何修改。"))
        return redirect(quote_url)
    try:
        result = write_once(request, "nb.death_settle", lambda: rural_death_settle(
            account=account, death_date=death_date, heir=heir_, pay_method=pay, user=request.user, on=on,
            expected_amount=amount))
    except AlreadySubmitted as exc:
        return _already(request, exc, Doc.objects.filter(account=account, state=Doc.State.SETTLED).exclude(
            kind=Doc.Kind.REFUND).first(), account)
    except RuralError as exc:
        current = RuralAccount.objects.get(pk=account.pk)
        if current.status == AccountStatus.TERMINATED:  # a second click on 确认结算: the first one did it
            existing = Doc.objects.filter(account=account, state=Doc.State.SETTLED).exclude(
                kind=Doc.Kind.REFUND).first()
            if existing is not None:
                messages.warning(request, format_html(gettext("{error}。{link}"), error=str(exc), link=_doc_link(existing)))
                return redirect("rural:document_detail", number=existing.number)
            messages.warning(request, gettext("%(error)s。") % {"error": exc})
            return redirect("rural:account_detail", pk=account.pk)
        messages.error(request, gettext("%(error)s。未做任何修改。") % {"error": exc})
        return redirect(quote_url)
    if result.document is None:
        messages.success(request, format_html(
            gettext("已办理死亡结算：{name} 死亡日期 {date}，保证期已满，无应付金额；按月领取已终止，账户已终止。{link}"),
            name=account.person.name, date=f"{death_date:%Y-%m-%d}", link=_account_link(account)))
        return redirect("rural:account_detail", pk=account.pk)
    doc = result.document
    pdf = reverse("rural:document_pdf", args=[doc.number])
    messages.success(request, format_html(
        gettext("已办理死亡结算：{name} 结算单 {number}，付代领人 {heir} {amount} 元（{words}），{pay}；账户已终止。"
                "<a href=\"{pdf}\" target=\"_blank\">打印结算单</a>"),
        name=account.person.name, number=doc.number, heir=heir_.name, amount=format_yuan(doc.amount),
        words=amount_in_words(doc.amount), pay=_pay_note(doc), pdf=pdf))
    return redirect("rural:document_detail", number=doc.number)


# --------------------------------------------------------------------------------------------------
