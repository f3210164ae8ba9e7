"""The lists of 互联网络和安全 (``shebao.web.tables``: sort, filter, page, export through the one safe
writer): link targets, probes, incidents, alerts, alert channels, inspections, backups, audit archives,
rate-limit trips, locked accounts and failed logins. Rows are read with ``.values()``; what a page
shows beside a field (the target's address, its 24-hour uptime, an inspection's counts) is an
annotation made here, so the export has it too."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case as DbCase
from django.db.models import (
    CharField,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from shebao.ops.models import (
    Alert,
    AlertChannel,
    AuditArchive,
    Backup,
    Incident,
    Inspection,
    LinkTarget,
    Probe,
)
from shebao.web.tables import ChoiceFilter, Column, DateRangeFilter, Table, TextFilter

LEVEL_TAG = {"ok": "ok", "warn": "warn", "error": "err"}
STATE_TAG = {"up": "ok", "degraded": "warn", "down": "err", "unknown": ""}


def _tag(css: str, text) -> str:
    return format_html('<span class="tag {}">{}</span>', css, text)


def _yes_no(request=None):
    return [("1", _("是")), ("0", _("否"))]


def _bool_filter(field: str):
    return lambda qs, value, request: qs.filter(**{field: value == "1"})


# -- link targets ------------------------------------------------------------------------------------

def targets_queryset():
    """Every target with its address (as the page writes it) and its 24-hour uptime in percent."""
    since = timezone.now() - dt.timedelta(hours=24)
    recent = Probe.objects.filter(target=OuterRef("pk"), at__gte=since).order_by().values("target")
    total = Subquery(recent.annotate(n=Count("id")).values("n"), output_field=IntegerField())
    good = Subquery(recent.filter(ok=True).annotate(n=Count("id")).values("n"), output_field=IntegerField())
    address = DbCase(
        When(kind=LinkTarget.Kind.HTTP, then=F("url")),
        When(kind=LinkTarget.Kind.TCP, then=Concat("host", Value(":"), Cast("port", CharField()))),
        default=F("host"), output_field=CharField())
    return LinkTarget.objects.annotate(
        address_text=address, probes_24h=Coalesce(total, 0), good_24h=Coalesce(good, 0),
    ).annotate(uptime_24h=DbCase(
        When(probes_24h=0, then=Value(None)),
        default=ExpressionWrapper(Value(100.0) * F("good_24h") / F("probes_24h"), output_field=FloatField()),
        output_field=FloatField()))


class TargetTable(Table):
    columns = [
        Column("name", _l("名称"), sortable=True, link=("ops:target", "pk")),
        Column("owner", _l("归属"), kind="choice", sortable=True),
        Column("kind", _l("方式"), kind="choice"),
        Column("address_text", _l("地址"), sortable=True),
        Column("state", _l("状态"), kind="choice", sortable=True),
        Column("last_latency_ms", _l("延迟（毫秒）"), kind="num", sortable=True),
        Column("state_since", _l("状态变化"), kind="datetime", sortable=True),
        Column("last_probe_at", _l("上次探测"), kind="datetime", sortable=True),
        Column("uptime_24h", _l("24 小时可用率（%）"), kind="num", sortable=True),
        Column("active", _l("启用"), kind="bool"),
    ]
    filters = [
        TextFilter("q", _l("名称/地址"), lookups=["name__contains", "host__contains", "url__contains"]),
        ChoiceFilter("owner", _l("归属"), choices=lambda request: LinkTarget.Owner.choices),
        ChoiceFilter("kind", _l("方式"), choices=lambda request: LinkTarget.Kind.choices),
        ChoiceFilter("state", _l("状态"), choices=lambda request: LinkTarget.State.choices),
        ChoiceFilter("active", _l("启用"), choices=_yes_no, method=_bool_filter("active")),
    ]
    default_sort = "owner"
    export_name = _l("监测目标")
    dom_id = "tbl-targets"

    def cell_state(self, value, row):
        return _tag(STATE_TAG.get(value, ""), self.column("state").text(value, self.masker))

    def cell_address_text(self, value, row):
        return format_html('<span class="mono">{}</span>', value or "")

    def cell_uptime_24h(self, value, row):
        return "—" if value is None else f"{value:.2f}%"

    def xlsx_uptime_24h(self, value, row):
        return None if value is None else round(value, 2)


# -- probes ------------------------------------------------------------------------------------------

class ProbeTable(Table):
    columns = [
        Column("at", _l("时间"), kind="datetime", sortable=True),
        Column("target__name", _l("目标"), sortable=True, link=("ops:target", "target_id")),
        Column("ok", _l("结果"), kind="bool", sortable=True),
        Column("stage", _l("失败环节"), kind="choice", choices=Probe.Stage.choices),
        Column("latency_ms", _l("延迟（毫秒）"), kind="num", sortable=True),
        Column("status_code", _l("HTTP 状态"), kind="num"),
        Column("message", _l("说明")),
    ]
    filters = [
        TextFilter("target", _l("目标"), lookups=["target__name__contains"]),
        ChoiceFilter("ok", _l("结果"), choices=lambda request: [("1", _("成功")), ("0", _("失败"))],
                     method=_bool_filter("ok")),
        ChoiceFilter("stage", _l("失败环节"), choices=lambda request: [c for c in Probe.Stage.choices if c[0]]),
        DateRangeFilter("date", _l("日期"), field="at", datetime=True),
    ]
    extra_fields = ("target_id",)
    default_sort = "-at"
    export_name = _l("探测记录")
    dom_id = "tbl-probes"

    def cell_ok(self, value, row):
        return _tag("ok", _("成功")) if value else _tag("err", _("失败"))

    def xlsx_ok(self, value, row):
        return _("成功") if value else _("失败")


class TargetProbeTable(ProbeTable):
    """The probes of one target (its page): without the target column and filter."""

    columns = [c for c in ProbeTable.columns if c.key != "target__name"]
    filters = [f for f in ProbeTable.filters if f.key != "target"]
    prefix = "p_"
    dom_id = "tbl-target-probes"
    page_size = 20


# -- incidents and alerts ----------------------------------------------------------------------------

def _duration(row) -> dt.timedelta | None:
    first = row.get("first_failure_at")
    if first is None:
        return None
    return (row.get("closed_at") or timezone.now()) - first


def duration_text(value: dt.timedelta | None) -> str:
    from shebao.ops.templatetags.ops_tags import duration_text as text

    return text(value)


class IncidentTable(Table):
    columns = [
        Column("target__name", _l("目标"), sortable=True, link=("ops:incident", "pk")),
        Column("target__owner", _l("归属"), kind="choice", choices=LinkTarget.Owner.choices),
        Column("first_failure_at", _l("首次失败"), kind="datetime", sortable=True),
        Column("opened_at", _l("告警时间"), kind="datetime", sortable=True),
        Column("closed_at", _l("恢复时间"), kind="datetime", sortable=True),
        Column("duration", _l("持续"), field="first_failure_at"),
        Column("stage", _l("失败环节"), kind="choice", choices=Probe.Stage.choices),
        Column("message", _l("原因")),
    ]
    filters = [
        TextFilter("target", _l("目标"), lookups=["target__name__contains"]),
        ChoiceFilter("owner", _l("归属"), field="target__owner", choices=lambda request: LinkTarget.Owner.choices),
        ChoiceFilter("open", _l("状态"), choices=lambda request: [("1", _("未恢复")), ("0", _("已恢复"))],
                     method=lambda qs, value, request: qs.filter(closed_at__isnull=value == "1")),
        DateRangeFilter("date", _l("首次失败日期"), field="first_failure_at", datetime=True),
    ]
    extra_fields = ("closed_at",)
    default_sort = "-first_failure_at"
    export_name = _l("链路故障")
    dom_id = "tbl-incidents"

    def cell_closed_at(self, value, row):
        if value is None:
            return _tag("err", _("未恢复"))
        return self.column("closed_at").text(value, self.masker)

    def cell_duration(self, value, row):
        return duration_text(_duration(row))

    def xlsx_duration(self, value, row):
        return duration_text(_duration(row))


class TargetIncidentTable(IncidentTable):
    """The incidents of one target (its page)."""

    columns = [
        Column("first_failure_at", _l("首次失败"), kind="datetime", sortable=True, link=("ops:incident", "pk")),
        Column("opened_at", _l("告警时间"), kind="datetime", sortable=True),
        Column("closed_at", _l("恢复时间"), kind="datetime", sortable=True),
        Column("duration", _l("持续"), field="first_failure_at", export=True),
        Column("stage", _l("失败环节"), kind="choice", choices=Probe.Stage.choices),
        Column("message", _l("原因")),
    ]
    filters = [f for f in IncidentTable.filters if f.key in ("open", "date")]
    prefix = "i_"
    dom_id = "tbl-target-incidents"
    page_size = 20


class AlertTable(Table):
    columns = [
        Column("at", _l("时间"), kind="datetime", sortable=True),
        Column("incident__target__name", _l("目标"), sortable=True, link=("ops:incident", "incident_id")),
        Column("event", _l("事件"), kind="choice", choices=[("open", _l("中断")), ("close", _l("恢复"))]),
        Column("channel__name", _l("渠道"), sortable=True),
        Column("ok", _l("结果"), kind="bool"),
        Column("message", _l("内容")),
    ]
    filters = [
        TextFilter("target", _l("目标"), lookups=["incident__target__name__contains"]),
        ChoiceFilter("event", _l("事件"), choices=lambda request: [("open", _("中断")), ("close", _("恢复"))]),
        ChoiceFilter("ok", _l("结果"), choices=lambda request: [("1", _("已发出")), ("0", _("失败"))],
                     method=_bool_filter("ok")),
        DateRangeFilter("date", _l("日期"), field="at", datetime=True),
    ]
    extra_fields = ("incident_id",)
    default_sort = "-at"
    export_name = _l("告警记录")
    dom_id = "tbl-alerts"

    def cell_channel__name(self, value, row):
        return value or _("系统页面")

    def xlsx_channel__name(self, value, row):
        return value or _("系统页面")

    def cell_ok(self, value, row):
        return _tag("ok", _("已发出")) if value else _tag("err", _("失败"))

    def xlsx_ok(self, value, row):
        return _("已发出") if value else _("失败")


class ChannelTable(Table):
    columns = [
        Column("name", _l("名称"), sortable=True),
        Column("kind", _l("方式"), kind="choice", sortable=True),
        Column("address", _l("地址")),
        Column("active", _l("启用"), kind="bool", sortable=True),
    ]
    filters = [
        TextFilter("q", _l("名称/地址"), lookups=["name__contains", "address__contains"]),
        ChoiceFilter("kind", _l("方式"), choices=lambda request: AlertChannel.Kind.choices),
    ]
    default_sort = "name"
    export_name = _l("告警渠道")
    empty_text = _l("没有告警渠道：告警只显示在系统页面")
    dom_id = "tbl-channels"

    def cell_address(self, value, row):
        return format_html('<span class="mono">{}</span>', value)


# -- inspections -------------------------------------------------------------------------------------

class InspectionTable(Table):
    columns = [
        Column("taken_at", _l("巡检时间"), kind="datetime", sortable=True, link=("ops:inspection_detail", "pk")),
        Column("trigger", _l("触发"), sortable=True),
        Column("level", _l("结论"), kind="choice", sortable=True),
        Column("db_mb", _l("数据库大小（MB）"), kind="num", sortable=True),
        Column("pdf", _l("打印"), field="pk", export=False),
    ]
    filters = [
        ChoiceFilter("level", _l("结论"), choices=lambda request: Inspection.Level.choices),
        ChoiceFilter("trigger", _l("触发"), choices=lambda request: [("定时", _("定时")), ("手动", _("手动"))]),
        DateRangeFilter("date", _l("巡检日期"), field="taken_at", datetime=True),
    ]
    default_sort = "-taken_at"
    export_name = _l("巡检历史")
    empty_text = _l("没有历史记录")
    dom_id = "tbl-inspections"
    page_size = 20

    def __init__(self, request, queryset, **kw):
        queryset = queryset.annotate(db_mb=ExpressionWrapper(F("db_size") / 1048576, output_field=IntegerField()))
        super().__init__(request, queryset, **kw)

    def cell_level(self, value, row):
        return _tag(LEVEL_TAG.get(value, ""), self.column("level").text(value, self.masker))

    def cell_pdf(self, value, row):
        return format_html('<a href="{}">PDF</a>', reverse("ops:inspection_pdf", args=[value]))


# -- backups and audit archives ----------------------------------------------------------------------

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
    dom_id = "tbl-backups"

    def cell_sha256(self, value, row):
        return format_html('<span class="mono" title="{}">{}…</span>', value, value[:12]) if value else ""


class ArchiveTable(Table):
    columns = [
        Column("created_at", _l("归档时间"), kind="datetime", sortable=True),
        Column("before", _l("归档截止"), kind="datetime", sortable=True),
        Column("first_id", _l("起始编号"), kind="num", sortable=True),
        Column("last_id", _l("结束编号"), kind="num", sortable=True),
        Column("rows", _l("条数"), kind="num", sortable=True),
        Column("file_name", _l("文件")),
        Column("folder", _l("目录")),
        Column("sha256", "SHA-256"),
    ]
    filters = [DateRangeFilter("date", _l("归档日期"), field="created_at", datetime=True)]
    default_sort = "-last_id"
    export_name = _l("审计记录归档")
    empty_text = _l("还没有归档")
    prefix = "a_"
    dom_id = "tbl-archives"
    page_size = 20

    def cell_sha256(self, value, row):
        return format_html('<span class="mono" title="{}">{}…</span>', value, value[:12]) if value else ""

    def cell_file_name(self, value, row):
        return format_html('<span class="mono">{}</span>', value)


# -- security ----------------------------------------------------------------------------------------

SCOPES = [("login", _l("登录")), ("api", _l("接口"))]


class RateTripTable(Table):
    columns = [
        Column("tripped_at", _l("触发时间"), kind="datetime", sortable=True),
        Column("scope", _l("范围"), kind="choice", choices=SCOPES, sortable=True),
        Column("client", _l("来源地址"), sortable=True),
        Column("window_start", _l("计数窗口开始"), kind="datetime", sortable=True),
        Column("count", _l("请求数"), kind="num", sortable=True),
        Column("max_count", _l("限额"), kind="num"),
    ]
    filters = [
        TextFilter("client", _l("来源地址"), lookups=["client__contains"]),
        ChoiceFilter("scope", _l("范围"), choices=lambda request: SCOPES),
        DateRangeFilter("date", _l("触发日期"), field="tripped_at", datetime=True),
    ]
    default_sort = "-tripped_at"
    export_name = _l("访问频率限制触发记录")
    empty_text = _l("没有触发")
    prefix = "r_"
    dom_id = "tbl-rate-trips"
    page_size = 20

    def cell_client(self, value, row):
        return format_html('<span class="mono">{}</span>', value)


class LockedTable(Table):
    columns = [
        Column("username", _l("用户名"), sortable=True),
        Column("full_name", _l("姓名"), sortable=True),
        Column("locked_until", _l("锁定至"), kind="datetime", sortable=True),
    ]
    filters = [TextFilter("q", _l("用户名/姓名"), lookups=["username__contains", "full_name__contains"])]
    default_sort = "username"
    export_name = _l("锁定的账号")
    empty_text = _l("没有锁定的账号")
    prefix = "l_"
    dom_id = "tbl-locked"
    page_size = 20


FAILED_ACTIONS = [("login_failed", _l("登录失败")), ("login_locked", _l("账号被锁定"))]


class FailedLoginTable(Table):
    columns = [
        Column("occurred_at", _l("时间"), kind="datetime", sortable=True),
        Column("action", _l("事件"), kind="choice", choices=FAILED_ACTIONS),
        Column("username", _l("用户名"), sortable=True),
        Column("ip", _l("来源地址"), sortable=True),
        Column("summary", _l("摘要")),
    ]
    filters = [
        TextFilter("q", _l("用户名/地址"), lookups=["username__contains", "ip__contains"]),
        ChoiceFilter("action", _l("事件"), choices=lambda request: FAILED_ACTIONS),
        DateRangeFilter("date", _l("日期"), field="occurred_at", datetime=True),
    ]
    default_sort = "-occurred_at"
    export_name = _l("登录失败记录")
    empty_text = _l("没有登录失败")
    prefix = "f_"
    dom_id = "tbl-failed-logins"
    page_size = 20


def failed_logins_queryset():
    from shebao.common.models import AuditEvent

    return AuditEvent.objects.filter(action__in=[a for a, _label in FAILED_ACTIONS])


def rate_trips_queryset():
    from shebao.ops.models import RateWindow

    return RateWindow.objects.filter(tripped_at__isnull=False)


def locked_queryset():
    from shebao.accounts.models import User

    return User.objects.filter(locked_until__gt=timezone.now())


def alerts_queryset():
    return Alert.objects.all()


def archives_queryset():
    return AuditArchive.objects.all()


def incidents_queryset():
    return Incident.objects.all()


def probes_queryset():
    return Probe.objects.all()

