"""老农保 pages: 查询 (the accounts list, the pick lists of the menu), the account page and 信息修改."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import quote

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from shebao.benefits.months import month_of
from shebao.common import policy
from shebao.common.masking import masker_for
from shebao.common.once import AlreadySubmitted, write_once
from shebao.registry.models import Region
from shebao.registry.selectors import person_current_account, towns_visible
from shebao.rural_pension.forms import AccountEditForm
from shebao.rural_pension.interest import RateMissing
from shebao.rural_pension.models import OPEN_STATUSES, AccountStatus, AccountYear, RuralAccount
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
)
from shebao.rural_pension.services import (
    RuralError,
    pension_month,
    rural_account_update,
    rural_death_guarantee_left,
)
from shebao.rural_pension.views.base import (
    EDIT_RULE,
    REFUND_RULE,
    VIEW_RULE,
    _account_crumbs,
    _account_link,
    _confirmed,
    _crumbs,
    _may,
    _year_rows,
    _year_totals,
    can_view,
    editor_required,
    viewer_required,
)
from shebao.web.tables import (
    ChoiceFilter,
    Column,
    DateRangeFilter,
    FilterError,
    Table,
    TextFilter,
    render_table,
)

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
    """The yearly account table: the account page's tab; ``?print=1`` the printable A4 page (the browser
    prints it), ``?export=xlsx`` the workbook (``shebao.common.sheets``: amounts as numbers)."""
    account = account_get(user=request.user, pk=pk)  # another town's account looks missing, here too
    if request.GET.get("export") == "xlsx":
        return _years_xlsx(request, account)
    if request.GET.get("print"):
        ctx = _account_context(request, account, "years")
        ctx["printed_at"] = timezone.localtime()
        ctx["masker"] = masker_for(request.user)
        ctx["id_number"] = ctx["masker"].id_number(account.person.id_number)
        return render(request, "rural_pension/account_years_print.html", ctx)
    return redirect(reverse("rural:account_detail", args=[account.pk]) + "?tab=years")


YEARS_HEADERS = (_("年度"), _("期初余额"), _("个人缴费"), _("集体补助"), _("其他"), _("支付"),
                 _("记账利率"), _("计息月数"), _("利息"), _("期末余额"))


def _years_xlsx(request, account: RuralAccount):
    """个人年账户明细 as .xlsx: a title row (name, masked 身份证号, town), the column titles, a row a year
    and the totals; amounts are numbers with two decimals, the rate a percentage as text."""
    import io

    from django.http import FileResponse

    from shebao.common.sheets import XlsxWriter

    try:
        rows = _year_rows(account_yearly_table(account=account))
    except RateMissing as exc:
        messages.error(request, str(exc))
        return redirect(reverse("rural:account_detail", args=[account.pk]) + "?tab=years")
    totals = _year_totals(rows)
    person = account.person
    masker = masker_for(request.user)
    buffer = io.BytesIO()
    money = {1, 2, 3, 4, 5, 8, 9}
    with XlsxWriter(buffer, sheet_name=gettext("个人年账户明细"), headers=[str(h) for h in YEARS_HEADERS],
                    money_columns=money) as writer:
        for r in rows:
            writer.write_row([str(r["year"]), r["opening"], r["personal"], r["collective"], r["other"], r["payouts"],
                              r["rate_pct"], r["months"], r["interest"], r["closing"]])
        if rows:
            writer.write_row([gettext("合计"), None, totals["personal"], totals["collective"], totals["other"],
                              totals["payouts"], None, None, totals["interest"], rows[-1]["closing"]])
        writer.write_row([])
        writer.write_row([gettext("姓名"), person.name, gettext("身份证号"), masker.id_number(person.id_number),
                          gettext("镇街道"), account.town.name], money_columns=set())
    buffer.seek(0)
    name = f"{gettext('个人年账户明细')}-{person.name}-{timezone.localdate():%Y%m%d}.xlsx"
    response = FileResponse(buffer, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f"attachment; filename=\"years.xlsx\"; filename*=UTF-8''{quote(name)}"
    return response


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
                write_once(request, "nb.account_edit", lambda: rural_account_update(
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


# the person page's section and the home page's work items


def person_section(person, request):
    if not can_view(request.user):
        return None
    account = account_for_person(user=request.user, person_id=person.pk)
    if account is None:
        return None
    last = AccountYear.objects.filter(account_id=account.pk).order_by("-year").first()
    return (gettext("老农保"), "rural_pension/person_section.html", {"account": account, "last_year": last})
