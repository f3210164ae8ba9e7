"""自管人员 records of our own: roster import batches (花名册导入), flexible one-off payments (灵活支付)
and income (收入: money coming back). Enrollments, amounts, adjustments and runs belong to the
benefits and payroll engine; persons and accounts to the registry."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shebao.common.dbfields import MONEY


class RosterImport(models.Model):
    """One 花名册 file: previewed (dry run) and, if clean and confirmed, applied. The bytes are kept so
    what was imported is always provable, and so the web confirm step applies exactly what was previewed."""

    class State(models.TextChoices):
        PREVIEWED = "previewed", _("已预览")
        REFUSED = "refused", _("有错误")
        APPLIED = "applied", _("已导入")

    file_name = models.CharField(_("文件名"), max_length=200)
    sha256 = models.CharField(_("校验和"), max_length=64)
    content = models.BinaryField(_("文件内容"))
    state = models.CharField(_("状态"), max_length=10, choices=State.choices)
    row_count = models.PositiveIntegerField(_("行数"), default=0)
    error_count = models.PositiveIntegerField(_("错误数"), default=0)
    changed_count = models.PositiveIntegerField(_("变动人数"), default=0)
    summary = models.JSONField(_("摘要"), default=dict, blank=True)
    # the check's result as the batch page shows it (``roster.plan_preview``), stored once at upload so
    # that the page never parses the file again (six views of a large batch once took 6 GB)
    preview = models.JSONField(_("检查结果"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("经办人"))
    created_by_name = models.CharField(_("经办人"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    applied_at = models.DateTimeField(_("导入时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("花名册导入")
        ordering = ["-id"]
        permissions = [
            ("view_zg", _("查看自管人员")),
            ("manage_zg", _("自管人员经办")),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_state_display()})"


class FlexPayment(models.Model):
    """灵活支付: a one-off payment to a person, paid through a one-off payroll run (零星发放) that is
    approved and sent like any run."""

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("收款人"))
    amount = models.DecimalField(_("金额"), **MONEY)
    reason = models.CharField(_("事由"), max_length=200)
    source = models.CharField(_("依据/来源"), max_length=200, blank=True)
    run = models.ForeignKey("payroll.PayrollRun", on_delete=models.PROTECT, related_name="+",
                            verbose_name=_("零星发放批次"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("灵活支付")
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="flexpayment_amount_pos")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.amount}"


class Income(models.Model):
    """收入: money coming back for a person (a recovered overpayment, a payment the bank returned …).
    Where the person has an open 扣减 (e.g. the overpayment after a death), the income reduces it by
    ``applied`` (≤ amount) so the same money is not recovered twice."""

    class Kind(models.TextChoices):
        OVERPAYMENT = "overpayment", _("追回多发")
        BANK_RETURN = "bank_return", _("银行退回")
        OTHER = "other", _("其他收入")

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("人员"))
    enrollment = models.ForeignKey("benefits.Enrollment", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    kind = models.CharField(_("收入类型"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(_("金额"), **MONEY)
    received_on = models.DateField(_("到账日期"))
    source = models.CharField(_("来源"), max_length=200)  # e.g. 家属退回、银行退回（批次号）
    note = models.CharField(_("备注"), max_length=300, blank=True)
    deduction = models.ForeignKey("benefits.Adjustment", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("冲减的扣减"))
    applied = models.DecimalField(_("冲减金额"), default=0, **MONEY)  # part of amount that reduced the deduction
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("收入")
        ordering = ["-received_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="income_amount_pos"),
            models.CheckConstraint(condition=Q(applied__gte=0) & Q(applied__lte=models.F("amount")),
                                   name="income_applied_range"),
            models.CheckConstraint(condition=Q(deduction__isnull=False) | Q(applied=0), name="income_applied_needs_deduction"),
        ]
        indexes = [models.Index(fields=["person"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"
