"""One rule, two callers: whether an account may be refunded (``rules.refund_refusal``) and whether a
death settlement may be made with the registered heir (``rural_death_quote(...).blocked``, from
``rules.death_settle_refusal``) — the page shows the very reason the service refuses with, and the
refusal writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollRun
from shebao.registry.models import Person
from shebao.rural_pension.models import Payout, RuralAccount, RuralDocument
from shebao.rural_pension.rules import death_settle_refusal, refund_refusal
from shebao.rural_pension.services import (
    RuralError,
    rural_death_quote,
    rural_death_settle,
    rural_heir_set,
    rural_refund_quote,
    rural_refund_settle,
    rural_years_recompute,
)
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_person, set_rates
from shebao.rural_pension.tests.test_views_receipt import make_user

pytestmark = pytest.mark.django_db

D = Decimal
ON = dt.date(2024, 6, 15)


@pytest.fixture
def c(client):
    client.force_login(make_user("rules_clerk"))
    return client


def written(account) -> tuple:
    acc = RuralAccount.objects.get(pk=account.pk)
    return (acc.status, acc.closed_on, acc.heir_id, Person.objects.get(pk=acc.person_id).death_date,
            RuralDocument.objects.count(), Payout.objects.count(), PayrollRun.objects.count(),
            AuditEvent.objects.count())


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _account(case: str) -> tuple[RuralAccount, str]:
    """(the account, the pay method) of each refusal case."""
    set_rates()
    if case == "no bank account":
        acc = make_account(make_person("无卡人", account=None), flows=HAND_FLOWS)
    elif case == "nothing to refund":
        acc = make_account(flows=[])
    else:
        acc = make_account(flows=HAND_FLOWS, status={"refunded": "refunded", "terminated": "terminated",
                                                     "receiving": "receiving"}[case])
    rural_years_recompute()
    return acc, "bank" if case == "no bank account" else "cash"


REFUND_CASES = {
    "refunded": "王阿大 的账户已退保，不能再试算或退款",
    "terminated": "王阿大 的账户已终止，不能再试算或退款",
    "receiving": "王阿大 正在按月领取养老金，不能退保；人员死亡请办理死亡结算",
    "nothing to refund": "王阿大 的账户余额为 0.00，没有可退金额",
    "no bank account": "无卡人 没有登记银行账户，不能银行代发；请先登记支付账户，或选择现金支付",
}


@pytest.mark.parametrize("case", list(REFUND_CASES))
def test_each_refund_refusal_is_shown_by_the_page_and_given_by_the_service(c, case):
    account, pay = _account(case)
    clerk = make_user("rules_svc")
    message = REFUND_CASES[case]
    state_only = case in ("refunded", "terminated", "receiving")
    if state_only:
        assert refund_refusal(account) == message
    else:
        assert refund_refusal(account) is None
        amount = rural_refund_quote(account=account, on=ON).amount
        assert refund_refusal(account, amount=amount, pay_method=pay) == message
    before = written(account)

    # the account page offers 退款 only when the state allows it; the refund page and the quote explain
    detail = html(c.get(reverse("rural:account_detail", args=[account.pk])))
    assert ('id="btn-refund"' in detail) is not state_only
    entry = html(c.get(reverse("rural:refund", args=[account.pk])))
    assert (message in entry) is state_only
    quote = html(c.get(reverse("rural:refund_quote", args=[account.pk]) + f"?on={ON:%Y-%m-%d}&pay={pay}"))
    assert message in quote and 'id="confirm-refund"' not in quote

    # the service refuses with the same words
    with pytest.raises(RuralError) as refused:
        rural_refund_settle(account=account, on=ON, pay_method=pay, user=clerk)
    assert str(refused.value) == message
    assert written(account) == before


def test_the_refund_rule_allows_a_paying_account_with_a_balance(c):
    account, _ = _account("no bank account")
    amount = rural_refund_quote(account=account, on=ON).amount
    assert amount == D("3001.45") and refund_refusal(account, amount=amount, pay_method="cash") is None
    quote = html(c.get(reverse("rural:refund_quote", args=[account.pk]) + f"?on={ON:%Y-%m-%d}&pay=cash"))
    assert 'id="confirm-refund"' in quote and 'id="refused"' not in quote


# --------------------------------------------------------------------------------------------------
# 死亡结算: the preview's refusal is the quote's, the settle's is the same


@pytest.fixture
def account(db):
    set_rates()
    acc = make_account(flows=HAND_FLOWS)
    rural_years_recompute()
    return acc


def _death_case(case: str, account, clerk):
    """(the heir registered for the case, the pay method, the expected reason)."""
    if case == "no heir":
        return None, "cash", "请先登记代领人（领取死亡结算款项的人）"
    if case == "heir dead":
        heir = make_person("王小二", birth=dt.date(1988, 4, 2), account="6222020000000077")
        rural_heir_set(account=account, heir=heir, user=clerk, reason="家属申报")
        Person.objects.filter(pk=heir.pk).update(death_date=dt.date(2024, 6, 2))
        heir.refresh_from_db()
        return heir, "cash", "代领人 王小二 已死亡，请先变更代领人"
    heir = make_person("王小三", birth=dt.date(1990, 1, 1), account=None)
    rural_heir_set(account=account, heir=heir, user=clerk, reason="家属申报")
    return heir, "bank", "代领人 王小三 没有登记银行账户，不能银行代发；请先登记其支付账户，或选择现金支付"


@pytest.mark.parametrize("case", ["no heir", "heir dead", "heir without a bank account"])
def test_the_death_preview_is_blocked_by_the_quote_for_what_the_settle_refuses(c, account, case):
    clerk = make_user("rules_death")
    heir, pay, message = _death_case(case, account, clerk)
    account.refresh_from_db()
    due = rural_death_quote(account=account, death_date=dt.date(2024, 6, 1), on=ON, pay_method=pay)
    assert due.amount == D("3001.45") and due.blocked == message
    assert death_settle_refusal(account, heir=heir, amount=due.amount, pay_method=pay) == message
    before = written(account)
    shown = html(c.get(reverse("rural:death_quote", args=[account.pk])
                       + f"?death_date=2024-06-01&on={ON:%Y-%m-%d}&pay={pay}"))
    assert message in shown and 'id="confirm-death"' not in shown
    with pytest.raises(RuralError) as refused:
        rural_death_settle(account=account, death_date=dt.date(2024, 6, 1), heir=heir, pay_method=pay, user=clerk,
                           on=ON)
    assert str(refused.value) == message
    assert written(account) == before


def test_the_death_preview_is_not_blocked_when_nothing_goes_to_a_bank(c, account):
    """Cash to an heir without a bank account, or bank with nothing to pay: the quote does not block."""
    clerk = make_user("rules_death2")
    heir = make_person("王小三", birth=dt.date(1990, 1, 1), account=None)
    rural_heir_set(account=account, heir=heir, user=clerk, reason="家属申报")
    account.refresh_from_db()
    due = rural_death_quote(account=account, death_date=dt.date(2024, 6, 1), on=ON, pay_method="cash")
    assert due.blocked is None
    assert death_settle_refusal(account, heir=heir, amount=D("0.00"), pay_method="bank") is None
    shown = html(c.get(reverse("rural:death_quote", args=[account.pk])
                       + f"?death_date=2024-06-01&on={ON:%Y-%m-%d}&pay=cash"))
    assert 'id="confirm-death"' in shown
    assert timezone.localdate() >= ON
