"""Payroll runs, their lines (one per person, with snapshots of who and where the money goes) and the
components that explain each line. Periods are ``DateField``s on the first day of the month."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from shebao.common.dbfields import MONEY


class PayrollRun(models.Model):
    """One payroll (结算) of a scheme: regular monthly, annual (年度发放: period = 1 January of the year),
    one-off (零星发放) or re-issue (二次报盘). computed → approved (by another user) → exported →
    partly returned (部分回盘: some lines still wait for their bank file's return) →
    returned → completed. Immutable once approved."""

    class Kind(models.TextChoices):
        REGULAR = "regular", _("月度结算")
        ANNUAL = "annual", _("年度发放")
        ONE_OFF = "one_off", _("零星发放")
        REISSUE = "reissue", _("二次报盘")

    class State(models.TextChoices):
        COMPUTED = "computed", _("已计算")
        APPROVED = "approved", _("已审核")
        EXPORTED = "exported", _("已报盘")
        PARTLY_RETURNED = "partial", _("部分回盘")  # some lines returned, some still waiting for their file's return
        RETURNED = "returned", _("已回盘")
        COMPLETED = "completed", _("已完成")

    scheme = models.ForeignKey("benefits.Scheme", on_delete=models.PROTECT, related_name="+")
    period = models.DateField(_("结算年月"))
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.COMPUTED)
    parent_run = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="reissues", verbose_name=_("原结算"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("经办人"))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("审核人"))
    created_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(_("计算时间"), null=True, blank=True)
    approved_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    exported_at = models.DateTimeField(_("报盘时间"), null=True, blank=True)
    returned_at = models.DateTimeField(_("回盘时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    line_count = models.PositiveIntegerField(_("笔数"), default=0)
    gross = models.DecimalField(_("应发合计"), default=0, **MONEY)
    deductions = models.DecimalField(_("扣减合计"), default=0, **MONEY)
    net = models.DecimalField(_("实发合计"), default=0, **MONEY)
    note = models.CharField(_("备注"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("结算批次")
        ordering = ["-period", "-id"]
        # viewing is the default ``view_payrollrun``; approving (审核) and writing off is ``accounts.review``
        permissions = [
            ("compute_run", _("结算（计算、重算、零星发放、二次报盘）")),
            ("export_run", _("报盘与回盘导入")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "period"], condition=Q(kind="regular"),
                                    name="payrollrun_one_regular_per_period"),
            models.UniqueConstraint(fields=["scheme", "period"], condition=Q(kind="annual"),
                                    name="payrollrun_one_annual_per_year"),
            models.CheckConstraint(condition=~Q(kind="annual") | Q(period__month=1),
                                   name="payrollrun_annual_period_january"),
            models.CheckConstraint(condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                                   name="payrollrun_maker_checker"),
            models.CheckConstraint(condition=Q(period__day=1), name="payrollrun_period_first"),
            models.CheckConstraint(condition=Q(net=F("gross") - F("deductions")) & Q(deductions__gte=0)
                                   & Q(net__gte=0), name="payrollrun_totals"),
            models.CheckConstraint(condition=Q(parent_run__isnull=True) | Q(kind="reissue"),
                                   name="payrollrun_parent_reissue_only"),
            models.CheckConstraint(condition=Q(state="computed") | Q(approved_by__isnull=False),
                                   name="payrollrun_approved_has_reviewer"),
        ]
        indexes = [models.Index(fields=["scheme", "period"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period:%Y-%m} #{self.pk}"


# Foreign keys without a database constraint (db_constraint=False): lines and components are written
# only by the engine, in one INSERT … SELECT from the very rows they reference, and are never edited
# by hand. PostgreSQL checks a foreign key row by row (a key-share lock on the referenced row); for a
# run of 80,000 lines and 250,000 components those checks cost more than the compute itself (measured
# 20 s of 34 s at 80k under load), so the references from lines and components are kept by the engine
# and by the ORM's on_delete (PROTECT/CASCADE) rather than by the database. line → run keeps its
# constraint (cheap: one referenced row).


class PayrollLine(models.Model):
    """What one payee is paid by a run, with snapshots of who and the account the money was sent to (a
    later change of account affects only the next file). net = gross − deductions ≥ 0.
    The payee is either a registered person (``person``, paid to their account ``bank_account``) or a
    registered organisation payee (``payee``: one version of a ``registry.Payee``; then ``id_number``
    holds its 统一社会信用代码 and ``name`` its 户名) — exactly one of the two (a database check)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发")
        SENT = "sent", _("已报盘")
        PAID = "paid", _("已支付")
        FAILED = "failed", _("失败")
        REISSUED = "reissued", _("已重发")  # failed, and re-paid by a line of a re-issue run
        WRITTEN_OFF = "written_off", _("已核销")

    # indexes kept few on purpose: a run inserts up to ~1M lines; (run, person) and (run, seq) cover run_id
    run = models.ForeignKey(PayrollRun, on_delete=models.CASCADE, related_name="lines", db_index=False)
    seq = models.PositiveIntegerField(_("序号"))  # 1..n within the run
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+", db_constraint=False,
                               null=True, blank=True)
    payee = models.ForeignKey("registry.Payee", on_delete=models.PROTECT, related_name="+", null=True, blank=True,
                              db_index=False, db_constraint=False, verbose_name=_("收款方"))
    enrollment = models.ForeignKey("benefits.Enrollment", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", db_index=False, db_constraint=False)
    id_number = models.CharField(_("身份证号"), max_length=18)
    name = models.CharField(_("姓名"), max_length=50)
    bank_account = models.ForeignKey("registry.BankAccount", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", db_index=False, db_constraint=False)
    bank = models.CharField(_("开户银行"), max_length=10, blank=True)
    branch = models.CharField(_("开户网点"), max_length=100, blank=True)
    account_number = models.CharField(_("银行账号"), max_length=32, blank=True)
    holder_name = models.CharField(_("户名"), max_length=50, blank=True)
    gross = models.DecimalField(_("应发"), **MONEY)
    deductions = models.DecimalField(_("扣减"), default=0, **MONEY)
    net = models.DecimalField(_("实发"), **MONEY)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.PENDING)
    paid_amount = models.DecimalField(_("实付金额"), default=0, **MONEY)
    fail_reason = models.CharField(_("失败原因"), max_length=200, blank=True)
    origin_line = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="reissue_lines", verbose_name=_("原失败明细"), db_index=False)
    memo = models.CharField(_("摘要"), max_length=100, blank=True)
    written_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+", db_index=False)
    written_off_at = models.DateTimeField(null=True, blank=True)
    write_off_reason = models.CharField(_("核销原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("结算明细")
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "person"], name="payrollline_one_per_person"),
            models.UniqueConstraint(fields=["run", "payee"], condition=Q(payee__isnull=False),
                                    name="payrollline_one_per_payee"),
            models.CheckConstraint(condition=(Q(person__isnull=False) & Q(payee__isnull=True))
                                   | (Q(person__isnull=True) & Q(payee__isnull=False) & Q(bank_account__isnull=True)),
                                   name="payrollline_person_xor_payee"),
            models.UniqueConstraint(fields=["run", "seq"], name="payrollline_unique_seq"),
            models.CheckConstraint(condition=Q(net=F("gross") - F("deductions")), name="payrollline_net"),
            models.CheckConstraint(condition=Q(gross__gte=0) & Q(deductions__gte=0) & Q(net__gte=0)
                                   & Q(paid_amount__gte=0), name="payrollline_amounts_nonneg"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="payrollline_seq_from_1"),
            models.CheckConstraint(condition=~Q(status="written_off") | Q(written_off_by__isnull=False),
                                   name="payrollline_write_off_reviewer"),
        ]
        indexes = [
            models.Index(fields=["origin_line"], condition=Q(origin_line__isnull=False), name="payrollline_origin"),
            models.Index(fields=["payee"], condition=Q(payee__isnull=False), name="payrollline_payee"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.name} {self.net}"


class PayrollComponent(models.Model):
    """One part of a line: an item amount for the period (or a one-off payment: kind item, no
    benefit item, the memo as description), a 补发 taken whole, or a 扣减 taken.
    Σ item + Σ arrears = line.gross; Σ deduction = line.deductions."""

    class Kind(models.TextChoices):
        ITEM = "item", _("待遇项目")
        ARREARS = "arrears", _("补发")
        DEDUCTION = "deduction", _("扣减")

    line = models.ForeignKey(PayrollLine, on_delete=models.CASCADE, related_name="components", db_constraint=False)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    benefit_item = models.ForeignKey("benefits.BenefitItem", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", db_index=False, db_constraint=False)
    adjustment = models.ForeignKey("benefits.Adjustment", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", db_index=False, db_constraint=False)
    amount = models.DecimalField(_("金额"), **MONEY)
    description = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("结算明细构成")
        ordering = ["line", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="payrollcomponent_amount_nonneg"),
            models.CheckConstraint(
                condition=(Q(kind="item") & Q(adjustment__isnull=True))
                | (~Q(kind="item") & Q(adjustment__isnull=False) & Q(benefit_item__isnull=True)),
                name="payrollcomponent_kind_refs",
            ),
        ]
        indexes = [models.Index(fields=["adjustment"], condition=Q(adjustment__isnull=False),
                                name="payrollcomponent_adjustment")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class MonthEndSnapshot(models.Model):
    """月末数据 of a scheme and month, kept when a run of that period completes (rewritten by later
    completions of the same period). ``data`` holds the breakdowns (persons by status, amounts by item)."""

    scheme = models.ForeignKey("benefits.Scheme", on_delete=models.PROTECT, related_name="+")
    period = models.DateField(_("年月"))
    persons_active = models.PositiveIntegerField(_("正常人数"), default=0)
    persons_suspended = models.PositiveIntegerField(_("暂停人数"), default=0)
    persons_terminated = models.PositiveIntegerField(_("终止人数"), default=0)
    payable = models.DecimalField(_("应付"), default=0, **MONEY)
    paid = models.DecimalField(_("实付"), default=0, **MONEY)
    failed = models.DecimalField(_("失败"), default=0, **MONEY)
    owed = models.DecimalField(_("欠付"), default=0, **MONEY)  # failed and not yet re-paid or written off
    data = models.JSONField(default=dict)
    taken_at = models.DateTimeField(_("生成时间"), auto_now=True)

    class Meta:
        verbose_name = _("月末数据")
        ordering = ["scheme", "-period"]
        constraints = [models.UniqueConstraint(fields=["scheme", "period"], name="monthend_unique")]

    def __str__(self) -> str:
        return f"{self.scheme_id} {self.period:%Y-%m}"


class AccountRejection(models.Model):
    """A line the bank rejected (回盘 失败), kept by account number: what the risk check looks up
    (``LineRisk`` kind ``rejected``) and the account entry warns of. Written with the return's outcome
    (``payroll_lines_apply_results``, in the same statement); never changed. A table of its own rather
    than an index on the lines' status: an index naming ``status`` would make every status change of a
    line (已报盘, 已支付 — 80,000 rows at a time) a non-HOT update of every index of the lines."""

    line = models.OneToOneField(PayrollLine, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    run = models.ForeignKey(PayrollRun, on_delete=models.CASCADE, related_name="+", db_index=False,
                            db_constraint=False)
    seq = models.PositiveIntegerField(_("序号"))
    person = models.ForeignKey("registry.Person", on_delete=models.DO_NOTHING, related_name="+", null=True,
                               db_index=False, db_constraint=False)
    payee = models.ForeignKey("registry.Payee", on_delete=models.DO_NOTHING, related_name="+", null=True,
                              db_index=False, db_constraint=False)
    account_number = models.CharField(_("银行账号"), max_length=32, db_index=True)
    reason = models.CharField(_("失败原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("银行退回记录")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.account_number[-4:]} {self.reason}"


class LineRisk(models.Model):
    """A line that must not go to the bank as it is (风险明细), found set-based when the run is computed
    and again when it is approved and exported (``payroll.services.payroll_run_risks_refresh``):

    - ``rejected``: an earlier line to the same account number was rejected by the bank (failed, then
      re-issued or written off — the bank's reason kept) and no later line to that account was paid;
    - ``holder``: the account's 户名 is not the person's name;
    - ``luhn``: the account was registered with a check warning (Luhn) that no reviewer confirmed.

    A risky line is HELD OUT of the bank file unless a reviewer releases it with a reason
    (``released_*``, audited). At export a held line is not sent: it becomes 失败 with the reason
    ``风险暂缓，未报盘：…`` (``held_out_at``), so it stays on the run, is owed like a bank failure and is
    paid by the existing 二次报盘 (to the person's current account: a corrected account is no longer
    risky; an unchanged one is held again unless released) or written off (核销)."""

    class Kind(models.TextChoices):
        REJECTED = "rejected", _("账户曾被银行退回")
        HOLDER = "holder", _("户名与姓名不符")
        LUHN = "luhn", _("账号校验未通过")

    line = models.OneToOneField(PayrollLine, on_delete=models.CASCADE, related_name="risk", db_constraint=False,
                                verbose_name=_("结算明细"))
    run = models.ForeignKey(PayrollRun, on_delete=models.CASCADE, related_name="risks", verbose_name=_("结算批次"))
    kinds = models.CharField(_("风险类型"), max_length=40)  # comma-separated Kind values, in Kind order
    detail = models.CharField(_("风险说明"), max_length=300)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("放行人"))
    released_at = models.DateTimeField(_("放行时间"), null=True, blank=True)
    release_reason = models.CharField(_("放行原因"), max_length=200, blank=True)
    held_out_at = models.DateTimeField(_("暂缓时间"), null=True, blank=True)  # kept out of a bank file
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("风险明细")
        ordering = ["run", "line"]
        constraints = [
            models.CheckConstraint(condition=Q(released_at__isnull=True) | (Q(released_by__isnull=False)
                                                                           & ~Q(release_reason="")),
                                   name="linerisk_release_reviewer_reason"),
            models.CheckConstraint(condition=Q(released_at__isnull=True) | Q(held_out_at__isnull=True),
                                   name="linerisk_released_or_held"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.line_id} {self.kinds}"

    def kind_labels(self) -> list[str]:
        return [str(self.Kind(k).label) for k in self.kinds.split(",") if k in self.Kind.values]
