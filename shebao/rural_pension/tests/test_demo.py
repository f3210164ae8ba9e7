import pytest

from shebao.demo import steps
from shebao.demo.runner import demo_load, demo_reset
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
    receiver = RuralAccount.objects.filter(status="receiving", enrollment__isnull=True).first()
    assert Payout.objects.filter(account=receiver, kind="pension").count() >= 12
    assert RuralDocument.objects.exists()
    demo_reset()
    assert RuralAccount.objects.count() == 0 and Contribution.objects.count() == 0
