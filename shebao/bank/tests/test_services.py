"""Export, return import and re-issue against real PostgreSQL, with exact amounts; every refusal is
checked for its message AND for nothing having changed."""

import datetime as dt
import gc
import hashlib
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from shebao.bank.formats import BankFileError
from shebao.bank.models import BankFile, BankFileLine, BankTemplate, ReturnFile, ReturnLine
from shebao.bank.selectors import bank_file_lines, bank_file_list, failed_owed_lines
from shebao.bank.services import (
    BankError,
    bank_export,
    bank_line_write_off,
    bank_reissue,
    bank_return_check,
    bank_return_import,
)
from shebao.bank.tests.helpers import approved_run, bank_answer, make_person, make_user
from shebao.common.models import AuditEvent
from shebao.payroll.models import LineRisk, PayrollLine, PayrollRun
from shebao.payroll.services import (
    payroll_line_risk_release,
    payroll_oneoff_create,
    payroll_run_approve,
    payroll_run_compute,
)
from shebao.registry.services import bank_account_set

pytestmark = pytest.mark.django_db
ON = dt.date(2026, 3, 18)
AMOUNTS = {"张三丰": D("2150.00"), "李四": D("1234.56"), "王五": D("0.01"), "欧阳娜娜": D("888.88")}


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


@pytest.fixture
def reviewer(db):
    return make_user("rev1", reviewer=True)


@pytest.fixture
def standard(db):
    return BankTemplate.objects.get(code="standard")


@pytest.fixture
def run(clerk, reviewer):
    people = [make_person("张三丰", "6222021234567890123"), make_person("李四", "6222020000000000001"),
              make_person("王五", "6222020000000000002"), make_person("欧阳娜娜", "6228480000000000017", bank="ABC")]
    return approved_run([(p, str(AMOUNTS[p.name])) for p in people], clerk, reviewer)


def _statuses(run):
    return list(PayrollLine.objects.filter(run=run).order_by("seq").values_list("status", "paid_amount", "fail_reason"))


def _export(run, template, user, **kw):
    return bank_export(runs=[run], template=template, user=user, on=ON, **kw)


def test_export_one_file_per_bank_exact_bytes(run, standard, clerk, tmp_path):
    files = _export(run, standard, clerk, out_dir=tmp_path)
    assert [(f.batch_no, f.bank, f.line_count, f.total) for f in files] == [
        ("20260318ABC001", "ABC", 1, D("888.88")), ("20260318ICBC001", "ICBC", 3, D("3384.57"))]
    icbc = files[1]
    lines = PayrollLine.objects.filter(run=run, bank="ICBC").order_by("seq")
    expected = "H|20260318ICBC001|3|3384.57|20260318\r\n" + "".join(
        f"D|{n}|{ln.account_number}|{ln.holder_name}|{ln.net}|{ln.id_number}|零星发放\r\n"
        for n, ln in enumerate(lines, start=1))
    assert bytes(icbc.content) == expected.encode("gb18030")
    assert icbc.sha256 == hashlib.sha256(expected.encode("gb18030")).hexdigest()
    assert (tmp_path / "20260318ICBC001_standard.txt").read_bytes() == bytes(icbc.content)
    assert list(icbc.lines.order_by("seq").values_list("payroll_line_id", "amount")) == [
        (ln.pk, ln.net) for ln in lines]
    run.refresh_from_db()
    assert run.state == PayrollRun.State.EXPORTED
    assert {s for s, _, _ in _statuses(run)} == {"sent"}
    assert AuditEvent.objects.filter(action="bank_export").count() == 2


