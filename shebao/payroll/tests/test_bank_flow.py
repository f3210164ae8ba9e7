import datetime as dt
from decimal import Decimal as D

import pytest

from shebao.benefits.services import adjustment_create
from shebao.benefits.tests.factories import enroll, make_person, make_user, zg
from shebao.payroll.models import MonthEndSnapshot, PayrollLine, PayrollRun
from shebao.payroll.selectors import payroll_line_explain, payroll_lines_for_export
from shebao.payroll.services import (
    PayrollError,
    payroll_line_write_off,
    payroll_lines_apply_results,
    payroll_oneoff_create,
    payroll_reissue_create,
    payroll_run_approve,
    payroll_run_compute,
    payroll_run_mark_exported,
)
from shebao.registry.services import bank_account_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


@pytest.fixture
def reviewer(db):
    return make_user("rev1", reviewer=True)


def send(run, clerk, reviewer):
    run = payroll_run_approve(run=run, user=reviewer)
    return payroll_run_mark_exported(run=run, user=clerk)


def test_failed_corrected_reissue_until_paid(clerk, reviewer):
    ok, bad = make_person("甲", account="6222020000000001"), make_person("乙", account="6222020000000002")
    enroll(ok, user=clerk)
    eb = enroll(bad, user=clerk)
    adjustment_create(enrollment=eb, kind="deduction", total="2150.00", reason="全额扣回", user=clerk)
    zero = make_person("丙")
    ez = enroll(zero, user=clerk, items={"basic": "100.00"})
    adjustment_create(enrollment=ez, kind="deduction", total="100.00", reason="扣完", user=clerk)
    paid = make_person("丁", account="6222020000000003")
    enroll(paid, user=clerk, items={"basic": "999.99"})
    run = send(payroll_run_compute(scheme=zg(), period="2026-03", user=clerk), clerk, reviewer)
    # bad's deduction made net 0 → no bank file; the net-0 lines are settled as paid 0.00
    assert sorted(line.name for line in payroll_lines_for_export(run)) == ["丁", "甲"]
    assert run.state == "exported"
    line_ok = PayrollLine.objects.get(run=run, person=ok)
    line_paid = PayrollLine.objects.get(run=run, person=paid)
    payroll_lines_apply_results(run=run, results=[(line_ok.pk, D("0.00"), False, "户名不符"),
                                                  (line_paid.pk, D("999.99"), True, "")], user=clerk)
    run.refresh_from_db()
    assert run.state == "returned"
    line_ok.refresh_from_db()
    assert (line_ok.status, line_ok.fail_reason) == ("failed", "户名不符")

    # the same result again changes nothing; a contradicting one is refused
    assert payroll_lines_apply_results(run=run, results=[(line_ok.pk, D("0.00"), False, "户名不符")],
                                       user=clerk)["updated"] == 0
    with pytest.raises(PayrollError, match="与本次回盘结果不符"):
        payroll_lines_apply_results(run=run, results=[(line_ok.pk, D("2150.00"), True, "")], user=clerk)

    bank_account_set(user=clerk, person=ok, bank="ABC", account_number="6228480000000009", holder_name="甲",
                     valid_from=dt.date(2026, 4, 1))
    r1 = payroll_reissue_create(run=run, user=clerk)
    (l1,) = PayrollLine.objects.filter(run=r1)
    assert (l1.account_number, l1.bank, l1.net, l1.origin_line_id) == ("6228480000000009", "ABC", D("2150.00"), line_ok.pk)
    line_ok.refresh_from_db()
    assert line_ok.status == "reissued"
    run.refresh_from_db()
    assert run.state == "completed"  # nothing pending or failed left in the original run
    with pytest.raises(PayrollError, match="没有待重新发放"):
        payroll_reissue_create(run=run, user=clerk)

    r1 = send(r1, clerk, reviewer)
    payroll_lines_apply_results(run=r1, results=[(l1.pk, D("0.00"), False, "账户冻结")], user=clerk)
    r2 = payroll_reissue_create(run=run, user=clerk)  # again, from the original run: takes r1's failed line
    (l2,) = PayrollLine.objects.filter(run=r2)
    assert l2.origin_line_id == l1.pk and r2.parent_run_id == run.pk
    r2 = send(r2, clerk, reviewer)
    with pytest.raises(PayrollError, match="不符"):
        payroll_lines_apply_results(run=r2, results=[(l2.pk, D("2000.00"), True, "")], user=clerk)
    payroll_lines_apply_results(run=r2, results=[(l2.pk, D("2150.00"), True, "")], user=clerk)
    r2.refresh_from_db()
    assert r2.state == "completed"
    explained = payroll_line_explain(PayrollLine.objects.get(pk=l2.pk))
    assert [c["line_id"] for c in explained["origin_chain"]] == [l1.pk, line_ok.pk]
    # paid once: only one line of this person is paid
    assert PayrollLine.objects.filter(person=ok, status="paid").count() == 1
    snap = MonthEndSnapshot.objects.get(scheme=zg(), period=dt.date(2026, 3, 1))
    assert (snap.payable, snap.paid, snap.owed) == (D("3149.99"), D("3149.99"), D("0.00"))
    assert snap.persons_active == 4


