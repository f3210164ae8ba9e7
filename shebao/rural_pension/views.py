"""老农保 pages (/nb/): 查询 (accounts list and the account page with 参保, 缴费, 退保, 支付, 待遇享受 and
个人年账户明细), 信息修改, 记账利率, 退款 (quote → confirm → settle → 结算单 PDF), 退款回退, the 结算单
list, 开始领取 (start of the monthly benefit), 代领人 (the heir), 死亡结算 (death settlement with the
heir → 结算单), the 计发系数 table, and the legacy import for IT. Thin: parse, ask a selector or call one
service, render.

Who may do what (the rules below, ``shebao.common.policy``; superusers may do everything). Every page is
scheme NB (a user whose schemes do not include NB is refused) and every account, document and pick list
is limited to the user's towns (another town's account looks missing, 404):
- see the pages: ``rural_pension.view_ruralaccount`` (or any permission below);
- 信息修改: ``rural_pension.change_ruralaccount``;
- 退款 (settle, print), 开始领取, 代领人, 死亡结算: ``rural_pension.add_ruraldocument`` (the clerks who
  refund: each of these fixes or changes who is paid what);
- 退款回退: ``rural_pension.change_ruraldocument``;
- set a 记账利率 or a 计发系数: ``rural_pension.change_creditedrate`` (reviewers: parameters of every
  account; the model has no role of its own for the coefficient table);
- legacy import: ``accounts.it_ops`` (信息科) with 全市范围; setting a rate or a coefficient needs 全市范围
  too (it changes every account).

Every write is two steps: a page that says what will happen (with the amounts), then the action and a
message saying what was done, with a link to the result. Each confirm form carries a one-time token
(``{% once_field %}``) claimed in the write's transaction: submitted twice, it is done once and the
second submit is told so."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from shebao.benefits.months import format_month, month_of
from shebao.common import policy
from shebao.common.jobs import job_get, job_start
from shebao.common.masking import masker_for
from shebao.common.models import AuditEvent, Job
from shebao.common.money import amount_in_words, format_yuan
from shebao.common.once import AlreadySubmitted, once_claim
from shebao.registry.models import Region
from shebao.registry.selectors import person_current_account, person_search, persons_visible, towns_visible
from shebao.rural_pension.forms import (
    AccountEditForm,
    BenefitConfirmForm,
    BenefitStartForm,
    CoefficientForm,
    DeathForm,
    DeathSettleForm,
    HeirForm,
    ImportForm,
    RateForm,
    ReasonForm,
    RefundForm,
    SettleForm,
)
from shebao.rural_pension.interest import RateMissing
from shebao.rural_pension.models import (
    OPEN_STATUSES,
    AccountStatus,
    AccountYear,
    BenefitCoefficient,
    CreditedRate,
    RuralAccount,
    RuralDocument,
)
from shebao.rural_pension.payment import nb_payment_sent, nb_payment_state
from shebao.rural_pension.rules import REFUNDABLE_STATUSES, death_refusal, refund_refusal
from shebao.rural_pension.selectors import (
    GUARANTEE_MONTHS,
    account_benefit,
    account_contributions,
    account_contributions_by_year,
    account_documents,
    account_for_person,
    account_get,
    account_overview,
    account_payouts,
    account_yearly_table,
    accounts_list,
    document_get,
    documents_list,
    import_batches,
    import_reconciliation,
    import_rejections,
    rates_list,
)
from shebao.rural_pension.services import (
    RuralError,
    benefit_coefficient_set,
    credited_rate_set,
    pension_month,
    rural_account_update,
    rural_benefit_quote,
    rural_benefit_start,
    rural_death_guarantee_left,
    rural_death_quote,
    rural_death_settle,
    rural_document_pdf,
    rural_heir_set,
    rural_refund_quote,
    rural_refund_rollback,
    rural_refund_settle,
)
from shebao.web.guards import page
from shebao.web.tables import (
    ChoiceFilter,
    Column,
    DateRangeFilter,
    FilterError,
    Table,
    TextFilter,
    render_table,
)

VIEW_PERM = "rural_pension.view_ruralaccount"
EDIT_PERM = "rural_pension.change_ruralaccount"
REFUND_PERM = "rural_pension.add_ruraldocument"
ROLLBACK_PERM = "rural_pension.change_ruraldocument"
RATES_PERM = "rural_pension.change_creditedrate"
IMPORT_PERM = "accounts.it_ops"
WRITE_PERMS = (EDIT_PERM, REFUND_PERM, ROLLBACK_PERM, RATES_PERM)

IMPORT_JOB = "rural_import"
Doc = RuralDocument


# --------------------------------------------------------------------------------------------------
# access


SCHEME = "NB"
VIEW_RULE = policy.rule(VIEW_PERM, *WRITE_PERMS, scheme=SCHEME, note="老农保查询（NB），本人管辖镇街道")
EDIT_RULE = policy.rule(EDIT_PERM, scheme=SCHEME, note="老农保信息修改（NB）")
REFUND_RULE = policy.rule(REFUND_PERM, scheme=SCHEME, note="退款、开始领取、代领人、死亡结算（NB）")
ROLLBACK_RULE = policy.rule(ROLLBACK_PERM, scheme=SCHEME, note="退款回退（NB）")
# a rate or a coefficient changes every account of the county
RATES_SET_RULE = policy.rule(RATES_PERM, scheme=SCHEME, county=True, note="记账利率/计发系数（复核员、全市范围）")
IMPORT_RULE = policy.rule(IMPORT_PERM, scheme=SCHEME, county=True, note="原系统数据导入（信息科、全市范围）")


def can_view(user) -> bool:
    return policy.allows(user, VIEW_RULE)


def _may(user, rule: policy.Rule) -> bool:
    return policy.allows(user, rule)


viewer_required = page(VIEW_RULE)
editor_required = page(EDIT_RULE)
refund_required = page(REFUND_RULE)
rollback_required = page(ROLLBACK_RULE)
it_required = page(IMPORT_RULE)


def _once(request, form: str, write):
    """``write()`` in one transaction with the claim of the form's one-time token: a second submit of
    the same form raises ``AlreadySubmitted`` and writes nothing."""
    with transaction.atomic():
        once_claim(request, form=form)
        return write()


def _confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get("confirm") == "1"


def _crumbs(*items) -> list[tuple[str, str]]:
    return [(gettext("老农保管理支付"), reverse("rural:account_list")), *items]


def _account_crumbs(account: RuralAccount, *items) -> list[tuple[str, str]]:
    return _crumbs((gettext("%(name)s 的账户") % {"name": account.person.name}, reverse("rural:account_detail", args=[account.pk])), *items)


def _doc_link(doc: RuralDocument) -> str:
    return format_html('<a href="{}">{}</a>', reverse("rural:document_detail", args=[doc.number]),
                       gettext("查看结算单 %(number)s") % {"number": doc.number})


def _account_link(account: RuralAccount) -> str:
    return format_html('<a href="{}">{}</a>', reverse("rural:account_detail", args=[account.pk]),
                       gettext("打开 %(name)s 的账户") % {"name": account.person.name})


def _pay_note(doc: RuralDocument) -> str:
    """The pay method, and the one-off run a bank payment made."""
    if doc.payroll_run_id:
        return gettext("%(method)s，已生成零星发放批次 %(run)s，待审核报盘") % {
            "method": doc.get_pay_method_display(), "run": doc.payroll_run_id}
    return doc.get_pay_method_display()


def _year_month(day: dt.date) -> str:
    return gettext("%(year)s年%(month)02d月") % {"year": day.year, "month": day.month}


def _pct(rate) -> str:
    return f"{Decimal(rate) * 100:.2f}%"


def _year_rows(rows) -> list[dict]:
    """The yearly table for templates, from ``YearRow``s or from a document's stored dicts."""
    out = []
    for r in rows:
        if isinstance(r, dict):
            d = {k: Decimal(r[k]) for k in ("opening", "personal", "collective", "other", "payouts", "interest",
                                             "closing")}
            d.update(year=r["year"], months=r.get("months", 12), rate=Decimal(r["rate"]))
        else:
            d = {"year": r.year, "months": r.months, "opening": r.opening, "personal": r.credits["personal"],
                 "collective": r.credits["collective"], "other": r.credits["other"], "payouts": r.payouts,
                 "rate": r.rate, "interest": r.interest, "closing": r.closing}
        d["rate_pct"] = _pct(d["rate"])
        d["partial"] = d["months"] != 12
        out.append(d)
    return out