def test_export_twice_same_file_no_second_payment(run, standard, clerk, tmp_path):
    first = _export(run, standard, clerk, out_dir=tmp_path / "a")
    audits = AuditEvent.objects.count()
    again = bank_export(runs=[run], template=standard, user=clerk, out_dir=tmp_path / "b",
                        on=dt.date(2026, 4, 1))  # another day: still the stored file and its date
    assert [f.pk for f in again] == [f.pk for f in first]
    for f in first:
        assert (tmp_path / "b" / f.file_name).read_bytes() == (tmp_path / "a" / f.file_name).read_bytes()
    assert BankFile.objects.count() == 2 and BankFileLine.objects.count() == 4
    assert AuditEvent.objects.count() == audits  # nothing new happened


def test_files_stored_byte_for_byte_and_collector_running_after(run, standard, clerk, tmp_path):
    """Payment and return files go to the database as one binary parameter (not the ORM's hex
    literal): read back, they are byte for byte what was written out / received. The garbage
    collector paused during the bulk work runs again afterwards, after a refusal too."""
    assert gc.isenabled()
    icbc = _export(run, standard, clerk, out_dir=tmp_path)[1]
    assert gc.isenabled()
    stored = bytes(BankFile.objects.get(pk=icbc.pk).content)
    assert stored == (tmp_path / icbc.file_name).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == icbc.sha256
    data = bank_answer(icbc, {2: "账户冻结"})
    with pytest.raises(BankFileError):
        bank_return_import(data=data.replace(icbc.batch_no.encode(), b"20990101ICBC001"), filename="x.txt",
                           user=clerk)
    assert gc.isenabled()
    result = bank_return_import(data=data, filename="icbc.txt", user=clerk)
    assert gc.isenabled()
    received = ReturnFile.objects.get(pk=result.return_file.pk)
    assert bytes(received.content) == data and received.sha256 == hashlib.sha256(data).hexdigest()
    assert (received.ok_count, received.failed_count) == (2, 1)


def test_export_of_a_regular_run_settles_net_zero_lines(clerk, reviewer, standard):
    """A computed run whose deductions took a whole line: the export sends the others (已报盘) and
    settles the net-0 line as paid 0.00 — it goes to no file — and the run is 已报盘."""
    from shebao.benefits.services import adjustment_create
    from shebao.benefits.tests.factories import enroll, zg
    from shebao.benefits.tests.factories import make_person as person_of

    paid, zero = person_of("甲", account="6222020000000001"), person_of("乙", account="6222020000000002")
    enroll(paid, user=clerk)
    adjustment_create(enrollment=enroll(zero, user=clerk), kind="deduction", total="2150.00", reason="全额扣回",
                      user=clerk)
    run = payroll_run_approve(run=payroll_run_compute(scheme=zg(), period="2026-03", user=clerk), user=reviewer)
    [icbc] = _export(run, standard, clerk)
    assert (icbc.line_count, icbc.total) == (1, D("2150.00"))
    assert set(PayrollLine.objects.filter(run=run).values_list("person_id", "net", "status", "paid_amount")) == {
        (paid.pk, D("2150.00"), "sent", D("0.00")), (zero.pk, D("0.00"), "paid", D("0.00"))}
    run.refresh_from_db()
    assert run.state == PayrollRun.State.EXPORTED


def test_export_refused_before_approval_and_without_account(clerk, reviewer, standard):
    from shebao.benefits.models import Scheme

    p = make_person("赵六", "6222020000000000009")
    computed = payroll_oneoff_create(scheme=Scheme.objects.get(code="ZG"), items=[(p, "10.00", "")], user=clerk,
                                     period="2026-03")
    with pytest.raises(BankError, match="尚未审核，不能报盘"):
        _export(computed, standard, clerk)
    no_account = approved_run([(make_person("钱七", None), "20.00")], clerk, reviewer, period="2026-04")
    with pytest.raises(BankError, match="钱七：没有支付账户"):
        _export(no_account, standard, clerk)
    assert BankFile.objects.count() == 0
    payroll_run_approve(run=computed, user=reviewer)
    assert PayrollLine.objects.get(run=computed).status == "pending"


