"""互联网络和安全: backups, link watch (targets, probes, incidents, alert channels), inspections and the
rate-limit windows. Owned by ``shebao.ops``; written only through ``shebao.ops.services``."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Backup(models.Model):
    """One run of ``shebao ops backup``: a pg_dump custom-format file and its ``.sha256`` beside it in
    ``SHEBAO_BACKUP_DIR``. ``removed_at`` is set when the retention policy deleted the file (the row stays)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("进行中")
        OK = "ok", _("成功")
        FAILED = "failed", _("失败")

    started_at = models.DateTimeField(_("开始时间"), db_index=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    status = models.CharField(_("结果"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    file_name = models.CharField(_("文件"), max_length=200, blank=True)
    folder = models.CharField(_("目录"), max_length=500, blank=True)
    size = models.BigIntegerField(_("大小（字节）"), default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    server_version = models.CharField(_("数据库版本"), max_length=40, blank=True)
    pg_dump = models.CharField(_("pg_dump 程序"), max_length=500, blank=True)
    message = models.TextField(_("说明"), blank=True)
    trigger = models.CharField(_("触发"), max_length=20, blank=True)  # 定时 / 手动
    removed_at = models.DateTimeField(_("按保留策略删除于"), null=True, blank=True)

    class Meta:
        verbose_name = _("数据库备份")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return self.file_name or f"backup {self.pk}"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None


class LinkTarget(models.Model):
    """A link to watch: the provincial, ministry and Ningbo applications the agency reaches over its
    dedicated lines, and internal services. Probed by the ``ops_link_probe`` schedule every minute when due."""

    class Owner(models.TextChoices):
        PROVINCE = "province", _("省")
        MINISTRY = "ministry", _("部")
        NINGBO = "ningbo", _("宁波")
        INTERNAL = "internal", _("内部")

    class Kind(models.TextChoices):
        TCP = "tcp", _("TCP 连接")
        HTTP = "http", _("HTTP(S) 状态和关键字")
        DNS = "dns", _("DNS 解析")

    class State(models.TextChoices):
        UNKNOWN = "unknown", _("未探测")
        UP = "up", _("正常")
        DEGRADED = "degraded", _("降级")
        DOWN = "down", _("中断")

    name = models.CharField(_("名称"), max_length=100, unique=True)
    owner = models.CharField(_("归属"), max_length=10, choices=Owner.choices)
    kind = models.CharField(_("探测方式"), max_length=10, choices=Kind.choices)
    host = models.CharField(_("主机"), max_length=255, blank=True)  # TCP and DNS
    port = models.PositiveIntegerField(_("端口"), null=True, blank=True)  # TCP
    url = models.CharField(_("URL"), max_length=500, blank=True)  # HTTP(S)
    expect_status = models.PositiveSmallIntegerField(_("期望状态码"), default=200)
    keyword = models.CharField(_("页面关键字"), max_length=200, blank=True)
    interval_seconds = models.PositiveIntegerField(_("探测间隔（秒）"), default=60)
    timeout_seconds = models.PositiveIntegerField(_("超时（秒）"), default=5)
    failures_before_alert = models.PositiveSmallIntegerField(_("连续失败几次告警"), default=2)
    slow_ms = models.PositiveIntegerField(_("延迟超过（毫秒）为降级"), default=1000)
    active = models.BooleanField(_("启用"), default=True)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.UNKNOWN)
    state_since = models.DateTimeField(_("状态变化时间"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_probe_at = models.DateTimeField(_("上次探测"), null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(_("延迟（毫秒）"), null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("监测目标")
        ordering = ["owner", "name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(interval_seconds__gte=10), name="ops_target_interval_min"),
            models.CheckConstraint(condition=models.Q(timeout_seconds__gte=1), name="ops_target_timeout_min"),
            models.CheckConstraint(condition=models.Q(failures_before_alert__gte=1), name="ops_target_failures_min"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def address(self) -> str:
        if self.kind == self.Kind.HTTP:
            return self.url
        if self.kind == self.Kind.TCP:
            return f"{self.host}:{self.port}"
        return self.host


class Probe(models.Model):
    """One probe of a target: ok or the stage that failed (DNS, TCP, HTTP, keyword) and why."""

    class Stage(models.TextChoices):
        NONE = "", _("—")
        DNS = "dns", _("DNS 解析")
        TCP = "tcp", _("TCP 连接")
        HTTP = "http", _("HTTP 响应")
        KEYWORD = "keyword", _("页面关键字")

    target = models.ForeignKey(LinkTarget, on_delete=models.CASCADE, related_name="probes")
    at = models.DateTimeField(_("时间"), db_index=True)
    ok = models.BooleanField(_("成功"))
    stage = models.CharField(_("失败环节"), max_length=10, choices=Stage.choices, blank=True)
    latency_ms = models.PositiveIntegerField(_("延迟（毫秒）"), null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.CharField(_("说明"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("探测记录")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target", "at"])]

    def __str__(self) -> str:
        return f"{self.target_id} {self.at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else self.stage}"


class Incident(models.Model):
    """A fault: opened when a target failed ``failures_before_alert`` probes in a row, closed by the first
    good probe after it."""

    target = models.ForeignKey(LinkTarget, on_delete=models.PROTECT, related_name="incidents")
    opened_at = models.DateTimeField(_("告警时间"), db_index=True)
    first_failure_at = models.DateTimeField(_("首次失败"))
    closed_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)
    stage = models.CharField(_("失败环节"), max_length=10, choices=Probe.Stage.choices, blank=True)
    message = models.CharField(_("原因"), max_length=500, blank=True)
    last_good_at = models.DateTimeField(_("最后一次成功"), null=True, blank=True)

    class Meta:
        verbose_name = _("故障")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["target"], condition=models.Q(closed_at__isnull=True),
                                    name="ops_one_open_incident_per_target"),
        ]

    def __str__(self) -> str:
        return f"incident {self.pk} of target {self.target_id}"

    @property
    def duration(self):
        from django.utils import timezone

        return (self.closed_at or timezone.now()) - self.first_failure_at


class AlertChannel(models.Model):
    """Where alerts go besides the UI: SMTP mail (Django's email settings) or a webhook (JSON POST, e.g.
    to the agency's SMS gateway)."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("邮件")
        WEBHOOK = "webhook", _("Webhook（短信网关）")

    name = models.CharField(_("名称"), max_length=100, unique=True)
    kind = models.CharField(_("方式"), max_length=10, choices=Kind.choices)
    address = models.CharField(_("地址"), max_length=500,
                               help_text=_("邮件：收件人，逗号分隔；Webhook：http(s) URL"))
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("告警渠道")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    """An alert about an incident (opened or recovered), one row per channel it was sent to (channel
    empty: the UI itself)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    channel = models.ForeignKey(AlertChannel, on_delete=models.SET_NULL, null=True, blank=True)
    at = models.DateTimeField(_("时间"))
    event = models.CharField(_("事件"), max_length=10)  # open / close
    ok = models.BooleanField(_("发送成功"), default=True)
    message = models.CharField(_("说明"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("告警")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.message


class Inspection(models.Model):
    """One 巡检 report: every check with its value, threshold and status, kept for the history."""

    class Level(models.TextChoices):
        OK = "ok", _("正常")
        WARN = "warn", _("警告")
        ERROR = "error", _("异常")

    taken_at = models.DateTimeField(_("巡检时间"), db_index=True)
    level = models.CharField(_("结论"), max_length=10, choices=Level.choices)
    trigger = models.CharField(_("触发"), max_length=20, blank=True)
    db_size = models.BigIntegerField(_("数据库大小（字节）"), default=0)
    items = models.JSONField(_("检查项"), default=list)

    class Meta:
        verbose_name = _("巡检报告")
        ordering = ["-taken_at", "-id"]

    def __str__(self) -> str:
        return f"inspection {self.taken_at:%Y-%m-%d %H:%M}"


class RateWindow(models.Model):
    """Requests counted per (scope, client) and fixed time window, in PostgreSQL so every web process
    shares one count (no per-process cache). ``tripped_at`` is set when the count first passed the limit."""

    scope = models.CharField(max_length=20)  # login / api
    client = models.CharField(max_length=100)  # the client's address
    window_start = models.DateTimeField(db_index=True)
    count = models.PositiveIntegerField(default=0)
    max_count = models.PositiveIntegerField(default=0)  # the limit when the window was counted
    tripped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("访问频率计数")
        constraints = [models.UniqueConstraint(fields=["scope", "client", "window_start"], name="ops_rate_window_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.client} {self.window_start:%Y-%m-%d %H:%M:%S} {self.count}"


class AppError(models.Model):
    """An application error (an unhandled exception answered with 500, a job's internal error), counted by
    the inspection. Written by ``shebao.ops.logs.AppErrorHandler``."""

    at = models.DateTimeField(db_index=True)
    logger = models.CharField(max_length=100)
    message = models.CharField(max_length=500)

    def __str__(self) -> str:
        return self.message


class AuditArchive(models.Model):
    """A stretch of the audit trail written to a file (``shebao ops audit-archive``), with the signed
    checkpoint of its last row beside it. The rows stay in the database: archived, never deleted."""

    created_at = models.DateTimeField(_("归档时间"))
    before = models.DateTimeField(_("归档截止"))  # rows that occurred before this
    first_id = models.BigIntegerField(_("起始编号"))
    last_id = models.BigIntegerField(_("结束编号"), unique=True)
    rows = models.PositiveIntegerField(_("条数"))
    chain_count = models.BigIntegerField(_("截至末条的链长"))  # the checkpoint's count
    last_hash = models.CharField(max_length=64)
    folder = models.CharField(_("目录"), max_length=500)
    file_name = models.CharField(_("文件"), max_length=200)
    sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("审计归档")
        ordering = ["-last_id"]

    def __str__(self) -> str:
        return self.file_name
