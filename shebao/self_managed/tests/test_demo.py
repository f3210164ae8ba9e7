from decimal import Decimal as D

import pytest

from shebao.benefits.models import Adjustment, BenefitAmount, Enrollment
from shebao.demo import steps
from shebao.demo.runner import demo_load, demo_reset
from shebao.payroll.models import LineRisk, PayrollLine, PayrollRun
from shebao.payroll.selectors import payroll_run_compare
from shebao.self_managed.models import FlexPayment, Income

pytestmark = pytest.mark.django_db


def test_demo_step_enrolls_with_history_and_resets(monkeypatch):
    monkeypatch.setitem(steps.SCALES, "test", {"persons": 1200, "zg_persons": 60})
    info = demo_load(scale="test", seed=3)
    assert "zg" in info["steps"]
    zg = Enrollment.objects.filter(scheme__code="ZG")
    assert zg.count() == 60 + 1  # and the newcomer of 2026-01
    assert set(zg.values_list("payment_status", flat=True)) == {"active", "suspended", "terminated"}
    assert BenefitAmount.objects.filter(enrollment__scheme__code="ZG", to_month__isnull=False).exists()
    runs = PayrollRun.objects.filter(scheme__code="ZG", kind="regular").order_by("period")
    assert [f"{r.period:%Y-%m}" for r in runs] == ["2025-10", "2025-11", "2025-12", "2026-01"]
    assert all(r.state in ("completed", "returned") for r in runs[:3])
    # 2026-01 waits for the reviewer: its approval page shows the risk list and the comparison at once
    pending = runs[3]
    assert pending.state == "computed" and pending.approved_by_id is None
    risks = {r.line_id: set(r.kinds.split(",")) for r in LineRisk.objects.filter(run=pending)}
    failed = PayrollLine.objects.filter(run=runs[2], status="failed")
    assert failed.exists()
    refused = set(PayrollLine.objects.filter(run=pending, account_number__in=failed.values("account_number"))
                  .values_list("id", flat=True))
    assert refused and all("rejected" in risks[i] for i in refused)  # refused in 2025-12, account unchanged
    holders = [i for i, kinds in risks.items() if "holder" in kinds]
    assert len(holders) == 2
    for line in PayrollLine.objects.filter(pk__in=holders):
        assert line.holder_name and line.holder_name != line.name
    compare = payroll_run_compare(run=pending)
    assert compare["previous"].pk == runs[2].pk and compare["months_between"] == 1
    assert compare["groups"]["added"]["counts"]["new"] == 1
    assert compare["groups"]["stopped"]["n"] >= 1
    assert compare["groups"]["changed"]["counts"]["arrears"] >= 1
    death = Adjustment.objects.filter(enrollment__scheme__code="ZG", source_ref__startswith="termination:")
    assert death.exists()
    assert Income.objects.filter(applied__gt=0).exists()
    assert sum(i.applied for i in Income.objects.all()) > D("0")
    assert FlexPayment.objects.count() == 2
    # the reviewer approves it, the clerk exports: the risky lines are held out; the demo still resets
    from shebao.accounts.models import User
    from shebao.bank.models import BankFile
    from shebao.bank.selectors import bank_template_get
    from shebao.bank.services import bank_export
    from shebao.payroll.services import payroll_run_approve

    pending = payroll_run_approve(run=pending, user=User.objects.get(username="reviewer"))
    files = bank_export(runs=[pending.pk], template=bank_template_get("standard"),
                        user=User.objects.get(username="clerk"))
    assert sum(f.line_count for f in files) == pending.line_count - len(risks)
    assert PayrollLine.objects.filter(run=pending, status="failed", fail_reason__startswith="风险暂缓").count() == len(risks)
    demo_reset()
    assert Enrollment.objects.count() == 0 and PayrollRun.objects.count() == 0 and Income.objects.count() == 0
    assert BankFile.objects.count() == 0
