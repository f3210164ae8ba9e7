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


def connect() -> None:
    from django.utils.translation import gettext_lazy as _

    from shebao.finance.rules import REVIEW_PAGE_RULE, TYPES_RULE, VIEW_RULE
    from shebao.payroll import schemes
    from shebao.web import menu

    schemes.ledger_listen(_receive)
    schemes.results_listen(_results)
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
