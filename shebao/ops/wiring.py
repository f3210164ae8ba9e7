"""Menu entries of 互联网络和安全 (group ``ops``) and the home page's work item (open link incidents)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext


def open_incidents_work(request):
    from shebao.common import policy
    from shebao.ops.models import Incident
    from shebao.ops.permissions import OPS_RULE

    if not policy.allows(request.user, OPS_RULE):
        return []
    n = Incident.objects.filter(closed_at__isnull=True).count()
    return [(gettext("未恢复的链路故障"), n, reverse("ops:links"))] if n else []


def connect() -> None:
    from shebao.ops.permissions import OPS_RULE, SECURITY_RULE
    from shebao.web import menu, work

    for key, url, rule in [("ops.links", "ops:links", OPS_RULE), ("ops.inspection", "ops:inspection", OPS_RULE),
                           ("ops.backups", "ops:backups", OPS_RULE), ("ops.security", "ops:security", SECURITY_RULE)]:
        if menu.find_entry(key) is not None:
            menu.set_url(key, url, rule=rule)
    work.register(open_incidents_work)
