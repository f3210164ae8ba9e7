"""Periodic work of the bank interface (``shebao.common.periodic``), run by the job worker."""

from __future__ import annotations

from shebao.bank.transfer import bank_returns_pick_up
from shebao.common.periodic import PeriodicError, periodic

PICKUP_CRON = "*/10 * * * *"


@periodic("bank_return_pickup", cron=PICKUP_CRON, title="接收银行回盘（各传输通道）")
def bank_return_pickup() -> str:
    """Every active channel's waiting return files, checked whole and imported, or parked in
    ``rejected/`` with the reason (``shebao.bank.transfer``). A channel that cannot be reached makes
    the run 失败 with its reason; the other channels' files are still taken."""
    result = bank_returns_pick_up()
    if result.failed:
        raise PeriodicError(result.message)
    return result.message
