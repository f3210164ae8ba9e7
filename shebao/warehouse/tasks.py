"""Periodic work of the 回流库 (``shebao.common.periodic``), run by the job worker."""

from __future__ import annotations

from shebao.common.periodic import PeriodicError, periodic
from shebao.warehouse.drop import warehouse_drop_pick_up


@periodic("warehouse_drop_pickup", cron="*/5 * * * *", title="回流库：装载投放目录中的文件")
def warehouse_drop_pickup() -> str:
    """Every file waiting in the drop folder, each landed as its own batch (``shebao.warehouse.drop``)."""
    result = warehouse_drop_pick_up()
    if result.failed:
        raise PeriodicError(result.message)
    return result.message
