"""Monthly benefit: fixed at the start of receipt, paid by the NB payroll, the 120-month guarantee, death
before and during receipt with the heir; information changes."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from shebao.benefits.models import Adjustment, BenefitAmount, Enrollment
from shebao.common.models import AuditEvent
from shebao.common.money import quantize
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.services import payroll_run_approve, payroll_run_compute
from shebao.rural_pension.models import Payout, RuralAccount, RuralDocument
from shebao.rural_pension.services import (
    RuralError,
    rural_account_update,
    rural_benefit_payouts_record,
    rural_benefit_start,
    rural_death_guarantee_left,
    rural_death_settle,
    rural_refund_quote,
    rural_refund_settle,
)
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_person, make_user, set_rates

D = Decimal
pytestmark = pytest.mark.django_db
COEFFICIENT = D("0.008631526")


@pytest.fixture
def clerk(db):
    set_rates()
    return make_user("nb_b_clerk")


@pytest.fixture
def reviewer(db):
    return make_user("nb_b_rev", reviewer=True)


def test_benefit_fixed_at_start_and_paid_by_the_payroll(clerk, reviewer):
    account = make_account(birth=dt.date(1964, 7, 20), flows=HAND_FLOWS)
    with pytest.raises(RuralError, match="才年满 60 周岁"):
        rural_benefit_start(account=account, start_month="2024-06", user=clerk)
    accumulation = rural_refund_quote(account=account, on=dt.date(2024, 7, 1)).amount
    # 2640.21 + 240 + 100? no — on 2024-07-01: opening 2640.21, Feb 240 (5 months), Jun 100 (1 month)
    assert accumulation == D("2640.21") + D("240.00") + D("100.00") + quantize(
        D("0.018") * (6 * D("2640.21") + 240 * 5 + 100 * 1) / 12)
    account = rural_benefit_start(account=account, start_month="2024-07", user=clerk)
    monthly = quantize(accumulation * COEFFICIENT)
    assert (account.status, account.benefit_base, account.monthly_benefit) == ("receiving", accumulation, monthly)
    assert BenefitAmount.objects.get(enrollment=account.enrollment).amount == monthly
    assert account.enrollment.scheme.code == "NB"
    with pytest.raises(RuralError, match="领取"):
        rural_refund_settle(account=account, on=timezone.localdate(), pay_method="cash", user=clerk)
    run = payroll_run_compute(scheme=account.enrollment.scheme, period="2024-08", user=clerk)
    line = PayrollLine.objects.get(run=run, person=account.person)
    assert line.net == monthly
    payroll_run_approve(run=run, user=reviewer)
    assert rural_benefit_payouts_record(period="2024-08", user=clerk) == 1
    assert rural_benefit_payouts_record(period="2024-08", user=clerk) == 0  # idempotent
    payout = Payout.objects.get(account=account, kind="pension")
    assert (payout.month, payout.amount, payout.payroll_line_id) == (dt.date(2024, 8, 1), monthly, line.pk)


def test_start_in_already_computed_months_pays_them_as_arrears(clerk, reviewer):
    """A start of receipt back-dated into months whose NB run exists: those months are one 补发 paid by
    the next run (never lost, never twice); a later month's run pays only the monthly amount."""
    other = make_account(birth=dt.date(1960, 1, 5), flows=HAND_FLOWS)
    other = rural_benefit_start(account=other, start_month="2024-07", user=clerk)
    nb = other.enrollment.scheme
    for period in ("2024-07", "2024-08"):
        payroll_run_approve(run=payroll_run_compute(scheme=nb, period=period, user=clerk), user=reviewer)
    account = make_account(birth=dt.date(1964, 7, 20), flows=HAND_FLOWS)
    account = rural_benefit_start(account=account, start_month="2024-07", user=clerk)
    monthly = account.monthly_benefit
    arrears = Adjustment.objects.get(enrollment=account.enrollment)
    assert (arrears.kind, arrears.total, arrears.remaining, arrears.state) == ("arrears", monthly * 2, monthly * 2,
                                                                                "pending")
    assert "2024-07—2024-08，2 个月" in arrears.reason
    line = PayrollLine.objects.get(run=payroll_run_compute(scheme=nb, period="2024-09", user=clerk),
                                   person=account.person)
    assert (line.gross, line.net) == (monthly * 3, monthly * 3)
    # a start from a month not yet computed owes nothing back
    third = make_account(birth=dt.date(1964, 3, 2), flows=HAND_FLOWS)
    third = rural_benefit_start(account=third, start_month="2024-10", user=clerk)
    assert not Adjustment.objects.filter(enrollment=third.enrollment).exists()


