"""Writes of 互联网络和安全 that pages make: link targets and alert channels (audited: who changed what
the on-call person relies on). Backups, probes and inspections are in ``backups``, ``links`` and
``inspection``."""

from __future__ import annotations

from django.db import transaction

from shebao.common.audit import audit_record, diff, snapshot
from shebao.ops.models import AlertChannel, LinkTarget


def target_save(*, form, user) -> LinkTarget:
    """Create or change a link target from a valid ``TargetForm``; a changed target is probed at the next
    run (its schedule restarts)."""
    with transaction.atomic():
        before = snapshot(LinkTarget.objects.get(pk=form.instance.pk)) if form.instance.pk else {}
        target = form.save(commit=False)
        target.next_probe_at = None
        target.save()
        after = snapshot(target)
        old, new = diff(before, after)
        audit_record(user=user, action="update" if before else "create", obj=target,
                     summary=f"链路监测目标：{target.name}", before=old or None, after=new)
    return target


def channel_save(*, form, user) -> AlertChannel:
    with transaction.atomic():
        channel = form.save()
        audit_record(user=user, action="create", obj=channel, summary=f"告警渠道：{channel.name}",
                     after=snapshot(channel))
    return channel
