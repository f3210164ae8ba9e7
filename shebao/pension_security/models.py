"""养老保障 (BZ) records of our own: categories (类别, data) with their standards and conversion ages,
the BZ members (人员信息: category, what they paid in), benefit proposals (待遇核准, maker-checker),
age conversions (到龄转换) and withdrawal settlements (退保清算). Enrollments, item amounts,
adjustments and runs belong to the benefits and payroll engine; persons and accounts to the registry."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from shebao.common.dbfields import MONEY
from shebao.common.dbfields import first_of_month_check as _first_of_month


class Phase(models.TextChoices):
    SUBSIDY = "subsidy", _("生活补助")  # before the category's conversion age
    PENSION = "pension", _("养老金")  # after it


class Category(models.Model):
    """类别 of 养老保障 persons (被征地人员养老保障 …): data, not code. The conversion age per sex; the
    refund formula of a 退保清算: refund = max(floor, round_half_up(paid_in × paid_in_rate − received ×
    received_rate, 0.01))."""

    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=50, unique=True)
    conversion_age_male = models.PositiveSmallIntegerField(_("男转换年龄"), default=60)
    conversion_age_female = models.PositiveSmallIntegerField(_("女转换年龄"), default=55)
    refund_paid_in_rate = models.DecimalField(_("退保：缴费计入比例"), max_digits=6, decimal_places=4, default=1)
    refund_received_rate = models.DecimalField(_("退保：已领扣除比例"), max_digits=6, decimal_places=4, default=1)
    refund_floor = models.DecimalField(_("退保：最低退还额"), default=0, **MONEY)
    active = models.BooleanField(_("启用"), default=True)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("养老保障类别")
        ordering = ["sort", "code"]
        permissions = [
            ("view_bz", _("查看养老保障人员")),
            ("manage_bz", _("养老保障经办")),
            ("manage_bz_category", _("维护养老保障类别与标准")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(conversion_age_male__gte=16, conversion_age_male__lte=100)
                                   & Q(conversion_age_female__gte=16, conversion_age_female__lte=100),
                                   name="bzcategory_age_range"),
            models.CheckConstraint(condition=Q(refund_paid_in_rate__gte=0, refund_received_rate__gte=0,
                                               refund_floor__gte=0), name="bzcategory_refund_nonneg"),
        ]

    def __str__(self) -> str:
        return self.name

    def conversion_age(self, sex: str) -> int:
        return self.conversion_age_male if sex == "M" else self.conversion_age_female


class CategoryStandard(models.Model):
    """A category's monthly amount of one phase (生活补助 before conversion, 养老金 after) from a month
    on, until the next standard of the same category and phase."""

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="standards")
    phase = models.CharField(_("阶段"), max_length=10, choices=Phase.choices)
    item = models.ForeignKey("benefits.BenefitItem", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("待遇项目"))
    amount = models.DecimalField(_("月标准"), **MONEY)
    from_month = models.DateField(_("生效年月"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("类别待遇标准")
        ordering = ["category", "phase", "from_month"]
        constraints = [
            models.UniqueConstraint(fields=["category", "phase", "from_month"], name="bzstandard_unique_from"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="bzstandard_amount_nonneg"),
            _first_of_month("from_month", "bzstandard_from_first"),
        ]

    def __str__(self) -> str:
        return f"{self.category_id} {self.phase} {self.amount} {self.from_month:%Y-%m}"


class Member(models.Model):
    """A 养老保障 person: the category, the phase (生活补助 or, after conversion, 养老金) and the
    enrollment in scheme BZ once a benefit is approved (before that nothing is paid)."""

    person = models.OneToOneField("registry.Person", on_delete=models.PROTECT, related_name="bz_member")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="members",
                                 verbose_name=_("类别"))
    phase = models.CharField(_("阶段"), max_length=10, choices=Phase.choices, default=Phase.SUBSIDY)
    enrollment = models.OneToOneField("benefits.Enrollment", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+")
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("养老保障人员")
        ordering = ["id"]
        indexes = [models.Index(fields=["category", "phase"])]

    def __str__(self) -> str:
        return f"BZ {self.person_id}"


class PaidIn(models.Model):
    """What the person paid in (缴费 or 一次性趸缴), with its date: the basis of a 退保清算."""

    class Kind(models.TextChoices):
        CONTRIBUTION = "contribution", _("缴费")
        LUMP_SUM = "lump_sum", _("一次性趸缴")

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="paid_in")
    kind = models.CharField(_("缴费方式"), max_length=12, choices=Kind.choices)
    paid_on = models.DateField(_("缴费日期"))
    amount = models.DecimalField(_("缴费金额"), **MONEY)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("缴费记录")
        ordering = ["member", "paid_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="bzpaidin_amount_pos"),
            models.UniqueConstraint(fields=["member", "kind", "paid_on", "amount"], name="bzpaidin_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind} {self.paid_on} {self.amount}"


class Proposal(models.Model):
    """待遇核准: a clerk proposes (category standard, start month, items), ANOTHER user approves or
    refuses with a reason. The database refuses a decision by the proposer (``bzproposal_maker_checker``)
    and more than one open proposal per member. Approval enrolls the person in BZ through the engine."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("待核准")
        APPROVED = "approved", _("已核准")
        REFUSED = "refused", _("已退回")

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="proposals")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+", verbose_name=_("类别"))
    phase = models.CharField(_("阶段"), max_length=10, choices=Phase.choices)
    start_month = models.DateField(_("开始年月"))
    items = models.JSONField(_("待遇项目"), default=dict)  # {item code: "amount"}
    monthly_total = models.DecimalField(_("月合计"), **MONEY)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.PROPOSED)
    note = models.CharField(_("说明"), max_length=300, blank=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("申报人"))
    proposed_at = models.DateTimeField(_("申报时间"), auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True, verbose_name=_("核准人"))
    decided_at = models.DateTimeField(_("核准时间"), null=True, blank=True)
    decision_reason = models.CharField(_("核准意见"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("待遇核准")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("proposed_by")),
                                   name="bzproposal_maker_checker"),
            models.CheckConstraint(condition=Q(state="proposed", decided_by__isnull=True)
                                   | (~Q(state="proposed") & Q(decided_by__isnull=False)),
                                   name="bzproposal_decided_state"),
            models.CheckConstraint(condition=~Q(state="refused") | ~Q(decision_reason=""),
                                   name="bzproposal_refusal_reason"),
            models.UniqueConstraint(fields=["member"], condition=Q(state="proposed"), name="bzproposal_one_open"),
            models.CheckConstraint(condition=Q(monthly_total__gte=0), name="bzproposal_total_nonneg"),
            _first_of_month("start_month", "bzproposal_start_first"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.state}"


