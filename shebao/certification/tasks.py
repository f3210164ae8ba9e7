"""Periodic work of 生存认证 (``shebao.common.periodic``), run by the job worker."""

from __future__ import annotations

from django.utils import timezone

from shebao.common.periodic import periodic

SWEEP_CRON = "30 17 * * *"  # 01:30 in 慈溪 (UTC+8)


@periodic("certification_sweep", cron=SWEEP_CRON, title="生存认证到期清理（逾期未认证暂停发放）")
def certification_sweep_daily() -> str:
    """Every day: suspend whoever is past grace today (``certification_sweep``), as the system user."""
    from shebao.accounts.models import User
    from shebao.certification.services import certification_sweep

    user = system_user(User)
    result = certification_sweep(on=timezone.localdate(), user=user)
    return f"暂停 {result.suspended} 人次"


def system_user(User):
    """The operator of automatic work: the account ``system`` (inactive, no password), made once."""
    user, _ = User.objects.get_or_create(username="system", defaults={"is_active": False,
                                                                     "first_name": "系统"})
    return user
