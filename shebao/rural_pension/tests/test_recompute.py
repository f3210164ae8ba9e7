"""The stored per-year sums (AccountYearFlow) and the three ways the yearly tables are built — from the raw
flows (``rural_years_refresh``), over the stored sums after a rate change (``rural_years_rerate``, all
years or from a year on), for some accounts from a year on (a writer) — agree to the cent with each
other and with the pure rule, on varied accounts: rate-0 years, payouts, years without flows, a year
without a rate (the tables end there; later starters begin afresh), a refund that empties the account."""

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection

from shebao.payroll.models import PayrollLine
from shebao.payroll.services import payroll_run_approve, payroll_run_compute
from shebao.rural_pension.interest import CREDIT_KINDS, Flow, yearly_table
from shebao.rural_pension.models import AccountYear, AccountYearFlow, Contribution, CreditedRate, Payout
from shebao.rural_pension.selectors import account_flows, account_flows_and_rates, rates_map
from shebao.rural_pension.services import (
    credited_rate_set,
    rural_benefit_payouts_record,
    rural_benefit_start,
    rural_years_recompute,
    rural_years_refresh,
    rural_years_rerate,
)
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_person, make_user, set_rates

D = Decimal
pytestmark = pytest.mark.django_db
GAP = 2003  # no rate this year in the varied set


def tables() -> list[tuple]:
    return list(AccountYear.objects.order_by("account_id", "year").values_list(
        "account_id", "year", "opening", "personal", "collective", "other", "payouts", "rate", "interest", "closing"))


def sums() -> list[tuple]:
    return list(AccountYearFlow.objects.order_by("account_id", "year").values_list(
        "account_id", "year", "personal", "collective", "other", "payouts", "weighted"))


def sums_by_hand(accounts) -> list[tuple]:
    """The per-year sums computed in Python from the flows (the definition)."""
    out = []
    for acc in sorted(accounts, key=lambda a: a.pk):
        by_year: dict[int, dict] = defaultdict(lambda: {k: D("0.00") for k in (*CREDIT_KINDS, "payout", "w")})
        for f in account_flows(acc):
            row = by_year[f.year]
            row[f.kind] += f.amount
            row["w"] += f.signed * (13 - f.month)
        out += [(acc.pk, y, r["personal"], r["collective"], r["other"], r["payout"], r["w"])
                for y, r in sorted(by_year.items())]
    return out


@pytest.fixture
def varied(db):
    """12 accounts over 1993–2025 with random credits (several kinds in a month), payouts, years
    without flows, a rate-0 year (2000), no rate in 2003 (GAP); one account refunded to zero."""
    rng = random.Random(11)
    rates = {y: f"0.{rng.randint(0, 450):04d}" for y in range(1993, 2026) if y != GAP}
    rates[2000] = "0.0000"
    set_rates(rates)
    accounts = []
    for i in range(12):
        flows = []
        first = 1993 + 2 * i  # account 5 starts in the gap year, 6 after it
        for year in range(first, 2025):
            if year != first and rng.random() < 0.25:
                continue  # a year without flows
            for month in rng.sample(range(1, 13), rng.randint(1, 3)):
                for kind in rng.sample(CREDIT_KINDS, rng.randint(1, 2)):
                    flows.append((f"{year}-{month:02d}", kind, f"{rng.randint(1, 99999) / 100:.2f}"))
            if rng.random() < 0.3:
                flows.append((f"{year}-{rng.randint(1, 12):02d}", "payout:pension", f"{rng.randint(1, 3000) / 100:.2f}"))
        seen = set()
        flows = [f for f in flows if not ((f[0], f[1]) in seen or seen.add((f[0], f[1])))]
        if i == 11:  # refunded in January 2025: the payout is the balance, the account closes at zero
            rule = {y: D(r) for y, r in rates.items()}
            balance = yearly_table(make_flows(flows), rule, through_year=2024)[-1].closing
            flows.append(("2025-01", "payout:refund", str(balance)))
        accounts.append(make_account(make_person(f"乙{i}", account=None), flows=flows))
    return accounts


def make_flows(flows: list) -> list[Flow]:
    return [Flow(int(ym[:4]), int(ym[5:7]), "payout" if kind.startswith("payout") else kind, D(amount))
            for ym, kind, amount in flows]


