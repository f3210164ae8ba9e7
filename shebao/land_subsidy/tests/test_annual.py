"""The TB yearly run (年度发放) through the engine with TB's own registered rule: computed by the command,
refused the second time (clear message, nothing written), approved by another user, exported, returned
with a failure, the failure re-issued (二次报盘) to the corrected account and paid; the roster
(年度发放明细) follows every line to its outcome and exports in the business's layout."""

import datetime as dt
import io
import json
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from python_calamine import CalamineWorkbook

from shebao.bank.models import BankTemplate
from shebao.bank.services import bank_export, bank_reissue, bank_return_import
from shebao.bank.tests.helpers import bank_answer
from shebao.benefits.services import adjustment_create
from shebao.common.masking import Masker
from shebao.common.models import AuditEvent
from shebao.land_subsidy.roster import COLUMNS, write_roster
from shebao.land_subsidy.selectors import roster_rows
from shebao.land_subsidy.tests.factories import make_category, make_tb, make_user
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.services import (
    PayrollError,
    payroll_line_write_off,
    payroll_run_approve,
    payroll_run_compute,
)
from shebao.registry.services import bank_account_set

pytestmark = pytest.mark.django_db
ON = dt.date(2027, 1, 8)


@pytest.fixture
def world(db):
    clerk, reviewer = make_user("tbclerk"), make_user("tbrev", roles=("reviewer",))
    one = make_category("A", "征地补贴一类", user=clerk, amount="1200.00", male=60, female=55)
    two = make_category("B", "征地补贴二类", user=clerk, amount="960.50", male=None, female=None)
    a = make_tb("甲", user=clerk, category=one, birth=dt.date(1950, 3, 1), account="6222020000000001")
    b = make_tb("乙", user=clerk, category=two, birth=dt.date(1990, 3, 1), account="6222020000000002", town="附海镇")
    c = make_tb("丙", user=clerk, category=one, birth=dt.date(1980, 3, 1), account="6222020000000003")  # too young
    d = make_tb("丁", user=clerk, category=one, birth=dt.date(1955, 3, 1), male=False, account="6222020000000004")
    adjustment_create(enrollment=d.enrollment, kind="deduction", total="500.00", reason="多发追回", user=clerk)
    return {"clerk": clerk, "reviewer": reviewer, "a": a, "b": b, "c": c, "d": d,
            "standard": BankTemplate.objects.get(code="standard")}


def _written():
    return (PayrollRun.objects.count(), PayrollLine.objects.count(), AuditEvent.objects.count())


