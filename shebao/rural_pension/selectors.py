"""Reads of 老农保: accounts within the user's region scope, their flows and yearly tables, the
queries of SPEC 3.1 (参保, 缴费, 退保, 支付, 待遇享受) per person and lists across persons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from shebao.common import policy
from shebao.common.identity import IdNumberError, parse_id_number
from shebao.rural_pension.interest import Flow, YearRow, yearly_table
from shebao.rural_pension.models import (
    AccountStatus,
    AccountYear,
    BenefitCoefficient,
    Contribution,
    CreditedRate,
    ImportBatch,
    ImportReconciliation,
    ImportRejection,
    Payout,
    PayoutKind,
    RuralAccount,
    RuralDocument,
)

GUARANTEE_MONTHS = 120


# --------------------------------------------------------------------------------------------------
# accounts


def accounts_visible(user) -> QuerySet[RuralAccount]:
    """Accounts whose person the user may see (region scope); ``user=None`` is the command line."""
    qs = RuralAccount.objects.select_related("person", "town", "community")
    if user is None:
        return qs
    return policy.scope_town(qs, user, "person__town_id")


def account_get(*, user, pk: int) -> RuralAccount:
    account = accounts_visible(user).filter(pk=pk).first()
    if account is None:
        raise Http404("老农保账户不存在或不在您的管辖范围内")
    return account


def account_for_person(*, user, person_id: int) -> RuralAccount | None:
    return accounts_visible(user).filter(person_id=person_id).first()


def account_by_id_number(*, user, id_number: str) -> RuralAccount | None:
    """By 身份证号 (18, or the legacy 15 digits)."""
    raw = (id_number or "").strip().upper()
    try:
        number = parse_id_number(raw).number
    except IdNumberError:
        number = raw
    return accounts_visible(user).filter(Q(person__id_number=number) | Q(person__id_number_original=raw)).first()


# --------------------------------------------------------------------------------------------------
# flows, rates and the yearly table


# the account's flows by month and kind (payouts with kind "payout"), as (year, month, kind, amount)
_SQL_FLOWS = """
SELECT date_part('year', month)::int, date_part('month', month)::int, kind, amount
FROM rural_pension_contribution WHERE account_id = %(account)s
UNION ALL
SELECT date_part('year', month)::int, date_part('month', month)::int, 'payout', amount
FROM rural_pension_payout WHERE account_id = %(account)s
"""


def account_flows(account: RuralAccount) -> list[Flow]:
    """Every credit and payout of the account as ``interest.Flow`` (payouts with kind "payout"), by
    month and kind."""
    with connection.cursor() as cursor:
        cursor.execute(_SQL_FLOWS + "ORDER BY 1, 2, 3", {"account": account.pk})
        return list(map(Flow._make, cursor.fetchall()))


def account_flows_and_rates(account: RuralAccount) -> tuple[list[Flow], dict[int, Decimal]]:
    """``account_flows`` and ``rates_map`` in ONE round trip — all a quote or a yearly table reads (on a
    busy 2-core server each round trip waits for the database process to be scheduled; the reads
    themselves take 0.05 ms). The rates come as rows of month 0."""
    with connection.cursor() as cursor:
        cursor.execute(_SQL_FLOWS + "UNION ALL SELECT year, 0, '', rate FROM rural_pension_creditedrate "
                       "ORDER BY 1, 2, 3", {"account": account.pk})
        rows = cursor.fetchall()
    return [Flow._make(r) for r in rows if r[1]], {r[0]: r[3] for r in rows if not r[1]}


def rates_map() -> dict[int, Decimal]:
    return dict(CreditedRate.objects.values_list("year", "rate"))


def rates_list() -> QuerySet[CreditedRate]:
    return CreditedRate.objects.order_by("year")


def account_yearly_table(*, account: RuralAccount, through_year: int | None = None) -> list[YearRow]:
    """个人年账户明细 computed now from the flows and the rate table (raises ``RateMissing``)."""
    flows, rates = account_flows_and_rates(account)
    return yearly_table(flows, rates, through_year=through_year)


def coefficient_for(month: dt.date) -> Decimal | None:
    row = BenefitCoefficient.objects.filter(from_month__lte=month).order_by("-from_month").first()
    return row.coefficient if row else None


# --------------------------------------------------------------------------------------------------
# SPEC 3.1 queries for one person


def account_contributions(*, account: RuralAccount) -> QuerySet[Contribution]:
    """缴费: every contribution, by month."""
    return Contribution.objects.filter(account=account).order_by("month", "kind")


def account_contributions_by_year(*, account: RuralAccount) -> list[dict]:
    rows = (Contribution.objects.filter(account=account).values("month__year")
            .annotate(personal=Coalesce(Sum("amount", filter=Q(kind="personal")), Decimal("0")),
                      collective=Coalesce(Sum("amount", filter=Q(kind="collective")), Decimal("0")),
                      other=Coalesce(Sum("amount", filter=Q(kind="other")), Decimal("0")),
                      months=Count("month", distinct=True))
            .order_by("month__year"))
    return [{"year": r["month__year"], "personal": r["personal"], "collective": r["collective"],
             "other": r["other"], "months": r["months"]} for r in rows]


def account_payouts(*, account: RuralAccount) -> QuerySet[Payout]:
    """支付: every payout (monthly pension, refunds, other), by month."""
    return Payout.objects.filter(account=account).select_related("document").order_by("month", "kind")


def account_documents(*, account: RuralAccount) -> QuerySet[RuralDocument]:
    """退保 and death settlements (结算单), settled and rolled back, newest first."""
    return RuralDocument.objects.filter(account=account).select_related("payee", "operator").order_by("-id")


def account_benefit(*, account: RuralAccount) -> dict:
    """待遇享受: the monthly benefit, its start, the 120-month guarantee (months paid and left)."""
    paid = Payout.objects.filter(account=account, kind=PayoutKind.PENSION)
    if account.benefit_start_month:
        paid = paid.filter(month__gte=account.benefit_start_month)
    months_paid = paid.count()
    return {
        "receiving": account.status == AccountStatus.RECEIVING,
        "start_month": account.benefit_start_month,
        "base": account.benefit_base,
        "coefficient": account.coefficient,
        "monthly": account.monthly_benefit,
        "months_paid": months_paid,
        "amount_paid": paid.aggregate(s=Sum("amount"))["s"] or Decimal("0.00"),
        "guarantee_months": GUARANTEE_MONTHS,
        "guarantee_left": max(0, GUARANTEE_MONTHS - months_paid) if account.benefit_start_month else None,
        "heir": account.heir,
        "enrollment": account.enrollment,
    }


def account_overview(*, account: RuralAccount) -> dict:
    """参保: the account's facts for the person page."""
    agg = Contribution.objects.filter(account=account).aggregate(total=Sum("amount"), first=Count("month"))
    years = Contribution.objects.filter(account=account).dates("month", "year")
    return {
        "account": account,
        "contribution_total": agg["total"] or Decimal("0.00"),
        "contribution_rows": agg["first"],
        "contribution_years": len(years),
        "first_year": years[0].year if years else None,
        "last_year": years[len(years) - 1].year if years else None,
        "payout_total": Payout.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or Decimal("0.00"),
    }


