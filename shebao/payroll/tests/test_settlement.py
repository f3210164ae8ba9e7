"""终止结算 (``enrollment_terminate_settle``): a death with a pending 补发 smaller and larger than the
overpayment after death settles exactly; a withdrawal pays the person; failures write nothing."""

import datetime as dt
from decimal import Decimal as D

import pytest

from shebao.benefits.models import Adjustment, Enrollment
from shebao.benefits.services import adjustment_create, adjustment_reduce
from shebao.benefits.tests.factories import enroll, make_person, make_user, zg
from shebao.common.models import AuditEvent
from shebao.payroll import schemes
from shebao.payroll.models import PayrollComponent, PayrollLine, PayrollRun
from shebao.payroll.services import (
    PayrollError,
    payroll_oneoff_cancel,
    payroll_run_approve,
    payroll_run_compute,
)
from shebao.payroll.settlement import enrollment_settle_pending, enrollment_terminate_settle
from shebao.registry.services import payee_create

pytestmark = pytest.mark.django_db
DEATH = dt.date(2026, 1, 15)  # paid through 2026-01; 2026-02 and 2026-03 were paid: 2 × 2150.00 overpaid


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


@pytest.fixture
def reviewer(db):
    return make_user("rev1", reviewer=True)


@pytest.fixture
def deceased(clerk, reviewer):
    person = make_person("甲", account="6222020000000001")
    enrollment = enroll(person, user=clerk)  # 2000.00 + 150.00 a month from 2025-01
    for period in ("2026-01", "2026-02", "2026-03"):
        payroll_run_approve(run=payroll_run_compute(scheme=zg(), period=period, user=clerk), user=reviewer)
    return enrollment


def test_death_arrears_smaller_than_overpayment_leaves_exact_receivable(deceased, clerk):
    adjustment_create(enrollment=deceased, kind="arrears", total="1000.55", reason="调待补发", user=clerk)
    adjustment_create(enrollment=deceased, kind="deduction", total="20.00", reason="旧扣减", user=clerk)
    runs = PayrollRun.objects.count()
    s = enrollment_terminate_settle(enrollment=deceased, on=DEATH, reason="death", user=clerk, note="死亡减员")
    assert (s.arrears, s.deductions, s.extra, s.net, s.run) == (D("1000.55"), D("4320.00"), D("0.00"), D("-3319.45"),
                                                                None)
    assert PayrollRun.objects.count() == runs
    receivable = s.netted.receivable
    assert (receivable.kind, receivable.state, receivable.total, receivable.remaining, receivable.source) == (
        "deduction", "pending", D("3319.45"), D("3319.45"), "终止结算待追回")
    others = Adjustment.objects.filter(enrollment=deceased).exclude(pk=receivable.pk)
    assert set(others.values_list("state", "remaining")) == {("settled", D("0.00"))} and others.count() == 3
    e = Enrollment.objects.get(pk=deceased.pk)
    assert (e.payment_status, e.end_month, e.person.death_date) == ("terminated", dt.date(2026, 1, 1), DEATH)
    assert AuditEvent.objects.filter(action="adjustments_net_settle").count() == 1
    ev = AuditEvent.objects.get(action="enrollment_terminate_settle")
    assert (ev.after["net"], ev.after["receivable"]) == ("-3319.45", receivable.pk)
    # the money comes back (income): the 待追回 closes
    adjustment_reduce(adjustment=receivable, amount="3319.45", user=clerk, reason="家属退回", source="收入")
    receivable.refresh_from_db()
    assert (receivable.state, receivable.remaining) == ("settled", D("0.00"))


def test_death_arrears_larger_than_overpayment_pays_the_heir_the_difference(deceased, clerk, reviewer):
    arrears = adjustment_create(enrollment=deceased, kind="arrears", total="5000.55", reason="调待补发", user=clerk)
    heir = make_person("甲之子", account="6228480000000009")
    s = enrollment_terminate_settle(enrollment=deceased, on=DEATH, reason="death", user=clerk, heir=heir)
    assert (s.arrears, s.deductions, s.net) == (D("5000.55"), D("4300.00"), D("700.55"))
    line = s.line
    assert (line.person_id, line.name, line.account_number, line.enrollment_id) == (
        heir.pk, "甲之子", "6228480000000009", deceased.pk)
    assert (line.gross, line.deductions, line.net) == (D("5000.55"), D("4300.00"), D("700.55"))
    assert (s.run.kind, s.run.net, s.run.line_count) == ("one_off", D("700.55"), 1)
    overpaid = Adjustment.objects.get(enrollment=deceased, kind="deduction")
    assert sorted(PayrollComponent.objects.filter(line=line).values_list("kind", "adjustment_id", "amount")) == [
        ("arrears", arrears.pk, D("5000.55")), ("deduction", overpaid.pk, D("4300.00"))]
    # pending until approved; approval consumes both exactly
    assert set(Adjustment.objects.filter(enrollment=deceased).values_list("state", flat=True)) == {"pending"}
    payroll_run_approve(run=s.run, user=reviewer)
    assert set(Adjustment.objects.filter(enrollment=deceased).values_list("state", "remaining")) == {
        ("settled", D("0.00"))}
    with pytest.raises(PayrollError, match="已审核并结清了补发/扣减，不能撤销"):
        payroll_oneoff_cancel(run=s.run, user=reviewer, reason="撤销")
    assert PayrollRun.objects.filter(pk=s.run.pk, state="approved").exists()
    assert AuditEvent.objects.filter(action="enrollment_terminate_settle").count() == 1