def test_several_runs_of_one_bank_in_one_file(clerk, reviewer, standard):
    a = approved_run([(make_person("甲", "6222020000000000011"), "100.00")], clerk, reviewer, period="2026-03")
    b = approved_run([(make_person("乙", "6222020000000000012"), "200.00")], clerk, reviewer, period="2026-04")
    files = bank_export(runs=[b, a], template=standard, user=clerk, on=ON)
    assert len(files) == 1 and files[0].line_count == 2 and files[0].total == D("300.00")
    assert sorted(files[0].runs.values_list("pk", flat=True)) == [a.pk, b.pk]
    assert list(files[0].lines.order_by("seq").values_list("name", flat=True)) == ["甲", "乙"]


def test_export_one_bank_at_a_time(run, standard, clerk):
    """Bank A's file is made, its return imported, and only then bank B's file: A's lines are 已报盘 as
    soon as they are in a file, the run is 已报盘 only when every line is in one."""
    first = _export(run, standard, clerk, bank="ICBC")
    assert [f.bank for f in first] == ["ICBC"]
    run.refresh_from_db()
    assert run.state == PayrollRun.State.APPROVED  # the ABC line is not in a file yet
    by_bank = dict(PayrollLine.objects.filter(run=run).values_list("bank", "status").distinct())
    assert by_bank == {"ICBC": "sent", "ABC": "pending"}
    icbc_lines = first[0].lines.order_by("seq")
    failed_seq = 2
    failed_line = icbc_lines.get(seq=failed_seq).payroll_line_id
    result = bank_return_import(data=bank_answer(first[0], {failed_seq: "户名不符"}), filename="icbc.txt", user=clerk)
    assert (result.return_file.ok_count, result.return_file.failed_count) == (2, 1)
    run.refresh_from_db()
    assert run.state == PayrollRun.State.APPROVED  # still waiting for the ABC file
    statuses = dict(PayrollLine.objects.filter(run=run).values_list("pk", "status"))
    assert statuses[failed_line] == "failed"
    assert sorted(statuses.values()) == ["failed", "paid", "paid", "pending"]
    # the same return again changes nothing
    assert not bank_return_import(data=bank_answer(first[0], {failed_seq: "户名不符"}), filename="again.txt",
                                  user=clerk).created
    both = _export(run, standard, clerk)
    assert [f.bank for f in both] == ["ABC", "ICBC"]
    assert both[1].pk == first[0].pk and bytes(both[1].content) == bytes(first[0].content)  # not made again
    run.refresh_from_db()
    assert run.state == PayrollRun.State.PARTLY_RETURNED  # every line in a file, one bank of two has answered
    abc = both[0]
    assert bank_return_import(data=bank_answer(abc), filename="abc.txt", user=clerk).return_file.ok_count == 1
    run.refresh_from_db()
    assert run.state == PayrollRun.State.RETURNED  # the ICBC failure is still owed
    assert [ln.pk for ln in failed_owed_lines(run=run)] == [failed_line]
    assert BankFileLine.objects.filter(bank_file__in=both).count() == 4


def test_return_of_a_line_not_yet_sent_is_refused(run, standard, clerk):
    from shebao.payroll.services import PayrollError, payroll_lines_apply_results

    _export(run, standard, clerk, bank="ICBC")
    abc_line = PayrollLine.objects.get(run=run, bank="ABC")
    with pytest.raises(PayrollError, match="尚未报盘"):
        payroll_lines_apply_results(run=run, results=[(abc_line.pk, abc_line.net, True, "")], user=clerk)
    abc_line.refresh_from_db()
    assert abc_line.status == "pending"


