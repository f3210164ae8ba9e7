"""Schemes, enrollments, benefit items and amounts, status history, adjustments (补发/扣减) and raise
rules. Months are ``DateField``s holding the first day of the month (see ``benefits.months``)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from shebao.common.dbfields import MONEY
from shebao.common.dbfields import first_of_month_check as _first_of_month


class Scheme(models.Model):
    """险种 / 待遇类别: ZG 自管人员, NB 老农保, BZ 养老保障, TB 土保补贴 (seeded)."""

    code = models.CharField(_("代码"), max_length=4, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("险种")
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return self.name


class BenefitItem(models.Model):
    """待遇项目 of a scheme (基本养老金, 统筹外补贴 …). ``recurring`` items are paid every month."""

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="items")
    code = models.CharField(_("代码"), max_length=20)
    name = models.CharField(_("名称"), max_length=50)
    recurring = models.BooleanField(_("按月发放"), default=True)
    is_basic = models.BooleanField(_("基本待遇"), default=False)  # the base of a percentage raise
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("待遇项目")
        ordering = ["scheme", "sort", "code"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "code"], name="benefititem_unique_code"),
            models.UniqueConstraint(fields=["scheme"], condition=Q(is_basic=True), name="benefititem_one_basic"),
        ]

    def __str__(self) -> str:
        return self.name


class SuspensionReason(models.Model):
    """Why payment is suspended or ended. ``pays_on_resume``: the suspended months are paid as 补发
    when resumed (未提供生存证明 yes, 判刑收监 no). ``terminates``: ends the enrollment (死亡)."""

    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    pays_on_resume = models.BooleanField(_("恢复时补发"), default=False)
    terminates = models.BooleanField(_("终止发放"), default=False)
    active = models.BooleanField(_("启用"), default=True)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("暂停/终止原因")
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return self.name


class PaymentStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    SUSPENDED = "suspended", _("暂停")
    TERMINATED = "terminated", _("终止")


class Enrollment(models.Model):
    """A person's membership in a scheme. Paid for month P when start_month ≤ P ≤ end_month (open end
    = still paid), P is not inside a suspension, and the person did not die before P."""

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="enrollments")
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="enrollments")
    payment_status = models.CharField(
        _("发放状态"), max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.ACTIVE
    )
    start_month = models.DateField(_("开始年月"))  # first paid month
    end_month = models.DateField(_("终止年月"), null=True, blank=True)  # last paid month, inclusive
    service_years = models.DecimalField(_("工龄(年)"), max_digits=5, decimal_places=2, default=0)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("待遇享受")
        constraints = [
            models.UniqueConstraint(fields=["person", "scheme"], name="enrollment_unique_person_scheme"),
            _first_of_month("start_month", "enrollment_start_month_first"),
            _first_of_month("end_month", "enrollment_end_month_first", nullable=True),
            models.CheckConstraint(
                # a death before the first paid month ends it with nothing paid (end before start)
                condition=Q(end_month__isnull=True) | Q(end_month__gte=F("start_month"))
                | Q(payment_status="terminated"),
                name="enrollment_end_after_start",
            ),
            models.CheckConstraint(condition=Q(service_years__gte=0), name="enrollment_service_years_nonneg"),
        ]
        indexes = [models.Index(fields=["scheme", "payment_status"])]

    def __str__(self) -> str:
        return f"{self.person_id}@{self.scheme_id}"


class StatusChange(models.Model):
    """History of an enrollment's payment status; never edited."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(_("原状态"), max_length=12, choices=PaymentStatus.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=12, choices=PaymentStatus.choices)
    effective_month = models.DateField(_("生效年月"))  # first month the new status applies
    event_date = models.DateField(_("事件日期"), null=True, blank=True)  # e.g. the date of death
    reason = models.ForeignKey(SuspensionReason, on_delete=models.PROTECT, null=True, blank=True,
                               verbose_name=_("原因"))
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("经办人"))
    note = models.CharField(_("说明"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("发放状态变更")
        ordering = ["enrollment", "id"]
        constraints = [_first_of_month("effective_month", "statuschange_month_first")]

    def __str__(self) -> str:
        return f"{self.enrollment_id} {self.from_status}→{self.to_status} {self.effective_month:%Y-%m}"


class Suspension(models.Model):
    """A run of suspended months [from_month, to_month]; to_month empty while still suspended.
    ``pays_on_resume`` is copied from the reason when suspended (so later reconfiguration of the
    reason does not rewrite history)."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="suspensions")
    reason = models.ForeignKey(SuspensionReason, on_delete=models.PROTECT, related_name="+")
    pays_on_resume = models.BooleanField(_("恢复时补发"))
    from_month = models.DateField(_("暂停起始年月"))
    to_month = models.DateField(_("暂停截止年月"), null=True, blank=True)  # last suspended month

    class Meta:
        verbose_name = _("暂停期间")
        ordering = ["enrollment", "from_month"]
        constraints = [
            _first_of_month("from_month", "suspension_from_first"),
            _first_of_month("to_month", "suspension_to_first", nullable=True),
            models.CheckConstraint(condition=Q(to_month__isnull=True) | Q(to_month__gte=F("from_month")),
                                   name="suspension_range"),
            models.UniqueConstraint(fields=["enrollment"], condition=Q(to_month__isnull=True),
                                    name="suspension_one_open"),
        ]
        indexes = [models.Index(fields=["enrollment", "from_month"])]

    def __str__(self) -> str:
        return f"{self.enrollment_id} {self.from_month:%Y-%m}–{self.to_month or ''}"


class BenefitAmount(models.Model):
    """A person's monthly amount of an item over [from_month, to_month] (to_month empty = open).
    A change closes the old range and opens a new one; ranges of one enrollment+item never overlap
    (enforced by the services under a row lock: btree_gist is not available everywhere)."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="amounts")
    item = models.ForeignKey(BenefitItem, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("月金额"), **MONEY)
    from_month = models.DateField(_("起始年月"))
    to_month = models.DateField(_("截止年月"), null=True, blank=True)  # inclusive
    raise_rule = models.ForeignKey("RaiseRule", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("待遇标准")
        ordering = ["enrollment", "item", "from_month"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="benefitamount_amount_nonneg"),
            _first_of_month("from_month", "benefitamount_from_first"),
            _first_of_month("to_month", "benefitamount_to_first", nullable=True),
            models.CheckConstraint(condition=Q(to_month__isnull=True) | Q(to_month__gte=F("from_month")),
                                   name="benefitamount_range"),
            models.UniqueConstraint(fields=["enrollment", "item", "from_month"], name="benefitamount_unique_from"),
            models.UniqueConstraint(fields=["enrollment", "item"], condition=Q(to_month__isnull=True),
                                    name="benefitamount_one_open"),
        ]

    def __str__(self) -> str:
        return f"{self.enrollment_id} {self.item_id} {self.amount} {self.from_month:%Y-%m}"


class Adjustment(models.Model):
    """补发 (arrears: paid whole in the next payroll) or 扣减 (deduction: taken up to the gross, at most
    ``monthly_cap`` a month, the rest carried over until ``remaining`` is 0)."""

    class Kind(models.TextChoices):
        ARREARS = "arrears", _("补发")
        DEDUCTION = "deduction", _("扣减")

    class State(models.TextChoices):
        PENDING = "pending", _("待处理")
        SETTLED = "settled", _("已结清")
        CANCELLED = "cancelled", _("已取消")

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    total = models.DecimalField(_("总金额"), **MONEY)
    remaining = models.DecimalField(_("未结金额"), **MONEY)
    monthly_cap = models.DecimalField(_("每月上限"), null=True, blank=True, **MONEY)  # deductions only
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.PENDING)
    reason = models.CharField(_("原因"), max_length=200)
    source = models.CharField(_("来源"), max_length=200, blank=True)  # e.g. "批量调待 2026 年调整"
    source_ref = models.CharField(_("来源编号"), max_length=64, blank=True)  # e.g. "raise:12", "resume:34"
    raise_rule = models.ForeignKey("RaiseRule", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="adjustments")
    period_from = models.DateField(_("所属起始年月"), null=True, blank=True)
    period_to = models.DateField(_("所属截止年月"), null=True, blank=True)
    detail = models.JSONField(_("明细"), default=dict, blank=True)  # e.g. {"months": {"2026-01": "20.00"}}
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("补发扣减")
        ordering = ["enrollment", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="adjustment_total_pos"),
            models.CheckConstraint(condition=Q(remaining__gte=0) & Q(remaining__lte=F("total")),
                                   name="adjustment_remaining_range"),
            models.CheckConstraint(
                condition=Q(monthly_cap__isnull=True) | (Q(monthly_cap__gt=0) & Q(kind="deduction")),
                name="adjustment_cap_deduction_only",
            ),
            models.CheckConstraint(
                condition=~Q(state="settled") | Q(remaining=0), name="adjustment_settled_zero",
            ),
        ]
        indexes = [
            models.Index(fields=["enrollment"], condition=Q(state="pending"), name="adjustment_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.total} (未结 {self.remaining})"


class RaiseRule(models.Model):
    """An applied 批量调待 rule (SPEC "Batch raise"). raise = quantize(fixed + per_service_year ×
    floor(service years) + current amount × percent / 100 + tilt). Applying the same rule twice is
    refused by the unique name and the unique fingerprint (hash of the rule's terms)."""

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(BenefitItem, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("名称"), max_length=100)
    effective_month = models.DateField(_("生效年月"))
    apply_month = models.DateField(_("执行年月"))
    fixed = models.DecimalField(_("定额"), **MONEY)
    per_service_year = models.DecimalField(_("每满一年工龄"), **MONEY)
    percent = models.DecimalField(_("比例(%)"), max_digits=7, decimal_places=4)
    percent_base_item = models.ForeignKey(BenefitItem, on_delete=models.PROTECT, related_name="+",
                                          verbose_name=_("比例基数项目"))
    age_reference_date = models.DateField(_("年龄计算日"), null=True, blank=True)
    age_tilts = models.JSONField(_("年龄倾斜"), default=list, blank=True)  # [{"min_age": 70, "amount": "20.00"}]
    fingerprint = models.CharField(max_length=64, unique=True)
    person_count = models.PositiveIntegerField(_("人数"), default=0)
    monthly_total = models.DecimalField(_("月增资合计"), default=0, **MONEY)
    arrears_total = models.DecimalField(_("补发合计"), default=0, **MONEY)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("调待规则")
        constraints = [
            models.UniqueConstraint(fields=["scheme", "item", "effective_month", "name"], name="raiserule_unique_name"),
            models.CheckConstraint(condition=Q(apply_month__gte=F("effective_month")), name="raiserule_apply_after"),
            _first_of_month("effective_month", "raiserule_effective_first"),
            _first_of_month("apply_month", "raiserule_apply_first"),
        ]

    def __str__(self) -> str:
        return self.name
