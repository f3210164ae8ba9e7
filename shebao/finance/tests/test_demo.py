from decimal import Decimal as D

import pytest

from shebao.demo import steps
from shebao.demo.runner import demo_load, demo_reset
from shebao.finance.models import Entry
from shebao.finance.selectors import report_for
from shebao.payroll.models import PayrollRun
from shebao.registry.models import Payee

pytestmark = pytest.mark.django_db


def test_demo_ledger_with_the_zg_links_loads_reconciles_and_resets(monkeypatch):
    monkeypatch.setitem(steps.SCALES, "test", {"persons": 800, "zg_persons": 40, "finance": 1})
    info = demo_load(scale="test", seed=5)
    assert "finance" in info["steps"]
    assert set(Entry.objects.values_list("state", flat=True)) == {"entered", "arrived", "reviewed"}
    assert Entry.objects.filter(reversal_of__isnull=False, state="reviewed").count() == 1
    assert Entry.objects.filter(source__startswith="self_managed.income:").exists()
    assert Entry.objects.filter(source__startswith="self_managed.flex:").count() == 2
    assert Payee.objects.count() == 3
    for month in ("2025-10", "2025-11", "2025-12"):
        report = report_for(month)
        assert report.reconciled and report.expenditure_total > D("0")
    demo_reset()
    assert Entry.objects.count() == 0 and Payee.objects.count() == 0 and PayrollRun.objects.count() == 0