def _year_totals(rows: list[dict]) -> dict:
    return {k: sum((r[k] for r in rows), Decimal("0.00")) for k in ("personal", "collective", "other", "payouts",
                                                                     "interest")}


# --------------------------------------------------------------------------------------------------
# 查询: the accounts list


def _town_choices(request):
    return [(t.pk, t.name) for t in towns_visible(request.user)]


def _village_choices(request):
    towns = towns_visible(request.user)
    town = (request.GET.get("town") or "").strip()
    qs = Region.objects.filter(level=Region.Level.COMMUNITY, parent__in=towns).select_related("parent")
    if town.isdigit():
        return [(c.pk, c.name) for c in qs.filter(parent_id=int(town)).order_by("sort", "code")]
    return [(c.pk, f"{c.parent.name}·{c.name}") for c in qs.order_by("parent__sort", "sort", "code")]


def _text_filter(qs, value, request):
    value = value.strip()
    if value[-1:].isdigit() or value[-1:] in "xX":
        return qs.filter(person__id_number__endswith=value.upper())
    return qs.filter(person__name__contains=value)


def _years_filter(qs, value, request):
    try:
        n = int(value)
    except ValueError:
        raise FilterError(gettext("缴费年限：“%(value)s”不是整数") % {"value": value}) from None
    return qs.filter(contribution_years__gte=n)


