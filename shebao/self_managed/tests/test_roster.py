import datetime as dt
import io
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.benefits.models import BenefitAmount, Enrollment, StatusChange, Suspension
from shebao.benefits.tests.factories import make_user
from shebao.common.models import AuditEvent
from shebao.registry.models import BankAccount, Person
from shebao.self_managed.models import RosterImport
from shebao.self_managed.roster import COLUMNS, roster_export_rows, write_roster
from shebao.self_managed.services import roster_import
from shebao.self_managed.tests.make_samples import PEOPLE, idn

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[3] / "docs" / "samples"
A = idn("33028219480312001")  # 胡阿毛 in the sample
B = idn("33028219510707002")  # 孙雅琴


@pytest.fixture
def clerk(db):
    return make_user("zgclerk", perms=["self_managed.manage_zg"])  # `zg import --as` needs 经办 of ZG


def csv_bytes(rows, header=COLUMNS, encoding="utf-8-sig") -> bytes:
    text = ",".join(header) + "\r\n" + "".join(",".join(str(c) for c in r) + "\r\n" for r in rows)
    return text.encode(encoding)


def row(id_number=A, name="胡阿毛", item="基本养老金", amount="2350.00", month="2024-01", status="正常",
        bank="中国工商银行", account="6222023901000012345", holder="胡阿毛", years="32", town="浒山街道",
        phone="13805741234", note=""):
    return [id_number, name, item, amount, month, status, bank, account, holder, years, town, phone, note]


def counts():
    return (Person.objects.count(), Enrollment.objects.count(), BenefitAmount.objects.count(),
            BankAccount.objects.count(), StatusChange.objects.count(), AuditEvent.objects.count(),
            RosterImport.objects.count())


