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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


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