class AccountTable(Table):
    columns = [
        Column("name", _("姓名"), field="person__name", sortable=True, link=("rural:account_detail", "pk")),
        Column("id_number", _("身份证号"), field="person__id_number", kind="id_number"),
        Column("town", _("镇街道"), field="town__name", sortable=True, sort_field="town__sort"),
        Column("village", _("村"), field="community__name", sortable=True),
        Column("status", _("状态"), kind="choice", choices=AccountStatus.choices, sortable=True),
        Column("enrolled_on", _("参保日期"), kind="date", sortable=True),
        Column("contribution_years", _("缴费年数"), kind="num", sortable=True),
        Column("balance", _("账户余额（最近年度期末）"), kind="money", sortable=True),
        Column("balance_year", _("年度")),
        Column("monthly_benefit", _("月养老金"), kind="money", sortable=True),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), method=_text_filter, placeholder=_("姓名或身份证号后几位")),
        ChoiceFilter("town", _("镇街道"), field="town_id", choices=_town_choices),
        ChoiceFilter("village", _("村"), field="community_id", choices=_village_choices),
        ChoiceFilter("status", _("状态"), choices=AccountStatus.choices),
        TextFilter("years", _("缴费年数≥"), method=_years_filter, placeholder=_("如 15")),
        DateRangeFilter("enrolled", _("参保日期"), field="enrolled_on"),
    ]
    export_name = _("老农保账户")
    dom_id = "tbl-accounts"

    def cell_status(self, value, row):
        css = {"paying": "ok", "suspended": "warn", "receiving": "brand", "refunded": "", "terminated": ""}
        return format_html('<span class="tag {}">{}</span>', css.get(value, ""), AccountStatus(value).label)


PICK = {
    "edit": ("rural:account_edit", _("信息修改"), _("选择要修改信息的账户"), EDIT_RULE),
    "years": ("rural:account_years", _("个人年账户明细"), _("选择账户查看个人年账户明细"), VIEW_RULE),
    "refund": ("rural:refund", _("退款"), _("选择要退款的账户"), REFUND_RULE),
    "benefit": ("rural:benefit", _("开始领取"),
                _("选择要开始按月领取养老金的账户（缴费或中断缴费、已年满 60 周岁）"), REFUND_RULE),
    "heir": ("rural:heir", _("代领人"), _("选择要登记或变更代领人的账户"), REFUND_RULE),
    "death": ("rural:death", _("死亡结算"), _("选择要办理死亡结算的账户"), REFUND_RULE),
}


