"""The entitlement rule of the yearly roster (年度发放明细), in SQL for the run and in Python for one
person's page — the same rule, proven equal by ``tests/test_rules.py``.

For the run's year Y and each 土保补贴人员, the rule of the person's category is the one with the latest
``from_year`` ≤ Y; its reference date (认定日) is ``reference_month``-``reference_day`` of Y. The person is
entitled to the rule's ``amount`` (one line item 土保补贴, the year's whole amount, no rounding: the amount is
data with two places) when, on the reference date:
- the enrollment has started (开始年月 ≤ the reference month) and not ended (终止年月 empty or ≥ that month);
- it is not suspended in that month (a 暂停 covering it), unless the rule ``pays_suspended``;
- the person is alive (死亡日期 empty or on/after the reference date);
- the person's age in full years (周岁) is at least the rule's minimum for their sex (none: no condition).
  The age is reached on the birthday; one born on 29 February reaches it on 1 March in a common year
  (in SQL: born on or before the reference date less that many years — 28 February less whole years
  stays 28 February, so 29 February is after it).
Persons whose category has no rule for Y are not entitled. Pending 补发/扣减 are the engine's (as monthly).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

# ``%(scheme)s`` and ``%(period)s`` are the engine's; ``tb_year`` and ``tb_item`` ours.
ANNUAL_SQL = """
WITH tb_rule AS (
    SELECT DISTINCT ON (r.category_id) r.category_id, r.amount, r.pays_suspended,
           make_date(%(tb_year)s, r.reference_month, r.reference_day) AS ref,
           date_trunc('month', make_date(%(tb_year)s, r.reference_month, r.reference_day))::date AS ref_month,
           -- born on or before these days: old enough on the reference date (NULL: no age condition)
           (make_date(%(tb_year)s, r.reference_month, r.reference_day)
            - make_interval(years => r.min_age_male))::date AS born_by_m,
           (make_date(%(tb_year)s, r.reference_month, r.reference_day)
            - make_interval(years => r.min_age_female))::date AS born_by_f
    FROM land_subsidy_subsidyrule r
    WHERE r.from_year <= %(tb_year)s
    ORDER BY r.category_id, r.from_year DESC
)
SELECT sp.enrollment_id, %(tb_item)s::bigint AS item_id, tr.amount,
       c.name || ' ' || %(tb_year)s::text || '年' AS description
FROM land_subsidy_subsidyperson sp
JOIN tb_rule tr ON tr.category_id = sp.category_id
JOIN land_subsidy_subsidycategory c ON c.id = sp.category_id
JOIN benefits_enrollment e ON e.id = sp.enrollment_id
JOIN registry_person p ON p.id = sp.person_id
WHERE e.scheme_id = %(scheme)s
  AND e.start_month <= tr.ref
  AND (e.end_month IS NULL OR e.end_month >= tr.ref_month)
  AND (p.death_date IS NULL OR p.death_date >= tr.ref)
  AND p.birth_date <= COALESCE(CASE p.sex WHEN 'M' THEN tr.born_by_m ELSE tr.born_by_f END, 'infinity'::date)
  AND (tr.pays_suspended OR NOT EXISTS (
        SELECT 1 FROM benefits_suspension s
        WHERE s.enrollment_id = e.id AND s.from_month <= tr.ref
          AND (s.to_month IS NULL OR s.to_month >= tr.ref_month)))
"""


def annual_rows(run) -> tuple[str, dict]:
    """The scheme hook (``payroll.schemes``): the yearly roster's rows for ``run`` (its year)."""
    from shebao.benefits.models import BenefitItem

    item = BenefitItem.objects.get(scheme_id=run.scheme_id, code="basic")
    return ANNUAL_SQL, {"tb_year": run.period.year, "tb_item": item.pk}


# --------------------------------------------------------------------------------------------------
# the same rule for one person (the person page says why they are or are not on a year's roster)


def age_on(birth: dt.date, on: dt.date) -> int:
    """Full years (周岁) on ``on``: the birthday's day reached (29 February: 1 March in a common year)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Entitlement:
    year: int
    entitled: bool
    amount: Decimal | None
    reference: dt.date | None
    reason: str  # Chinese: why (not)


def entitlement(subsidy_person, year: int) -> Entitlement:
    """Whether ``subsidy_person`` is on the roster of ``year`` and why, by the rule above."""
    from shebao.benefits.models import Suspension
    from shebao.land_subsidy.models import SubsidyRule

    rule = (SubsidyRule.objects.filter(category_id=subsidy_person.category_id, from_year__lte=year)
            .order_by("-from_year").first())
    if rule is None:
        return Entitlement(year, False, None, None, f"补贴类别“{subsidy_person.category}”没有 {year} 年适用的补贴标准")
    ref = dt.date(year, rule.reference_month, rule.reference_day)
    ref_month = ref.replace(day=1)
    e, p = subsidy_person.enrollment, subsidy_person.person

    def no(why: str) -> Entitlement:
        return Entitlement(year, False, None, ref, why)

    if e.start_month > ref:
        return no(f"开始年月 {e.start_month:%Y-%m} 晚于认定日 {ref:%Y-%m-%d}")
    if p.death_date is not None and p.death_date < ref:
        return no(f"认定日 {ref:%Y-%m-%d} 前已死亡（{p.death_date:%Y-%m-%d}）")
    if e.end_month is not None and e.end_month < ref_month:
        return no(f"认定日 {ref:%Y-%m-%d} 前已终止发放（终止年月 {e.end_month:%Y-%m}）")
    minimum = rule.min_age_male if p.sex == "M" else rule.min_age_female
    age = age_on(p.birth_date, ref)
    if minimum is not None and age < minimum:
        return no(f"认定日 {ref:%Y-%m-%d} 年龄 {age} 周岁，未满 {minimum} 周岁")
    if not rule.pays_suspended:
        suspended = Suspension.objects.filter(enrollment_id=e.pk, from_month__lte=ref).exclude(
            to_month__lt=ref_month).exists()
        if suspended:
            return no(f"认定日 {ref:%Y-%m-%d} 处于暂停发放")
    return Entitlement(year, True, rule.amount, ref,
                       f"符合：认定日 {ref:%Y-%m-%d} 年龄 {age} 周岁，{rule.category.name} 年补贴 {rule.amount} 元")