def test_return_import_applies_outcomes(run, standard, clerk):
    files = _export(run, standard, clerk)
    icbc = files[1]
    failed_seq = 2
    result = bank_return_import(data=bank_answer(icbc, {failed_seq: "户名不符"}), filename="ICBC回盘.txt", user=clerk)
    rf = result.return_file
    assert result.created
    failed_amount = AMOUNTS[icbc.lines.get(seq=failed_seq).name]
    assert (rf.line_count, rf.ok_count, rf.ok_total, rf.failed_count, rf.failed_total) == (
        3, 2, D("3384.57") - failed_amount, 1, failed_amount)
    failed_line = icbc.lines.get(seq=failed_seq).payroll_line_id
    for line in PayrollLine.objects.filter(run=run, bank="ICBC"):
        if line.pk == failed_line:
            assert (line.status, line.paid_amount, line.fail_reason) == ("failed", D("0.00"), "户名不符")
        else:
            assert (line.status, line.paid_amount) == ("paid", line.net)
    run.refresh_from_db()
    assert run.state == PayrollRun.State.PARTLY_RETURNED  # the ABC file has no return yet
    owed = list(failed_owed_lines(run=run))
    assert [(ln.pk, ln.bank_reason, ln.batch_no, ln.file_seq) for ln in owed] == [
        (failed_line, "户名不符", icbc.batch_no, failed_seq)]
    listed = bank_file_list().get(pk=icbc.pk)
    assert (listed.return_count, listed.ok_count, listed.failed_count) == (1, 2, 1)
    assert [ln.return_line.ok for ln in bank_file_lines(bank_file=icbc)] == [
        s != failed_seq for s in (1, 2, 3)]


def _amount(bank_file, seq):
    return bank_file.lines.get(seq=seq).amount


def _replace_line(data: bytes, seq: int, old: str, new: str) -> bytes:
    rows = data.decode("gb18030").split("\r\n")
    rows[seq] = rows[seq].replace(old, new, 1)
    return "\r\n".join(rows).encode("gb18030")


def _refusals():
    def wrong_total(f, data):
        head, rest = data.split(b"\r\n", 1)
        parts = head.split(b"|")
        parts[3] = b"9999.99"
        return b"|".join(parts) + b"\r\n" + rest

    def unknown_seq(f, data):
        return _replace_line(data, 3, "R|3|", "R|7|")

    def amount_mismatch(f, data):
        # the bank claims a different amount on line 2, consistently in its own totals
        amount = str(_amount(f, 1))
        bumped = str(_amount(f, 1) + D("1.00"))
        out = _replace_line(data, 1, f"|{amount}|{amount}|", f"|{bumped}|{bumped}|")
        head = out.split(b"\r\n", 1)
        parts = head[0].split(b"|")
        parts[3] = str(f.total + D("1.00")).encode()
        parts[5] = str(D(parts[5].decode()) + D("1.00")).encode()
        return b"|".join(parts) + b"\r\n" + head[1]

    def account_mismatch(f, data):
        acct = f.lines.get(seq=1).account_number
        return _replace_line(data, 1, acct, acct[:-1] + "9")

    def duplicate(f, data):
        rows = data.split(b"\r\n")
        rows.insert(2, rows[1])
        parts = rows[0].split(b"|")
        amount = _amount(f, 1)
        parts[2] = b"4"
        parts[3] = str(f.total + amount).encode()
        parts[4] = b"4"
        parts[5] = str(f.total + amount).encode()
        rows[0] = b"|".join(parts)
        return b"\r\n".join(rows)

    def undecodable(f, data):
        name = f.lines.get(seq=2).holder_name.encode("gb18030")
        return data.replace(name, b"\x80\xff", 1)

    def unknown_batch(f, data):
        return data.replace(f.batch_no.encode(), b"20990101ICBC001")

    def paid_with_wrong_processed(f, data):
        amount = str(_amount(f, 1))
        return _replace_line(data, 1, f"|{amount}|{amount}|0|", f"|{amount}|0.00|0|")

    return [
        (wrong_total, "第1行：汇总行总金额 9999.99 与明细合计"),
        (unknown_seq, "第4行：序号 7 在报盘文件 20260318ICBC001 中不存在"),
        (amount_mismatch, "第2行：序号 1 的金额"),
        (account_mismatch, "第2行：序号 1 的账号"),
        (duplicate, "第3行：序号 1 与第2行重复"),
        (undecodable, "第3行：第"),
        (unknown_batch, "批次号“20990101ICBC001”没有对应的报盘文件（未知批次）"),
        (paid_with_wrong_processed, "第2行：处理成功但实处理金额 0.00 与应处理金额"),
    ]


