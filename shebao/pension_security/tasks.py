"""Periodic work of 养老保障 (``shebao.common.periodic``), run by the job worker."""

from __future__ import annotations

from django.utils import timezone

from shebao.common.periodic import periodic

CONVERT_CRON = "0 18 1 * *"  # 02:00 in 慈溪 on the 2nd of each month (UTC+8: the 1st, 18:00 UTC)


@periodic("bz_convert", cron=CONVERT_CRON, title="养老保障到龄转换（每月）")
def bz_convert_monthly() -> str:
    """Every month: 到龄转换 for the current month (``bz_convert``), as the system user; idempotent."""
    from shebao.accounts.models import User
    from shebao.certification.tasks import system_user
    from shebao.pension_security.services import bz_convert

    result = bz_convert(month=timezone.localdate().replace(day=1), user=system_user(User))
    return f"到龄转换 {len(result.converted)} 人，未转换 {len(result.skipped)} 人"
