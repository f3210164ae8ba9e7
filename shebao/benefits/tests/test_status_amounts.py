import datetime as dt
from decimal import Decimal as D

import pytest

from shebao.benefits.models import BenefitAmount, Enrollment, StatusChange
from shebao.benefits.services import (
    BenefitError,
    adjustment_create,
    benefit_amount_set,
    enrollment_resume,
    enrollment_suspend,
)
from shebao.benefits.tests.factories import enroll, make_person, make_user
from shebao.common.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


def test_amount_change_keeps_history_and_refuses_overlap(clerk):
    e = enroll(make_person(), user=clerk, start="2025-01", items={"basic": "2000.00"})
    benefit_amount_set(enrollment=e, item="basic", amount="2100.00", from_month="2026-01", user=clerk)
    rows = list(BenefitAmount.objects.filter(enrollment=e).order_by("from_month")
                .values_list("amount", "from_month", "to_month"))
    assert rows == [(D("2000.00"), dt.date(2025, 1, 1), dt.date(2025, 12, 1)), (D("2100.00"), dt.date(2026, 1, 1), None)]
    before = (BenefitAmount.objects.count(), AuditEvent.objects.count())
    for month in ("2025-06", "2026-01"):
        with pytest.raises(BenefitError, match="历史标准不可覆盖"):
            benefit_amount_set(enrollment=e, item="basic", amount="9.00", from_month=month, user=clerk)
    assert (BenefitAmount.objects.count(), AuditEvent.objects.count()) == before
    assert BenefitAmount.objects.get(enrollment=e, to_month__isnull=True).amount == D("2100.00")


def test_status_changes_are_conditional(clerk):
    e = enroll(make_person(), user=clerk)
    enrollment_suspend(enrollment=e, reason="no_cert", from_month="2026-03", user=clerk)
    with pytest.raises(BenefitError, match="不能暂停"):
        enrollment_suspend(enrollment=e, reason="no_cert", from_month="2026-03", user=clerk)
    enrollment_resume(enrollment=e, from_month="2026-05", user=clerk)
    with pytest.raises(BenefitError, match="不是暂停状态"):
        enrollment_resume(enrollment=e, from_month="2026-05", user=clerk)
    assert Enrollment.objects.get(pk=e.pk).payment_status == "active"
    assert list(StatusChange.objects.filter(enrollment=e).values_list("to_status", flat=True)) == [
        "active", "suspended", "active"]
    with pytest.raises(BenefitError, match="终止原因"):
        enrollment_suspend(enrollment=e, reason="death", from_month="2026-07", user=clerk)


def test_resume_back_pays_each_month_at_its_amount(clerk):
    e = enroll(make_person(), user=clerk, start="2025-01", items={"basic": "1000.00"})
    enrollment_suspend(enrollment=e, reason="no_cert", from_month="2025-11", user=clerk)
    benefit_amount_set(enrollment=e, item="basic", amount="1100.00", from_month="2026-01", user=clerk)
    result = enrollment_resume(enrollment=e, from_month="2026-03", user=clerk)
    # 2025-11, 2025-12 at 1000; 2026-01, 2026-02 at 1100
    assert result.arrears.total == D("4200.00") and len(result.months) == 4


def test_adjustment_validation_writes_nothing(clerk):
    e = enroll(make_person(), user=clerk)
    before = AuditEvent.objects.count()
    with pytest.raises(BenefitError, match="只有扣减"):
        adjustment_create(enrollment=e, kind="arrears", total="10", monthly_cap="5", reason="x", user=clerk)
    with pytest.raises(BenefitError, match="大于 0"):
        adjustment_create(enrollment=e, kind="deduction", total="0", reason="x", user=clerk)
    with pytest.raises(BenefitError, match="两位小数"):
        adjustment_create(enrollment=e, kind="deduction", total="1.005", reason="x", user=clerk)
    assert AuditEvent.objects.count() == before
