"""Demo step "rural": 老农保 individual accounts on the demo people, set-based (registered in
``shebao/rural_pension/demo.py``).

Size: small ≈ 1,500 accounts, full 75,000 (up to 30 years each, ≈ 4–5 million contribution rows), other
scales (tests) a twentieth of the persons. Deterministic for the load's seed (a hash of seed, account
and year chooses months and amounts, in SQL).

- The credited-rate table 1993–2025 (the sample ``rates.csv``: demonstration values, not official) and
  2026.
- Every account contributes yearly from max(1993, age 18) — a personal contribution in one month, a
  collective subsidy in most years, sometimes an "other" credit — until it stops:
  - born 1965 or later: still 缴费 (a quarter stopped earlier: 中断缴费);
  - born 1955–1964: contributed through the year they turned 60 (at most 2022) and receive a monthly
    pension from the January after, fixed then as the accumulation (the closing of that year, computed
    by the rule) × 0.008631526, with the monthly 养老金 payouts to 2025-12 (legacy receivers, paid by the
    old system through 2025-12), then enrolled in scheme NB from 2026-01 as the legacy import enrols its
    receivers (``legacy_receivers_enrol``: the month after the last legacy payout; a dead person is not
    enrolled), so the NB monthly payroll pays them;
  - born before 1955: refunded (清退) in the legacy system in the January after their last year, the
    refund payout being exactly the balance (so the account closes at zero).
- Through the services, as a clerk would: some 1965-born persons start receiving from 2026-01 (NB
  enrollment, paid by the monthly payroll), and a few refunds this month (cash and bank, the bank ones
  waiting in the NB one-off flow, so rollback can be tried).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from django.db import connection
from django.utils import timezone

from shebao.common.jobs import Progress
from shebao.demo.steps import demo_step, scale_size

SIZES = {"small": 1_500, "full": 75_000}
SERVICE_STARTS = {"small": 10, "full": 100}
SERVICE_REFUNDS = {"small": 6, "full": 40}
RATES_FILE = Path(__file__).resolve().parents[1] / "rural_pension" / "samples" / "rates.csv"


def rural_reset() -> None:
    """Remove what this step (and the 老农保 pages) made: accounts and all their records, the rate
    table, NB enrollments and NB payroll runs."""
    from shebao.benefits.models import Adjustment, BenefitAmount, Enrollment, StatusChange, Suspension
    from shebao.payroll.models import MonthEndSnapshot, PayrollComponent, PayrollLine, PayrollRun

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # pending deferred FK checks would block TRUNCATE
        cursor.execute("""TRUNCATE rural_pension_accountyear, rural_pension_payout, rural_pension_contribution,
                          rural_pension_ruraldocument, rural_pension_documentcounter, rural_pension_ruralaccount,
                          rural_pension_importrejection, rural_pension_importreconciliation,
                          rural_pension_importbatch, rural_pension_creditedrate""")
    PayrollComponent.objects.filter(line__run__scheme__code="NB").delete()
    PayrollLine.objects.filter(run__scheme__code="NB", origin_line__isnull=False).delete()
    PayrollLine.objects.filter(run__scheme__code="NB").delete()
    MonthEndSnapshot.objects.filter(scheme__code="NB").delete()
    PayrollRun.objects.filter(scheme__code="NB", parent_run__isnull=False).delete()
    PayrollRun.objects.filter(scheme__code="NB").delete()
    nb = {"enrollment__scheme__code": "NB"}
    Adjustment.objects.filter(**nb).delete()
    BenefitAmount.objects.filter(**nb).delete()
    Suspension.objects.filter(**nb).delete()
    StatusChange.objects.filter(**nb).delete()
    Enrollment.objects.filter(scheme__code="NB").delete()


# h(k): a deterministic pseudo-random non-negative integer per (seed, account, k)
_H = "abs(hashtext(%(seed)s || ':' || {acc} || ':' || {k}))"

_SQL_ACCOUNTS = """
INSERT INTO rural_pension_ruralaccount (person_id, town_id, community_id, enrolled_on, status, closed_on, legacy_bank,
    legacy_account_number, person_created_by_import, note, created_at, updated_at)
SELECT p.id, p.town_id, p.community_id,
       make_date(greatest(1993, extract(year FROM p.birth_date)::int + 18), 1 + {h_m} %% 12, 1 + {h_d} %% 28),
       'paying', NULL, COALESCE(b.bank, ''), COALESCE(b.account_number, ''), false, '', now(), now()
