"""Hooks into the engine and the shell: the ledger listens to the schemes' reports and the bank's
returns (``payroll.schemes``), and fills the menu group "ts" (社会保险特殊业务)."""

from __future__ import annotations


def _receive(*, entry, user):
    from shebao.finance.services import FinanceError, ledger_receive
    from shebao.payroll.services import PayrollError

    try:
        return ledger_receive(entry=entry, user=user)
    except FinanceError as exc:  # the scheme's change is refused with the ledger's reason
        raise PayrollError(f"特殊业务收支：{exc}") from None


def _results(*, run, user):
    from shebao.finance.services import results_received

    results_received(run=run, user=user)


def review_work(request):
    """The home page's work items: records waiting for this user's 到账确认 or 复核."""
    from django.urls import reverse
    from django.utils.translation import gettext

    from shebao.common import policy
    from shebao.finance.models import Entry
    from shebao.finance.rules import ARRIVAL_RULE, REVIEW_RULE
    from shebao.finance.selectors import awaiting_arrival

    items = []
    url = reverse("finance:review")
    if policy.allows(request.user, ARRIVAL_RULE):
        n = awaiting_arrival().count()
        items.append((gettext("特殊业务待到账确认"), n, url + "?state=entered"))
    if policy.allows(request.user, REVIEW_RULE):
        n = Entry.objects.filter(state=Entry.State.ARRIVED).exclude(created_by=request.user).count()
        items.append((gettext("特殊业务待复核"), n, url + "?state=arrived"))
    return [i for i in items if i[1]]


def connect() -> None:
    from django.utils.translation import gettext_lazy as _

    from shebao.finance.rules import REVIEW_PAGE_RULE, TYPES_RULE, VIEW_RULE
    from shebao.payroll import schemes
    from shebao.web import menu, work

    schemes.ledger_listen(_receive)
    schemes.results_listen(_results)
    work.register(review_work)
    for key, url, rule in [("ts.payees", "finance:payees", VIEW_RULE),
                           ("ts.expenditure", "finance:expenditure", VIEW_RULE),
                           ("ts.income", "finance:income", VIEW_RULE),
                           ("ts.review", "finance:review", REVIEW_PAGE_RULE)]:
        if menu.find_entry(key) is not None:
            menu.set_url(key, url, rule=rule)
    if menu.find_entry("ts.reports") is None:
        menu.add_entry("ts", "ts.reports", _("收支报表"), url_name="finance:report", rule=VIEW_RULE, order=50,
                       note=_("按类型、收款方、状态的月度和年度收支"))
    if menu.find_entry("ts.types") is None:
        menu.add_entry("ts", "ts.types", _("业务类型"), url_name="finance:types", rule=TYPES_RULE, order=60,
                       note=_("收支类型与会计科目"))
