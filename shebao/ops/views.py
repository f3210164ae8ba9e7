"""Pages of 互联网络和安全: link status, targets, incidents (diagnosis), alert channels, inspection
(history, PDF), backups and security. Thin: the work is in ``links``, ``inspection``, ``backups``."""

from __future__ import annotations

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
from shebao.ops import tables as t
from shebao.ops.models import Alert, AlertChannel, Backup, Incident, Inspection, LinkTarget, Probe
from shebao.ops.permissions import OPS_RULE, SECURITY_RULE
from shebao.ops.services import channel_save, target_save
from shebao.web.guards import page
from shebao.web.tables import render_table, render_tables


def _crumbs(*items):
    return [(_("互联网络和安全"), "")] + list(items)


@page(OPS_RULE)
def link_status(request):
    table = t.TargetTable(request, t.targets_queryset())
    return render_table(request, table, "ops/links.html", {
        "summary": links.links_summary(),
        "open_incidents": Incident.objects.filter(closed_at__isnull=True).select_related("target"),
        "recent_incidents": Incident.objects.select_related("target")[:5],
        "alerts": Alert.objects.select_related("incident__target", "channel")[:5],
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
    return render_tables(request, {
        "probes": t.TargetProbeTable(request, Probe.objects.filter(target=target)),
        "incidents": t.TargetIncidentTable(request, Incident.objects.filter(target=target)),
    }, "ops/target.html", {
        "target": target,
        "uptime": [(_("24 小时"), links.uptime(target, days=1)), (_("7 天"), links.uptime(target, days=7)),
                   (_("30 天"), links.uptime(target, days=30))],
        "chart": links.latency_series(target),
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (target.name, ""))})


@page(OPS_RULE)
def probes(request):
    table = t.ProbeTable(request, Probe.objects.all())
    return render_table(request, table, "ops/list.html", {
        "page_title": _("探测记录"),
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (_("探测记录"), ""))})


@page(OPS_RULE)
def alerts(request):
    table = t.AlertTable(request, Alert.objects.all())
    return render_table(request, table, "ops/list.html", {
        "page_title": _("告警记录"),
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (_("告警记录"), ""))})


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
    return render_table(request, t.ChannelTable(request, AlertChannel.objects.all()), "ops/channels.html", {
        "form": form,
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (_("告警渠道"), ""))})


@page(OPS_RULE)
def inspection(request):
    if request.method == "POST":
        report = insp.inspection_run(trigger="手动")
        messages.success(request, _("巡检完成，结论：%(level)s") % {"level": insp.LABELS[report.level]})
        return redirect("ops:inspection_detail", pk=report.pk)
    latest = Inspection.objects.order_by("-taken_at", "-id").first()
    return render_table(request, t.InspectionTable(request, Inspection.objects.all()), "ops/inspection.html", {
        "report": latest, "chart": insp.history(), "breadcrumbs": _crumbs((_("巡检"), ""))})


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

    return render_tables(request, {
        "table": t.BackupTable(request, Backup.objects.all()),
        "archives": t.ArchiveTable(request, t.archives_queryset()),
    }, "ops/backups.html", {
        "folder": backup_dir(), "last_good": last_good_backup(), "breadcrumbs": _crumbs((_("备份"), ""))})


@page(OPS_RULE)
def incidents(request):
    table = t.IncidentTable(request, Incident.objects.all())
    return render_table(request, table, "ops/incidents.html", {
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (_("故障记录"), ""))})


@page(SECURITY_RULE)
def security(request):
    return render_tables(request, {
        "trips": t.RateTripTable(request, t.rate_trips_queryset()),
        "locked": t.LockedTable(request, t.locked_queryset()),
        "failed": t.FailedLoginTable(request, t.failed_logins_queryset()),
    }, "ops/security.html", {"breadcrumbs": _crumbs((_("安全"), ""))})
