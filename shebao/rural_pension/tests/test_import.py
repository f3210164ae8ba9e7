"""The legacy import: samples load, every rejection case with its reason, the reconciliation balances,
a dry run writes nothing, a re-run changes nothing, encodings are detected."""

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from shebao.common.models import AuditEvent
from shebao.registry.models import BankAccount, Person
from shebao.rural_pension.legacy_import import ImportFileError, decode_lines, rural_import
from shebao.rural_pension.models import (
    AccountYear,
    Contribution,
    CreditedRate,
    ImportBatch,
    ImportReconciliation,
    ImportRejection,
    Payout,
    RuralAccount,
)
from shebao.rural_pension.tests.factories import make_user

D = Decimal
pytestmark = pytest.mark.django_db
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture
def clerk(db):
    return make_user("it1", perms=["accounts.it_ops"])  # `rural import --as` is 信息科's


def counts():
    return (Person.objects.count(), RuralAccount.objects.count(), Contribution.objects.count(),
            Payout.objects.count(), CreditedRate.objects.count(), BankAccount.objects.count(),
            AccountYear.objects.count())


def test_samples_load_then_rerun_changes_nothing(clerk):
    result = rural_import(directory=SAMPLES, user=clerk)
    assert result.rejected_count == 0, [r.as_text() for r in result.rejected]
    assert result.created == {"rates": 33, "persons": 4, "bank_accounts": 3, "accounts": 4, "contributions": 15,
                              "payouts": 3, "enrollments": 1}
    assert all(r.balanced for r in result.reconciliation)
    contributions = next(r for r in result.reconciliation if r.file == "contributions.csv")
    assert (contributions.rows_read, contributions.amount_read) == (15, D("3165.50"))
    # the 15-digit number is upgraded, the original kept
    hu = Person.objects.get(id_number="330282195501011352")
    assert hu.id_number_original == "330282550101135" and hu.name_initials == "hgp"
    assert RuralAccount.objects.get(person=hu).status == "suspended"
    wang = RuralAccount.objects.get(person__id_number="330282196203051238")
    assert (wang.town.name, wang.community.name, wang.enrolled_on) == ("浒山街道", "虞波社区", dt.date(1993, 1, 15))
    assert wang.import_batch == result.batch and wang.person_created_by_import
    assert BankAccount.objects.get(person=wang.person).bank == "CXRCB"
    receiver = RuralAccount.objects.get(person__id_number="33028219480620357X")
    assert (receiver.benefit_start_month, receiver.monthly_benefit) == (dt.date(2008, 7, 1), D("12.86"))
    # paid by the legacy system through 2008-09: the NB monthly payroll from 2008-10
    assert (receiver.enrollment.scheme.code, receiver.enrollment.start_month) == ("NB", dt.date(2008, 10, 1))
    assert AccountYear.objects.filter(account=wang).count() == 2025 - 1993 + 1
    # one audit event for the whole batch, with the counts and the files' hashes
    event = AuditEvent.objects.get(action="rural_import")
    assert event.after["created"]["persons"] == 4 and "sha256" in event.after["files"]["persons.csv"]
    assert ImportReconciliation.objects.filter(batch=result.batch).count() == 4

    before = counts()
    again = rural_import(directory=SAMPLES, user=clerk)
    assert counts() == before
    assert not again.changed and again.rejected_count == 0
    for r in again.reconciliation:
        assert r.rows_new == 0 and r.rows_unchanged == r.rows_read and r.balanced


def test_dry_run_writes_nothing(clerk):
    before = counts()
    events = AuditEvent.objects.count()
    result = rural_import(directory=SAMPLES, user=clerk, dry_run=True)
    assert result.created["contributions"] == 15 and result.batch is None
    assert counts() == before
    assert AuditEvent.objects.count() == events and not ImportBatch.objects.exists()


def _write(dir_: Path, name: str, lines: list, encoding: str = "utf-8") -> None:
    data = b""
    for line in lines:
        data += (line if isinstance(line, bytes) else line.encode(encoding)) + b"\r\n"
    (dir_ / name).write_bytes(data)


GOOD = "330282196203051238"
OTHER = "330282195808122460"  # valid, but not in this persons.csv and not imported before


