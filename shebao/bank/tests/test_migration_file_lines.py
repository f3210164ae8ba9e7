"""bank migration 0010: file lines keyed by their payroll line, the sent values read from it. Real data
(an export and its return) is taken back to the old shape and forward again: every return line keeps
its line, every sent value its amount; a file line that differs from its payroll line stops the
migration with nothing changed."""

from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection

from shebao.bank.models import BankFileLine, BankTemplate, ReturnLine
from shebao.bank.services import bank_export, bank_return_import
from shebao.bank.tests.helpers import approved_run, bank_answer, make_person, make_user

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = "0009_content_uncompressed", "0010_file_line_keyed_by_payroll_line"


def _migrate(target: str) -> None:
    call_command("migrate", "bank", target, verbosity=0)


def _columns() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'bank_bankfileline'")
        return {r[0] for r in cursor.fetchall()}


def _old_shape() -> tuple[list, list]:
    """At 0009: the file lines as stored (with their own id), and each return line's file line's payroll line."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT payroll_line_id, seq, amount, account_number, holder_name, id_number, name "
                       "FROM bank_bankfileline ORDER BY seq")
        lines = cursor.fetchall()
        cursor.execute("SELECT r.line_no, bl.payroll_line_id, r.ok FROM bank_returnline r "
                       "JOIN bank_bankfileline bl ON bl.id = r.bank_file_line_id ORDER BY r.line_no")
        return lines, cursor.fetchall()


def test_file_lines_and_return_lines_survive_the_migration_both_ways():
    clerk, reviewer = make_user("mig-clerk"), make_user("mig-rev", reviewer=True)
    people = [make_person("张三", "6222020000000000001"), make_person("李四", "6222020000000000002"),
              make_person("王五", "6222020000000000003")]
    run = approved_run([(people[0], "1000.00"), (people[1], "2000.01"), (people[2], "0.01")], clerk, reviewer)
    [icbc] = bank_export(runs=[run], template=BankTemplate.objects.get(code="standard"), user=clerk)
    bank_return_import(data=bank_answer(icbc, {2: "账户冻结"}), filename="r.txt", user=clerk)
    sent = list(icbc.lines.order_by("seq").values_list("payroll_line_id", "seq", "amount", "account_number",
                                                       "holder_name", "id_number", "name"))
    returned = list(ReturnLine.objects.order_by("line_no").values_list("line_no", "bank_file_line_id", "ok"))
    assert sorted(s[2] for s in sent) == [D("0.01"), D("1000.00"), D("2000.01")]
    assert [r[1] for r in returned] == [s[0] for s in sent]  # a return line names its payroll line

    try:
        _migrate(BEFORE)
        assert {"id", "amount", "account_number", "holder_name", "id_number", "name"} <= _columns()
        lines, old_returns = _old_shape()
        assert lines == sent  # the copied values are the payroll lines' exactly
        assert old_returns == [(n, line, ok) for n, line, ok in returned]
        with connection.cursor() as cursor:  # as in a database of some age: file line ids ≠ payroll line ids,
            cursor.execute("UPDATE bank_bankfileline SET id = id + 1000")
            cursor.execute("UPDATE bank_returnline SET bank_file_line_id = bank_file_line_id + 1000")
            # and its one-file-per-line constraint under another name (restored from a dump, say)
            cursor.execute("ALTER TABLE bank_bankfileline RENAME CONSTRAINT bank_bankfileline_payroll_line_id_key "
                           "TO bfl_line_once")
        assert _old_shape()[1] == old_returns

        # a file line that no longer matches its payroll line: the migration stops, nothing changed
        with connection.cursor() as cursor:
            cursor.execute("UPDATE bank_bankfileline SET amount = amount + 0.01 WHERE seq = 2")
        with pytest.raises(DatabaseError, match="报盘明细与其结算明细的金额、账号、户名、身份证号或姓名不一致"):
            _migrate(AFTER)
        assert {"id", "amount"} <= _columns()
        assert _old_shape()[1] == old_returns
        with connection.cursor() as cursor:
            cursor.execute("UPDATE bank_bankfileline SET amount = amount - 0.01 WHERE seq = 2")
    finally:
        _migrate(AFTER)

    assert _columns() == {"payroll_line_id", "bank_file_id", "seq"}
    with connection.cursor() as cursor:  # the new key and the file's numbering: no second index on the key
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'bank_bankfileline' ORDER BY 1")
        assert [r[0] for r in cursor.fetchall()] == ["bank_bankfileline_pkey", "bankfileline_unique_seq"]
    assert list(BankFileLine.objects.order_by("seq").values_list(
        "payroll_line_id", "seq", "amount", "account_number", "holder_name", "id_number", "name")) == sent
    assert list(ReturnLine.objects.order_by("line_no").values_list("line_no", "bank_file_line_id", "ok")) == returned
    assert sorted(rl.bank_file_line.name for rl in ReturnLine.objects.all()) == ["张三", "李四", "王五"]
    assert [rl.bank_file_line.name for rl in ReturnLine.objects.order_by("line_no")] == [s[6] for s in sent]
