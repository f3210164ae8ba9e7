"""Refund quote, settle and rollback on the database; the yearly-table cache against the pure rule."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.utils import timezone

from shebao.benefits.months import add_months, month_of
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.services import payroll_run_approve, payroll_run_mark_exported
from shebao.rural_pension.interest import Flow, yearly_table
from shebao.rural_pension.models import (
    AccountYear,
    AccountYearFlow,
    Contribution,
    CreditedRate,
    Payout,
    RuralAccount,
    RuralDocument,
)
from shebao.rural_pension.selectors import account_flows, rates_map
from shebao.rural_pension.services import (
    RuralError,
    credited_rate_set,
    rural_refund_quote,
    rural_refund_rollback,
    rural_refund_settle,
    rural_years_recompute,
)
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_person, make_user, set_rates

D = Decimal
pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def clerk(db):
    return make_user("nb_clerk")


@pytest.fixture
def reviewer(db):
    return make_user("nb_reviewer", reviewer=True)


@pytest.fixture
def account(db):
    set_rates()
    acc = make_account(flows=HAND_FLOWS)
    rural_years_recompute()
    return acc


def state(account):
    """Everything a refund touches, to compare before/after."""
    account = RuralAccount.objects.get(pk=account.pk)
    return (
        account.status, account.closed_on, account.heir_id,
        sorted(Contribution.objects.filter(account=account).values_list("month", "kind", "amount")),
        sorted(Payout.objects.filter(account=account).values_list("month", "kind", "amount")),
        sorted(AccountYear.objects.filter(account=account).values_list("year", "closing")),
        sorted(AccountYearFlow.objects.filter(account=account).values_list(
            "year", "personal", "collective", "other", "payouts", "weighted")),
    )


def test_quote_from_the_database_matches_the_hand_computed_case(account):
    quote = rural_refund_quote(account=account, on=dt.date(2024, 6, 15))
    assert quote.amount == D("3001.45")
    assert [r.closing for r in quote.rows[:4]] == [D("1837.50"), D("2088.44"), D("2588.44"), D("2640.21")]


def test_missing_rate_stops_the_quote_naming_the_year(account):
    CreditedRate.objects.filter(year=2022).delete()
    with pytest.raises(RuralError, match="2022 年度没有记账利率"):
        rural_refund_quote(account=account, on=dt.date(2024, 6, 15))


def test_quote_refused_before_later_flows(account):
    with pytest.raises(RuralError, match="之后还有缴费记录"):
        rural_refund_quote(account=account, on=dt.date(2023, 6, 15))


def test_cash_refund_closes_the_account_and_twice_is_refused(account, clerk):
    expected = rural_refund_quote(account=account, on=TODAY).amount
    doc = rural_refund_settle(account=account, on=TODAY, pay_method="cash", user=clerk, expected_amount=expected)
    assert doc.number == f"NB{TODAY.year}-000001"
    assert doc.amount == expected and doc.state == "settled" and doc.payroll_run_id is None
    account.refresh_from_db()
    assert account.status == "refunded" and account.closed_on == TODAY
    assert Payout.objects.get(account=account, kind="refund").amount == expected
    assert doc.table["amount"] == str(expected)
    # the refund is in the stored sums (a payout of month d weighs 13 − d) and in the yearly table
    assert AccountYearFlow.objects.get(account=account, year=TODAY.year).payouts == expected
    assert AccountYearFlow.objects.get(account=account, year=TODAY.year).weighted == -expected * (13 - TODAY.month)
    rule = yearly_table(account_flows(account), rates_map(), through_year=TODAY.year)
    assert [(r.year, r.payouts, r.closing) for r in rule] == list(
        AccountYear.objects.filter(account=account).order_by("year").values_list("year", "payouts", "closing"))
    assert AuditEvent.objects.filter(action="rural_refund", object_id=str(doc.pk)).exists()
    before = state(account)
    with pytest.raises(RuralError, match="已退保，不能再试算或退款"):
        rural_refund_settle(account=account, on=TODAY, pay_method="cash", user=clerk)
    with pytest.raises(RuralError, match="已退保"):
        rural_refund_quote(account=account, on=TODAY)
    assert state(account) == before
    assert RuralDocument.objects.count() == 1


def test_refund_refused_when_the_confirmed_amount_changed(account, clerk):
    before = state(account)
    with pytest.raises(RuralError, match="退款金额已变化"):
        rural_refund_settle(account=account, on=TODAY, pay_method="cash", user=clerk, expected_amount="1.00")
    assert state(account) == before and not RuralDocument.objects.exists()


def test_bank_refund_without_an_account_is_refused_and_nothing_written(clerk):
    set_rates()
    acc = make_account(make_person("无卡", account=None), flows=HAND_FLOWS)
    before = state(acc)
    with pytest.raises(RuralError, match="没有登记银行账户"):
        rural_refund_settle(account=acc, on=TODAY, pay_method="bank", user=clerk)
    assert state(acc) == before
    assert not PayrollRun.objects.exists() and not RuralDocument.objects.exists()


def test_bank_refund_goes_into_the_nb_flow_and_rolls_back_exactly(account, clerk):
    before = state(account)
    doc = rural_refund_settle(account=account, on=TODAY, pay_method="bank", user=clerk)
    run = PayrollRun.objects.get(pk=doc.payroll_run_id)
    assert (run.scheme.code, run.kind, run.state, run.net) == ("NB", "one_off", "computed", doc.amount)
    line = PayrollLine.objects.get(pk=doc.payroll_line_id)
    assert (line.person_id, line.net, line.account_number) == (account.person_id, doc.amount, "6222021234567890")
    rolled = rural_refund_rollback(document=doc, user=clerk, reason="录入错误")
    assert rolled.state == "rolled_back"
    assert state(account) == before
    assert not PayrollRun.objects.filter(pk=run.pk).exists()
    assert AuditEvent.objects.filter(action="rural_rollback").count() == 1
    with pytest.raises(RuralError, match="已回退"):
        rural_refund_rollback(document=doc, user=clerk, reason="again")
    # the account can be refunded again; the number is never reused
    again = rural_refund_settle(account=account, on=TODAY, pay_method="cash", user=clerk)
    assert again.number == f"NB{TODAY.year}-000002"


def test_rollback_allowed_after_approval_until_exported(account, clerk, reviewer):
    doc = rural_refund_settle(account=account, on=TODAY, pay_method="bank", user=clerk)
    payroll_run_approve(run=PayrollRun.objects.get(pk=doc.payroll_run_id), user=reviewer)
    rural_refund_rollback(document=doc, user=clerk, reason="审核后发现错误")
    account.refresh_from_db()
    assert account.status == "paying"


def test_rollback_refused_after_bank_export(account, clerk, reviewer):
    doc = rural_refund_settle(account=account, on=TODAY, pay_method="bank", user=clerk)
    run = payroll_run_approve(run=PayrollRun.objects.get(pk=doc.payroll_run_id), user=reviewer)
    payroll_run_mark_exported(run=run, user=clerk)
    before = state(account)
    with pytest.raises(RuralError, match="款项已发往银行"):
        rural_refund_rollback(document=doc, user=clerk, reason="太晚了")
    assert state(account) == before
    doc.refresh_from_db()
    assert doc.state == "settled"


def test_rollback_refused_after_bank_file(account, clerk, reviewer):
    from shebao.bank.models import BankTemplate
    from shebao.bank.services import bank_export

    doc = rural_refund_settle(account=account, on=TODAY, pay_method="bank", user=clerk)
    run = payroll_run_approve(run=PayrollRun.objects.get(pk=doc.payroll_run_id), user=reviewer)
    bank_export(runs=[run], template=BankTemplate.objects.filter(active=True).order_by("pk").first(), user=clerk)
    with pytest.raises(RuralError, match="报盘"):
        rural_refund_rollback(document=doc, user=clerk, reason="太晚了")


def test_rollback_refused_next_month(account, clerk):
    doc = rural_refund_settle(account=account, on=TODAY, pay_method="cash", user=clerk)
    before = state(account)
    next_month = add_months(month_of(TODAY), 1)
    with pytest.raises(RuralError, match="只能在当月"):
        rural_refund_rollback(document=doc, user=clerk, reason="跨月", today=next_month)
    assert state(account) == before
    assert RuralDocument.objects.get(pk=doc.pk).state == "settled"


def test_rollback_needs_a_reason(account, clerk):
    doc = rural_refund_settle(account=account, on=TODAY, pay_method="cash", user=clerk)
    with pytest.raises(RuralError, match="回退原因"):
        rural_refund_rollback(document=doc, user=clerk, reason=" ")


# ---------------------------------------------------------------------------------------------------
# the yearly-table cache


def test_set_based_recompute_equals_the_pure_rule(clerk):
    rng = random.Random(7)
    rates = {y: f"0.{rng.randint(0, 450):04d}" for y in range(1993, 2026)}
    rates[2000] = "0.0000"
    set_rates(rates)
    accounts = []
    for i in range(12):
        flows = []
        for year in range(1993 + i, 2025):
            for month in rng.sample(range(1, 13), rng.randint(0, 3)):
                flows.append((f"{year}-{month:02d}", rng.choice(["personal", "collective", "other"]),
                              f"{rng.randint(1, 99999) / 100:.2f}"))
            if rng.random() < 0.2:
                flows.append((f"{year}-{rng.randint(1, 12):02d}", "payout:pension", f"{rng.randint(1, 5000) / 100:.2f}"))
        seen = set()
        flows = [f for f in flows if not ((f[0], f[1]) in seen or seen.add((f[0], f[1])))]
        accounts.append(make_account(make_person(f"甲{i}", account=None), flows=flows))
    written = rural_years_recompute()
    assert written == AccountYear.objects.count() > 0
    for acc in accounts:
        expected = yearly_table(account_flows(acc), rates_map(), through_year=2025)
        got = list(AccountYear.objects.filter(account=acc).order_by("year"))
        assert [(r.year, r.opening, r.credits["personal"], r.credits["collective"], r.credits["other"], r.payouts,
                 r.interest, r.closing) for r in expected] == [
            (g.year, g.opening, g.personal, g.collective, g.other, g.payouts, g.interest, g.closing) for g in got]


def test_rate_change_recomputes(account, clerk):
    rural_years_recompute()
    closing_2021 = AccountYear.objects.get(account=account, year=2021).closing
    credited_rate_set(user=clerk, year=2020, rate="0.0400", reason="更正")
    new = AccountYear.objects.get(account=account, year=2021).closing
    assert new != closing_2021
    # 2020: 1200 × 4% + 600 × 4% / 12 = 50.00 → closing 1850.00 (was 1837.50)
    assert AccountYear.objects.get(account=account, year=2020).closing == D("1850.00")
    with pytest.raises(RuralError, match="最多 4 位小数"):
        credited_rate_set(user=clerk, year=2020, rate="0.04001")


def test_flow_objects_from_the_database(account):
    flows = account_flows(account)
    assert Flow(2021, 7, "payout", D("100.00")) in flows
    assert len(flows) == len(HAND_FLOWS)