def test_guarantee_months_left():
    account = RuralAccount(benefit_start_month=dt.date(2020, 1, 1))
    assert rural_death_guarantee_left(account=account, death_date=dt.date(2020, 1, 31)) == 119
    assert rural_death_guarantee_left(account=account, death_date=dt.date(2024, 6, 3)) == 120 - 54
    assert rural_death_guarantee_left(account=account, death_date=dt.date(2029, 12, 1)) == 0
    assert rural_death_guarantee_left(account=account, death_date=dt.date(2031, 1, 1)) == 0


def test_death_within_guarantee_pays_the_heir(clerk):
    account = make_account(birth=dt.date(1958, 1, 10), flows=HAND_FLOWS)
    account = rural_benefit_start(account=account, start_month="2024-07", user=clerk)
    heir = make_person("王小二", account="6222020000000077")
    result = rural_death_settle(account=account, death_date=dt.date(2025, 3, 9), heir=heir, pay_method="bank",
                                user=clerk, on=timezone.localdate())
    # start 2024-07, death 2025-03: 9 months due (the death month paid) → 111 months left
    assert result.months == 111
    assert result.amount == quantize(account.monthly_benefit * 111)
    doc = result.document
    assert (doc.kind, doc.payee, doc.pay_method) == ("death_guarantee", heir, "bank")
    line = PayrollLine.objects.get(pk=doc.payroll_line_id)
    assert (line.person_id, line.account_number, line.net) == (heir.pk, "6222020000000077", result.amount)
    account.refresh_from_db()
    assert (account.status, account.heir) == ("terminated", heir)
    assert Enrollment.objects.get(pk=account.enrollment_id).payment_status == "terminated"
    assert account.person.__class__.objects.get(pk=account.person_id).death_date == dt.date(2025, 3, 9)
    with pytest.raises(RuralError, match="已终止"):
        rural_refund_quote(account=account, on=timezone.localdate())


def test_death_before_receipt_pays_the_whole_account_to_the_heir(clerk):
    account = make_account(flows=HAND_FLOWS)
    heir = make_person("王小三", account=None)
    on = timezone.localdate()
    balance = rural_refund_quote(account=account, on=on).amount
    result = rural_death_settle(account=account, death_date=dt.date(2025, 12, 1), heir=heir, pay_method="cash",
                                user=clerk, on=on)
    assert (result.kind, result.amount) == ("death_balance", balance)
    assert result.document.payee == heir and result.document.pay_method == "cash"
    assert RuralDocument.objects.get(account=account).amount == balance
    with pytest.raises(RuralError, match="代领人不能是本人"):
        rural_death_settle(account=account, death_date=dt.date(2025, 12, 1), heir=account.person,
                           pay_method="cash", user=clerk)


def test_bank_payment_to_an_heir_without_an_account_is_refused(clerk):
    account = make_account(flows=HAND_FLOWS)
    heir = make_person("无卡继承人", account=None)
    with pytest.raises(RuralError, match="没有登记银行账户"):
        rural_death_settle(account=account, death_date=dt.date(2025, 12, 1), heir=heir, pay_method="bank",
                           user=clerk)
    account.refresh_from_db()
    assert account.status == "paying" and not PayrollRun.objects.exists()


def test_information_change_with_reason_audited(clerk):
    from shebao.registry.models import Region

    account = make_account(flows=HAND_FLOWS)
    with pytest.raises(RuralError, match="修改原因"):
        rural_account_update(user=clerk, account=account, reason="", note="x")
    town = Region.objects.get(name="观海卫镇")
    village = Region.objects.get(name="鸣鹤村")
    with pytest.raises(RuralError, match="不属于"):
        rural_account_update(user=clerk, account=account, reason="迁居", community=village)
    rural_account_update(user=clerk, account=account, reason="迁居", town=town, community=village,
                         status="suspended", person_changes={"residence_address": "鸣鹤村 12 号"})
    account.refresh_from_db()
    assert (account.town, account.community, account.status) == (town, village, "suspended")
    assert account.person.residence_address == "鸣鹤村 12 号"
    event = AuditEvent.objects.filter(action="update", object_type="rural_pension.ruralaccount").latest("id")
    assert event.reason == "迁居" and event.after["status"] == "suspended"
    with pytest.raises(RuralError, match="只能在“缴费”和“中断缴费”之间"):
        rural_account_update(user=clerk, account=account, reason="x", status="refunded")
