import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, connection, transaction

from shebao.benefits.models import Adjustment
from shebao.benefits.services import (
    adjustment_create,
    enrollment_resume,
    enrollment_suspend,
    enrollment_terminate,
)
from shebao.benefits.tests.factories import enroll, make_person, make_user, zg
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollComponent, PayrollLine, PayrollRun
from shebao.payroll.selectors import payroll_line_explain
from shebao.payroll.services import (
    PayrollError,
    payroll_run_approve,
    payroll_run_compute,
    payroll_run_recompute,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


@pytest.fixture
def reviewer(db):
    return make_user("rev1", reviewer=True)


def month(s: str) -> dt.date:
    y, m = s.split("-")
    return dt.date(int(y), int(m), 1)


def run_month(period, clerk, reviewer):
    run = payroll_run_compute(scheme=zg(), period=period, user=clerk)
    return payroll_run_approve(run=run, user=reviewer)


def line_of(run, person):
    return PayrollLine.objects.get(run=run, person=person)


def test_gross_deduction_carry_over_net(clerk, reviewer):
    person = make_person()
    e = enroll(person, user=clerk)
    adjustment_create(enrollment=e, kind="arrears", total="300.00", reason="补发", user=clerk)
    ded = adjustment_create(enrollment=e, kind="deduction", total="5000.00", reason="多发扣回", user=clerk)

    r1 = run_month("2026-03", clerk, reviewer)
    l1 = line_of(r1, person)
    assert (l1.gross, l1.deductions, l1.net) == (D("2450.00"), D("2450.00"), D("0.00"))
    ded.refresh_from_db()
    assert ded.remaining == D("2550.00") and ded.state == "pending"
    assert (r1.line_count, r1.gross, r1.deductions, r1.net) == (1, D("2450.00"), D("2450.00"), D("0.00"))

    r2 = run_month("2026-04", clerk, reviewer)
    l2 = line_of(r2, person)
    assert (l2.gross, l2.deductions, l2.net) == (D("2150.00"), D("2150.00"), D("0.00"))
    r3 = run_month("2026-05", clerk, reviewer)
    l3 = line_of(r3, person)
    assert (l3.gross, l3.deductions, l3.net) == (D("2150.00"), D("400.00"), D("1750.00"))
    ded.refresh_from_db()
    assert ded.remaining == D("0.00") and ded.state == "settled"
    r4 = run_month("2026-06", clerk, reviewer)
    assert line_of(r4, person).net == D("2150.00")


def test_deduction_with_monthly_cap(clerk, reviewer):
    person = make_person()
    e = enroll(person, user=clerk)
    adjustment_create(enrollment=e, kind="arrears", total="300.00", reason="补发", user=clerk)
    ded = adjustment_create(enrollment=e, kind="deduction", total="5000.00", monthly_cap="500.00",
                            reason="多发扣回", user=clerk)
    r1 = run_month("2026-03", clerk, reviewer)
    assert (line_of(r1, person).gross, line_of(r1, person).deductions, line_of(r1, person).net) == (
        D("2450.00"), D("500.00"), D("1950.00"))
    r2 = run_month("2026-04", clerk, reviewer)
    assert (line_of(r2, person).deductions, line_of(r2, person).net) == (D("500.00"), D("1650.00"))
    ded.refresh_from_db()
    assert ded.remaining == D("4000.00")


def test_two_deductions_in_order_with_caps(clerk, reviewer):
    person = make_person()
    e = enroll(person, user=clerk, items={"basic": "1000.00"})
    a = adjustment_create(enrollment=e, kind="deduction", total="300.00", monthly_cap="200.00", reason="一", user=clerk)
    b = adjustment_create(enrollment=e, kind="deduction", total="5000.00", reason="二", user=clerk)
    r = run_month("2026-03", clerk, reviewer)
    taken = dict(PayrollComponent.objects.filter(line__run=r, kind="deduction").values_list("adjustment_id", "amount"))
    assert taken == {a.pk: D("200.00"), b.pk: D("800.00")}
    r = run_month("2026-04", clerk, reviewer)
    taken = dict(PayrollComponent.objects.filter(line__run=r, kind="deduction").values_list("adjustment_id", "amount"))
    assert taken == {a.pk: D("100.00"), b.pk: D("900.00")}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.state, a.remaining, b.remaining) == ("settled", D("0.00"), D("3300.00"))