def expected_rows(accounts) -> list[tuple]:
    """The pure rule: from the first year with a flow while the years have a rate (through 2025)."""
    rates = rates_map()
    out = []
    for acc in sorted(accounts, key=lambda a: a.pk):
        flows = account_flows(acc)
        first = min(f.year for f in flows)
        last = first
        while last + 1 in rates and last + 1 <= 2025:
            last += 1
        if first not in rates:
            continue  # starts in a year without a rate: no table
        kept = [f for f in flows if f.year <= last]
        out += [(acc.pk, r.year, r.opening, r.credits["personal"], r.credits["collective"], r.credits["other"],
                 r.payouts, r.rate, r.interest, r.closing) for r in yearly_table(kept, rates, through_year=last)]
    return out


def test_refresh_from_flows_matches_the_pure_rule_and_the_sums_their_definition(varied):
    written = rural_years_refresh()
    assert written == len(tables()) == AccountYear.objects.count() == 126
    assert tables() == expected_rows(varied)
    assert sums() == sums_by_hand(varied)
    # the accounts that crossed the gap end in 2002; account 5 starts in the gap year: no table;
    # account 6 starts after the gap and runs to 2025
    by_acc = defaultdict(list)
    for row in tables():
        by_acc[row[0]].append(row[1])
    assert max(by_acc[varied[0].pk]) == GAP - 1 and varied[5].pk not in by_acc
    assert (min(by_acc[varied[6].pk]), max(by_acc[varied[6].pk])) == (2005, 2025)
    refunded = AccountYear.objects.get(account=varied[11], year=2025)
    assert refunded.payouts == refunded.opening > 0 and (refunded.interest, refunded.closing) == (0, 0)
    assert rural_years_recompute() == written and tables() == expected_rows(varied)  # the old name: the same
    # the indexes dropped for the load are back
    with connection.cursor() as cursor:
        cursor.execute("SELECT conrelid::regclass::text, conname, contype FROM pg_constraint WHERE contype IN ('p', 'u') "
                       "AND conrelid IN ('rural_pension_accountyear'::regclass, 'rural_pension_accountyearflow'::regclass) "
                       "ORDER BY 1, 2")
        assert cursor.fetchall() == [("rural_pension_accountyear", "accountyear_unique", "u"),
                                     ("rural_pension_accountyear", "rural_pension_accountyear_pkey", "p"),
                                     ("rural_pension_accountyearflow", "rural_pension_accountyearflow_pkey", "p")]


def test_rerate_over_the_stored_sums_equals_a_refresh_from_the_flows(varied):
    clerk = make_user("nb_rr_clerk")
    rural_years_refresh()
    before = tables()
    assert rural_years_rerate() == len(before) and tables() == before  # nothing changed: same rows
    # a rate correction in the middle: the rows from 2010 on change, the walk starts from 2009's closings
    credited_rate_set(user=clerk, year=2010, rate="0.0421", reason="更正")
    after_rate = tables()
    assert after_rate != before
    assert [r for r in after_rate if r[1] < 2010] == [r for r in before if r[1] < 2010]
    rural_years_refresh()
    assert tables() == after_rate == expected_rows(varied)
    # the gap year gets its rate: the accounts that stopped in 2002 continue, account 5 starts
    credited_rate_set(user=clerk, year=GAP, rate="0.0150", reason="补录")
    after_gap = tables()
    rural_years_refresh()
    assert tables() == after_gap == expected_rows(varied)
    assert AccountYear.objects.filter(account=varied[0], year=2025).exists()
    assert AccountYear.objects.filter(account=varied[5], year=GAP).exists()
    # the first year changes: every row is rebuilt (the table emptied and refilled)
    credited_rate_set(user=clerk, year=1993, rate="0.0100", reason="更正")
    assert tables() == expected_rows(varied)
    # a new last year: one more row per account
    n = AccountYear.objects.count()
    credited_rate_set(user=clerk, year=2026, rate="0.0125", reason="新年度")
    assert AccountYear.objects.count() == n + len({r[0] for r in tables() if r[1] == 2025})
    rows = tables()
    rural_years_refresh()
    assert tables() == rows


def test_the_bulk_planner_settings_do_not_outlive_the_walk(varied):
    query = ("SELECT current_setting('enable_nestloop'), current_setting('enable_mergejoin'), "
             "current_setting('work_mem'), current_setting('max_parallel_workers_per_gather')")
    with connection.cursor() as cursor:
        cursor.execute(query)
        before = cursor.fetchone()
        assert before[:2] == ("on", "on")
        rural_years_refresh()
        rural_years_rerate(from_year=2010)
        rural_years_refresh(account_ids=[varied[0].pk])
        cursor.execute(query)
        assert cursor.fetchone() == before