def _sixty_cutoff(today: dt.date) -> dt.date:
    """Persons born before this date are 60 in this month or earlier (``services.pension_month``)."""
    first_next = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    try:
        return first_next.replace(year=first_next.year - 60)
    except ValueError:  # pragma: no cover - the first of a month always exists
        return dt.date(first_next.year - 60, first_next.month, 1)


@viewer_required
def account_list(request):
    table = AccountTable(request, accounts_list(user=request.user))
    return render_table(request, table, "rural_pension/account_list.html", {
        "title": gettext("老农保账户查询"), "breadcrumbs": _crumbs((gettext("查询"), "")),
    })


@viewer_required
def account_pick(request, purpose: str):
    """信息修改 / 个人年账户明细 / 退款 from the menu: find the account, then go to that page."""
    if purpose not in PICK:
        raise Http404(gettext("没有这个功能"))
    target, label, hint, rule = PICK[purpose]
    policy.check(request.user, rule)
    qs = accounts_list(user=request.user)
    if purpose in ("edit", "heir", "death"):
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif purpose in ("refund", "benefit"):
        qs = qs.filter(status__in=REFUNDABLE_STATUSES)  # the state ``rules.refund_refusal`` accepts
    if purpose == "benefit":
        qs = qs.filter(person__birth_date__lt=_sixty_cutoff(timezone.localdate()), person__death_date__isnull=True)
    table = AccountTable(request, qs)
    table.column("name").link = lambda row: reverse(target, args=[row["pk"]])
    return render_table(request, table, "rural_pension/account_list.html", {
        "title": str(label), "hint": str(hint), "breadcrumbs": _crumbs((str(label), "")),
    })


# --------------------------------------------------------------------------------------------------
# the account page

TABS = [("enroll", _("参保")), ("contrib", pgettext_lazy("account tab", "缴费")), ("refund", _("退保")), ("payout", _("支付")),
        ("benefit", pgettext_lazy("account tab", "待遇享受")), ("years", _("个人年账户明细"))]


def _account_context(request, account: RuralAccount, tab: str) -> dict:
    user = request.user
    ctx = {
        "account": account, "person": account.person, "tab": tab, "tabs": TABS,
        "overview": account_overview(account=account),
        "bank": person_current_account(account.person),
        "can_edit": _may(user, EDIT_RULE) and account.status in OPEN_STATUSES,
        "can_refund": _may(user, REFUND_RULE) and refund_refusal(account) is None,
        "can_start": _can_start(user, account),
        "can_heir": _may(user, REFUND_RULE) and account.status in OPEN_STATUSES,
        "can_death": _may(user, REFUND_RULE) and death_refusal(account) is None,
        "receipt": _receipt(account),
        "heir_bank": person_current_account(account.heir) if account.heir_id else None,
        "breadcrumbs": _crumbs((gettext("%(name)s 的账户") % {"name": account.person.name}, "")),
    }
    try:
        rows = _year_rows(account_yearly_table(account=account))
    except RateMissing as exc:
        rows, ctx["years_error"] = [], str(exc)
    ctx["years"] = rows
    ctx["years_total"] = _year_totals(rows)
    ctx["balance"] = rows[-1]["closing"] if rows else Decimal("0.00")
    ctx["balance_year"] = rows[-1]["year"] if rows else None
    if tab == "contrib":
        ctx["contrib_years"] = account_contributions_by_year(account=account)
        ctx["contributions"] = account_contributions(account=account)
    elif tab == "refund":
        ctx["documents"] = account_documents(account=account)
    elif tab == "payout":
        ctx["payouts"] = account_payouts(account=account)
    elif tab == "benefit":
        ctx["benefit"] = account_benefit(account=account)
    return ctx


def _can_start(user, account: RuralAccount) -> bool:
    """开始领取 offered: a paying/suspended account of a living person who is 60 this month or earlier."""
    return (_may(user, REFUND_RULE) and account.status in (AccountStatus.PAYING, AccountStatus.SUSPENDED)
            and account.person.death_date is None
            and pension_month(account.person) <= month_of(timezone.localdate()))