@pytest.mark.parametrize(("mutate", "message"), _refusals(), ids=lambda v: getattr(v, "__name__", ""))
def test_bad_return_refused_and_nothing_changes(run, standard, clerk, mutate, message):
    icbc = _export(run, standard, clerk)[1]
    before_lines = _statuses(run)
    audits = AuditEvent.objects.count()
    data = mutate(icbc, bank_answer(icbc, {3: "账户冻结"}))
    with pytest.raises(BankFileError) as exc:
        bank_return_import(data=data, filename="bad.txt", user=clerk)
    assert message in str(exc.value)
    with pytest.raises(BankFileError) as checked:  # the confirm step refuses with the same message
        bank_return_check(data=data)
    assert str(checked.value) == str(exc.value)
    assert str(exc.value).startswith("回盘文件被拒绝") or str(exc.value).startswith("文件被拒绝")
    assert ReturnFile.objects.count() == 0 and ReturnLine.objects.count() == 0
    assert _statuses(run) == before_lines
    run.refresh_from_db()
    assert run.state == PayrollRun.State.EXPORTED
    assert AuditEvent.objects.count() == audits


def test_amount_mismatch_message_names_both_amounts(run, standard, clerk):
    icbc = _export(run, standard, clerk)[1]
    mutate = next(f for f, _ in _refusals() if f.__name__ == "amount_mismatch")
    with pytest.raises(BankFileError) as exc:
        bank_return_import(data=mutate(icbc, bank_answer(icbc)), filename="x.txt", user=clerk)
    amount = _amount(icbc, 1)
    assert exc.value.errors == [(2, f"序号 1 的金额 {amount + D('1.00')} 与报盘金额 {amount} 不符")]


def test_same_return_twice_changes_nothing(run, standard, clerk):
    icbc = _export(run, standard, clerk)[1]
    data = bank_answer(icbc, {1: "账号不存在"})
    first = bank_return_import(data=data, filename="r.txt", user=clerk)
    state = _statuses(run)
    audits = AuditEvent.objects.count()
    second = bank_return_import(data=data, filename="r-again.txt", user=clerk)
    assert not second.created and second.return_file.pk == first.return_file.pk
    assert "已于" in second.note and "未做任何更改" in second.note
    assert ReturnFile.objects.count() == 1 and ReturnLine.objects.count() == 3
    assert _statuses(run) == state
    assert AuditEvent.objects.count() == audits


def test_a_line_returned_twice_by_different_files_refused(run, standard, clerk):
    icbc = _export(run, standard, clerk)[1]
    bank_return_import(data=bank_answer(icbc, only={1}), filename="part1.txt", user=clerk)
    state = _statuses(run)
    with pytest.raises(BankFileError, match="第2行：序号 1 已由回盘文件 #\\d+ 回盘，不能重复回盘"):
        bank_return_import(data=bank_answer(icbc, {1: "账号不存在"}), filename="full.txt", user=clerk)
    assert _statuses(run) == state and ReturnFile.objects.count() == 1
    # the rest of the file can still come back on its own
    rest = bank_return_import(data=bank_answer(icbc, only={2, 3}), filename="part2.txt", user=clerk)
    assert rest.created and rest.return_file.line_count == 2