def test_writers_of_the_cache_take_one_lock_for_the_transaction(varied):
    query = ("SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
             "WHERE l.pid = pg_backend_pid() AND c.relname LIKE 'rural_pension_accountyear%%' "
             "AND l.mode = 'ShareRowExclusiveLock' ORDER BY 1")
    expected = [("rural_pension_accountyear", "ShareRowExclusiveLock"),
                ("rural_pension_accountyearflow", "ShareRowExclusiveLock")]
    with connection.cursor() as cursor:
        cursor.execute(query)
        assert cursor.fetchall() == []
        rural_years_refresh(account_ids=[varied[0].pk])  # a refund's refresh holds it to its commit
        cursor.execute(query)
        assert cursor.fetchall() == expected


def test_a_writer_refreshes_its_accounts_from_a_year_on(varied):
    rural_years_refresh()
    acc = varied[8]  # from 2009, after the gap
    # a new pension payout in 2024 and a credit in 2025: refresh this account from 2024 on
    Payout.objects.create(account=acc, month=dt.date(2024, 12, 1), kind="other", amount=D("77.70"))
    Contribution.objects.create(account=acc, month=dt.date(2025, 2, 1), kind="other", amount=D("12.34"))
    written = rural_years_refresh(account_ids=[acc.pk], from_year=2024)
    assert written == 2  # 2024 and 2025
    partial = (tables(), sums())
    rural_years_refresh()
    assert (tables(), sums()) == partial
    assert tables() == expected_rows(varied) and sums() == sums_by_hand(varied)
    # without from_year: the account's whole table; an account with no flow yet: nothing to write
    Contribution.objects.create(account=acc, month=dt.date(1999, 5, 1), kind="other", amount=D("5.00"))
    rural_years_refresh(account_ids=[acc.pk])
    assert tables() == expected_rows(varied) and sums() == sums_by_hand(varied)
    empty = make_account(make_person("丙", account=None))
    assert rural_years_refresh(account_ids=[empty.pk]) == 0
    assert rural_years_refresh(account_ids=[]) == 0


def test_pension_payouts_refresh_only_their_year_and_equal_a_full_refresh():
    set_rates()
    clerk, reviewer = make_user("nb_rc_clerk"), make_user("nb_rc_rev", reviewer=True)
    other = make_account(make_person("丁", account=None), flows=HAND_FLOWS[:3])
    account = make_account(birth=dt.date(1964, 7, 20), flows=HAND_FLOWS)
    rural_years_refresh()
    account = rural_benefit_start(account=account, start_month="2024-07", user=clerk)
    run = payroll_run_compute(scheme=account.enrollment.scheme, period="2024-08", user=clerk)
    payroll_run_approve(run=run, user=reviewer)
    monthly = PayrollLine.objects.get(run=run, person=account.person).gross
    assert rural_benefit_payouts_record(period="2024-08", user=clerk) == 1
    # 2024: the payout of August earns −5 months: interest and closing fall; 2025 and 2026 follow
    row = AccountYear.objects.get(account=account, year=2024)
    assert row.payouts == monthly
    assert AccountYearFlow.objects.get(account=account, year=2024).weighted == D("240.00") * 11 + D("100.00") * 7 \
        - monthly * 5
    partial = (tables(), sums())
    rural_years_refresh()
    assert (tables(), sums()) == partial
    assert sums() == sums_by_hand([other, account])


def test_rerate_builds_what_is_missing_first(varied):
    rural_years_refresh()
    rows = tables()
    AccountYearFlow.objects.all().delete()
    AccountYear.objects.all().delete()
    assert rural_years_rerate(from_year=2020) == len(rows)
    assert tables() == rows and sums() == sums_by_hand(varied)
    AccountYear.objects.all().delete()  # sums kept, no yearly rows to continue from: every year is walked
    assert rural_years_rerate(from_year=2020) == len(rows) and tables() == rows


def test_the_migration_fills_the_sums_as_the_service_does(varied):
    rural_years_refresh()
    built = sums()
    AccountYearFlow.objects.all().delete()
    from importlib import import_module

    fill = import_module("shebao.rural_pension.migrations.0004_account_year_flow").FILL
    with connection.cursor() as cursor:
        cursor.execute(fill)
    assert sums() == built


def test_flows_and_rates_in_one_read_equal_the_two_reads(varied):
    for acc in varied[:4]:
        flows, rates = account_flows_and_rates(acc)
        assert flows == account_flows(acc) and rates == rates_map()
        assert [(f.year, f.month) for f in flows] == sorted((f.year, f.month) for f in flows)
    CreditedRate.objects.all().delete()
    assert account_flows_and_rates(varied[0])[1] == {}