def _receipt(account: RuralAccount) -> dict | None:
    """The receiving details: what was fixed at the start, and the 120-month guarantee counted as the death
    settlement counts it (the months from the start through this month — or through the death month)."""
    if not account.benefit_start_month:
        return None
    death = account.person.death_date
    until = death or timezone.localdate()
    left = rural_death_guarantee_left(account=account, death_date=until)
    return {"start": account.benefit_start_month, "base": account.benefit_base, "coefficient": account.coefficient,
            "monthly": account.monthly_benefit, "guarantee": GUARANTEE_MONTHS, "used": GUARANTEE_MONTHS - left,
            "left": left, "until": month_of(until), "dead": death is not None}


@viewer_required
def account_detail(request, pk: int):
    account = account_get(user=request.user, pk=pk)
    tab = request.GET.get("tab") or "enroll"
    if tab not in dict(TABS):
        tab = "enroll"
    return render(request, "rural_pension/account_detail.html", _account_context(request, account, tab))


@viewer_required
def account_years(request, pk: int):
    account = account_get(user=request.user, pk=pk)  # another town's account looks missing, here too
    return redirect(reverse("rural:account_detail", args=[account.pk]) + "?tab=years")


# --------------------------------------------------------------------------------------------------
# 信息修改


def _display(value) -> str:
    if value is None or value == "":
        return gettext("（空）")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if value in AccountStatus.values:
        return AccountStatus(value).label
    return str(value)


@editor_required
def account_edit(request, pk: int):
    account = account_get(user=request.user, pk=pk)
    form = AccountEditForm(request.POST or None, user=request.user, account=account)
    ctx = {"account": account, "form": form, "breadcrumbs": _account_crumbs(account, (gettext("信息修改"), ""))}
    if account.status not in OPEN_STATUSES:
        ctx["closed"] = gettext("账户%(status)s，不能修改") % {"status": account.get_status_display()}
        return render(request, "rural_pension/account_edit.html", ctx)
    if request.method == "POST" and form.is_valid():
        changes, person_changes = form.changes()
        if not changes and not person_changes:
            form.add_error(None, gettext("没有修改任何内容"))
        elif _confirmed(request):
            try:
                _once(request, "nb.account_edit", lambda: rural_account_update(
                    user=request.user, account=account, reason=form.cleaned_data["reason"],
                    person_changes=person_changes or None, **changes))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("rural:account_detail", pk=account.pk)
            except RuralError as exc:
                form.add_error(None, str(exc))
            else:
                n = len(changes) + len(person_changes)
                messages.success(request, format_html(gettext("已修改 {name} 的 {n} 项信息（原因：{reason}），已记入审计日志。{link}"),
                                                      name=account.person.name, n=n,
                                                      reason=form.cleaned_data["reason"],
                                                      link=_account_link(account)))
                return redirect("rural:account_detail", pk=account.pk)
        else:
            labels = {name: field.label for name, field in form.fields.items()}
            diff = [(labels[k], _display(getattr(account, k)), _display(v)) for k, v in changes.items()]
            diff += [(labels[k], _display(getattr(account.person, k)), _display(v))
                     for k, v in person_changes.items()]
            ctx.update(confirm=True, diff=diff)
    return render(request, "rural_pension/account_edit.html", ctx)