def test_suspended_person_gets_no_line_and_is_back_paid_on_resume(clerk, reviewer):
    paid, suspended = make_person("甲"), make_person("乙")
    enroll(paid, user=clerk)
    e = enroll(suspended, user=clerk)
    run_month("2026-02", clerk, reviewer)
    enrollment_suspend(enrollment=e, reason="no_cert", from_month="2026-03", user=clerk)
    r = run_month("2026-03", clerk, reviewer)
    assert list(PayrollLine.objects.filter(run=r).values_list("person_id", flat=True)) == [paid.pk]
    result = enrollment_resume(enrollment=e, from_month="2026-04", user=clerk)
    assert result.arrears.total == D("2150.00") and result.months == [month("2026-03")]
    r = run_month("2026-04", clerk, reviewer)
    assert line_of(r, suspended).gross == D("4300.00")


def test_not_payable_enrollments_leave_nothing_behind(clerk, reviewer):
    """Item amounts are summed before eligibility is applied (it is applied by the lines): an
    enrollment that is suspended, ended or dead in P — with amounts, a pending 补发 and a pending
    扣减 — gets no line, no component, and keeps its adjustments untouched; the payable ones beside
    it are computed to the cent and numbered by 身份证号."""
    payable = [make_person("甲"), make_person("乙")]
    suspended, ended, dead = make_person("丙"), make_person("丁"), make_person("戊")
    for p in payable:
        enroll(p, user=clerk)
    pending = []
    for person in (suspended, ended, dead):
        e = enroll(person, user=clerk)
        pending += [adjustment_create(enrollment=e, kind="arrears", total="300.00", reason="补发", user=clerk),
                    adjustment_create(enrollment=e, kind="deduction", total="100.00", reason="扣回", user=clerk)]
        if person is suspended:
            enrollment_suspend(enrollment=e, reason="no_cert", from_month="2026-03", user=clerk)
        elif person is ended:
            enrollment_terminate(enrollment=e, reason="exit_other", last_month="2026-02", user=clerk)
        else:
            enrollment_terminate(enrollment=e, reason="death", death_date=dt.date(2026, 2, 10), user=clerk)
    r = run_month("2026-03", clerk, reviewer)
    lines = list(PayrollLine.objects.filter(run=r).order_by("seq").values_list("seq", "person_id", "gross", "net"))
    first, second = sorted(payable, key=lambda p: p.id_number)
    assert lines == [(1, first.pk, D("2150.00"), D("2150.00")), (2, second.pk, D("2150.00"), D("2150.00"))]
    assert (r.line_count, r.gross, r.deductions, r.net) == (2, D("4300.00"), D("0.00"), D("4300.00"))
    assert PayrollComponent.objects.filter(line__run=r).count() == 4
    assert not PayrollComponent.objects.filter(adjustment__in=pending).exists()
    for adj in pending:
        adj.refresh_from_db()
        assert (adj.state, adj.remaining) == ("pending", adj.total)


def test_forfeiting_suspension_not_back_paid(clerk, reviewer):
    person = make_person()
    e = enroll(person, user=clerk)
    enrollment_suspend(enrollment=e, reason="prison", from_month="2026-03", user=clerk)
    result = enrollment_resume(enrollment=e, from_month="2026-06", user=clerk)
    assert result.arrears is None
    assert not Adjustment.objects.filter(enrollment=e).exists()


def test_death_no_payment_after_death_month_and_overpayment(clerk, reviewer):
    person = make_person()
    e = enroll(person, user=clerk)
    run_month("2026-03", clerk, reviewer)
    run_month("2026-04", clerk, reviewer)
    result = enrollment_terminate(enrollment=e, reason="death", death_date=dt.date(2026, 3, 17), user=clerk)
    assert result.end_month == month("2026-03")
    assert result.overpaid_months == [month("2026-04")] and result.overpaid == D("2150.00")
    assert result.deduction.kind == "deduction" and result.deduction.total == D("2150.00")
    person.refresh_from_db()
    assert person.death_date == dt.date(2026, 3, 17)
    r = payroll_run_compute(scheme=zg(), period="2026-05", user=clerk)
    assert r.line_count == 0


def test_death_month_is_paid(clerk, reviewer):
    person = make_person()
    e = enroll(person, user=clerk)
    enrollment_terminate(enrollment=e, reason="death", death_date=dt.date(2026, 3, 31), user=clerk)
    r = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    assert line_of(r, person).net == D("2150.00")


def test_approve_by_same_user_refused_and_db_check(clerk, reviewer):
    enroll(make_person(), user=clerk)
    boss = make_user("boss", reviewer=True)
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=boss)
    events = AuditEvent.objects.count()
    with pytest.raises(PayrollError, match="审核人不能与经办人为同一人"):
        payroll_run_approve(run=run, user=boss)
    run.refresh_from_db()
    assert run.state == "computed" and run.approved_by is None and AuditEvent.objects.count() == events
    with pytest.raises(IntegrityError, match="payrollrun_maker_checker"), transaction.atomic():
        PayrollRun.objects.filter(pk=run.pk).update(state="approved", approved_by=boss)