def _compute(user, *extra):
    out = StringIO()
    call_command("payroll", "compute", "--scheme", "TB", "--period", "2026", "--kind", "annual", "--as",
                 user.username, "--json", *extra, stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def test_yearly_run_paid_after_a_failure_is_reissued(world):
    clerk, reviewer, a, b, d = world["clerk"], world["reviewer"], world["a"], world["b"], world["d"]
    summary = _compute(clerk)
    run = PayrollRun.objects.get(pk=summary["run"])
    assert (run.kind, run.period, run.state) == ("annual", dt.date(2026, 1, 1), "computed")
    lines = {ln.person_id: ln for ln in PayrollLine.objects.filter(run=run)}
    # 丙 (44 on the reference date, category 一类 from 60) is not on the roster; 丁 has 500.00 deducted
    assert {pid: (ln.gross, ln.deductions, ln.net) for pid, ln in lines.items()} == {
        a.person_id: (D("1200.00"), D("0.00"), D("1200.00")), b.person_id: (D("960.50"), D("0.00"), D("960.50")),
        d.person_id: (D("1200.00"), D("500.00"), D("700.00"))}
    assert (summary["gross"], summary["deductions"], summary["net"]) == ("3360.50", "500.00", "2860.50")

    # the second time: refused in Chinese, nothing written (by the command and by the service)
    before = _written()
    with pytest.raises(CommandError, match=rf"土保补贴 2026 年的年度发放已存在（批次 {run.pk}，已计算），如需重算"):
        _compute(clerk)
    with pytest.raises(PayrollError, match="年度发放已存在"):
        payroll_run_compute(scheme=run.scheme, period="2026", user=clerk, kind="annual")
    assert _written() == before

    with pytest.raises(PayrollError):
        payroll_run_approve(run=run, user=clerk)  # the maker cannot approve
    payroll_run_approve(run=run, user=reviewer)
    with pytest.raises(CommandError, match="不能重复结算"):
        _compute(clerk)
    assert _written()[:2] == before[:2]
    (icbc,) = bank_export(runs=[run], template=world["standard"], user=clerk, on=ON)
    assert (icbc.line_count, icbc.total) == (3, D("2860.50"))
    seq_of = {ln.account_number: ln.seq for ln in icbc.lines.all()}
    bank_return_import(data=bank_answer(icbc, {seq_of["6222020000000002"]: "户名不符"}), filename="r1.txt",
                       user=clerk)
    failed = PayrollLine.objects.get(run=run, person_id=b.person_id)
    assert (failed.status, failed.paid_amount, failed.fail_reason) == ("failed", D("0.00"), "户名不符")
    assert [r.outcome for r in roster_rows(run)] == ["已支付", "已支付", "失败"]  # 浒山 before 附海

    # 二次报盘 to the corrected account, approved by the reviewer, exported and paid
    bank_account_set(user=clerk, person=b.person, bank="ABC", account_number="6228480000000099", holder_name="乙",
                     valid_from=dt.date(2027, 1, 10))
    reissue = bank_reissue(run=run, user=clerk)
    (line,) = PayrollLine.objects.filter(run=reissue.run)
    assert (line.account_number, line.net, line.origin_line_id) == ("6228480000000099", D("960.50"), failed.pk)
    payroll_run_approve(run=reissue.run, user=reviewer)
    (abc,) = bank_export(runs=[reissue.run], template=world["standard"], user=clerk, on=ON)
    bank_return_import(data=bank_answer(abc), filename="r2.txt", user=clerk)
    line.refresh_from_db()
    failed.refresh_from_db()
    assert (line.status, line.paid_amount, failed.status) == ("paid", D("960.50"), "reissued")
    for r in (run, reissue.run):
        r.refresh_from_db()
        assert r.state == "completed"
    rows = roster_rows(run)
    assert [(r.name, r.outcome, r.paid, r.account_number, r.note) for r in rows] == [
        ("甲", "已支付", D("1200.00"), "6222020000000001", ""),
        ("丁", "已支付", D("700.00"), "6222020000000004", ""),
        ("乙", "已支付", D("960.50"), "6228480000000099", "二次报盘")]

    # the roster in the business's layout: title, run line, column titles, rows by town with 小计, 合计
    buf = io.BytesIO()
    totals = write_roster(buf, run, today=dt.date(2027, 1, 20))
    assert totals == {"count": 3, "gross": D("3360.50"), "deductions": D("500.00"), "net": D("2860.50"),
                      "paid": D("2860.50")}
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(buf.getvalue())).get_sheet_by_index(0).to_python()
    cells = [[c for c in row] for row in sheet]
    assert cells[0][0] == "慈溪市土保补贴人员 2026 年度发放明细"
    assert cells[1][:5] == [f"批次：{run.pk}", "状态：已完成", "制表日期：2027-01-20", "人数：3", "实发合计：2,860.50"]
    assert cells[2] == COLUMNS
    town_a = a.person.town.name
    body = [(r[0], r[1], r[2], r[3], r[5], r[6], r[7], r[10], r[11], r[12]) for r in cells[3:]]
    assert body == [
        (1, town_a, "甲", a.person.id_number, 1200.0, 0.0, 1200.0, "已支付", 1200.0, ""),
        (2, town_a, "丁", d.person.id_number, 1200.0, 500.0, 700.0, "已支付", 700.0, ""),
        ("", town_a, "小计", "2 人", 2400.0, 500.0, 1900.0, "", 1900.0, ""),
        (3, "附海镇", "乙", b.person.id_number, 960.5, 0.0, 960.5, "已支付", 960.5, "二次报盘"),
        ("", "附海镇", "小计", "1 人", 960.5, 0.0, 960.5, "", 960.5, ""),
        ("", "", "合计", "3 人", 3360.5, 500.0, 2860.5, "", 2860.5, ""),
    ]
    masked = io.BytesIO()
    write_roster(masked, run, masker=Masker(can_view=False))
    text = str(CalamineWorkbook.from_filelike(io.BytesIO(masked.getvalue())).get_sheet_by_index(0).to_python())
    assert a.person.id_number not in text and "6222020000000001" not in text


def test_a_failed_line_written_off_closes_the_roster(world):
    clerk, reviewer, b = world["clerk"], world["reviewer"], world["b"]
    run = PayrollRun.objects.get(pk=_compute(clerk)["run"])
    payroll_run_approve(run=run, user=reviewer)
    (icbc,) = bank_export(runs=[run], template=world["standard"], user=clerk, on=ON)
    seq = icbc.lines.get(account_number="6222020000000002").seq
    bank_return_import(data=bank_answer(icbc, {seq: "账户冻结"}), filename="r1.txt", user=clerk)
    failed = PayrollLine.objects.get(run=run, person_id=b.person_id)
    payroll_line_write_off(line=failed, user=reviewer, reason="本人放弃领取")
    row = next(r for r in roster_rows(run) if r.name == "乙")
    assert (row.outcome, row.paid, row.note) == ("已核销", D("0.00"), "账户冻结")
