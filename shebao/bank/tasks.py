"""Periodic work of the bank interface (``shebao.common.periodic``), run by the job worker."""

from __future__ import annotations

from shebao.bank.transfer import bank_files_auto_deliver, bank_returns_pick_up
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


AUTO_DELIVER_CRON = "*/2 * * * *"


@periodic("bank_auto_deliver", cron=AUTO_DELIVER_CRON, title="自动发送报盘文件（各传输通道）")
def bank_auto_deliver() -> str:
    """Every channel with 自动发送 sends its bank's new payment files (``shebao.bank.transfer``
    ``bank_files_auto_deliver``): each file once, a failure retried later. A failure makes the run 失败
    with its reasons; the files sent stay sent."""
    result = bank_files_auto_deliver()
    if result.failed:
        raise PeriodicError(result.message)
    return result.message
