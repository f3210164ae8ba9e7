"""数据维护: correction requests (错误数据修改) with a database-enforced maker-checker.

A request names one person and one thing to change — a basic-data field, the payment account, a
benefit item's monthly amount from a month on, or an enrollment field — with the value it had when
proposed, the new value, a reason and an optional attachment. Another user approves it (the change is
then made by the owning app's service: history kept, audited in the same transaction) or refuses it with
a reason. ``decided_by <> proposed_by`` is a CHECK constraint: no code path can approve its own request."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Decision(models.TextChoices):
    OPEN = "open", _("待审核")
    APPLIED = "applied", _("已更正")
    REFUSED = "refused", _("已驳回")


def decision_constraints(prefix: str) -> list[models.BaseConstraint]:
    """The CHECKs every reviewed request carries, named ``<prefix>_…`` (the names the tables have had
    since their first migration): the decider is not the proposer (maker-checker, for approve AND refuse),
    decided exactly when closed, and a reason."""
    return [
        models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("proposed_by")),
                               name=f"{prefix}_decider_not_proposer"),
        models.CheckConstraint(
            condition=(Q(state="open") & Q(decided_by__isnull=True) & Q(decided_at__isnull=True))
            | (Q(state__in=["applied", "refused"]) & Q(decided_by__isnull=False) & Q(decided_at__isnull=False)),
            name=f"{prefix}_decided_iff_closed"),
        models.CheckConstraint(condition=~Q(reason=""), name=f"{prefix}_has_reason"),
    ]


class ReviewedRequest(models.Model):
    """What a correction request and a batch share: the reason, who proposed it and when, and the
    decision (state, who decided, when, the note). Abstract: each keeps its own table; the CHECKs come
    from ``decision_constraints`` in each model's Meta (a constraint's name is per table)."""

    State = Decision

    reason = models.CharField(_("更正原因"), max_length=500)
    state = models.CharField(_("状态"), max_length=10, choices=Decision.choices, default=Decision.OPEN)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("申请人"))
    proposed_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("审核人"))
    decided_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    decision_note = models.CharField(_("审核意见"), max_length=500, blank=True)

    class Meta:
        abstract = True


class CorrectionRequest(ReviewedRequest):
    class Kind(models.TextChoices):
        PERSON = "person", _("人员基本信息")
        ACCOUNT = "account", _("支付账户")
        AMOUNT = "amount", _("待遇金额")
        ENROLLMENT = "enrollment", _("参保信息")

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("人员"))
    kind = models.CharField(_("更正类型"), max_length=12, choices=Kind.choices)
    field = models.CharField(_("字段"), max_length=40)  # a person field, "account", an item code, an enrollment field
    enrollment = models.ForeignKey("benefits.Enrollment", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    current_value = models.JSONField(_("原值"), default=dict)  # as it was when proposed
    new_value = models.JSONField(_("新值"), default=dict)
    attachment_name = models.CharField(_("附件"), max_length=200, blank=True)
    attachment = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("数据更正申请")
        verbose_name_plural = _("数据更正申请")
        ordering = ["-id"]
        permissions = [("compare_files", "数据比对与转换"), ("run_query", "临时数据统计（运行保存的查询）"),
                       ("manage_query", "维护临时数据统计的查询")]
        indexes = [models.Index(fields=["state", "-id"]), models.Index(fields=["person", "-id"])]
        constraints = [
            # maker-checker: whoever decides is not who proposed (approve AND refuse; a proposer withdraws
            # nothing here — another user refuses it)
            *decision_constraints("correction"),
            models.CheckConstraint(condition=Q(kind__in=["person", "account"]) | Q(enrollment__isnull=False),
                                   name="correction_benefit_has_enrollment"),
        ]

    def __str__(self) -> str:
        return f"更正申请 {self.number}"

    @property
    def number(self) -> str:
        return f"GZ{self.pk:06d}" if self.pk else ""


class CorrectionBatch(ReviewedRequest):
    """批量数据处理: a file of corrections (身份证号 + 字段 + 新值), checked at upload into ``rows`` (each row:
    its person, current → new value, or its error), approved by another user (the same CHECK as a
    request) and applied in one transaction through ``registry.services.person_update``."""

    file_name = models.CharField(_("文件"), max_length=200)
    rows = models.JSONField(_("逐行检查结果"), default=list)
    row_count = models.PositiveIntegerField(_("行数"), default=0)
    error_count = models.PositiveIntegerField(_("错误行数"), default=0)
    applied_count = models.PositiveIntegerField(_("已更正行数"), default=0)
    clean_only = models.BooleanField(_("只更正无误的行"), default=False)
    proposed_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("批量更正")
        verbose_name_plural = _("批量更正")
        ordering = ["-id"]
        constraints = [
            *decision_constraints("correctionbatch"),
        ]

    def __str__(self) -> str:
        return f"批量更正 {self.number}"

    @property
    def number(self) -> str:
        return f"PL{self.pk:06d}" if self.pk else ""


class ConvertLayout(models.Model):
    """数据转换: a saved target layout — which source column fills each target column, in order, with an
    optional code translation, date format, amount format or fixed value (``shebao.maintenance.convert``)."""

    name = models.CharField(_("格式名称"), max_length=100, unique=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    spec = models.TextField(_("列定义"))  # the text as typed (one target column a line)
    columns = models.JSONField(_("列定义（解析后）"), default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("转换格式")
        verbose_name_plural = _("转换格式")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SavedQuery(models.Model):
    """临时数据统计: a saved, parameterised statistic — data, not SQL. ``source`` names one of the
    whitelisted sources of ``shebao.maintenance.statistics.SOURCES``; ``dimensions`` and ``measures`` are
    keys that source offers; ``parameters`` are the filter keys the user fills in when running it.
    Run with the user's towns and schemes (and never showing an ID or account number)."""

    class Chart(models.TextChoices):
        BAR = "bar", _("柱状图")
        LINE = "line", _("折线图")
        NONE = "none", _("不画图")

    name = models.CharField(_("查询名称"), max_length=100, unique=True)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    source = models.CharField(_("数据来源"), max_length=30)
    dimensions = models.JSONField(_("分组"), default=list)
    measures = models.JSONField(_("统计"), default=list)
    parameters = models.JSONField(_("参数"), default=list)
    chart = models.CharField(_("图表"), max_length=10, choices=Chart.choices, default=Chart.BAR)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("临时数据统计查询")
        verbose_name_plural = _("临时数据统计查询")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
