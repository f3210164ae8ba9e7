from decimal import Decimal as D

import pytest

from shebao.benefits.models import Adjustment, BenefitAmount, Enrollment
from shebao.demo import steps
from shebao.demo.runner import demo_load, demo_reset
from shebao.payroll.models import PayrollRun
from shebao.self_managed.models import FlexPayment, Income

pytestmark = pytest.mark.django_db


def test_demo_step_enrolls_with_history_and_resets(monkeypatch):
    monkeypatch.setitem(steps.SCALES, "test", {"persons": 1200, "zg_persons": 60})
    info = demo_load(scale="test", seed=3)
    assert "zg" in info["steps"]
    zg = Enrollment.objects.filter(scheme__code="ZG")
    assert zg.count() == 60
    assert set(zg.values_list("payment_status", flat=True)) == {"active", "suspended", "terminated"}
    assert BenefitAmount.objects.filter(enrollment__scheme__code="ZG", to_month__isnull=False).exists()
    runs = PayrollRun.objects.filter(scheme__code="ZG", kind="regular").order_by("period")
    assert [f"{r.period:%Y-%m}" for r in runs] == ["2025-10", "2025-11", "2025-12"]
    assert all(r.state in ("completed", "returned") for r in runs)
    death = Adjustment.objects.filter(enrollment__scheme__code="ZG", source_ref__startswith="termination:")
    assert death.exists()
    assert Income.objects.filter(applied__gt=0).exists()
    assert sum(i.applied for i in Income.objects.all()) > D("0")
    assert FlexPayment.objects.count() == 2
    demo_reset()
    assert Enrollment.objects.count() == 0 and PayrollRun.objects.count() == 0 and Income.objects.count() == 0