FROM (SELECT * FROM registry_person ORDER BY id LIMIT %(n)s) p
LEFT JOIN registry_bankaccount b ON b.person_id = p.id AND b.valid_to IS NULL
""".format(h_m=_H.format(acc="p.id", k="'m'"), h_d=_H.format(acc="p.id", k="'d'"))

# plan per account: first and last contribution year, category
_SQL_PLAN = """
CREATE TEMP TABLE _rd_plan ON COMMIT DROP AS
SELECT a.id AS account_id, extract(year FROM a.enrolled_on)::int AS y0, b.y AS birth_year,
       CASE WHEN b.y >= 1965 THEN 'A' WHEN b.y >= 1955 THEN 'B' ELSE 'C' END AS cat,
       CASE WHEN b.y >= 1965 THEN 2022 - CASE WHEN {h_e} %% 4 = 0 THEN 1 + {h_e2} %% 12 ELSE 0 END
            WHEN b.y >= 1955 THEN least(b.y + 60, 2022)
            ELSE least(b.y + 60, 2005 + {h_e2} %% 6) END AS y1,
       (2 + 2 * ({h_l} %% 10)) AS level
FROM rural_pension_ruralaccount a
JOIN (SELECT id, extract(year FROM birth_date)::int AS y FROM registry_person) b ON b.id = a.person_id
""".format(h_e=_H.format(acc="a.id", k="'e'"), h_e2=_H.format(acc="a.id", k="'e2'"),
           h_l=_H.format(acc="a.id", k="'l'"))

_SQL_CONTRIBUTIONS = """
INSERT INTO rural_pension_contribution (account_id, month, kind, amount, import_batch_id)
SELECT account_id, make_date(y, 1 + ({h_pm} %% 12), 1), 'personal',
       round(level * 12 * (1 + (y - 1993) * 0.12))::numeric(14,2), NULL::bigint
FROM _rd_plan, generate_series(y0, y1) y
WHERE y1 >= y0
UNION ALL
SELECT account_id, make_date(y, 1 + ({h_cm} %% 12), 1), 'collective',
       round(level * 12 * (1 + (y - 1993) * 0.12) * (20 + {h_ca} %% 31) / 100, 1)::numeric(14,2), NULL