def test_write_off_by_reviewer_only(clerk, reviewer):
    person = make_person()
    enroll(person, user=clerk)
    run = send(payroll_run_compute(scheme=zg(), period="2026-03", user=clerk), clerk, reviewer)
    line = PayrollLine.objects.get(run=run)
    with pytest.raises(PayrollError, match="只有失败"):
        payroll_line_write_off(line=line, user=reviewer, reason="x")
    payroll_lines_apply_results(run=run, results=[(line.pk, D("0"), False, "已销户")], user=clerk)
    with pytest.raises(PayrollError, match="只有审核员"):
        payroll_line_write_off(line=line, user=clerk, reason="x")
    with pytest.raises(PayrollError, match="核销原因"):
        payroll_line_write_off(line=line, user=reviewer, reason=" ")
    line.refresh_from_db()
    assert line.status == "failed"
    payroll_line_write_off(line=line, user=reviewer, reason="本人已死亡，无继承人")
    line.refresh_from_db()
    run.refresh_from_db()
    assert (line.status, line.written_off_by_id, run.state) == ("written_off", reviewer.pk, "completed")
    with pytest.raises(PayrollError, match="没有待重新发放"):
        payroll_reissue_create(run=run, user=clerk)


def test_export_needs_approval_and_is_idempotent(clerk, reviewer):
    enroll(make_person(), user=clerk)
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    with pytest.raises(PayrollError, match="尚未审核"):
        payroll_run_mark_exported(run=run, user=clerk)
    run = send(run, clerk, reviewer)
    again = payroll_run_mark_exported(run=run, user=clerk)
    assert again.state == "exported" and PayrollLine.objects.get(run=run).status == "sent"


def test_oneoff_run(clerk, reviewer):
    a, b = make_person("甲"), make_person("乙")
    run = payroll_oneoff_create(scheme=zg(), items=[(a, "300.00", "丧葬费"), (b, "50.5", "慰问金")], user=clerk)
    assert (run.kind, run.line_count, run.net) == ("one_off", 2, D("350.50"))
    assert PayrollRun.objects.filter(kind="one_off").count() == 1
    with pytest.raises(PayrollError, match="重复"):
        payroll_oneoff_create(scheme=zg(), items=[(a, "1.00", ""), (a, "2.00", "")], user=clerk)
    with pytest.raises(PayrollError, match="两位小数"):
        payroll_oneoff_create(scheme=zg(), items=[(a, "1.001", "")], user=clerk)
    assert PayrollRun.objects.filter(kind="one_off").count() == 1
    payroll_run_approve(run=run, user=reviewer)
