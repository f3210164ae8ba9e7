"""enrollment_update (工龄/备注, audited), adjustment_reduce (income reduces a 扣减: exact amounts,
settles at 0, refuses more than remaining, conditional), the 其他减员 reason, and
enrollment_bulk_create (same rules and audit as one by one, all or nothing)."""

import datetime as dt
from decimal import Decimal as D

import pytest

from shebao.benefits.models import Adjustment, BenefitAmount, Enrollment, StatusChange, SuspensionReason
from shebao.benefits.services import (
    BenefitError,
    EnrollmentRow,
    adjustment_cancel,
    adjustment_create,
    adjustment_reduce,
    enrollment_bulk_create,
    enrollment_terminate,
    enrollment_update,
)
from shebao.benefits.tests.factories import enroll, make_person, make_user, zg
from shebao.common.audit import audit_chain_verify
from shebao.common.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


def _state(adjustment):
    a = Adjustment.objects.get(pk=adjustment.pk)
    return a.remaining, a.state


def _counts():
    return (AuditEvent.objects.count(), Enrollment.objects.count(), BenefitAmount.objects.count(),
            StatusChange.objects.count())


# -- enrollment_update ----------------------------------------------------------------------------


def test_update_changes_service_years_and_note_with_before_after(clerk):
    e = enroll(make_person(), user=clerk, service_years="20.5")
    enrollment_update(enrollment=e, user=clerk, reason="档案核对", service_years="31.25", note="  原单位：浒山针织厂 ")
    e.refresh_from_db()
    assert (e.service_years, e.note) == (D("31.25"), "原单位：浒山针织厂")
    event = AuditEvent.objects.filter(object_type="benefits.enrollment", action="update").get()
    assert event.before == {"service_years": "20.50", "note": ""}
    assert event.after == {"service_years": "31.25", "note": "原单位：浒山针织厂"}
    assert event.reason == "档案核对" and event.person_id == e.person_id
    # only the note: the years are left as they are, and only the note is in the record
    enrollment_update(enrollment=e, user=clerk, reason="更正", note="")
    last = AuditEvent.objects.order_by("-id").first()
    assert (last.before, last.after) == ({"note": "原单位：浒山针织厂"}, {"note": ""})
    assert Enrollment.objects.get(pk=e.pk).service_years == D("31.25")


def test_update_without_change_writes_nothing(clerk):
    e = enroll(make_person(), user=clerk, service_years="20")
    before = AuditEvent.objects.count()
    enrollment_update(enrollment=e, user=clerk, reason="重导花名册", service_years="20.00", note="")
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"service_years": "-1"}, "工龄不能为负数"),
    ({"service_years": "12.345"}, "最多两位小数"),
    ({"service_years": "abc"}, "工龄"),
    ({"note": "长" * 201}, "备注超过 200 字"),
    ({"service_years": "30", "reason": " "}, "请填写变更原因"),
])
def test_update_refusals_change_nothing(clerk, kwargs, message):
    e = enroll(make_person(), user=clerk, service_years="20")
    before = AuditEvent.objects.count()
    with pytest.raises(BenefitError, match=message):
        enrollment_update(enrollment=e, user=clerk, **{"reason": "核对", **kwargs})
    e.refresh_from_db()
    assert (e.service_years, e.note, AuditEvent.objects.count()) == (D("20.00"), "", before)


# -- adjustment_reduce ----------------------------------------------------------------------------


def test_reduce_takes_exact_amounts_and_settles_at_zero(clerk):
    e = enroll(make_person(), user=clerk)
    d = adjustment_create(enrollment=e, kind="deduction", total="1234.56", monthly_cap="200.00", reason="多发追回",
                          user=clerk)
    out = adjustment_reduce(adjustment=d, amount="234.56", user=clerk, reason="家属退回", source="income:1")
    assert (out.remaining, out.state) == (D("1000.00"), "pending") == _state(d)
    event = AuditEvent.objects.filter(object_type="benefits.adjustment", action="reduce").get()
    assert event.before == {"remaining": "1234.56", "state": "pending"}
    assert event.after == {"remaining": "1000.00", "state": "pending", "source": "income:1"}
    assert event.reason == "家属退回" and event.person_id == e.person_id
    out = adjustment_reduce(adjustment=d, amount="1000.00", user=clerk, reason="银行退回")
    assert (out.remaining, out.state) == (D("0.00"), "settled") == _state(d)
    assert audit_chain_verify().ok