def test_failed_corrected_reissued_paid_completes_run(run, standard, clerk, reviewer):
    files = _export(run, standard, clerk)
    abc, icbc = files
    bank_return_import(data=bank_answer(abc), filename="abc.txt", user=clerk)
    bank_return_import(data=bank_answer(icbc, {2: "账号不存在"}), filename="icbc.txt", user=clerk)
    failed = PayrollLine.objects.get(run=run, status="failed")
    # account not corrected yet: the re-issue says so
    first_try = bank_reissue(run=run, user=clerk)
    assert [a for _, _, a in first_try.same_account] == [failed.account_number]
    payroll_run_approve(run=first_try.run, user=reviewer)
    # the same account the bank rejected: held out of the file unless a reviewer releases it
    risk = LineRisk.objects.get(run=first_try.run)
    assert risk.kinds == "rejected"
    payroll_line_risk_release(risk=risk, user=reviewer, reason="本人称账户已恢复，再试一次")
    retry_file = _export(first_try.run, standard, clerk)[0]
    bank_return_import(data=bank_answer(retry_file, {1: "账号不存在"}), filename="retry.txt", user=clerk)
    # now the clerk corrects the account, and the second re-issue goes to the new one
    bank_account_set(user=clerk, person=failed.person, bank="CCB", account_number="6217000000000000018",
                     holder_name=failed.holder_name, valid_from=dt.date(2026, 3, 25), reason="账号更正")
    reissue = bank_reissue(run=run, user=clerk)
    assert reissue.same_account == []
    assert reissue.run.parent_run_id == run.pk and reissue.run.net == failed.net
    payroll_run_approve(run=reissue.run, user=reviewer)
    new_file = _export(reissue.run, standard, clerk)[0]
    assert (new_file.bank, new_file.line_count, new_file.total) == ("CCB", 1, failed.net)
    assert new_file.lines.get().account_number == "6217000000000000018"
    bank_return_import(data=bank_answer(new_file), filename="ccb.txt", user=clerk)
    for r in (run, first_try.run, reissue.run):
        r.refresh_from_db()
        assert r.state == PayrollRun.State.COMPLETED
    new_line = PayrollLine.objects.get(run=reissue.run)
    assert (new_line.status, new_line.paid_amount) == ("paid", failed.net)
    failed.refresh_from_db()
    assert failed.status == "reissued"
    assert list(failed_owed_lines()) == []


def test_write_off_removes_from_owed_list(run, standard, clerk, reviewer):
    icbc = _export(run, standard, clerk)[1]
    bank_return_import(data=bank_answer(icbc, {3: "已销户"}), filename="r.txt", user=clerk)
    line = failed_owed_lines().get()
    with pytest.raises(BankError, match="只有审核员可以核销"):
        bank_line_write_off(line=line, user=clerk, reason="查无此人")
    bank_line_write_off(line=line, user=reviewer, reason="本人已故，家属放弃领取")
    assert not failed_owed_lines().exists()


def test_fixed_width_export_and_return(run, clerk):
    fixed = BankTemplate.objects.get(code="fixed_fen")
    abc, icbc = _export(run, fixed, clerk)
    content = bytes(icbc.content)
    rows = content.split(b"\r\n")[:-1]
    assert {len(r) for r in rows} == {120}
    assert rows[-1][:1] == b"T" and rows[-1][21:29] == b"00000003"
    assert rows[-1][29:44] == str(int(icbc.total * 100)).rjust(15, "0").encode()
    result = bank_return_import(data=bank_answer(icbc, {1: "户名不符"}), filename="ret.dat", user=clerk)
    assert (result.return_file.ok_count, result.return_file.failed_count) == (2, 1)


def test_xlsx_export_and_return_round_trip(run, clerk, tmp_path):
    xlsx = BankTemplate.objects.get(code="xlsx")
    abc, icbc = _export(run, xlsx, clerk, out_dir=tmp_path)
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(tmp_path / icbc.file_name)).get_sheet_by_index(0).to_python()
    assert rows[0][:2] == ["批次号", icbc.batch_no]
    assert rows[1][:5] == ["序号", "姓名", "卡号", "应处理金额", "备注"] and not any(rows[1][5:])
    assert [r[2] for r in rows[2:]] == list(icbc.lines.order_by("seq").values_list("account_number", flat=True))
    result = bank_return_import(data=bank_answer(icbc, {2: "账户冻结"}), filename="ret.xlsx", user=clerk)
    assert (result.return_file.ok_count, result.return_file.failed_total) == (2, _amount(icbc, 2))
    assert PayrollLine.objects.get(pk=icbc.lines.get(seq=2).payroll_line_id).fail_reason == "账户冻结"


