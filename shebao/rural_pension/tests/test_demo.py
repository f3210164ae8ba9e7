import datetime as dt

import pytest

from shebao.accounts.models import User
from shebao.benefits.models import Scheme
from shebao.demo import steps
from shebao.demo.runner import demo_load, demo_reset
from shebao.payroll.models import PayrollLine
from shebao.payroll.services import payroll_run_compute
from shebao.rural_pension.interest import yearly_table
from shebao.rural_pension.models import AccountYear, Contribution, Payout, RuralAccount, RuralDocument
from shebao.rural_pension.selectors import account_flows, rates_map

pytestmark = pytest.mark.django_db


def test_demo_step_makes_accounts_whose_cache_follows_the_rule(monkeypatch):
    monkeypatch.setitem(steps.SCALES, "test", {"persons": 800, "zg_persons": 10, "rural_accounts": 400})
    info = demo_load(scale="test", seed=5)
    assert "rural" in info["steps"]
    assert RuralAccount.objects.count() == 400
    statuses = set(RuralAccount.objects.values_list("status", flat=True))
    assert {"paying", "receiving", "refunded"} <= statuses
    assert Contribution.objects.count() > 400 * 10
    # legacy refunds close at exactly zero; the cache equals the pure rule
    for account in RuralAccount.objects.filter(status="refunded", documents__isnull=True)[:5]:
        assert AccountYear.objects.filter(account=account).order_by("-year").first().closing == 0
    rates = rates_map()
    for account in RuralAccount.objects.order_by("?")[:15]:
        expected = yearly_table(account_flows(account), rates, through_year=max(rates))
        got = list(AccountYear.objects.filter(account=account).order_by("year").values_list("year", "closing"))
        assert [(r.year, r.closing) for r in expected] == got
    # legacy receivers (paid by the old system through 2025-12) are paid by the NB payroll from 2026-01
    legacy = RuralAccount.objects.filter(status="receiving", benefit_start_month__lt=dt.date(2025, 1, 1))
    assert legacy.exists()
    assert not legacy.filter(enrollment__isnull=True, person__death_date__isnull=True).exists()
    receiver = legacy.filter(enrollment__isnull=False).order_by("pk").first()
    assert Payout.objects.filter(account=receiver, kind="pension").count() >= 12
    assert max(Payout.objects.filter(account=receiver, kind="pension").values_list("month", flat=True)) == dt.date(2025, 12, 1)
    assert receiver.enrollment.start_month == dt.date(2026, 1, 1)
    clerk = User.objects.get(username="clerk")
    nb = Scheme.objects.get(code="NB")
    december = payroll_run_compute(scheme=nb, period="2025-12", user=clerk)
    assert not PayrollLine.objects.filter(run=december, enrollment__in=legacy.values("enrollment")).exists()
    january = payroll_run_compute(scheme=nb, period="2026-01", user=clerk)
    paid = dict(PayrollLine.objects.filter(run=january, enrollment__in=legacy.values("enrollment"))
                .values_list("person_id", "gross"))
    assert paid == {a.person_id: a.monthly_benefit for a in legacy.filter(enrollment__isnull=False)}
    assert RuralDocument.objects.exists()
    demo_reset()
    assert RuralAccount.objects.count() == 0 and Contribution.objects.count() == 0