@pytest.mark.parametrize(("amount", "message"), [
    ("300.01", "冲减金额 300.01 超过未结金额 300.00"),
    ("0", "冲减金额必须大于 0"),
    ("-5", "冲减金额必须大于 0"),
    ("1.005", "不能超过两位小数"),
    ("abc", "冲减金额"),
])
def test_reduce_refusals_change_nothing(clerk, amount, message):
    d = adjustment_create(enrollment=enroll(make_person(), user=clerk), kind="deduction", total="300.00",
                          reason="多发追回", user=clerk)
    before = AuditEvent.objects.count()
    with pytest.raises(BenefitError, match=message):
        adjustment_reduce(adjustment=d, amount=amount, user=clerk, reason="退回")
    assert _state(d) == (D("300.00"), "pending") and AuditEvent.objects.count() == before


def test_reduce_refuses_arrears_settled_and_cancelled_and_a_stale_copy(clerk):
    e = enroll(make_person(), user=clerk)
    arrears = adjustment_create(enrollment=e, kind="arrears", total="100.00", reason="补发", user=clerk)
    with pytest.raises(BenefitError, match="只有扣减可以用收入冲减"):
        adjustment_reduce(adjustment=arrears, amount="10.00", user=clerk, reason="退回")
    assert _state(arrears) == (D("100.00"), "pending")
    d = adjustment_create(enrollment=e, kind="deduction", total="500.00", reason="多发追回", user=clerk)
    stale = Adjustment.objects.get(pk=d.pk)  # a second clerk's copy, read before the first one applied
    adjustment_reduce(adjustment=d, amount="500.00", user=clerk, reason="家属退回")
    before = AuditEvent.objects.count()
    with pytest.raises(BenefitError, match="该扣减已结清，不能冲减"):
        adjustment_reduce(adjustment=stale, amount="500.00", user=clerk, reason="家属退回")
    assert _state(d) == (D("0.00"), "settled") and AuditEvent.objects.count() == before
    c = adjustment_create(enrollment=e, kind="deduction", total="80.00", reason="多发追回", user=clerk)
    adjustment_cancel(adjustment=c, user=clerk, reason="误录")
    with pytest.raises(BenefitError, match="已取消"):
        adjustment_reduce(adjustment=c, amount="10.00", user=clerk, reason="退回")
    assert _state(c) == (D("80.00"), "cancelled")


def test_two_partial_reductions_from_stale_copies_never_go_below_zero(clerk):
    d = adjustment_create(enrollment=enroll(make_person(), user=clerk), kind="deduction", total="300.00",
                          reason="多发追回", user=clerk)
    first, second = Adjustment.objects.get(pk=d.pk), Adjustment.objects.get(pk=d.pk)
    adjustment_reduce(adjustment=first, amount="200.00", user=clerk, reason="家属退回")
    with pytest.raises(BenefitError, match="冲减金额 200.00 超过未结金额 100.00"):
        adjustment_reduce(adjustment=second, amount="200.00", user=clerk, reason="家属退回")
    assert _state(d) == (D("100.00"), "pending")


# -- 其他减员 -----------------------------------------------------------------------------------------


def test_other_exit_reason_terminates_after_the_last_month(clerk):
    reason = SuspensionReason.objects.get(code="exit_other")
    assert (reason.name, reason.terminates, reason.pays_on_resume) == ("其他减员", True, False)
    e = enroll(make_person(), user=clerk, start="2025-01")
    result = enrollment_terminate(enrollment=e, reason="exit_other", last_month="2026-02", user=clerk,
                                  note="取消待遇资格")
    e.refresh_from_db()
    assert (e.payment_status, e.end_month) == ("terminated", dt.date(2026, 2, 1))
    assert result.overpaid == D("0.00") and result.deduction is None
    change = StatusChange.objects.filter(enrollment=e).order_by("-id").first()
    assert (change.reason.code, change.effective_month) == ("exit_other", dt.date(2026, 3, 1))


def test_other_exit_seed_is_idempotent():
    from importlib import import_module

    from django.apps import apps

    seed = import_module("shebao.benefits.migrations.0003_seed_exit_other").seed
    seed(apps, None)
    seed(apps, None)
    assert SuspensionReason.objects.filter(code="exit_other").count() == 1


# -- enrollment_bulk_create -----------------------------------------------------------------------