# --------------------------------------------------------------------------------------------------
# lists across persons


def accounts_list(
    *,
    user,
    town_id: int | None = None,
    community_id: int | None = None,
    status: str | None = None,
    enrolled_from: dt.date | None = None,
    enrolled_to: dt.date | None = None,
    paid_in_year_from: int | None = None,
    paid_in_year_to: int | None = None,
    min_years: int | None = None,
    q: str = "",
) -> QuerySet[RuralAccount]:
    """Accounts with filters (town, village, status, 参保日期 range, contributions in a year range, at
    least N contribution years, name/身份证号 text), annotated with ``contribution_years`` and
    ``balance`` / ``balance_year`` from the computed yearly tables (the last year computed)."""
    qs = accounts_visible(user)
    if town_id:
        qs = qs.filter(town_id=town_id)
    if community_id:
        qs = qs.filter(community_id=community_id)
    if status:
        qs = qs.filter(status=status)
    if enrolled_from:
        qs = qs.filter(enrolled_on__gte=enrolled_from)
    if enrolled_to:
        qs = qs.filter(enrolled_on__lte=enrolled_to)
    if paid_in_year_from or paid_in_year_to:
        contributions = Contribution.objects.filter(account=OuterRef("pk"))
        if paid_in_year_from:
            contributions = contributions.filter(month__gte=dt.date(paid_in_year_from, 1, 1))
        if paid_in_year_to:
            contributions = contributions.filter(month__lte=dt.date(paid_in_year_to, 12, 1))
        qs = qs.filter(Exists(contributions))
    q = (q or "").strip()
    if q:
        if q[-1:].isdigit() or q[-1:] in "xX":
            qs = qs.filter(person__id_number__endswith=q.upper())
        else:
            qs = qs.filter(person__name__contains=q)
    last_year = AccountYear.objects.filter(account_id=OuterRef("pk")).order_by("-year")
    years = (AccountYear.objects.filter(account_id=OuterRef("pk"))
             .filter(Q(personal__gt=0) | Q(collective__gt=0) | Q(other__gt=0))
             .order_by().values("account_id").annotate(n=Count("*")).values("n"))
    qs = qs.annotate(
        balance=Subquery(last_year.values("closing")[:1]),
        balance_year=Subquery(last_year.values("year")[:1]),
        contribution_years=Coalesce(Subquery(years, output_field=IntegerField()), Value(0)),
    )
    if min_years:
        qs = qs.filter(contribution_years__gte=min_years)
    return qs.order_by("town__sort", "community__name", "person__name", "pk")


def documents_list(*, user, state: str | None = None, kind: str | None = None,
                   date_from: dt.date | None = None, date_to: dt.date | None = None) -> QuerySet[RuralDocument]:
    """结算单 (refunds and death settlements) of accounts the user may see, newest first."""
    qs = RuralDocument.objects.select_related("account", "account__person", "payee", "operator").filter(
        account__in=accounts_visible(user).values("pk"))
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    if date_from:
        qs = qs.filter(on_date__gte=date_from)
    if date_to:
        qs = qs.filter(on_date__lte=date_to)
    return qs.order_by("-id")


def document_get(*, user, number: str) -> RuralDocument:
    doc = documents_list(user=user).filter(number=number.strip().upper()).first()
    if doc is None:
        raise Http404(f"结算单 {number} 不存在或不在您的管辖范围内")
    return doc


# --------------------------------------------------------------------------------------------------
# imports


def import_batches() -> QuerySet[ImportBatch]:
    return ImportBatch.objects.select_related("created_by").order_by("-id")


def import_reconciliation(*, batch: ImportBatch) -> QuerySet[ImportReconciliation]:
    return ImportReconciliation.objects.filter(batch=batch).order_by("id")


def import_rejections(*, batch: ImportBatch, file: str | None = None) -> QuerySet[ImportRejection]:
    qs = ImportRejection.objects.filter(batch=batch)
    return qs.filter(file=file) if file else qs