def run_cli(*args) -> str:
    out = io.StringIO()
    call_command("zg", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_dry_run_reports_every_bad_row_kind_and_writes_nothing(clerk):
    existing = Person.objects.create(id_number=B, name="孙雅琴", sex="F", birth_date=dt.date(1951, 7, 7),
                                     town_id=Person._meta.get_field("town").related_model.objects
                                     .filter(level="town").first().pk)
    bad_check = A[:17] + ("0" if A[17] != "0" else "1")
    rows = [
        row(),                                                    # 2 ok
        row(id_number=bad_check),                                 # 3 check digit
        row(id_number=B, name="孙丫琴", holder="孙丫琴"),           # 4 name mismatch
        row(item="高龄补贴"),                                      # 5 unknown item (A again: not a dup)
        row(item="统筹外补贴", amount="abc"),                       # 6 not a number
        row(item="生活补贴", amount="-5"),                          # 7 negative
        row(id_number=idn("33028219500101005"), name="陈志刚", holder="陈志刚", amount="12.345"),  # 8 3 decimals
        row(id_number=idn("33028219440215003"), name="岑国良", holder="岑国良", month="2024-13"),  # 9 bad month
        row(id_number=idn("33028219560920004"), name="徐美娟", holder="徐美娟", status="停发"),    # 10 status
        row(id_number=idn("33028219470101006"), name="张三", holder="张三", bank="火星银行"),       # 11 bank
        row(id_number=idn("33028219470101014"), name="李四", holder="李四", town="月球镇"),         # 12 town
        row(),                                                    # 13 duplicate of row 2
    ]
    before = counts()
    result = roster_import(file_name="r.csv", data=csv_bytes(rows), user=clerk, dry_run=True)
    assert counts() == before
    assert not result.applied
    got = {(e.row, e.column) for e in result.plan.errors}
    assert got == {(3, "身份证号"), (4, "姓名"), (5, "待遇项目"), (6, "月金额"), (7, "月金额"), (8, "月金额"),
                   (9, "开始年月"), (10, "状态"), (11, "开户银行"), (12, "镇街道"), (13, "待遇项目")}
    text = {e.row: e.as_text() for e in result.plan.errors}
    assert "校验位错误" in text[3]
    assert "与系统中该身份证号的姓名“孙雅琴”不一致" in text[4]
    assert "未知的待遇项目“高龄补贴”" in text[5]
    assert "不是数字" in text[6]
    assert "不能为负数" in text[7]
    assert "最多两位小数" in text[8]
    assert "不是有效年月" in text[9]
    assert "未知的状态“停发”" in text[10]
    assert "未知的开户银行“火星银行”" in text[11]
    assert "未知的镇街道“月球镇”" in text[12]
    assert "与第 2 行重复" in text[13]
    assert text[13].startswith("第 13 行 [待遇项目]")
    assert existing.name == "孙雅琴"


def test_one_bad_row_refuses_the_whole_file(clerk):
    rows = [row(), row(item="统筹外补贴", amount="180.00"), row(id_number=B, name="孙雅琴", holder="孙雅琴",
                                                               amount="1.234")]
    before = counts()
    path = Path("/tmp/zg_bad_roster.csv")
    path.write_bytes(csv_bytes(rows))
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 处错误，整个文件未导入"):
        call_command("zg", "import", str(path), "--as", clerk.username, stdout=out, stderr=io.StringIO())
    assert "第 4 行 [月金额]：最多两位小数（1.234）" in out.getvalue()
    assert counts() == before


def test_good_import_creates_exactly_and_second_import_changes_nothing(clerk):
    path = SAMPLES / "zg_roster_sample.xlsx"
    out = run_cli("import", str(path), "--as", clerk.username)
    assert "5 changed" in out
    assert Person.objects.count() == 5
    assert Enrollment.objects.filter(scheme__code="ZG").count() == 5
    hu = Enrollment.objects.get(person__id_number=A)
    assert hu.start_month == dt.date(2024, 1, 1)
    assert hu.service_years == D("32.00")
    assert hu.payment_status == "active"
    amounts = sorted(BenefitAmount.objects.filter(enrollment=hu).values_list("item__code", "amount", "from_month",
                                                                             "to_month"))
    assert amounts == [("basic", D("2350.00"), dt.date(2024, 1, 1), None),
                       ("extra", D("180.00"), dt.date(2024, 1, 1), None),
                       ("living", D("60.00"), dt.date(2024, 1, 1), None)]
    assert BenefitAmount.objects.count() == sum(len(p[2]) for p in PEOPLE) == 11
    acc = BankAccount.objects.get(person__id_number=B)
    assert (acc.bank, acc.account_number, acc.holder_name, acc.valid_to) == ("CXRCB", "6230910299001234567",
                                                                           "孙雅琴", None)
    sun = Person.objects.get(id_number=B)
    assert (sun.town.name, sun.phone, sun.mobile, sun.sex) == ("观海卫镇", "0574-63012345", "", "F")
    xu = Enrollment.objects.get(person__name="徐美娟")
    assert xu.payment_status == "suspended"
    assert Suspension.objects.get(enrollment=xu).reason.code == "other"
    assert RosterImport.objects.get().state == "applied"
    assert AuditEvent.objects.filter(action="roster_import").count() == 1

    before = counts()
    out = run_cli("import", str(path), "--as", clerk.username)
    assert "0 changed" in out
    assert counts()[:6] == before[:6]


def test_amount_change_is_a_new_range_and_keeps_the_old(clerk):
    roster_import(file_name="a.csv", data=csv_bytes([row(), row(item="统筹外补贴", amount="180.00")]), user=clerk)
    e = Enrollment.objects.get(person__id_number=A)
    changed = [row(amount="2450.00", month="2026-01"), row(item="统筹外补贴", amount="180.00", month="2026-01")]
    result = roster_import(file_name="b.csv", data=csv_bytes(changed), user=clerk)
    assert result.changed == 1
    assert result.plan.summary()["changed_amounts"] == 1
    basic = list(BenefitAmount.objects.filter(enrollment=e, item__code="basic").order_by("from_month")
                 .values_list("amount", "from_month", "to_month"))
    assert basic == [(D("2350.00"), dt.date(2024, 1, 1), dt.date(2025, 12, 1)), (D("2450.00"), dt.date(2026, 1, 1), None)]
    extra = list(BenefitAmount.objects.filter(enrollment=e, item__code="extra").values_list("amount", "from_month"))
    assert extra == [(D("180.00"), dt.date(2024, 1, 1))]
    # a change that would overwrite history is a row error, nothing written
    before = counts()
    result = roster_import(file_name="c.csv", data=csv_bytes([row(amount="2500.00", month="2025-06")]), user=clerk)
    assert not result.applied
    assert [(e.row, e.column) for e in result.plan.errors] == [(2, "开始年月")]
    assert "历史标准不可覆盖" in result.plan.errors[0].message
    assert counts() == before


def test_account_change_only_when_different(clerk):
    roster_import(file_name="a.csv", data=csv_bytes([row()]), user=clerk)
    assert BankAccount.objects.filter(person__id_number=A).count() == 1
    result = roster_import(file_name="a.csv", data=csv_bytes([row(bank="工商银行")]), user=clerk)
    assert result.changed == 0
    result = roster_import(file_name="b.csv", data=csv_bytes([row(bank="中国农业银行", account="6228480329009999999")]),
                           user=clerk)
    assert result.plan.summary()["accounts"] == 1
    accounts = list(BankAccount.objects.filter(person__id_number=A).order_by("id").values_list("bank", "valid_to"))
    assert accounts[0][0] == "ICBC" and accounts[0][1] is not None
    assert accounts[1] == ("ABC", None)


def test_status_change_through_roster_is_refused(clerk):
    roster_import(file_name="a.csv", data=csv_bytes([row()]), user=clerk)
    before = counts()
    result = roster_import(file_name="b.csv", data=csv_bytes([row(status="暂停")]), user=clerk)
    assert not result.applied
    assert "暂停、恢复、减员请在待遇管理中办理" in result.plan.errors[0].message
    assert counts() == before


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_import_round_trip_changes_nothing(clerk, fmt, tmp_path):
    run_cli("import", str(SAMPLES / "zg_roster_sample.csv"), "--as", clerk.username)
    e = Enrollment.objects.get(person__id_number=A)
    from shebao.benefits.services import benefit_amount_set

    benefit_amount_set(enrollment=e, item="basic", amount="2399.99", from_month="2025-07", user=clerk)
    target = tmp_path / f"out.{fmt}"
    out = run_cli("export", str(target))
    assert "已导出 5 人 11 行" in out
    before = counts()
    out = run_cli("import", str(target), "--as", clerk.username)
    assert "0 changed" in out
    assert counts()[:6] == before[:6]
    exported = roster_export_rows()
    hu = [r for r in exported if r[0] == A and r[2] == "基本养老金"][0]
    assert (hu[3], hu[4]) == (D("2399.99"), "2025-07")


def test_reads_xls_xlsx_csv_bom_and_gb18030(clerk):
    rows = [row(), row(id_number=B, name="孙雅琴", holder="孙雅琴", town="观海卫镇", bank="慈溪农商银行")]
    for name, data in [("a.csv", csv_bytes(rows, encoding="utf-8-sig")), ("b.csv", csv_bytes(rows, encoding="utf-8")),
                       ("c.csv", csv_bytes(rows, encoding="gb18030"))]:
        result = roster_import(file_name=name, data=data, user=clerk, dry_run=True)
        assert result.plan.ok, result.plan.errors
        assert [p.name for p in result.plan.persons] == ["胡阿毛", "孙雅琴"]
    buf = io.BytesIO()
    write_roster(buf, [[c if i != 3 else D(c) for i, c in enumerate(r)] for r in rows], fmt="xlsx")
    result = roster_import(file_name="d.xlsx", data=buf.getvalue(), user=clerk, dry_run=True)
    assert result.plan.ok and len(result.plan.persons) == 2
    xls = SAMPLES / "zg_roster_sample.xls"
    if xls.exists():
        result = roster_import(file_name="e.xls", data=xls.read_bytes(), user=clerk, dry_run=True)
        assert result.plan.ok and len(result.plan.persons) == 5


def test_sample_files_are_valid(clerk):
    for name in ("zg_roster_sample.xlsx", "zg_roster_sample.csv"):
        out = run_cli("import", str(SAMPLES / name), "--dry-run")
        assert "检查通过（未写入）：共 11 行 5 人：变动 5 人（新增人员 5，新纳入 5" in out
    assert counts() == (0, 0, 0, 0, 0, 0, 0)


def test_import_without_user_is_refused(clerk):
    with pytest.raises(CommandError, match="须用 --as 指定经办人"):
        run_cli("import", str(SAMPLES / "zg_roster_sample.csv"))
    assert Person.objects.count() == 0


def test_new_persons_are_created_set_based_with_every_record_and_audit(clerk):
    """A first-time roster (new persons, a later-month item, an existing person newly enrolled, a
    suspended one) goes through the bulk services: the same rows and audit events as one by one."""
    from shebao.registry.tests.factories import make_person

    known = make_person(name="孙雅琴", id_number=B, town_name="观海卫镇")
    c = idn("33028219400101003")
    rows = [row(),
            row(item="统筹外补贴", amount="180.00", month="2025-07", account="", bank="", holder=""),
            row(id_number=B, name="孙雅琴", amount="1900.00", month="2025-03", account="6230910299001234567",
                bank="慈溪农商银行", holder="孙雅琴", town="", phone="", years="20.5", note="转入"),
            row(id_number=c, name="徐阿大", amount="1500.00", month="2025-01", status="暂停", account="", bank="",
                holder="", phone="")]
    last_event = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    result = roster_import(file_name="first.csv", data=csv_bytes(rows), user=clerk)
    assert result.applied and result.changed == 3
    hu = Enrollment.objects.get(person__id_number=A)
    assert sorted(BenefitAmount.objects.filter(enrollment=hu).values_list("item__code", "amount", "from_month")) == [
        ("basic", D("2350.00"), dt.date(2024, 1, 1)), ("extra", D("180.00"), dt.date(2025, 7, 1))]
    sun = Enrollment.objects.get(person=known)
    assert (sun.start_month, sun.service_years, sun.note) == (dt.date(2025, 3, 1), D("20.50"), "转入")
    assert BankAccount.objects.get(person=known).account_number == "6230910299001234567"
    xu = Enrollment.objects.get(person__id_number=c)
    assert xu.payment_status == "suspended" and Suspension.objects.get(enrollment=xu).reason.code == "other"
    assert not BankAccount.objects.filter(person=xu.person_id).exists()
    events = list(AuditEvent.objects.filter(pk__gt=last_event).order_by("id"))
    kinds = sorted((e.object_type, e.action) for e in events)
    assert kinds == sorted([
        ("registry.person", "create"), ("registry.person", "create"),  # 胡阿毛, 徐阿大
        ("registry.bankaccount", "create"), ("registry.bankaccount", "create"),  # 胡阿毛, 孙雅琴
        ("benefits.enrollment", "create"), ("benefits.enrollment", "create"), ("benefits.enrollment", "create"),
        ("benefits.benefitamount", "create"),  # 胡阿毛's 统筹外补贴 from 2025-07
        ("benefits.enrollment", "suspend"),
        ("self_managed.rosterimport", "roster_import"),
    ])
    assert all(e.reason == "花名册导入 first.csv" for e in events if e.object_type != "benefits.enrollment"
               or e.action == "create")


def test_enrollment_update_through_roster_is_audited(clerk):
    roster_import(file_name="a.csv", data=csv_bytes([row()]), user=clerk)
    roster_import(file_name="b.csv", data=csv_bytes([row(years="33.5", note="档案更正")]), user=clerk)
    hu = Enrollment.objects.get(person__id_number=A)
    assert (hu.service_years, hu.note) == (D("33.50"), "档案更正")
    event = AuditEvent.objects.filter(object_type="benefits.enrollment", action="update").get()
    assert (event.before, event.after, event.reason) == (
        {"service_years": "32.00", "note": ""}, {"service_years": "33.50", "note": "档案更正"}, "花名册导入 b.csv")
