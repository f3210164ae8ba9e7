"""The ledger's rules ("Done when" of issue 20): maker-checker in the database, the lock of a reviewed
record, reversals netting to zero, the payee register's checks, the links from the schemes created once,
an expenditure paid through a bank file and its return, and reports that reconcile to the cent."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from stdnum.cn import uscc as stdnum_uscc

from shebao.bank.models import BankFile, BankTemplate
from shebao.bank.services import bank_export, bank_reissue, bank_return_import
from shebao.bank.tests.helpers import bank_answer
from shebao.benefits.tests.factories import make_person
from shebao.common.models import AuditEvent
from shebao.finance import selectors as sel
from shebao.finance.models import Attachment, Entry
from shebao.finance.services import (
    FinanceError,
    attachment_add,
    entry_confirm_arrival,
    entry_create,
    entry_delete,
    entry_pay_by_bank,
    entry_reverse,
    entry_review,
    entry_update,
    report_returned_payment,
    type_by_code,
)
from shebao.payroll import schemes
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.services import payroll_run_approve
from shebao.payroll.tests.helpers import make_user
from shebao.registry.models import Payee
from shebao.registry.services import RegistryError, bank_account_set, payee_change, payee_create

ON = dt.date(2026, 3, 10)
ORG_USCC = "91330282MA2H12345" + stdnum_uscc.calc_check_digit("91330282MA2H12345")


@pytest.fixture
def clerk(db):
    return make_user("ts_clerk", roles=("clerk",))


@pytest.fixture
def finance(db):
    return make_user("ts_fin", roles=("finance",))


@pytest.fixture
def reviewer(db):
    return make_user("ts_rev", roles=("reviewer",))


@pytest.fixture
def org(clerk):
    return payee_create(user=clerk, name="慈溪市社会保险事业管理中心", bank="ICBC", account_number="6222020000000077",
                        uscc=ORG_USCC)


def _entry(user, code="TB_TO_SI_SUBSIDY", amount="12345.67", payee=None, **kw) -> Entry:
    return entry_create(user=user, type=type_by_code(code), amount=amount, occurred_on=ON, payee=payee,
                        voucher_no="记-0301", **kw)


def _events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def test_seeded_types_are_data_with_direction_and_subject(db):
    got = {t.name: (t.direction, bool(t.subject_code and t.subject_name)) for t in sel.types()}
    assert got["土保转社保政府补助支出"] == ("expenditure", True)
    assert got["统筹外经费收回"] == ("income", True)
    assert got["土保待遇退回"] == ("income", True)
    assert got["城乡居保待遇退回"] == ("income", True)


def test_invalid_uscc_is_refused_with_a_clear_message_and_nothing_written(clerk):
    before = Payee.objects.count()
    with pytest.raises(RegistryError) as exc:
        payee_create(user=clerk, name="慈溪市土地储备中心", bank="ICBC", account_number="6222020000000077",
                     uscc="91330282MA2H123450")
    assert str(exc.value) == "统一社会信用代码 91330282MA2H123450 无效（GB 32100 校验未通过），请核对"
    assert Payee.objects.count() == before


def test_same_user_cannot_review_own_record_service_and_database(clerk, finance):
    entry = _entry(finance)
    entry_confirm_arrival(entry=entry, user=finance, arrival_on=ON, amount="12345.67")
    with pytest.raises(FinanceError) as exc:
        entry_review(entry=entry, user=finance)
    assert "由您本人录入，须由另一位复核人复核" in str(exc.value)
    entry.refresh_from_db()
    assert (entry.state, entry.reviewed_by_id) == ("arrived", None)
    # the database refuses it even when code forgets the check
    with pytest.raises(IntegrityError, match="finance_entry_reviewer_not_maker"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(state="reviewed", reviewed_by=finance, reviewed_at=entry.created_at)


def test_arrival_with_another_amount_is_refused_with_the_difference(clerk, finance):
    entry = _entry(clerk)
    with pytest.raises(FinanceError) as exc:
        entry_confirm_arrival(entry=entry, user=finance, arrival_on=ON, amount="12345.00")
    assert str(exc.value) == "到账金额 12345.00 与记录金额 12345.67 不符，相差 -0.67 元，未确认"
    entry.refresh_from_db()
    assert (entry.state, entry.arrival_on, entry.arrival_amount) == ("entered", None, None)
    assert _events("finance_arrival") == 0


def test_reviewed_record_refuses_edit_and_delete_in_service_and_database(clerk, finance, reviewer):
    entry = _entry(clerk)
    entry_update(entry=entry, user=clerk, amount="12000.00", note="更正金额")
    entry.refresh_from_db()
    assert entry.amount == D("12000.00")
    entry_confirm_arrival(entry=entry, user=finance, arrival_on=ON, amount="12000.00")
    entry_review(entry=entry, user=reviewer)
    with pytest.raises(FinanceError, match="已复核，不能修改或删除；如需更正请做红冲"):
        entry_update(entry=entry, user=clerk, amount="1.00")
    with pytest.raises(FinanceError, match="已复核，不能修改或删除"):
        entry_delete(entry=entry, user=clerk, reason="误录")
    with pytest.raises(IntegrityError, match="已复核，不能修改"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount=D("1.00"))
    with pytest.raises(IntegrityError, match="已复核，不能删除"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM finance_entry WHERE id = %s", [entry.pk])
    entry.refresh_from_db()
    assert (entry.amount, entry.state) == (D("12000.00"), "reviewed")
    with pytest.raises(FinanceError, match="已复核，不能再添加附件"):
        attachment_add(entry=entry, user=clerk, file_name="a.pdf", data=b"%PDF-1.4 x")


def test_delete_before_review_and_attachment_checks(clerk):
    entry = _entry(clerk)
    att = attachment_add(entry=entry, user=clerk, file_name="凭证.PDF", data=b"%PDF-1.4\n...")
    assert (att.content_type, att.size) == ("application/pdf", 12)
    for name, data, message in [("a.exe", b"MZ", "附件只接受 PDF、JPG、PNG 文件"),
                                ("a.png", b"%PDF-1.4", "附件“a.png”的内容不是 PNG 文件"),
                                ("a.pdf", b"%PDF" + b"x" * (5 << 20), "超过上限 5 MB")]:
        with pytest.raises(FinanceError) as exc:
            attachment_add(entry=entry, user=clerk, file_name=name, data=data)
        assert message in str(exc.value)
    assert Attachment.objects.filter(entry=entry).count() == 1
    with pytest.raises(FinanceError, match="请填写删除原因"):
        entry_delete(entry=entry, user=clerk, reason=" ")
    entry_delete(entry=entry, user=clerk, reason="误录")
    assert not Entry.objects.filter(pk=entry.pk).exists()
    assert _events("delete") == 1


def test_reversal_nets_the_original_to_zero_in_the_reports(clerk, finance, reviewer):
    keep = _entry(clerk, code="EXTRA_FUND_RECOVERY", amount="500.25")
    wrong = _entry(clerk, amount="12345.67")
    for e in (keep, wrong):
        entry_confirm_arrival(entry=e, user=finance, arrival_on=ON, amount=e.amount)
        entry_review(entry=e, user=reviewer)
    rev = entry_reverse(entry=wrong, user=finance, reason="重复录入", on=ON)
    assert (rev.amount, rev.reversal_of_id, rev.state, rev.direction) == (D("-12345.67"), wrong.pk, "arrived",
                                                                           "expenditure")
    with pytest.raises(FinanceError, match="已红冲过"):
        entry_reverse(entry=wrong, user=finance, reason="again", on=ON)
    with pytest.raises(FinanceError, match="须由另一位复核人复核"):
        entry_review(entry=rev, user=finance)
    entry_review(entry=rev, user=reviewer)
    report = sel.report_for("2026-03")
    assert (report.expenditure_count, report.expenditure_total) == (2, D("0.00"))
    assert (report.income_count, report.income_total, report.net) == (1, D("500.25"), D("500.25"))
    by_type = {r["code"]: (r["count"], r["total"]) for r in report.by_type}
    assert by_type == {"TB_TO_SI_SUBSIDY": (2, D("0.00")), "EXTRA_FUND_RECOVERY": (1, D("500.25"))}
    assert report.reconciled


def test_recovered_overpayment_appears_as_income_exactly_once(clerk):
    """A scheme reports the same source twice (saved twice): one record."""
    person = make_person("王追回")
    entry = schemes.LedgerEntry(source="benefits.adjustment:77:recovered", kind="OVERPAY_RECOVERY",
                                amount=D("2150.00"), on=ON, person_id=person.pk, note="死亡后多发待遇追回")
    (first,) = schemes.ledger_report(entry, user=clerk)
    (second,) = schemes.ledger_report(entry, user=clerk)
    assert first.pk == second.pk
    assert list(Entry.objects.filter(source=entry.source).values_list("direction", "amount", "person_id")) == [
        ("income", D("2150.00"), person.pk)]
    assert sel.report_for("2026-03").income_total == D("2150.00")
    # the database backs it: a second row of the same source is refused
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.create(direction="income", type=first.type, amount=D("1.00"), occurred_on=ON,
                             source=entry.source, created_by=clerk)


def test_zg_income_is_linked_once_and_reduces_its_deduction(clerk):
    from shebao.benefits.models import Adjustment
    from shebao.benefits.services import adjustment_create, enrollment_create, scheme_get
    from shebao.self_managed.services import income_record

    person = make_person("李自管")
    enrollment = enrollment_create(person=person, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                                   items={"basic": "2000.00"})
    adjustment_create(enrollment=enrollment, kind=Adjustment.Kind.DEDUCTION, total="3000.00", reason="多发", user=clerk)
    income = income_record(person=person, kind="overpayment", amount="2000.00", received_on=ON, source="家属退回",
                           user=clerk)
    assert income.applied == D("2000.00")
    (entry,) = Entry.objects.filter(source=f"self_managed.income:{income.pk}")
    assert (entry.type.code, entry.amount, entry.person_id, entry.state) == ("OVERPAY_RECOVERY", D("2000.00"),
                                                                           person.pk, "entered")
    with pytest.raises(FinanceError, match="来自self_managed.income"):
        entry_delete(entry=entry, user=clerk, reason="x")
    with pytest.raises(FinanceError, match="只能修改凭证号和备注"):
        entry_update(entry=entry, user=clerk, amount="1.00")
    entry_update(entry=entry, user=clerk, voucher_no="收-0007")


def _paid_through_bank(entry, clerk, reviewer, failed=None):
    run = entry_pay_by_bank(entry=entry, user=clerk)
    payroll_run_approve(run=run, user=reviewer)
    (bank_file,) = bank_export(runs=[run], template=BankTemplate.objects.get(code="standard"), user=clerk, on=ON)
    bank_return_import(data=bank_answer(bank_file, failed), filename="r.txt", user=clerk)
    return run, bank_file


def test_expenditure_to_an_organisation_paid_by_bank_file_failed_reissued_paid(clerk, finance, reviewer, org):
    entry = _entry(clerk, payee=org, amount="98765.43")
    run, bank_file = _paid_through_bank(entry, clerk, reviewer, failed={1: "账号不存在"})
    assert (bank_file.line_count, bank_file.total) == (1, D("98765.43"))
    assert list(bank_file.lines.values_list("account_number", "holder_name", "amount", "id_number")) == [
        ("6222020000000077", "慈溪市社会保险事业管理中心", D("98765.43"), ORG_USCC)]
    entry.refresh_from_db()
    assert (entry.pay_status, entry.state, entry.run_id) == ("failed", "entered", run.pk)
    with pytest.raises(FinanceError, match="到账以银行回盘为准"):
        entry_confirm_arrival(entry=entry, user=finance, arrival_on=ON, amount="98765.43")
    v2 = payee_change(payee=org, user=clerk, reason="账号更正", bank="ABC", account_number="6228480000000099")
    reissue = bank_reissue(run=run, user=clerk).run
    payroll_run_approve(run=reissue, user=reviewer)
    (abc,) = bank_export(runs=[reissue], template=BankTemplate.objects.get(code="standard"), user=clerk, on=ON)
    bank_return_import(data=bank_answer(abc), filename="abc.txt", user=clerk)
    entry.refresh_from_db()
    assert (entry.pay_status, entry.state, entry.arrival_amount) == ("paid", "arrived", D("98765.43"))
    assert entry.payee_id == org.pk  # the record keeps the version it was entered with
    assert PayrollLine.objects.get(run=reissue).payee_id == v2.pk
    entry_review(entry=entry, user=reviewer)
    report = sel.report_for("2026-03")
    assert report.bank == {"records_count": 1, "records_total": D("98765.43"), "files_count": 1,
                           "files_total": D("98765.43")}
    assert report.expenditure_total == D("98765.43") and report.reconciled
    assert BankFile.objects.filter(lines__payroll_line__run__in=[run, reissue]).count() == 2


def test_flex_payment_is_an_expenditure_paid_by_its_run(clerk, reviewer):
    from shebao.benefits.services import enrollment_create, scheme_get
    from shebao.self_managed.services import flex_payment_create

    person = make_person("赵灵活")
    bank_account_set(user=clerk, person=person, bank="ICBC", account_number="6222020000001234", holder_name="赵灵活",
                     valid_from=dt.date(2024, 1, 1))
    enrollment_create(person=person, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                      items={"basic": "2000.00"})
    payment = flex_payment_create(person=person, amount="888.88", reason="一次性慰问", user=clerk)
    (entry,) = Entry.objects.filter(source=f"self_managed.flex:{payment.pk}")
    assert (entry.type.code, entry.direction, entry.run_id, entry.pay_status) == (
        "FLEX_PAYMENT", "expenditure", payment.run_id, "pending")
    run = PayrollRun.objects.get(pk=payment.run_id)
    payroll_run_approve(run=run, user=reviewer)
    (bank_file,) = bank_export(runs=[run], template=BankTemplate.objects.get(code="standard"), user=clerk, on=ON)
    bank_return_import(data=bank_answer(bank_file), filename="f.txt", user=clerk)
    entry.refresh_from_db()
    assert (entry.pay_status, entry.state, entry.arrival_amount) == ("paid", "arrived", D("888.88"))


def test_bank_return_after_payment_is_income_once(clerk, reviewer, org):
    entry = _entry(clerk, payee=org, amount="300.00")
    run, _ = _paid_through_bank(entry, clerk, reviewer)
    line = PayrollLine.objects.get(run=run)
    with pytest.raises(FinanceError, match="超过该笔实付金额 300.00"):
        report_returned_payment(line=line, amount="300.01", on=ON, user=clerk)
    first = report_returned_payment(line=line, amount="300.00", on=ON, user=clerk)
    again = report_returned_payment(line=line, amount="300.00", on=ON, user=clerk)
    assert first.pk == again.pk and (first.direction, first.type.code, first.payee_id) == ("income", "BANK_RETURN",
                                                                                            org.pk)


def test_report_command_prints_the_same_totals(clerk, finance, reviewer, org):
    a = _entry(clerk, payee=org, amount="1000.10")
    _entry(clerk, code="RURAL_BENEFIT_RETURN", amount="250.05")
    entry_confirm_arrival(entry=a, user=finance, arrival_on=ON, amount="1000.10")
    out = StringIO()
    call_command("finance", "report", "--month", "2026-03", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["period"], data["income"], data["expenditure"], data["net"], data["reconciled"]) == (
        "2026-03", {"count": 1, "total": "250.05"}, {"count": 1, "total": "1000.10"}, "-750.05", True)
    assert {(r["state"], r["direction"], r["total"]) for r in data["by_status"]} == {
        ("arrived", "expenditure", "1000.10"), ("entered", "income", "250.05")}
    assert [(r["payee"], r["total"]) for r in data["by_payee"] if r["direction"] == "expenditure"] == [
        (org.code, "1000.10")]
    text = StringIO()
    call_command("finance", "report", "--month", "2026-03", stdout=text)
    assert "支出 1 笔 1,000.10" in text.getvalue() and "收入 1 笔 250.05" in text.getvalue()
    with pytest.raises(CommandError, match="月份 2026-13 无效"):
        call_command("finance", "report", "--month", "2026-13")


def test_types_are_data_a_used_type_keeps_its_side(clerk):
    from shebao.finance.services import type_save

    t = type_save(user=clerk, code="FUND_TRANSFER_OUT", name="基金划转支出", direction="expenditure",
                  subject_code="5402", subject_name="转移支出—基金划转", create=True)
    with pytest.raises(FinanceError, match="类型代码 FUND_TRANSFER_OUT 已存在"):
        type_save(user=clerk, code="FUND_TRANSFER_OUT", name="x", direction="income", subject_code="4409",
                  subject_name="y", create=True)
    _entry(clerk, code="FUND_TRANSFER_OUT", amount="1.00")
    with pytest.raises(FinanceError, match="已有收支记录，不能改变收支方向"):
        type_save(user=clerk, code="FUND_TRANSFER_OUT", name="基金划转支出", direction="income", subject_code="5402",
                  subject_name="转移支出—基金划转")
    t.refresh_from_db()
    assert t.direction == "expenditure"
    # an inactive type takes no new hand-entered record, but a scheme's money is still recorded
    type_save(user=clerk, code="OVERPAY_RECOVERY", name="追回多发待遇", direction="income", subject_code="4404",
              subject_name="其他收入—追回多发待遇", active=False)
    with pytest.raises(FinanceError, match="已停用"):
        _entry(clerk, code="OVERPAY_RECOVERY", amount="1.00")
    (linked,) = schemes.ledger_report(schemes.LedgerEntry(source="test:1", kind="OVERPAY_RECOVERY", amount=D("5.00"),
                                                          on=ON), user=clerk)
    assert linked.amount == D("5.00")
    with pytest.raises(Exception, match="没有业务类型 NO_SUCH"):
        schemes.ledger_report(schemes.LedgerEntry(source="test:2", kind="NO_SUCH", amount=D("5.00"), on=ON), user=clerk)
    assert not Entry.objects.filter(source="test:2").exists()
