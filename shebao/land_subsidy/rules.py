"""The entitlement rule of the yearly roster (年度发放明细): ONE statement (``ENTITLEMENT_SQL``) decides for
every 土保补贴人员 and a year whether they are entitled and, if not, why (a reason code). The yearly run
takes the persons whose reason is ``entitled`` (``annual_rows``, registered with ``payroll.schemes``); the
person page runs the same statement for one person (``entitlement``) and only words the code
(``REASONS``, Chinese and English). There is no second copy of the rule to drift: ``tests/test_rules.py``
checks that the page and the run agree for every reason.

For the run's year Y and each 土保补贴人员, the rule of the person's category is the active one with the
latest ``from_year`` ≤ Y; its reference date (认定日) is ``reference_month``-``reference_day`` of Y. The
person is entitled to the rule's ``amount`` (one line item 土保补贴, the year's whole amount, no rounding:
the amount is data with two places) when, on the reference date, in this order of reasons:
- ``no_rule``: the category has an active rule for Y;
- ``not_started``: the enrollment has started (开始年月 ≤ the reference date);
- ``dead``: the person is alive (死亡日期 empty or on/after the reference date);
- ``ended``: not ended (终止年月 empty or ≥ the reference month);
- ``too_young``: the age in full years (周岁) is at least the rule's minimum for their sex (blank: no
  condition). The age is reached on the birthday; one born on 29 February reaches it on 1 March in a common
  year. Tested as: born on or before the reference date less that many years (computed once per rule;
  28 February less whole years stays 28 February, so 29 February is after it) — a date comparison per
  person, the cheapest form; the age the page shows is PostgreSQL's ``age()`` of the same dates, the same
  full years (``tests/test_rules.py`` checks the two agree on the edge birthdays);
- ``suspended``: not suspended in the reference month (a 暂停 covering it), unless the rule
  ``pays_suspended``;
- otherwise ``entitled``.
Pending 补发/扣减 are the engine's (as monthly).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

ENTITLED = "entitled"
# the reason codes, in the order the statement tests them, and their wording (the page's explanation)
REASONS = {
    "no_rule": _("补贴类别“%(category)s”没有 %(year)s 年适用的补贴标准"),
    "not_started": _("开始年月 %(start)s 晚于认定日 %(ref)s"),
    "dead": _("认定日 %(ref)s 前已死亡（%(death)s）"),
    "ended": _("认定日 %(ref)s 前已终止发放（终止年月 %(end)s）"),
    "too_young": _("认定日 %(ref)s 年龄 %(age)s 周岁，未满 %(min_age)s 周岁"),
    "suspended": _("认定日 %(ref)s 处于暂停发放"),
    ENTITLED: _("符合：认定日 %(ref)s 年龄 %(age)s 周岁，%(category)s 年补贴 %(amount)s 元"),
}

# ``%(scheme)s`` is the engine's; ``tb_year`` ours; ``{one}`` narrows to one record (the page) or nothing.
_ENTITLEMENT = """
WITH tb_rule AS (
    SELECT DISTINCT ON (r.category_id) r.category_id, r.amount, r.pays_suspended, r.min_age_male,
           r.min_age_female,
           make_date(%(tb_year)s, r.reference_month, r.reference_day) AS ref,
           date_trunc('month', make_date(%(tb_year)s, r.reference_month, r.reference_day))::date AS ref_month,
           -- born on or before these days: old enough on the reference date (NULL: no age condition)
           (make_date(%(tb_year)s, r.reference_month, r.reference_day)
            - make_interval(years => r.min_age_male))::date AS born_by_m,
           (make_date(%(tb_year)s, r.reference_month, r.reference_day)
            - make_interval(years => r.min_age_female))::date AS born_by_f
    FROM land_subsidy_subsidyrule r
    WHERE r.from_year <= %(tb_year)s AND r.active
    ORDER BY r.category_id, r.from_year DESC
), tb_suspended AS (
    -- the enrollments a 暂停 covers in the reference month (unless the category rule pays them)
    SELECT DISTINCT s.enrollment_id
    FROM benefits_suspension s
    JOIN land_subsidy_subsidyperson sp ON sp.enrollment_id = s.enrollment_id
    JOIN tb_rule tr ON tr.category_id = sp.category_id
    WHERE NOT tr.pays_suspended AND s.from_month <= tr.ref AND (s.to_month IS NULL OR s.to_month >= tr.ref_month)
      {one}
), tb AS (
    SELECT sp.id AS record_id, sp.enrollment_id, c.name AS category_name, tr.amount, tr.ref, e.start_month,
           e.end_month, p.death_date, CASE p.sex WHEN 'M' THEN tr.min_age_male ELSE tr.min_age_female END AS min_age,
           date_part('year', age(tr.ref, p.birth_date))::int AS age,
           CASE
               WHEN tr.category_id IS NULL THEN 'no_rule'
               WHEN e.start_month > tr.ref THEN 'not_started'
               WHEN p.death_date < tr.ref THEN 'dead'
               WHEN e.end_month < tr.ref_month THEN 'ended'
               WHEN p.birth_date > CASE p.sex WHEN 'M' THEN tr.born_by_m ELSE tr.born_by_f END THEN 'too_young'
               WHEN ts.enrollment_id IS NOT NULL THEN 'suspended'
               ELSE 'entitled' END AS reason
    FROM land_subsidy_subsidyperson sp
    JOIN land_subsidy_subsidycategory c ON c.id = sp.category_id
    JOIN benefits_enrollment e ON e.id = sp.enrollment_id
    JOIN registry_person p ON p.id = sp.person_id
    LEFT JOIN tb_rule tr ON tr.category_id = sp.category_id
    LEFT JOIN tb_suspended ts ON ts.enrollment_id = sp.enrollment_id
    WHERE e.scheme_id = %(scheme)s {one}
)
"""

ENTITLEMENT_SQL = _ENTITLEMENT.replace("{one}", "")
# the yearly run's rows (``%(tb_item)s``: the line item 土保补贴)
ANNUAL_SQL = ENTITLEMENT_SQL + """
SELECT tb.enrollment_id, %(tb_item)s::bigint AS item_id, tb.amount,
       tb.category_name || ' ' || %(tb_year)s::text || '年' AS description
