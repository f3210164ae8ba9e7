"""Reads of the 养老保障 (BZ) subsystem: members within the user's scope, category standards, the
conversion candidates (one statement), what a person paid in and received, 应付/实付 per person and
month and the reports. Payroll lines are read (never written) by SQL in ``sql/``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet, Sum

from shebao.common import policy
from shebao.common.money import ZERO
from shebao.common.sqlfiles import sql_parts
from shebao.pension_security.models import (
    Category,
    CategoryStandard,
    Conversion,
    Member,
    Proposal,
    Settlement,
)

SQL = sql_parts("shebao.pension_security", "bz.sql")


def members_visible(user) -> QuerySet[Member]:
    qs = Member.objects.select_related("person", "person__town", "category", "enrollment")
    return policy.scope_town(qs, user, "person__town_id")


def member_of(person) -> Member | None:
    return Member.objects.select_related("category", "enrollment").filter(person=person).first()


def categories(*, active_only: bool = False) -> QuerySet[Category]:
    qs = Category.objects.all()
    return qs.filter(active=True) if active_only else qs


def standard_at(*, category: Category, phase: str, month: dt.date) -> CategoryStandard | None:
    """The category's standard of a phase in effect in ``month`` (the latest from_month ≤ month)."""
    return (CategoryStandard.objects.select_related("item")
            .filter(category=category, phase=phase, from_month__lte=month).order_by("-from_month").first())


def standards() -> QuerySet[CategoryStandard]:
    return CategoryStandard.objects.select_related("category", "item").order_by("category__sort", "phase", "from_month")


def standard_used_months(*, category: Category, phase: str) -> list[dt.date]:
    """The months in which the category's standards of ``phase`` were used (``sql/bz.sql``:
    standard_used_months): the start months of its proposed and approved benefits, its 到龄转换
    months (养老金) and the months of BZ runs paying one of its persons the phase's item. Sorted."""
    with connection.cursor() as cursor:
        item = "basic" if phase == "pension" else "living"
        cursor.execute(SQL["standard_used_months"], {**P, "category": category.pk, "phase": phase, "item": item,
                                                     "proposed": Proposal.State.PROPOSED,
                                                     "approved": Proposal.State.APPROVED})
        return [r[0] for r in cursor.fetchall()]


def _ranges(rows: list[CategoryStandard]) -> list[tuple[CategoryStandard, dt.date | None]]:
    """Each standard with the month its successor of the same phase starts (None: still in effect)."""
    out = []
    for i, s in enumerate(rows):
        nxt = next((t.from_month for t in rows[i + 1:] if t.phase == s.phase), None)
        out.append((s, nxt))
    return out


def standard_usage(standard: CategoryStandard) -> list[dt.date]:
    """The used months (``standard_used_months``) that fall in this standard's range: not empty = the
    standard may not be changed."""
    rows = list(CategoryStandard.objects.filter(category_id=standard.category_id, phase=standard.phase)
                .order_by("from_month"))
    until = dict((s.pk, nxt) for s, nxt in _ranges(rows)).get(standard.pk)
    used = standard_used_months(category=standard.category, phase=standard.phase)
    return [m for m in used if m >= standard.from_month and (until is None or m < until)]


def standards_history(category: Category) -> list[dict]:
    """The category's standards by phase and month: amount, from, to (the month before the next one),
    whether used (locked: not to be changed) and the first month it may be superseded from."""
    from shebao.benefits.months import add_months

    rows = list(CategoryStandard.objects.filter(category=category).select_related("item", "created_by")
                .order_by("phase", "from_month"))
    used = {ph: standard_used_months(category=category, phase=ph) for ph in {s.phase for s in rows}}
    out = []
    for s, nxt in _ranges(rows):
        mine = [m for m in used[s.phase] if m >= s.from_month and (nxt is None or m < nxt)]
        out.append({"standard": s, "phase": s.phase, "phase_label": s.get_phase_display(), "amount": s.amount,
                    "from_month": s.from_month, "to_month": add_months(nxt, -1) if nxt else None,
                    "used": bool(mine), "used_until": mine[-1] if mine else None,
                    "current": nxt is None})
    return out


def next_free_month(*, category: Category, phase: str) -> dt.date | None:
    """The first month a new standard of the phase may start from (after the last used month)."""
    from shebao.benefits.months import add_months

    used = standard_used_months(category=category, phase=phase)
    return add_months(used[-1], 1) if used else None


def _dicts(cursor) -> list[dict]:
    cols = [c.name for c in cursor.description]
    return [dict(zip(cols, r, strict=True)) for r in cursor.fetchall()]