def test_every_rejection_has_its_reason_and_the_reconciliation_balances(tmp_path, clerk):
    _write(tmp_path, "persons.csv", [
        "身份证号,姓名,性别,出生日期,镇街道,村,参保日期,状态,开户银行,银行账号",
        f"{GOOD},王阿大,男,1962-03-05,浒山街道,虞波社区,1993-01-15,缴费,农商银行,6230910000001234",  # 2
        "330282196203051239,李错号,男,1962-03-05,浒山街道,,1993-01-15,缴费,,",  # 3 check digit
        "330282196203051246,张性别,女,1962-03-05,浒山街道,,1993-01-15,缴费,,",  # 4 a control: sequence 124 is even → 女 is right
        "330282196203051254,赵生日,男,1962-03-06,浒山街道,,1993-01-15,缴费,,",  # 5 birth
        "330282196203051262,钱镇,女,1962-03-05,火星镇,,1993-01-15,缴费,,",  # 6 town
        f"{GOOD},王阿大,男,1962-03-05,浒山街道,虞波社区,1993-01-15,缴费,农商银行,6230910000001234",  # 7 dup
        "330282196203051270,孙状态,男,1962-03-05,浒山街道,,1993-01-15,游泳,,",  # 8 status
        "330282196203051270,周性别,女,1962-03-05,浒山街道,,1993-01-15,缴费,,",  # 9 sex (127 is odd: 男)
    ])
    _write(tmp_path, "contributions.csv", [
        "身份证号,年月,类别,金额",
        f"{GOOD},199301,个人缴费,120.00",  # 2 ok
        f"{GOOD},199302,个人缴费,120.00",  # 3 ok
        "330282196203051239,199301,个人缴费,10.00",  # 4 bad ID
        f"{GOOD},199303,赞助,10.00",  # 5 unknown kind
        f"{GOOD},199313,个人缴费,10.00",  # 6 month 13
        f"{GOOD},199304,个人缴费,-5.00",  # 7 negative
        f"{GOOD},199302,个人缴费,120.00",  # 8 duplicate of 3
        f"{OTHER},199301,个人缴费,50.00",  # 9 unknown person
        f"{GOOD},199305,个人缴费,abc",  # 10 bad amount
        f"{GOOD},199306,个人缴费",  # 11 columns
        GOOD.encode() + b",199307,\xff\xfe\xfd,10.00",  # 12 bad encoding
        f"{GOOD},199308,集体补助,1.005",  # 13 three decimals
    ])
    _write(tmp_path, "payouts.csv", [
        "身份证号,年月,类别,金额",
        f"{GOOD},200001,其他,20.00",  # 2 ok
        f"{GOOD},200002,工资,20.00",  # 3 unknown kind
    ], encoding="gb18030")
    _write(tmp_path, "rates.csv", ["年度,记账利率", "1993,0.0800", "1994,2.5%", "1993,0.0800"])

    result = rural_import(directory=tmp_path, user=clerk)
    reasons = {(r.file, r.line_no): r.reason for r in ImportRejection.objects.filter(batch=result.batch)}
    expect = {
        ("persons.csv", 3): "校验位错误",
        ("persons.csv", 5): "出生日期 1962-03-06 与身份证号",
        ("persons.csv", 6): "镇街道“火星镇”不存在",
        ("persons.csv", 7): "重复行：与第 2 行",
        ("persons.csv", 8): "未知状态“游泳”",
        ("persons.csv", 9): "性别与身份证号 330282196203051270 不一致（应为男）",
        ("contributions.csv", 4): "校验位错误",
        ("contributions.csv", 5): "未知类别“赞助”",
        ("contributions.csv", 6): "年月“199313”无效",
        ("contributions.csv", 7): "金额 -5.00 必须大于 0",
        ("contributions.csv", 8): "重复行：与第 3 行",
        ("contributions.csv", 9): "没有老农保账户",
        ("contributions.csv", 10): "金额“abc”无效",
        ("contributions.csv", 11): "列数应为 4，实际 3 列",
        ("contributions.csv", 12): "编码错误",
        ("contributions.csv", 13): "金额“1.005”无效",
        ("payouts.csv", 3): "未知类别“工资”",
        ("rates.csv", 3): "记账利率“2.5%”无效",
        ("rates.csv", 4): "重复行：与第 2 行",
    }
    # line 4 of persons: sequence 124 is even → 女 is right, so that row is GOOD (a control)
    assert ("persons.csv", 4) not in reasons
    for key, fragment in expect.items():
        assert fragment in reasons.get(key, ""), (key, reasons.get(key))
    assert set(reasons) == set(expect)
    # each rejection keeps its line as read (a duplicate's and a bad value's alike)
    contents = {(r.file, r.line_no): r.content for r in ImportRejection.objects.filter(batch=result.batch)}
    assert contents[("contributions.csv", 8)] == f"{GOOD},199302,个人缴费,120.00"
    assert contents[("contributions.csv", 5)] == f"{GOOD},199303,赞助,10.00"
    assert contents[("contributions.csv", 12)] == (GOOD.encode() + b",199307,\xff\xfe\xfd,10.00").hex(" ")
    assert contents[("persons.csv", 7)].startswith(f"{GOOD},王阿大,男,1962-03-05")
    by_file = {r.file: r for r in result.reconciliation}
    for r in by_file.values():
        assert r.balanced, r
    c = by_file["contributions.csv"]
    assert (c.rows_read, c.rows_new, c.rows_unchanged, c.rows_rejected) == (12, 2, 0, 10)
    # amounts read: 120+120+10+10+10−5+120+50 = 435.00 (abc, 1.005, the short and the undecodable row count 0)
    assert (c.amount_read, c.amount_new, c.amount_rejected) == (D("435.00"), D("240.00"), D("195.00"))
    assert result.files["payouts.csv"]["encoding"] == "GB18030"
    assert result.files["contributions.csv"]["encoding"] == "UTF-8"
    assert by_file["persons.csv"].rows_new == 2  # 王阿大 and 张性别
    assert Contribution.objects.count() == 2 and Payout.objects.count() == 1

    # the same files again: nothing changes, the same rows are rejected again
    before = counts()
    again = rural_import(directory=tmp_path, user=clerk)
    assert counts() == before and not again.changed
    assert again.rejected_count == len(expect)

    # a changed amount for a stored row is a conflict, not an overwrite
    _write(tmp_path, "contributions.csv", ["身份证号,年月,类别,金额", f"{GOOD},199301,个人缴费,999.00"])
    third = rural_import(directory=tmp_path, user=clerk)
    conflict = ImportRejection.objects.get(batch=third.batch, file="contributions.csv")
    assert "与已导入的记录不一致（已有金额 120.00）" in conflict.reason
    assert Contribution.objects.get(account__person__id_number=GOOD, month=dt.date(1993, 1, 1)).amount == D("120.00")