FROM tb WHERE tb.reason = 'entitled'
"""
_ONE_SQL = _ENTITLEMENT.replace("{one}", "AND sp.id = %(tb_record)s") + """
SELECT reason, amount, ref, age, min_age, start_month, end_month, death_date, category_name FROM tb
"""


def _tb_scheme_id() -> int:
    from shebao.benefits.models import Scheme

    return Scheme.objects.only("pk").get(code="TB").pk


def annual_rows(run) -> tuple[str, dict]:
    """The scheme hook (``payroll.schemes``): the yearly roster's rows for ``run`` (its year).

    Called inside the yearly run's transaction, before its statement: the categories are locked FOR SHARE
    until the run commits. A rule or category change locks its category FOR UPDATE before it checks which
    years are computed (``services._check_computed_years``), so the two cannot pass each other: a change
    made first is committed before the run's statement reads the rules; a change asked for during the run
    waits for it, then sees the run computed and is refused."""
    from django.db import connection

    from shebao.benefits.models import BenefitItem

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM land_subsidy_subsidycategory ORDER BY id FOR SHARE")
    item = BenefitItem.objects.get(scheme_id=run.scheme_id, code="basic")
    return ANNUAL_SQL, {"tb_year": run.period.year, "tb_item": item.pk}


def reasons_by_record(year: int) -> dict[int, str]:
    """Every 土保补贴人员's reason code for ``year`` (record id → code), by the same statement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(ENTITLEMENT_SQL + "SELECT record_id, reason FROM tb",
                       {"tb_year": year, "scheme": _tb_scheme_id()})
        return dict(cursor.fetchall())


def age_on(birth: dt.date, on: dt.date) -> int:
    """Full years (周岁) on ``on`` as PostgreSQL's ``age()`` counts them (the statement's age): the
    birthday's day reached (29 February: 1 March in a common year)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Entitlement:
    year: int
    code: str  # a key of ``REASONS``
    amount: Decimal | None
    reference: dt.date | None
    params: dict

    @property
    def entitled(self) -> bool:
        return self.code == ENTITLED

    @property
    def reason(self) -> str:
        """Why (not), in the active language."""
        return str(REASONS[self.code]) % self.params


def _month(value: dt.date | None) -> str:
    return f"{value:%Y-%m}" if value else ""


def entitlement(subsidy_person, year: int) -> Entitlement:
    """Whether ``subsidy_person`` is on the roster of ``year`` and why: the run's statement for one record."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_ONE_SQL, {"tb_year": year, "scheme": _tb_scheme_id(), "tb_record": subsidy_person.pk})
        row = cursor.fetchone()
    if row is None:  # not a TB enrollment (cannot happen for a record; say no rule rather than fail)
        return Entitlement(year, "no_rule", None, None, {"category": str(subsidy_person.category), "year": year})
    code, amount, ref, age, min_age, start, end, death, category = row
    params = {"category": category, "year": year, "ref": f"{ref:%Y-%m-%d}" if ref else "", "age": age,
              "min_age": min_age, "start": _month(start), "end": _month(end),
              "death": f"{death:%Y-%m-%d}" if death else "", "amount": amount}
    return Entitlement(year, code, amount if code == ENTITLED else None, ref, params)