def test_death_paid_to_an_organisation_payee_and_a_scheme_termination_hook(deceased, clerk):
    adjustment_create(enrollment=deceased, kind="arrears", total="4000.00", reason="补发", user=clerk)
    payee = payee_create(user=clerk, name="慈溪市殡仪馆", bank="ICBC", account_number="6222020000000077")
    before = schemes._registry.get("ZG")
    schemes.register("ZG", schemes.SchemeRules(
        termination=lambda **kw: [("600.00", "丧葬补助")] if kw["reason"].code == "death" else []))
    try:
        s = enrollment_terminate_settle(enrollment=deceased, on=DEATH, reason="death", user=clerk, heir=payee)
    finally:
        schemes.register("ZG", before) if before else schemes.unregister("ZG")
    assert (s.extra, s.net) == (D("600.00"), D("300.00"))  # 4000 + 600 − 4300
    assert (s.line.payee_id, s.line.person_id, s.line.gross, s.line.net) == (payee.pk, None, D("4600.00"), D("300.00"))
    assert PayrollComponent.objects.get(line=s.line, kind="item").description == "丧葬补助"


def test_withdrawal_pays_the_person_and_failures_write_nothing(deceased, clerk):
    adjustment_create(enrollment=deceased, kind="arrears", total="123.45", reason="补发", user=clerk)
    heir = make_person("乙", account="6228480000000009")
    state = (AuditEvent.objects.count(), PayrollRun.objects.count(), Adjustment.objects.count())

    def nothing_written():
        e = Enrollment.objects.get(pk=deceased.pk)
        assert (e.payment_status, e.end_month, e.person.death_date) == ("active", None, None)
        assert (AuditEvent.objects.count(), PayrollRun.objects.count(), Adjustment.objects.count()) == state

    # a death on 2026-03-10 is paid through 2026-03: nothing overpaid, 123.45 owed and no heir named
    with pytest.raises(PayrollError, match=r"^甲 死亡结算尚有应付款 123\.45，须指定继承人（代领人）或收款方$"):
        enrollment_terminate_settle(enrollment=deceased, on=dt.date(2026, 3, 10), reason="death", user=clerk)
    nothing_written()
    with pytest.raises(PayrollError, match="只有死亡结算可以指定继承人"):
        enrollment_terminate_settle(enrollment=deceased, on=dt.date(2026, 3, 31), reason="transfer", user=clerk,
                                    heir=heir)
    with pytest.raises(PayrollError, match="终止原因 nope 不存在"):
        enrollment_terminate_settle(enrollment=deceased, on=dt.date(2026, 3, 31), reason="nope", user=clerk)
    with pytest.raises(PayrollError, match="不是终止原因"):
        enrollment_terminate_settle(enrollment=deceased, on=dt.date(2026, 3, 31), reason="no_cert",
                                    user=clerk)
    nothing_written()
    s = enrollment_terminate_settle(enrollment=deceased, on=dt.date(2026, 3, 31), reason="transfer", user=clerk)
    assert (s.net, s.line.person_id, s.line.net, s.termination.end_month) == (
        D("123.45"), deceased.person_id, D("123.45"), dt.date(2026, 3, 1))
    with pytest.raises(PayrollError, match="已终止发放"):
        enrollment_terminate_settle(enrollment=deceased, on=dt.date(2026, 3, 31), reason="transfer", user=clerk)
    assert PayrollLine.objects.filter(run=s.run).count() == 1


def test_settlement_run_cancelled_before_approval_is_settled_again(deceased, clerk, reviewer):
    """A settlement run cancelled before approval leaves its 补发/扣减 pending: settling again pays them
    (no second overpayment 扣减, no second termination); nothing pending is refused, writing nothing."""
    adjustment_create(enrollment=deceased, kind="arrears", total="5000.55", reason="调待补发", user=clerk)
    heir = make_person("甲之子", account="6228480000000009")
    s = enrollment_terminate_settle(enrollment=deceased, on=DEATH, reason="death", user=clerk, heir=heir)
    payroll_oneoff_cancel(run=s.run, user=clerk, reason="继承人账户有误")
    assert set(Adjustment.objects.filter(enrollment=deceased).values_list("state", flat=True)) == {"pending"}
    with pytest.raises(PayrollError, match="^甲 死亡结算尚有应付款 700.55，须指定继承人（代领人）或收款方$"):
        enrollment_settle_pending(enrollment=deceased, user=clerk)
    again = enrollment_settle_pending(enrollment=deceased, user=clerk, heir=heir, note="更正后重新结算")
    assert (again.net, again.line.net, again.line.person_id, again.termination) == (D("700.55"), D("700.55"),
                                                                                  heir.pk, None)
    assert Adjustment.objects.filter(enrollment=deceased).count() == 2
    payroll_run_approve(run=again.run, user=reviewer)
    events = AuditEvent.objects.count()
    with pytest.raises(PayrollError, match="^甲 没有待结算的补发或扣减$"):
        enrollment_settle_pending(enrollment=deceased, user=clerk, heir=heir)
    assert AuditEvent.objects.count() == events