# --------------------------------------------------------------------------------------------------
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
        doc = _once(request, "nb.refund_settle", lambda: rural_refund_settle(
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


def _already(request, exc: AlreadySubmitted, existing: RuralDocument | None, account: RuralAccount):
    """A second submit of a settle form: say so, and show what the first one did."""
    if existing is not None:
        messages.warning(request, format_html(gettext("{error}。{link}"), error=str(exc), link=_doc_link(existing)))
        return redirect("rural:document_detail", number=existing.number)
    messages.warning(request, str(exc))
    return redirect("rural:account_detail", pk=account.pk)


# --------------------------------------------------------------------------------------------------
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
        account = _once(request, "nb.benefit_confirm", lambda: rural_benefit_start(
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
                _once(request, "nb.heir", lambda: rural_heir_set(
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
        result = _once(request, "nb.death_settle", lambda: rural_death_settle(
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


def _month_start(today: dt.date) -> dt.datetime:
    return dt.datetime.combine(today.replace(day=1), dt.time.min, tzinfo=timezone.get_current_timezone())


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


@refund_required
def document_pdf(request, number: str):
    """The 结算单 PDF, inline (the browser's viewer prints it); a reprint is marked 补打 by the service."""
    doc = document_get(user=request.user, number=number)
    pdf = rural_document_pdf(document=doc, user=request.user, masker=masker_for(request.user))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{doc.number}.pdf"'
    return response


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
            doc = _once(request, "nb.rollback", lambda: rural_refund_rollback(
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
# 记账利率


def _year_figures(year: int) -> dict:
    agg = AccountYear.objects.filter(year=year).aggregate(n=Count("*"), interest=Sum("interest"),
                                                          closing=Sum("closing"))
    return {"accounts": agg["n"], "interest": agg["interest"] or Decimal("0.00"),
            "closing": agg["closing"] or Decimal("0.00")}


@viewer_required
def rates(request):
    can_set = _may(request.user, RATES_SET_RULE)
    form = RateForm(request.POST or None) if can_set else None
    ctx = {"rates": [(r, _pct(r.rate)) for r in rates_list().select_related("updated_by")], "form": form,
           "can_set": can_set, "breadcrumbs": _crumbs((gettext("记账利率"), ""))}
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied(gettext("您没有维护记账利率的权限") if not request.user.has_perm(RATES_PERM)
                                   else gettext(policy.denial(request.user, RATES_SET_RULE)))
        if form.is_valid():
            year, rate, reason = (form.cleaned_data[k] for k in ("year", "rate", "reason"))
            existing = CreditedRate.objects.filter(year=year).first()
            if existing is not None and existing.rate == rate:
                form.add_error("rate", gettext("%(year)s 年度记账利率已是 %(rate)s，无需修改") % {"year": year, "rate": rate})
            elif _confirmed(request):
                before = _year_figures(year)
                try:
                    _once(request, "nb.rates", lambda: credited_rate_set(
                        user=request.user, year=year, rate=rate, reason=reason))
                except AlreadySubmitted as exc:
                    messages.warning(request, str(exc))
                    return redirect("rural:rates")
                except RuralError as exc:
                    form.add_error(None, str(exc))
                else:
                    after = _year_figures(year)
                    total = AccountYear.objects.aggregate(n=Count("account_id", distinct=True), rows=Count("*"))
                    done = (gettext("已修改 {year} 年度记账利率 {rate}（{pct}），原为 {old}。") if existing
                            else gettext("已设置 {year} 年度记账利率 {rate}（{pct}）。"))
                    messages.success(request, format_html(
                        done + gettext("已重算全部年账户明细：{n} 个账户、{rows} 个账户年度；{year} 年度 {accounts} 个账户，"
                                       "利息合计 {interest_before} → {interest_after} 元，"
                                       "期末合计 {closing_before} → {closing_after} 元。"),
                        year=year, rate=rate, pct=_pct(rate), old=existing.rate if existing else "",
                        n=f"{total['n']:,}", rows=f"{total['rows']:,}", accounts=f"{after['accounts']:,}",
                        interest_before=format_yuan(before["interest"]), interest_after=format_yuan(after["interest"]),
                        closing_before=format_yuan(before["closing"]), closing_after=format_yuan(after["closing"])))
                    return redirect("rural:rates")
            else:
                ctx.update(confirm=True, year=year, rate=rate, rate_pct=_pct(rate), reason=reason, existing=existing,
                           existing_pct=_pct(existing.rate) if existing else "", figures=_year_figures(year),
                           account_count=RuralAccount.objects.count())
    return render(request, "rural_pension/rates.html", ctx)


# --------------------------------------------------------------------------------------------------
# 计发系数 (交费领取计算表)


def _coefficient_rows() -> list[dict]:
    """The table, each row with who set it and when (the model keeps no such fields: the audit log does)."""
    rows = list(BenefitCoefficient.objects.order_by("from_month"))
    last = {}
    for event in (AuditEvent.objects.filter(object_type="rural_pension.benefitcoefficient",
                                            object_id__in=[str(r.pk) for r in rows]).order_by("id")):
        last[event.object_id] = event
    out = []
    for i, r in enumerate(rows):
        upto = rows[i + 1].from_month if i + 1 < len(rows) else None
        event = last.get(str(r.pk))
        out.append({"row": r, "until": (upto - dt.timedelta(days=1)).replace(day=1) if upto else None,
                    "by": event.username if event else "", "at": event.occurred_at if event else None})
    return out


@viewer_required
def coefficients(request):
    can_set = _may(request.user, RATES_SET_RULE)
    form = CoefficientForm(request.POST or None) if can_set else None
    ctx = {"rows": _coefficient_rows(), "form": form, "can_set": can_set,
           "breadcrumbs": _crumbs((gettext("计发系数"), ""))}
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied(gettext("您没有维护计发系数的权限") if not request.user.has_perm(RATES_PERM)
                                   else gettext(policy.denial(request.user, RATES_SET_RULE)))
        if form.is_valid():
            month, value, reason = (form.cleaned_data[k] for k in ("from_month", "coefficient", "reason"))
            existing = BenefitCoefficient.objects.filter(from_month=month).first()
            if existing is not None and existing.coefficient == value:
                form.add_error("coefficient", gettext("%(month)s 起的计发系数已是 %(value)s，无需修改") % {
                    "month": format_month(month), "value": value})
            elif _confirmed(request):
                try:
                    _once(request, "nb.coefficients", lambda: benefit_coefficient_set(
                        user=request.user, from_month=month, coefficient=value, reason=reason))
                except AlreadySubmitted as exc:
                    messages.warning(request, str(exc))
                    return redirect("rural:coefficients")
                except RuralError as exc:
                    form.add_error(None, str(exc))
                else:
                    done = (gettext("已修改 {month} 起的计发系数 {value}（原为 {old}）。") if existing
                            else gettext("已设置 {month} 起的计发系数 {value}。"))
                    messages.success(request, format_html(
                        done + gettext("此后开始领取的人员按新系数计发；已开始领取的月养老金不变。"),
                        month=format_month(month), value=value, old=existing.coefficient if existing else ""))
                    return redirect("rural:coefficients")
            else:
                later = BenefitCoefficient.objects.filter(from_month__gt=month).order_by("from_month").first()
                started = RuralAccount.objects.filter(benefit_start_month__gte=month)
                if later is not None:
                    started = started.filter(benefit_start_month__lt=later.from_month)
                ctx.update(confirm=True, month=month, value=value, reason=reason, existing=existing, later=later,
                           in_force=BenefitCoefficient.objects.filter(from_month__lte=month).order_by(
                               "-from_month").first(),
                           started=started.count())
    return render(request, "rural_pension/coefficients.html", ctx)


# --------------------------------------------------------------------------------------------------
# legacy import (IT)


class BatchTable(Table):
    columns = [
        Column("id", pgettext_lazy("import", "批次"), kind="num", sortable=True, link=("rural:import_batch", "pk")),
        Column("source", _("来源目录")),
        Column("created_by__full_name", _("经办人")),
        Column("created_at", _("导入时间"), kind="datetime", sortable=True),
    ]
    default_sort = "-id"
    export_name = _("老农保导入批次")
    dom_id = "tbl-batches"


class RejectionTable(Table):
    columns = [
        Column("file", _("文件"), sortable=True),
        Column("line_no", _("行号"), kind="num", sortable=True),
        Column("reason", _("原因")),
        Column("content", _("内容"), css="wrap"),
    ]
    filters = [ChoiceFilter("file", _("文件"), choices=[(f, f) for f in ("persons.csv", "contributions.csv",
                                                                      "payouts.csv", "rates.csv")])]
    export_name = _("导入拒绝行")
    dom_id = "tbl-rejections"


def _upload_dir(user) -> Path:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    path = Path(settings.MEDIA_ROOT) / "rural_import" / f"{stamp}-{user.pk}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True, exist_ok=False)
    return path


@it_required
def import_start(request):
    """Upload the files (or name a server folder) → a dry run as a background job."""
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    if request.method == "POST" and form.is_valid():
        directory = form.cleaned_data["directory"]
        if not directory:
            target = _upload_dir(request.user)
            for name, upload in form.uploads().items():
                with open(target / name, "wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
            directory = str(target)
        try:
            job = _once(request, "nb.import_start", lambda: job_start(
                kind=IMPORT_JOB, title=gettext_noop("老农保原系统数据导入：试运行（不写入）"),
                params={"directory": directory, "dry_run": True}, user=request.user))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("rural:import_start")
        messages.info(request, format_html(gettext("已开始试运行：校验并对账 {directory}，不写入任何数据。"),
                                           directory=directory))
        return redirect("rural:import_job", pk=job.pk)
    table = BatchTable(request, import_batches())
    return render_table(request, table, "rural_pension/import.html", {
        "form": form, "breadcrumbs": _crumbs((gettext("原系统数据导入"), "")),
    })


def _import_job(request, pk: int) -> Job:
    job = job_get(user=request.user, pk=pk)
    if job is None or job.kind != IMPORT_JOB:
        raise Http404(gettext("任务不存在或您无权查看"))
    return job


def _job_context(job: Job) -> dict:
    result = job.result or {}
    recon = []
    for r in result.get("reconciliation", []):
        row = {k: (Decimal(v) if k.startswith("amount") else int(v) if k.startswith("rows") else v)
               for k, v in r.items()}
        row["rows_loaded"] = row["rows_new"] + row["rows_unchanged"]
        row["amount_loaded"] = row["amount_new"] + row["amount_unchanged"]
        row["balanced"] = (row["rows_read"] == row["rows_loaded"] + row["rows_rejected"]
                           and row["amount_read"] == row["amount_loaded"] + row["amount_rejected"])
        recon.append(row)
    finished = job.state in (Job.State.DONE, Job.State.FAILED)
    return {"job": job, "finished": finished, "failed": job.state == Job.State.FAILED, "result": result,
            "recon": recon, "dry_run": job.params.get("dry_run"), "directory": job.params.get("directory")}


@it_required
def import_job(request, pk: int):
    job = _import_job(request, pk)
    ctx = _job_context(job) | {"breadcrumbs": _crumbs((gettext("原系统数据导入"), reverse("rural:import_start")),
                                                      (gettext("任务 %(id)s") % {"id": job.pk}, ""))}
    template = "rural_pension/_import_job.html" if request.GET.get("partial") else "rural_pension/import_job.html"
    return render(request, template, ctx)


@it_required
@require_POST
def import_commit(request, pk: int):
    """Commit what a finished dry run checked: the same folder, now as a writing job."""
    dry = _import_job(request, pk)
    if not (dry.params.get("dry_run") and dry.state == Job.State.DONE) or not _confirmed(request):
        messages.error(request, gettext("只能在试运行成功完成后确认导入"))
        return redirect("rural:import_job", pk=dry.pk)
    try:
        job = _once(request, "nb.import_commit", lambda: job_start(
            kind=IMPORT_JOB, title=gettext_noop("老农保原系统数据导入：正式导入"),
            params={"directory": dry.params["directory"], "dry_run": False, "dry_run_job": dry.pk},
            user=request.user))
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
        return redirect("rural:import_job", pk=dry.pk)
    messages.info(request, format_html(gettext("已开始正式导入 {directory}（任务 {id}）。"),
                                       directory=dry.params["directory"], id=job.pk))
    return redirect("rural:import_job", pk=job.pk)


@it_required
def import_batch(request, pk: int):
    batch = import_batches().filter(pk=pk).first()
    if batch is None:
        raise Http404(gettext("导入批次不存在"))
    recon = list(import_reconciliation(batch=batch))
    for r in recon:
        r.rows_loaded = r.rows_new + r.rows_unchanged
        r.amount_loaded = r.amount_new + r.amount_unchanged
    table = RejectionTable(request, import_rejections(batch=batch))
    return render_table(request, table, "rural_pension/import_batch.html", {
        "batch": batch, "recon": recon,
        "breadcrumbs": _crumbs((gettext("原系统数据导入"), reverse("rural:import_start")),
                               (gettext("批次 %(id)s") % {"id": batch.pk}, "")),
    })


# --------------------------------------------------------------------------------------------------
# the person page's section and the home page's work items


def person_section(person, request):
    if not can_view(request.user):
        return None
    account = account_for_person(user=request.user, person_id=person.pk)
    if account is None:
        return None
    last = AccountYear.objects.filter(account_id=account.pk).order_by("-year").first()
    return (gettext("老农保"), "rural_pension/person_section.html", {"account": account, "last_year": last})


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
