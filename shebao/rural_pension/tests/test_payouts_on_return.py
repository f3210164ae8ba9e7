"""NB pensions are written into the 老农保 accounts when the bank confirms them paid (回盘), through the
scheme registry's lines-paid hook; ``shebao rural payouts`` afterwards writes nothing more."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from shebao.bank.models import BankTemplate
from shebao.bank.services import bank_export, bank_reissue, bank_return_import
from shebao.bank.tests.helpers import bank_answer
from shebao.common.models import AuditEvent
from shebao.payroll.models import LineRisk, PayrollLine
from shebao.payroll.services import payroll_line_risk_release, payroll_run_approve, payroll_run_compute
from shebao.rural_pension.models import AccountYear, Payout
from shebao.rural_pension.services import rural_benefit_payouts_record, rural_benefit_start
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_user, set_rates

pytestmark = pytest.mark.django_db
ON = dt.date(2024, 8, 20)


@pytest.fixture
def clerk(db):
    set_rates()
    # the payouts command checks its --as user: 信息修改 of 老农保 (rural_pension.change_ruralaccount)
    return make_user("nb_p_clerk", perms=("rural_pension.change_ruralaccount",))


@pytest.fixture
def reviewer(db):
    return make_user("nb_p_rev", reviewer=True)


def test_return_import_writes_the_paid_pensions_once(clerk, reviewer):
    paid = rural_benefit_start(account=make_account(name="王阿大", birth=dt.date(1960, 1, 5), flows=HAND_FLOWS,
                                                    account="6222020000000001"), start_month="2024-07", user=clerk)
    failing = rural_benefit_start(account=make_account(name="李阿二", birth=dt.date(1960, 2, 5), flows=HAND_FLOWS,
                                                       account="6222020000000002"), start_month="2024-07", user=clerk)
    nb = paid.enrollment.scheme
    run = payroll_run_approve(run=payroll_run_compute(scheme=nb, period="2024-08", user=clerk), user=reviewer)
    standard = BankTemplate.objects.get(code="standard")
    (icbc,) = bank_export(runs=[run], template=standard, user=clerk, on=ON)
    assert not Payout.objects.filter(kind="pension").exists()  # approved and sent: not yet paid
    seq_failing = icbc.lines.get(account_number="6222020000000002").seq
    bank_return_import(data=bank_answer(icbc, {seq_failing: "账号不存在"}), filename="nb.txt", user=clerk)

    line = PayrollLine.objects.get(run=run, person=paid.person)
    (payout,) = Payout.objects.filter(kind="pension")
    assert (payout.account_id, payout.month, payout.amount, payout.payroll_line_id) == (
        paid.pk, dt.date(2024, 8, 1), paid.monthly_benefit, line.pk)
    year = AccountYear.objects.get(account=paid, year=2024)
    assert year.payouts == paid.monthly_benefit  # the yearly table counts it at once
    assert AuditEvent.objects.filter(action="rural_pension_payouts").count() == 1
    # the same return again changes nothing
    bank_return_import(data=bank_answer(icbc, {seq_failing: "账号不存在"}), filename="nb-again.txt", user=clerk)
    assert Payout.objects.filter(kind="pension").count() == 1

    # the failed pension is re-issued and paid: written then, once
    reissue = bank_reissue(run=run, user=clerk)
    payroll_run_approve(run=reissue.run, user=reviewer)
    # to the account the bank refused, unchanged: held out unless a reviewer releases it (risk list)
    (risk,) = LineRisk.objects.filter(line__run=reissue.run)
    payroll_line_risk_release(risk=risk, user=reviewer, reason="已与银行核实，账户已恢复")
    (retry,) = bank_export(runs=[reissue.run], template=standard, user=clerk, on=ON)
    bank_return_import(data=bank_answer(retry), filename="nb-retry.txt", user=clerk)
    failing_line = PayrollLine.objects.get(run=run, person=failing.person)
    assert list(Payout.objects.filter(kind="pension").order_by("account_id").values_list(
        "account_id", "amount", "payroll_line_id")) == sorted([
            (paid.pk, paid.monthly_benefit, line.pk), (failing.pk, failing.monthly_benefit, failing_line.pk)])

    # the command, as documented, afterwards writes nothing more
    out = StringIO()
    call_command("rural", "payouts", "--period", "2024-08", "--as", clerk.username, stdout=out)
    assert out.getvalue().strip() == "记入养老金支付 0 笔"
    assert rural_benefit_payouts_record(period="2024-08", user=clerk) == 0
    assert Payout.objects.filter(kind="pension").count() == 2
    assert AuditEvent.objects.filter(action="rural_pension_payouts").count() == 2
