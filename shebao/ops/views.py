"""Pages of 互联网络和安全: link status, targets, incidents (diagnosis), alert channels, inspection
(history, PDF), backups and security. Thin: the work is in ``links``, ``inspection``, ``backups``."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from shebao.common.once import AlreadySubmitted, once_claim
from shebao.ops import forms as f
from shebao.ops import inspection as insp
from shebao.ops import links
from shebao.ops.models import (
    Alert,
    AlertChannel,
    AuditArchive,
    Backup,
    Incident,
    Inspection,
    LinkTarget,
    Probe,
    RateWindow,
)
from shebao.ops.permissions import OPS_RULE, SECURITY_RULE
from shebao.ops.services import channel_save, target_save
from shebao.web.guards import page


def _crumbs(*items):
    return [(_("互联网络和安全"), "")] + list(items)


@page(OPS_RULE)
def link_status(request):
    targets = list(LinkTarget.objects.all())
    for t in targets:
        t.uptime_day = links.uptime(t, days=1)
    return render(request, "ops/links.html", {
        "targets": targets, "summary": links.links_summary(),
        "open_incidents": Incident.objects.filter(closed_at__isnull=True).select_related("target"),
        "recent_incidents": Incident.objects.select_related("target")[:20],
        "alerts": Alert.objects.select_related("incident__target", "channel")[:20],
        "breadcrumbs": _crumbs((_("链路监测"), ""))})


def _target_form(request, target: LinkTarget | None):
    form = f.TargetForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                once_claim(request, form="ops.target")
                saved = target_save(form=form, user=request.user)
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect(reverse("ops:links"))
        messages.success(request, _("已保存监测目标“%(name)s”，下一次探测时生效") % {"name": saved.name})
        return redirect("ops:target", pk=saved.pk)
    title = _("修改监测目标") if target else _("新增监测目标")
    return render(request, "ops/target_form.html", {
        "form": form, "target": target, "title": title,
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (title, ""))})


@page(OPS_RULE)
def target_add(request):
    return _target_form(request, None)


@page(OPS_RULE)
def target_edit(request, pk: int):
    return _target_form(request, get_object_or_404(LinkTarget, pk=pk))


@page(OPS_RULE)
def target_detail(request, pk: int):
    target = get_object_or_404(LinkTarget, pk=pk)
    return render(request, "ops/target.html", {
        "target": target,
        "uptime": [(_("24 小时"), links.uptime(target, days=1)), (_("7 天"), links.uptime(target, days=7)),
                   (_("30 天"), links.uptime(target, days=30))],
        "chart": links.latency_series(target), "probes": Probe.objects.filter(target=target)[:50],
        "incidents": Incident.objects.filter(target=target)[:20],
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (target.name, ""))})


@page(OPS_RULE)
def incident_detail(request, pk: int):
    incident = get_object_or_404(Incident.objects.select_related("target"), pk=pk)
    return render(request, "ops/incident.html", {
        "incident": incident, "diag": links.incident_diagnosis(incident),
        "alerts": incident.alerts.select_related("channel"),
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (_("故障诊断"), ""))})


@page(OPS_RULE)
def channels(request):
    form = f.ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                once_claim(request, form="ops.channel")
                channel = channel_save(form=form, user=request.user)
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("ops:channels")
        messages.success(request, _("已添加告警渠道“%(name)s”") % {"name": channel.name})
        return redirect("ops:channels")
    return render(request, "ops/channels.html", {
        "form": form, "channels": AlertChannel.objects.all(),
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (_("告警渠道"), ""))})


@page(OPS_RULE)
def inspection(request):
    if request.method == "POST":
        report = insp.inspection_run(trigger="手动")
        messages.success(request, _("巡检完成，结论：%(level)s") % {"level": insp.LABELS[report.level]})
        return redirect("ops:inspection_detail", pk=report.pk)
    latest = Inspection.objects.order_by("-taken_at", "-id").first()
    return render(request, "ops/inspection.html", {
        "report": latest, "history": Inspection.objects.order_by("-taken_at", "-id")[:30],
        "chart": insp.history(), "breadcrumbs": _crumbs((_("巡检"), ""))})


@page(OPS_RULE)
def inspection_detail(request, pk: int):
    report = get_object_or_404(Inspection, pk=pk)
    return render(request, "ops/inspection_detail.html", {
        "report": report, "breadcrumbs": _crumbs((_("巡检"), reverse("ops:inspection")),
                                                 (timezone.localtime(report.taken_at).strftime("%Y-%m-%d %H:%M"), ""))})


@page(OPS_RULE)
def inspection_pdf(request, pk: int):
    report = get_object_or_404(Inspection, pk=pk)
    response = HttpResponse(insp.report_pdf(report), content_type="application/pdf")
    name = f"inspection-{timezone.localtime(report.taken_at):%Y%m%d-%H%M}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@page(OPS_RULE)
def backups(request):
    from shebao.ops.backups import backup_dir, last_good_backup

    return render(request, "ops/backups.html", {
        "backups": Backup.objects.all()[:200], "folder": backup_dir(), "last_good": last_good_backup(),
        "archives": AuditArchive.objects.all()[:50],
        "breadcrumbs": _crumbs((_("备份"), ""))})


@page(SECURITY_RULE)
def security(request):
    from shebao.accounts.models import User
    from shebao.common.models import AuditEvent

    since = timezone.now() - dt.timedelta(hours=24)
    return render(request, "ops/security.html", {
        "trips": RateWindow.objects.filter(tripped_at__gte=since).order_by("-tripped_at")[:100],
        "locked": User.objects.filter(locked_until__gt=timezone.now()).order_by("username"),
        "failed": AuditEvent.objects.filter(occurred_at__gte=since, action__in=["login_failed", "login_locked"])
        .order_by("-id")[:100],
        "breadcrumbs": _crumbs((_("安全"), ""))})