FROM _rd_plan, generate_series(y0, y1) y
WHERE y1 >= y0 AND {h_c} %% 10 < 7
UNION ALL
SELECT account_id, make_date(y, 1 + ({h_om} %% 12), 1), 'other', (10 + {h_oa} %% 91)::numeric(14,2), NULL
FROM _rd_plan, generate_series(y0, y1) y
WHERE y1 >= y0 AND {h_o} %% 20 = 0
""".format(
    h_pm=_H.format(acc="account_id", k="y || 'pm'"), h_cm=_H.format(acc="account_id", k="y || 'cm'"),
    h_ca=_H.format(acc="account_id", k="y || 'ca'"), h_c=_H.format(acc="account_id", k="y || 'c'"),
    h_om=_H.format(acc="account_id", k="y || 'om'"), h_oa=_H.format(acc="account_id", k="y || 'oa'"),
    h_o=_H.format(acc="account_id", k="y || 'o'"))

_SQL_REFUNDED = """
WITH r AS (
    SELECT p.account_id, p.y1, ay.closing
    FROM _rd_plan p JOIN rural_pension_accountyear ay ON ay.account_id = p.account_id AND ay.year = p.y1
    WHERE p.cat = 'C' AND ay.closing > 0
), ins AS (
    INSERT INTO rural_pension_payout (account_id, month, kind, amount, document_id, payroll_line_id, import_batch_id)
    SELECT account_id, make_date(y1 + 1, 1, 1), 'refund', closing, NULL, NULL, NULL FROM r
    RETURNING account_id, month
)
UPDATE rural_pension_ruralaccount a SET status = 'refunded', closed_on = ins.month + 14
FROM ins WHERE a.id = ins.account_id
"""

_SQL_RECEIVERS = """
WITH r AS (
    SELECT p.account_id, make_date(p.birth_year + 61, 1, 1) AS start, ay.closing,
           round(ay.closing * %(coef)s, 2) AS monthly
    FROM _rd_plan p JOIN rural_pension_accountyear ay ON ay.account_id = p.account_id AND ay.year = p.birth_year + 60
    WHERE p.cat = 'B' AND p.birth_year + 61 <= 2025 AND ay.closing > 0
), upd AS (
    UPDATE rural_pension_ruralaccount a
    SET status = 'receiving', benefit_start_month = r.start, benefit_base = r.closing, coefficient = %(coef)s,
        monthly_benefit = r.monthly
    FROM r WHERE a.id = r.account_id AND r.monthly > 0
    RETURNING a.id, r.start, r.monthly
)
INSERT INTO rural_pension_payout (account_id, month, kind, amount, document_id, payroll_line_id, import_batch_id)
SELECT upd.id, m::date, 'pension', upd.monthly, NULL, NULL, NULL
FROM upd, generate_series(upd.start, date '2025-12-01', interval '1 month') m
"""


@demo_step("rural", order=40, reset=rural_reset)
def rural_demo(scale: str, rng: random.Random, progress: Progress) -> str | None:
    from decimal import Decimal

    from django.db.models import Count

    from shebao.accounts.models import User
    from shebao.demo.runner import demo_users_ensure
    from shebao.registry.models import Person
    from shebao.rural_pension.legacy_import import legacy_receivers_enrol
    from shebao.rural_pension.models import Contribution, CreditedRate, RuralAccount
    from shebao.rural_pension.selectors import coefficient_for
    from shebao.rural_pension.services import (
        RuralError,
        rural_benefit_start,
        rural_refund_quote,
        rural_refund_settle,
        rural_years_recompute,
    )

    persons = Person.objects.count()
    wanted = min(persons, scale_size(scale, "rural_accounts", default=SIZES.get(scale, persons // 20)))
    if not wanted:
        return None
    demo_users_ensure()
    clerk = User.objects.get(username="clerk")
    seed = str(rng.randrange(1 << 30))
    params = {"seed": seed, "n": wanted}
    rates = [line.split(",") for line in RATES_FILE.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    rates.append(("2026", "0.0125"))  # this year's rate, so quotes on today's date work in the demo
    CreditedRate.objects.bulk_create([CreditedRate(year=int(y), rate=Decimal(r), note="演示数据")
                                      for y, r in rates], ignore_conflicts=True)
    coefficient = coefficient_for(dt.date(2025, 1, 1)) or Decimal("0.008631526")
    progress.start(5, "老农保账户")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(_SQL_ACCOUNTS, params)
        cursor.execute("DROP TABLE IF EXISTS _rd_plan")
        cursor.execute(_SQL_PLAN, params)
        progress.set(1, message="老农保缴费记录")
        cursor.execute(_SQL_CONTRIBUTIONS, params)
        cursor.execute("UPDATE rural_pension_ruralaccount a SET status = 'suspended' FROM _rd_plan p "
                       "WHERE a.id = p.account_id AND p.cat = 'A' AND p.y1 < 2022")
        cursor.execute("ANALYZE rural_pension_contribution")
    progress.set(2, message="计算年账户明细")
    rural_years_recompute()
    progress.set(3, message="清退与领取")
    with connection.cursor() as cursor:
        cursor.execute(_SQL_REFUNDED, params)
        cursor.execute(_SQL_RECEIVERS, {**params, "coef": coefficient})
        cursor.execute("DROP TABLE _rd_plan")
        cursor.execute("ANALYZE rural_pension_payout")
    rural_years_recompute()
    # the legacy receivers are paid by the NB monthly payroll from the month after their last legacy payout
    legacy = list(RuralAccount.objects.filter(status="receiving", enrollment__isnull=True).order_by("pk")
                  .values_list("pk", flat=True))
    receivers = legacy_receivers_enrol(user=clerk, account_ids=legacy,
                                       reason="演示数据：原系统领取人员由老农保月度发放接续支付")
    progress.set(4, message="经办业务（开始领取、退保）")
    # through the services: receipt from 2026-01 for some born in 1965, refunds this month
    starters = list(RuralAccount.objects.filter(status__in=["paying", "suspended"], person__birth_date__year=1965,
                                                person__death_date__isnull=True).order_by("pk")
                    [: SERVICE_STARTS.get(scale, 3)])
    started = 0
    for account in starters:
        try:
            rural_benefit_start(account=account, start_month="2026-01", user=clerk, note="演示：年满60周岁开始领取")
            started += 1
        except RuralError:
            continue
    today = timezone.localdate()
    candidates = list(RuralAccount.objects.filter(status="paying", person__death_date__isnull=True)
                      .order_by("pk").values_list("pk", flat=True)[:2000])
    refunds = 0
    for pk in rng.sample(candidates, min(len(candidates), SERVICE_REFUNDS.get(scale, 2))):
        account = RuralAccount.objects.get(pk=pk)
        try:
            rural_refund_quote(account=account, on=today)
            rural_refund_settle(account=account, on=today, pay_method="bank" if refunds % 2 == 0 else "cash",
                                user=clerk)
            refunds += 1
        except RuralError:
            continue
    progress.set(5)
    rows = Contribution.objects.count()
    by_status = dict(RuralAccount.objects.order_by().values_list("status").annotate(n=Count("pk")))
    return (f"老农保账户 {wanted:,} 个（缴费 {by_status.get('paying', 0):,}，中断 {by_status.get('suspended', 0):,}，"
            f"领取 {by_status.get('receiving', 0):,}，退保 {by_status.get('refunded', 0):,}），缴费记录 {rows:,} 条，"
            f"原系统领取人员纳入月度发放 {receivers.enrolled:,} 人，经办开始领取 {started} 人、退保 {refunds} 笔")