def test_bulk_create_matches_one_by_one(clerk):
    a, b = make_person("甲"), make_person("乙")
    rows = [
        EnrollmentRow(person=a, start_month="2024-03", service_years="25.5", note="转入",
                      items={"basic": "2000.00", "extra": "150.00"},
                      changes=[("basic", "2100.00", "2025-01", "2025年调整"), ("living", "60.00", "2025-07")]),
        EnrollmentRow(person=b, start_month="2025-05", items={"基本养老金": "1800.50"}),
    ]
    ea, eb = enrollment_bulk_create(scheme=zg(), rows=rows, user=clerk, reason="花名册导入 x.xlsx")
    ea.refresh_from_db()
    assert (ea.person_id, ea.start_month, ea.service_years, ea.note, ea.payment_status) == (
        a.pk, dt.date(2024, 3, 1), D("25.50"), "转入", "active")
    amounts = list(BenefitAmount.objects.filter(enrollment=ea).order_by("item__sort", "from_month")
                   .values_list("item__code", "amount", "from_month", "to_month", "note"))
    assert amounts == [
        ("basic", D("2000.00"), dt.date(2024, 3, 1), dt.date(2024, 12, 1), ""),
        ("basic", D("2100.00"), dt.date(2025, 1, 1), None, "2025年调整"),
        ("extra", D("150.00"), dt.date(2024, 3, 1), None, ""),
        ("living", D("60.00"), dt.date(2025, 7, 1), None, "花名册导入 x.xlsx"),
    ]
    assert list(BenefitAmount.objects.filter(enrollment=eb).values_list("amount", "from_month", "to_month")) == [
        (D("1800.50"), dt.date(2025, 5, 1), None)]
    assert list(StatusChange.objects.filter(enrollment__in=[ea, eb]).order_by("enrollment_id")
                .values_list("to_status", "effective_month", "note")) == [
        ("active", dt.date(2024, 3, 1), "纳入"), ("active", dt.date(2025, 5, 1), "纳入")]
    created = AuditEvent.objects.get(object_type="benefits.enrollment", object_id=str(ea.pk))
    assert created.action == "create" and created.person_id == a.pk
    assert created.after["items"] == {"basic": "2000.00", "extra": "150.00"}
    assert created.after["service_years"] == "25.50"
    later = list(AuditEvent.objects.filter(object_type="benefits.benefitamount", person_id=a.pk).order_by("id"))
    assert [(e.action, e.after["amount"], e.reason) for e in later] == [
        ("update", "2100.00", "2025年调整"), ("create", "60.00", "花名册导入 x.xlsx")]
    assert later[0].before["amount"] == "2000.00" and later[1].before is None
    assert audit_chain_verify().ok


@pytest.mark.parametrize(("row", "message"), [
    ({"items": {"basic": "-1"}}, "月金额必须不小于 0"),
    ({"items": {"basic": "1.001"}}, "不能超过两位小数"),
    ({"items": {"nope": "1.00"}}, "没有待遇项目 nope"),
    ({"start_month": "2025-13"}, "格式不正确，应为 YYYY-MM"),
    ({"service_years": "-2"}, "工龄 -2 不正确"),
    ({"changes": [("basic", "2100.00", "2024-12")]}, "须晚于 2025-01"),
    ({"changes": [("basic", "2100.00", "2025-01")]}, "须晚于 2025-01"),
])
def test_bulk_create_refuses_a_bad_row_and_writes_nothing(clerk, row, message):
    good = EnrollmentRow(person=make_person("甲"), start_month="2025-01", items={"basic": "2000.00"})
    bad = EnrollmentRow(**{"person": make_person("乙"), "start_month": "2025-01", "items": {"basic": "2000.00"},
                           **row})
    before = _counts()
    with pytest.raises(BenefitError, match=message) as exc:
        enrollment_bulk_create(scheme=zg(), rows=[good, bad], user=clerk)
    assert exc.value.index == 1
    assert _counts() == before


def test_bulk_create_refuses_enrolled_and_repeated_persons(clerk):
    enrolled, fresh = make_person("甲"), make_person("乙")
    enroll(enrolled, user=clerk)
    before = _counts()
    with pytest.raises(BenefitError, match="甲 已在自管人员中，不能重复纳入") as exc:
        enrollment_bulk_create(scheme=zg(), user=clerk, rows=[
            EnrollmentRow(person=fresh, start_month="2025-01", items={"basic": "1.00"}),
            EnrollmentRow(person=enrolled, start_month="2025-01", items={"basic": "1.00"})])
    assert exc.value.index == 1 and _counts() == before
    with pytest.raises(BenefitError, match="乙 重复") as exc:
        enrollment_bulk_create(scheme=zg(), user=clerk, rows=[
            EnrollmentRow(person=fresh, start_month="2025-01", items={"basic": "1.00"}),
            EnrollmentRow(person=fresh, start_month="2025-02", items={"basic": "1.00"})])
    assert exc.value.index == 1 and _counts() == before
    assert enrollment_bulk_create(scheme=zg(), user=clerk, rows=[]) == []