def test_return_read_with_the_template_the_file_was_sent_with(run, standard, clerk):
    icbc = _export(run, standard, clerk)[1]
    standard.definition = {**standard.definition, "delimiter": ","}
    standard.save()
    result = bank_return_import(data=bank_answer(icbc), filename="r.txt", user=clerk)
    assert result.return_file.ok_count == 3


def test_reason_text_stored_exactly_through_copy(run, standard, clerk):
    icbc = _export(run, standard, clerk)[1]
    reason = "账户冻结\\止付\t(司法) N"
    bank_return_import(data=bank_answer(icbc, {1: reason}), filename="r.txt", user=clerk)
    line = ReturnLine.objects.get(ok=False)
    assert (line.reason, line.status_code, line.processed_amount, line.line_no) == (reason, "1", D("0.00"), 2)
    assert PayrollLine.objects.get(pk=line.bank_file_line.payroll_line_id).fail_reason == reason


def test_return_check_writes_nothing(run, standard, clerk):
    icbc = _export(run, standard, clerk)[1]
    data = bank_answer(icbc, {2: "户名不符"}, only={1, 2})
    audits = AuditEvent.objects.count()
    check = bank_return_check(data=data)
    failed_amount = AMOUNTS[icbc.lines.get(seq=2).name]
    assert check.bank_file.pk == icbc.pk
    assert (check.ok_count, check.ok_total, check.failed_count, check.failed_total, check.not_yet_returned) == (
        1, AMOUNTS[icbc.lines.get(seq=1).name], 1, failed_amount, 1)
    assert ReturnFile.objects.count() == 0 and AuditEvent.objects.count() == audits
    assert {s for s, _, _ in _statuses(run)} == {"sent"}


def test_a_sent_line_keeps_what_it_was_sent_as(run, standard, clerk):
    """The file line's amount, account, 户名, 身份证号 and name are its payroll line's: once the line has left
    待发 the database refuses to change them (payroll migration 0007), whatever code tries."""
    pending = PayrollLine.objects.get(run=run, name="李四")
    PayrollLine.objects.filter(pk=pending.pk).update(holder_name="李四改")  # still 待发: may change
    PayrollLine.objects.filter(pk=pending.pk).update(holder_name="李四")
    icbc = _export(run, standard, clerk)[1]
    line = icbc.lines.get(name="李四")
    for change in ({"net": D("1234.57"), "gross": D("1234.57")}, {"account_number": "6222020000000000099"},
                   {"holder_name": "李四四"}, {"id_number": "330282195001010011"}, {"name": "李思"}, {"bank": "ABC"}):
        with pytest.raises(IntegrityError, match="已报盘，其实发金额、开户银行、账号、户名、身份证号和姓名不能再修改"), \
                transaction.atomic():
            PayrollLine.objects.filter(pk=line.payroll_line_id).update(**change)
    assert icbc.lines.filter(pk=line.pk).values_list("amount", "account_number", "holder_name", "name").get() == (
        D("1234.56"), "6222020000000000001", "李四", "李四")
    # the sent line's other columns still change as the bank's answer is applied (status, paid amount, reason)
    bank_return_import(data=bank_answer(icbc, {icbc.lines.get(name="李四").seq: "账户冻结"}), filename="r.txt",
                       user=clerk)
    assert PayrollLine.objects.values_list("status", "fail_reason").get(pk=line.payroll_line_id) == (
        "failed", "账户冻结")
