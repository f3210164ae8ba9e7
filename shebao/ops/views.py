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
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

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
from shebao.web.tables import ChoiceFilter, Column, DateRangeFilter, Table, TextFilter, render_table


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


class BackupTable(Table):
    columns = [
        Column("started_at", _l("开始时间"), kind="datetime", sortable=True),
        Column("trigger", _l("触发")),
        Column("status", _l("结果"), kind="choice"),
        Column("file_name", _l("文件"), sortable=True),
        Column("size", _l("大小（字节）"), kind="num", sortable=True),
        Column("sha256", "SHA-256"),
        Column("server_version", _l("数据库版本")),
        Column("removed_at", _l("按保留策略删除于"), kind="datetime"),
        Column("message", _l("说明")),
    ]
    filters = [
        ChoiceFilter("status", _l("结果"), field="status", choices=lambda request: Backup.Status.choices),
        DateRangeFilter("date", _l("开始日期"), field="started_at__date"),
    ]
    default_sort = "-started_at"
    export_name = _l("数据库备份")

    def cell_sha256(self, value, row):
        return format_html('<span class="mono" title="{}">{}…</span>', value, value[:12]) if value else ""


@page(OPS_RULE)
def backups(request):
    from shebao.ops.backups import backup_dir, last_good_backup

    table = BackupTable(request, Backup.objects.all())
    return render_table(request, table, "ops/backups.html", {
        "folder": backup_dir(), "last_good": last_good_backup(), "archives": AuditArchive.objects.all()[:50],
        "breadcrumbs": _crumbs((_("备份"), ""))})


class IncidentTable(Table):
    columns = [
        Column("target__name", _l("目标"), sortable=True, link=("ops:incident", "pk")),
        Column("target__owner", _l("归属"), kind="choice", choices=LinkTarget.Owner.choices),
        Column("first_failure_at", _l("首次失败"), kind="datetime", sortable=True),
        Column("opened_at", _l("告警时间"), kind="datetime", sortable=True),
        Column("closed_at", _l("恢复时间"), kind="datetime", sortable=True),
        Column("stage", _l("失败环节"), kind="choice", choices=Probe.Stage.choices),
        Column("message", _l("原因")),
    ]
    filters = [
        TextFilter("target", _l("目标"), lookups=["target__name__contains"]),
        ChoiceFilter("owner", _l("归属"), field="target__owner", choices=lambda request: LinkTarget.Owner.choices),
        ChoiceFilter("open", _l("状态"), choices=lambda request: [("1", _("未恢复")), ("0", _("已恢复"))],
                     method=lambda qs, value, request: qs.filter(closed_at__isnull=value == "1")),
        DateRangeFilter("date", _l("首次失败日期"), field="first_failure_at__date"),
    ]
    default_sort = "-first_failure_at"
    export_name = _l("链路故障")


@page(OPS_RULE)
def incidents(request):
    table = IncidentTable(request, Incident.objects.all())
    return render_table(request, table, "ops/incidents.html", {
        "breadcrumbs": _crumbs((_("链路监测"), reverse("ops:links")), (_("故障记录"), ""))})


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
