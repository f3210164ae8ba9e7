"""``shebao bank …`` from the command line: the contract of issue 3."""

import io
import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from shebao.bank.models import BankFile, ReturnFile
from shebao.bank.tests.helpers import approved_run, bank_answer, make_person, make_user
from shebao.payroll.models import PayrollLine, PayrollRun

pytestmark = pytest.mark.django_db


def bank(*args) -> str:
    out = io.StringIO()
    call_command("bank", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def run(db):
    clerk = make_user("clerk1")
    reviewer = make_user("rev1", reviewer=True)
    return approved_run([(make_person("张三", "6222020000000000101"), "1500.00"),
                         (make_person("李四", "6222020000000000102"), "20.50")], clerk, reviewer)


def test_export_json_then_import_return(run, tmp_path):
    data = json.loads(bank("export", str(run.pk), "--template", "standard", "--out", str(tmp_path), "--json",
                           "--as", "clerk1", "--date", "2026-03-18"))
    [f] = data["files"]
    assert (f["batch_no"], f["bank"], f["count"], f["total"], data["total"]) == (
        "20260318ICBC001", "ICBC", 2, "1520.50", "1520.50")
    stored = BankFile.objects.get(pk=f["id"])
    assert f["sha256"] == stored.sha256 and Path(f["path"]).read_bytes() == bytes(stored.content)
    assert f["runs"] == [run.pk]
    again = json.loads(bank("export", str(run.pk), "--template", "standard", "--out", str(tmp_path), "--json"))
    assert again["files"] == data["files"]

    answer = tmp_path / "answer.txt"
    answer.write_bytes(bank_answer(stored, {2: "户名不符"}))
    result = json.loads(bank("import-return", str(answer), "--as", "clerk1", "--json"))
    assert result["created"] and (result["ok_count"], result["failed_count"]) == (1, 1)
    assert result["runs"][str(run.pk)]["state"] == PayrollRun.State.RETURNED
    twice = json.loads(bank("import-return", str(answer), "--as", "clerk1", "--json"))
    assert not twice["created"] and twice["id"] == result["id"] and "未做任何更改" in twice["note"]

    out = bank("reissue", str(run.pk), "--as", "clerk1")
    assert "二次报盘批次" in out and "仍发往原失败账户" in out


def test_refused_return_exits_non_zero_with_message(run, tmp_path):
    bank("export", str(run.pk), "--template", "standard", "--out", str(tmp_path), "--date", "2026-03-18")
    stored = BankFile.objects.get()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(bank_answer(stored).replace(b"|1520.50|", b"|1520.51|", 1))
    before = list(PayrollLine.objects.order_by("pk").values_list("status", flat=True))
    with pytest.raises(CommandError) as exc:
        bank("import-return", str(bad), "--as", "clerk1")
    assert exc.value.returncode == 2
    assert "回盘文件被拒绝" in str(exc.value) and "第1行：汇总行总金额 1520.51 与明细合计 1520.50 不符" in str(exc.value)
    assert ReturnFile.objects.count() == 0
    assert list(PayrollLine.objects.order_by("pk").values_list("status", flat=True)) == before == ["sent", "sent"]


def test_export_unknown_template_and_unapproved(run, tmp_path):
    with pytest.raises(CommandError, match="没有银行模板“nope”"):
        bank("export", str(run.pk), "--template", "nope", "--out", str(tmp_path))
    with pytest.raises(CommandError, match="结算批次 999999 不存在"):
        bank("export", "999999", "--template", "standard", "--out", str(tmp_path))


def test_templates_listed(db):
    rows = json.loads(bank("templates", "--json"))["templates"]
    assert [(r["code"], r["format"]) for r in rows] == [("fixed_fen", "fixed"), ("standard", "delimited"),
                                                        ("xlsx", "xlsx")]
    assert "standard" in bank("templates")


def test_cli_export_without_as_records_who_ran_it(run, tmp_path):
    bank("export", str(run.pk), "--template", "fixed_fen", "--out", str(tmp_path))
    stored = BankFile.objects.get()
    assert stored.created_by is None and stored.created_by_name.startswith("cli:")
    assert stored.file_date == timezone.localdate()
    assert stored.total == D("1520.50")