class Conversion(models.Model):
    """到龄转换: the member's switch from 生活补助 to the category's 养老金, from ``month`` (the month
    after the birthday month of the conversion age). One per member: converting again does nothing."""

    member = models.OneToOneField(Member, on_delete=models.PROTECT, related_name="conversion")
    enrollment = models.ForeignKey("benefits.Enrollment", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("转换年月"))
    age = models.PositiveSmallIntegerField(_("转换年龄"))
    before = models.JSONField(_("转换前"), default=dict)  # {item code: amount}
    after = models.JSONField(_("转换后"), default=dict)
    run_month = models.DateField(_("办理年月"))  # the --month of the conversion batch
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    null=True, blank=True, verbose_name=_("复核人"))
    reviewed_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("办理时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("到龄转换")
        ordering = ["-month", "id"]
        constraints = [_first_of_month("month", "bzconversion_month_first"),
                       _first_of_month("run_month", "bzconversion_run_month_first")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.month:%Y-%m}"


class Settlement(models.Model):
    """退保清算 on withdrawal or death: refund = the category's formula over what was paid in and
    what was received (never below the floor, 0 by default); paid in the engine's termination
    settlement line (a 零星发放 through the bank). Numbered ``BZ2026-000001``; one per member."""

    class Reason(models.TextChoices):
        WITHDRAWAL = "withdrawal", _("退保")
        DEATH = "death", _("死亡")

    member = models.OneToOneField(Member, on_delete=models.PROTECT, related_name="settlement")
    number = models.CharField(_("结算单号"), max_length=20, unique=True)
    reason = models.CharField(_("原因"), max_length=12, choices=Reason.choices)
    on_date = models.DateField(_("终止日期"))
    paid_in = models.DecimalField(_("缴费合计"), **MONEY)
    received = models.DecimalField(_("已领待遇"), **MONEY)
    formula = models.JSONField(_("计算公式"), default=dict)
    refund = models.DecimalField(_("退还金额"), **MONEY)
    net = models.DecimalField(_("结算净额"), **MONEY)  # the engine's settlement: refund + 补发 − 扣减
    run = models.ForeignKey("payroll.PayrollRun", on_delete=models.PROTECT, null=True, blank=True,
                            related_name="+", verbose_name=_("零星发放批次"))
    payee_name = models.CharField(_("领款人"), max_length=50, blank=True)
    print_count = models.PositiveIntegerField(_("打印次数"), default=0)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("结算时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("退保清算")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(refund__gte=0), name="bzsettlement_refund_nonneg"),
            models.CheckConstraint(condition=Q(paid_in__gte=0) & Q(received__gte=0), name="bzsettlement_sums_nonneg"),
        ]

    def __str__(self) -> str:
        return self.number


class RosterImport(models.Model):
    """One BZ 花名册 file: previewed, and if clean and confirmed, applied (the bytes kept)."""

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
    preview = models.JSONField(_("检查结果"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    applied_at = models.DateTimeField(_("导入时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("养老保障花名册导入")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.file_name