P = {"scheme": "BZ", "subsidy": "subsidy", "pension": "pension", "active": "active", "suspended": "suspended",
     "paid": "paid", "written_off": "written_off", "regular": "regular", "computed": "computed"}


def conversion_candidates(*, month: dt.date) -> list[dict]:
    """Members on 生活补助 with an enrollment 正常 or 暂停, not yet converted, whose conversion month
    (birthday month of the category's age for their sex, + 1) is ≤ ``month`` and after their start
    month; with the 养老金 standard in effect in that month and their current open amounts. One
    statement (``sql/bz.sql``: conversion_candidates). The engine locks the enrollments when it writes, and
    a member has one Conversion at most (a second batch at once is refused)."""
    with connection.cursor() as cursor:
        cursor.execute(SQL["conversion_candidates"], {**P, "month": month})
        return _dicts(cursor)


def paid_in_total(member: Member) -> Decimal:
    return member.paid_in.aggregate(s=Sum("amount"))["s"] or ZERO


def received_total(member: Member) -> Decimal:
    """BZ money the bank confirmed paid to the person (lines 已支付, any kind of run)."""
    if member.enrollment_id is None:
        return ZERO
    with connection.cursor() as cursor:
        cursor.execute(SQL["received_total"], {**P, "person": member.person_id})
        return cursor.fetchone()[0] or ZERO


def proposals_of(member: Member) -> QuerySet[Proposal]:
    return member.proposals.select_related("proposed_by", "decided_by", "category").order_by("-id")


def proposals_open(user) -> QuerySet[Proposal]:
    qs = Proposal.objects.filter(state=Proposal.State.PROPOSED).select_related(
        "member__person", "member__person__town", "category", "proposed_by")
    return policy.scope_town(qs, user, "member__person__town_id")


def conversions_visible(user) -> QuerySet[Conversion]:
    qs = Conversion.objects.select_related("member__person", "member__person__town", "member__category",
                                           "created_by", "reviewed_by")
    return policy.scope_town(qs, user, "member__person__town_id")


def settlements_visible(user) -> QuerySet[Settlement]:
    qs = Settlement.objects.select_related("member__person", "member__person__town", "member__category", "run",
                                           "operator")
    return policy.scope_town(qs, user, "member__person__town_id")


# --------------------------------------------------------------------------------------------------
# 应付/实付


def _town_ids(user) -> list[int] | None:
    """The town ids the user may see, or None for the whole county."""
    if user is None or policy.county_wide(user):
        return None
    from shebao.registry.selectors import towns_visible

    return list(towns_visible(user).values_list("id", flat=True))


def payable_paid(*, user, month_from: dt.date | None = None, month_to: dt.date | None = None,
                 person_id: int | None = None) -> list[dict]:
    """Per person and month of a BZ regular run (approved or later): payable (the line's net), paid
    (what the bank confirmed for it and its re-issues), written off, and still owed = payable − paid −
    written off. One statement (``sql/bz.sql``: payable_paid), limited to the user's towns."""
    towns = _town_ids(user)
    with connection.cursor() as cursor:
        cursor.execute(SQL["payable_paid"] + " ORDER BY b.period, p.id_number",
                       {**P, "from": month_from, "to": month_to, "person": person_id, "towns": towns or [],
                        "all_towns": towns is None})
        return _dicts(cursor)


def payable_paid_report(*, user, month_from: dt.date | None = None, month_to: dt.date | None = None) -> list[dict]:
    """应付/实付 by month, town and category (persons, payable, paid, written off, owed); Σ payable of a
    month equals the regular run's net total (the towns of a town-scoped user only)."""
    towns = _town_ids(user)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT period, town, category, count(*) AS persons, sum(payable) AS payable, sum(paid) AS paid, "
            "sum(written_off) AS written_off, sum(owed) AS owed FROM (" + SQL["payable_paid"] + ") x "
            "GROUP BY period, town_sort, town, category ORDER BY period, town_sort, category",
            {**P, "from": month_from, "to": month_to, "person": None, "towns": towns or [], "all_towns": towns is None})
        return _dicts(cursor)


def run_totals(*, month_from: dt.date | None = None, month_to: dt.date | None = None) -> dict[dt.date, Decimal]:
    """The net total of each BZ regular run (approved or later), by month: what the report reconciles to."""
    with connection.cursor() as cursor:
        cursor.execute(SQL["run_totals"], {**P, "from": month_from, "to": month_to})
        return dict(cursor.fetchall())


def persons_report(*, user) -> list[dict]:
    """Persons by category, status (未核准 / 正常 / 暂停 / 终止) and town."""
    towns = _town_ids(user)
    with connection.cursor() as cursor:
        cursor.execute(SQL["persons_report"], {"towns": towns or [], "all_towns": towns is None})
        return _dicts(cursor)
