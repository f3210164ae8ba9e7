"""The legacy import against hostile input: a NUL byte, control bytes in an account number, a | or CR
in a name, formulas, full-width amounts — each line rejected with its reason (or read as meant), never
a crash, nothing of that line written; the rejected-rows CSV neutralises formula-leading text."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from shebao.registry.models import BankAccount, Person
from shebao.rural_pension.legacy_import import rejected_csv, rural_import
from shebao.rural_pension.models import Contribution, ImportRejection, RuralAccount
from shebao.rural_pension.tests.factories import make_user

pytestmark = pytest.mark.django_db
HEADER = "身份证号,姓名,性别,出生日期,镇街道,村,参保日期,状态,开户银行,银行账号"
GOOD = "330282196203051238"


def _write(dir_: Path, name: str, lines: list) -> None:
    (dir_ / name).write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\r\n" for x in lines))


def test_hostile_lines_rejected_each_with_its_reason(tmp_path):
    clerk = make_user("it_safety")
    _write(tmp_path, "persons.csv", [
        HEADER,
        f"{GOOD},王阿大,男,1962-03-05,浒山街道,,1993-01-15,缴费,农商银行,6230910000001234",  # 2 good
        "330282196203051289,李\x05四,女,1962-03-05,浒山街道,,1993-01-15,缴费,,",  # 3 control in name
        "330282196203051297,张|三,男,1962-03-05,浒山街道,,1993-01-15,缴费,,",  # 4 | in name
        "33028219620305130X,=HYPERLINK(\"http://x\"),女,1962-03-05,浒山街道,,1993-01-15,缴费,,",  # 5
        "330282196203051318,赵六,男,1962-03-05,浒山街道,,1993-01-15,缴费,工商银行,6222\x05021234567\x18",  # 6
        "330282196203051254,钱七,男,1962-03-05,浒山街道,,1993-01-15,缴费,工商银行,62220212",  # 7 too short
        b"330282196203051262,\xe5\xad\x99\x00,\xe5\xa5\xb3,1962-03-05,\xe6\xb5\x92\xe5\xb1\xb1\xe8\xa1\x97\xe9\x81\x93,,"
        b"1993-01-15,\xe7\xbc\xb4\xe8\xb4\xb9,,",  # 8 NUL
    ])
    _write(tmp_path, "contributions.csv", [
        "身份证号,年月,类别,金额",
        f"{GOOD},199301,个人缴费,１２０．５０",  # 2 full-width: read as 120.50
        f"{GOOD},199302,个人缴费,2e3",  # 3 exponent
        f"{GOOD},199303,个人缴费,NaN",  # 4
        f"{GOOD},199304,个人缴费,1e309",  # 5
        f"{GOOD},199305,个人缴费,12\x0034",  # 6 NUL
    ])
    result = rural_import(directory=tmp_path, user=clerk)
    reasons = {(r.file, r.line_no): r.reason for r in ImportRejection.objects.filter(batch=result.batch)}
    expect = {
        ("persons.csv", 3): "姓名含有控制字符 '\\x05'",
        ("persons.csv", 4): "姓名不能含有字符“|”",
        ("persons.csv", 5): "姓名不能含有字符“=”",
        ("persons.csv", 6): "银行账号只能包含数字 0-9（含有 '\\x05'）",
        ("persons.csv", 7): "中国工商银行账号应为 16–19 位数字，实际 8 位",
        ("persons.csv", 8): "空字符（NUL）",
        ("contributions.csv", 3): "金额“2e3”无效",
        ("contributions.csv", 4): "金额“NaN”无效",
        ("contributions.csv", 5): "金额“1e309”无效",
        ("contributions.csv", 6): "空字符（NUL）",
    }
    assert set(reasons) == set(expect), reasons
    for key, part in expect.items():
        assert part in reasons[key], (key, reasons[key])
    assert list(Person.objects.values_list("id_number", flat=True)) == [GOOD]
    assert list(BankAccount.objects.values_list("account_number", "holder_name")) == [("6230910000001234", "王阿大")]
    assert RuralAccount.objects.count() == 1
    assert list(Contribution.objects.values_list("amount", flat=True)) == [D("120.50")]
    assert all("\x00" not in r.content for r in ImportRejection.objects.all())


def test_rejected_csv_neutralises_formulas(tmp_path):
    from shebao.rural_pension.legacy_import import Rejected

    data = rejected_csv([Rejected("persons.csv", 5, "=cmd|' /C calc'!A0,x", "姓名不能含有字符“=”")])
    text = data.decode("utf-8-sig")
    assert "\"'=cmd|' /C calc'!A0,x\"" in text and "\n=" not in text and ",=" not in text
