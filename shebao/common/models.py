from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One recorded change or security event. Append-only: the database refuses UPDATE and DELETE
    (trigger in migration 0002) and each row carries the hash of the one before it, so an altered
    or removed row breaks the chain (``shebao audit verify``)."""

    occurred_at = models.DateTimeField(_("时间"), db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, db_constraint=False,
        related_name="+", verbose_name=_("操作人"),
    )
    username = models.CharField(_("用户名"), max_length=150, blank=True)  # kept even if the user goes
    ip = models.CharField(_("来源地址"), max_length=64, blank=True)
    action = models.CharField(_("动作"), max_length=40, db_index=True)  # create/update/delete/login_ok/…
    object_type = models.CharField(_("对象类型"), max_length=60, db_index=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    person_id = models.BigIntegerField(_("人员"), null=True, blank=True, db_index=True)
    summary = models.CharField(_("摘要"), max_length=300, blank=True)
    before = models.JSONField(_("变更前"), null=True, blank=True)
    after = models.JSONField(_("变更后"), null=True, blank=True)
    reason = models.CharField(_("原因"), max_length=500, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("审计记录")
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_type}"


class AuditHead(models.Model):
    """The anchor of the audit chain, kept apart from it: how many rows the chain holds, the id and the
    hash of the last one. One row (id 1), written in the transaction of every append; the database
    refuses to DELETE it or to move it backwards (trigger in migration 0004), so rows cut from the end
    of the chain, or an emptied table, or a chain rewritten with recomputed hashes, no longer match it
    (``shebao audit verify``)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    count = models.BigIntegerField(default=0)  # rows appended since the chain began
    last_id = models.BigIntegerField(default=0)  # AuditEvent.id of the last row (0: none yet)
    hash = models.CharField(max_length=64)  # that row's hash (GENESIS when none)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("审计链锚点")

    def __str__(self) -> str:
        return f"{self.count} {self.hash[:12]}"


class Job(models.Model):
    """A long piece of work run in the background (Procrastinate), with progress a page can show."""

    class State(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("运行中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    kind = models.CharField(_("类型"), max_length=60)
    title = models.CharField(_("标题"), max_length=200)
    params = models.JSONField(default=dict)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.QUEUED)
    done = models.PositiveIntegerField(_("已处理"), default=0)
    total = models.PositiveIntegerField(_("总数"), default=0)
    message = models.TextField(_("信息"), blank=True)
    result = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # While running: refreshed every few seconds by the worker (``jobs.JobProgress``); a running job
    # whose heartbeat is older than the threshold has lost its worker (``jobs.jobs_reap``).
    heartbeat_at = models.DateTimeField(_("心跳时间"), null=True, blank=True)
    # Where the job was started from (the page's request), carried into the audit rows it writes.
    client_ip = models.CharField(_("来源地址"), max_length=64, blank=True)
    user_agent = models.CharField(_("浏览器"), max_length=300, blank=True)
    retry_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 verbose_name=_("重试自"))

    class Meta:
        verbose_name = _("后台任务")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.title} [{self.get_state_display()}]"

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0


class FormSubmission(models.Model):
    """A one-time form token used by a write (``shebao.common.once``): the primary key makes the
    database refuse the second POST of the same form (a double click, two tabs, a replayed request).
    Written in the transaction of the write it guards, so a refused or failed write leaves the token
    free for a corrected retry."""

    token = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    form = models.CharField(max_length=80)  # which form (the URL name), for the record
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("表单提交记录")

    def __str__(self) -> str:
        return f"{self.form} {self.token}"


class PeriodicRun(models.Model):
    """One run of a periodic schedule (``shebao.common.periodic``): started by the worker on its cron,
    or by hand (``shebao periodic run NAME``). Written when it starts, finished with its outcome."""

    class Outcome(models.TextChoices):
        RUNNING = "running", _("运行中")
        OK = "ok", _("成功")
        FAILED = "failed", _("失败")
        SKIPPED = "skipped", _("跳过（上一次仍在运行）")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("定时")
        MANUAL = "manual", _("手动")

    name = models.CharField(_("计划"), max_length=60)
    trigger = models.CharField(_("触发"), max_length=10, choices=Trigger.choices)
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    message = models.TextField(_("说明"), blank=True)
    # a quiet schedule (``periodic(quiet=True)``, e.g. every minute): a routine run (nothing to note) is
    # folded into the routine run before it when that one started within the hour — one row per hour and
    # per change of outcome; ``repeats`` counts the runs folded in, the last ending at ``repeated_until``
    routine = models.BooleanField(_("例行"), default=False)
    repeats = models.PositiveIntegerField(_("合并的运行次数"), default=0)
    repeated_until = models.DateTimeField(_("合并至"), null=True, blank=True)

    class Meta:
        verbose_name = _("定时任务运行")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["name", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.name} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None