def test_wrong_header_refuses_the_file_and_writes_nothing(tmp_path, clerk):
    _write(tmp_path, "contributions.csv", ["身份证,年月,类别,金额", f"{GOOD},199301,个人缴费,1.00"])
    before = counts()
    with pytest.raises(ImportFileError, match="表头应为"):
        rural_import(directory=tmp_path, user=clerk)
    assert counts() == before and not ImportBatch.objects.exists()


def test_utf8_bom_and_gb18030_detection():
    enc, lines = decode_lines("\ufeff年度,记账利率\n2020,0.01\n".encode())
    assert enc == "UTF-8 (BOM)" and lines[0][1] == "年度,记账利率"
    enc, lines = decode_lines("年度,记账利率\r\n2020,0.01\r\n".encode("gb18030"))
    assert enc == "GB18030" and lines[0][1] == "年度,记账利率" and lines[1][1] == "2020,0.01"


def test_command_line_dry_run_and_commit(tmp_path, clerk, capsys):
    shutil.copytree(SAMPLES, tmp_path / "in")
    call_command("rural", "import", str(tmp_path / "in"), "--dry-run")
    out = capsys.readouterr().out
    assert "试运行（未写入任何数据）" in out and "contributions.csv" in out
    assert not RuralAccount.objects.exists()
    call_command("rural", "import", str(tmp_path / "in"), "--as", clerk.username)
    out = capsys.readouterr().out
    assert "已导入（批次" in out and RuralAccount.objects.count() == 4
