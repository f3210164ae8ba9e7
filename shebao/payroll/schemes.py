"""The scheme registry: what payroll and bank need to know of a scheme, registered by the scheme's own
app (in its ``AppConfig.ready``), so payroll and bank never import a scheme app (an import-linter
contract keeps it so).

    from shebao.payroll import schemes
    schemes.register("TB", schemes.SchemeRules(annual=tb_annual_rows, lines_paid=tb_lines_paid))

A scheme that registers nothing gets the defaults: the monthly set-based compute
(``payroll.services._SQL_COMPUTE``, the rule of ZG and NB), no yearly run, nothing done when lines are
paid, death and withdrawal settled by ``payroll.settlement.enrollment_terminate_settle`` alone.

The hooks:
- ``annual(run) -> (sql, params)``: the rows of a yearly run (年度发放) — a SELECT of
  ``(enrollment_id bigint, item_id bigint, amount numeric, description text)``, one row per amount to
  pay (``item_id`` a benefit item of the scheme, or NULL with a description). The engine makes the
  lines from them set-based, with the enrollments' pending 补发/扣减, exactly as a monthly run. The SQL
  may use ``%(scheme)s``, ``%(period)s`` (1 January of the year), ``%(run)s`` and its own params.
- ``lines_paid(*, run, user)``: called in the return import's transaction (回盘) after lines of the
  scheme's run became 已支付 (e.g. NB writes the pension payouts into the 老农保 accounts). An
  exception refuses the whole return.
- ``termination(*, enrollment, reason, on, user) -> list[(amount, description)]``: money the scheme
  owes at the end of an enrollment beyond its pending 补发 (e.g. a guarantee to the heir); paid in the
  settlement line. Default none.
- ``income_kinds``: the kinds of income (收入) the scheme produces (recovered overpayments …), for the
  finance app's lists.

The ledger (社会保险特殊业务, ``shebao.finance``) listens here, so no scheme app, nor payroll, imports it:
- ``ledger_report(entry, user=)``: a scheme (or the engine) reports money that moves outside the
  payrolls — a recovered overpayment (追回), money the bank returned after it had paid (退回), a one-off
  payment (灵活支付) — as a ``LedgerEntry`` with a unique ``source`` reference; the ledger records it
  exactly once (the same source reported again changes nothing). Call it in the transaction of the
  change. Without a listener (the finance app not installed) nothing happens.
- ``results_listen(fn)``: ``fn(run=, user=)`` is called in the return import's transaction after a
  run's lines got their bank outcome (paid or failed), whatever the scheme (the ledger follows the
  expenditures it sent to the bank).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class SchemeRules:
    annual: Callable | None = None
    lines_paid: Callable | None = None
    termination: Callable | None = None
    income_kinds: tuple[str, ...] = field(default=("overpayment_recovery", "returned_payment"))


DEFAULT = SchemeRules()
_registry: dict[str, SchemeRules] = {}


def register(code: str, rules: SchemeRules) -> None:
    """Register (or replace, e.g. in tests) the rules of scheme ``code`` (ZG/NB/BZ/TB …)."""
    _registry[code.upper()] = rules


def unregister(code: str) -> None:
    _registry.pop(code.upper(), None)


def rules_for(scheme) -> SchemeRules:
    """The rules of a scheme (a ``Scheme`` or its code); the defaults when none are registered."""
    code = scheme if isinstance(scheme, str) else scheme.code
    return _registry.get(code.upper(), DEFAULT)


# --------------------------------------------------------------------------------------------------
# the ledger's hooks (社会保险特殊业务)


@dataclass(frozen=True)
class LedgerEntry:
    """Money a scheme reports to the ledger. ``source``: the unique reference of what it comes from
    (``"self_managed.income:12"``, ``"benefits.adjustment:34:recovered"``, ``"payroll.line:56:returned"``) —
    one ledger record per source, ever. ``kind``: the code of a business type of the ledger
    (``OVERPAY_RECOVERY`` 追回多发待遇, ``BANK_RETURN`` 银行退回, ``FLEX_PAYMENT`` 灵活支付, ``OTHER_INCOME``
    其他收入, or any type added as data). ``person_id`` / ``payee_id``: who pays it back or is paid (at
    most one). ``run_id``: the payroll run that pays an expenditure through the bank."""

    source: str
    kind: str
    amount: Decimal
    on: dt.date
    person_id: int | None = None
    payee_id: int | None = None
    run_id: int | None = None
    note: str = ""


_ledger_listeners: list[Callable] = []
_results_listeners: list[Callable] = []


def ledger_listen(fn: Callable) -> None:
    """The ledger's receiver of ``ledger_report`` (registered once, in its ``AppConfig.ready``)."""
    if fn not in _ledger_listeners:
        _ledger_listeners.append(fn)


def ledger_report(entry: LedgerEntry, *, user) -> list:
    """Report ``entry`` to the ledger (in the caller's transaction); each listener's answer (the ledger
    record). An exception (e.g. an unknown business type) refuses the caller's whole change."""
    return [fn(entry=entry, user=user) for fn in list(_ledger_listeners)]


def results_listen(fn: Callable) -> None:
    if fn not in _results_listeners:
        _results_listeners.append(fn)


def results_applied(*, run, user) -> None:
    """Called by ``payroll_lines_apply_results`` after a run's lines got their outcome."""
    for fn in list(_results_listeners):
        fn(run=run, user=user)