def test_approve_needs_review_permission(clerk):
    enroll(make_person(), user=clerk)
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    with pytest.raises(PayrollError, match="没有审核权限"):
        payroll_run_approve(run=run, user=make_user("clerk2"))
    run.refresh_from_db()
    assert run.state == "computed"


def test_second_regular_run_refused(clerk, reviewer):
    enroll(make_person(), user=clerk)
    run = run_month("2026-03", clerk, reviewer)
    runs, lines = PayrollRun.objects.count(), PayrollLine.objects.count()
    with pytest.raises(PayrollError, match="月度结算已存在"):
        payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    assert (PayrollRun.objects.count(), PayrollLine.objects.count()) == (runs, lines)
    with pytest.raises(IntegrityError, match="payrollrun_one_regular_per_period"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO payroll_payrollrun (scheme_id, period, kind, state, created_by_id, created_at, line_count,"
            " gross, deductions, net, note) VALUES (%s, %s, 'regular', 'computed', %s, now(), 0, 0, 0, 0, '')",
            [run.scheme_id, run.period, clerk.pk])
    with pytest.raises(PayrollError, match="不能重新计算"):
        payroll_run_recompute(run=run, user=clerk)
    with pytest.raises(PayrollError, match="不能再次审核"):
        payroll_run_approve(run=run, user=reviewer)


def test_line_unique_per_person_in_db(clerk):
    person = make_person()
    enroll(person, user=clerk)
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    line = line_of(run, person)
    with pytest.raises(IntegrityError, match="payrollline_one_per_person"), transaction.atomic():
        line.pk = None
        line.seq = 2
        line.save()


def test_recompute_replaces_lines(clerk, reviewer):
    a, b = make_person("甲"), make_person("乙")
    enroll(a, user=clerk)
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    assert run.line_count == 1
    old_ids = set(PayrollLine.objects.filter(run=run).values_list("id", flat=True))
    eb = enroll(b, user=clerk, items={"basic": "1000.00"})
    adjustment_create(enrollment=eb, kind="arrears", total="12.34", reason="补发", user=clerk)
    run = payroll_run_recompute(run=run, user=clerk)
    assert (run.line_count, run.gross, run.net) == (2, D("3162.34"), D("3162.34"))
    assert not PayrollLine.objects.filter(pk__in=old_ids).exists()
    assert list(PayrollLine.objects.filter(run=run).order_by("seq").values_list("seq", flat=True)) == [1, 2]
    approved = payroll_run_approve(run=run, user=reviewer)
    assert approved.state == "approved"


def test_line_explain_components_sum_to_line(clerk, reviewer):
    person = make_person()
    e = enroll(person, user=clerk)
    adjustment_create(enrollment=e, kind="arrears", total="300.00", reason="调待补发", user=clerk)
    adjustment_create(enrollment=e, kind="deduction", total="100.00", reason="多发扣回", user=clerk)
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    info = payroll_line_explain(line_of(run, person))
    assert info["consistent"]
    assert [(c["kind"], c["amount"]) for c in info["components"]] == [
        ("item", D("2000.00")), ("item", D("150.00")), ("arrears", D("300.00")), ("deduction", D("100.00"))]
    assert (info["gross"], info["deductions"], info["net"]) == (D("2450.00"), D("100.00"), D("2350.00"))


def test_line_snapshots_account(clerk):
    person = make_person(account="6222020000000001")
    enroll(person, user=clerk)
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    line = line_of(run, person)
    assert (line.account_number, line.holder_name, line.bank, line.id_number) == (
        "6222020000000001", person.name, "ICBC", person.id_number)


def test_adjustment_taken_by_two_computed_runs_only_once(clerk, reviewer):
    person = make_person()
    e = enroll(person, user=clerk)
    adjustment_create(enrollment=e, kind="arrears", total="300.00", reason="补发", user=clerk)
    r3 = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    r4 = payroll_run_compute(scheme=zg(), period="2026-04", user=clerk)
    payroll_run_approve(run=r3, user=reviewer)
    with pytest.raises(PayrollError, match="请重新计算"):
        payroll_run_approve(run=r4, user=reviewer)
    r4 = payroll_run_recompute(run=r4, user=clerk)
    assert line_of(r4, person).gross == D("2150.00")
