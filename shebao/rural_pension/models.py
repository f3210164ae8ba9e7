"""老农保 (the 1992 county rural pension scheme, as kept locally): individual accounts, their flows
(contributions and payouts), the credited-rate table, refund/settlement documents (结算单), the
legacy import's batches with rejected rows and reconciliation, and a cache of the computed yearly
account tables.

Months are ``DateField``s on the first day of the month. Money is Decimal yuan, two places. The yearly
account table is never stored as a hand-edited number: ``AccountYear`` is a cache recomputed from the
flows and the rate table (``rural_pension.interest`` is the rule)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from shebao.common.dbfields import MONEY
from shebao.common.dbfields import first_of_month_check as _first_of_month


class AccountStatus(models.TextChoices):
    PAYING = "paying", _("缴费")
    SUSPENDED = "suspended", _("中断缴费")
    RECEIVING = "receiving", _("领取")
    REFUNDED = "refunded", _("已退保")
    TERMINATED = "terminated", _("已终止")  # death settled with the heir, transferred out, …


OPEN_STATUSES = (AccountStatus.PAYING, AccountStatus.SUSPENDED, AccountStatus.RECEIVING)


class ImportBatch(models.Model):
    """One run of ``shebao rural import DIR`` that was committed (a dry run keeps nothing)."""

    source = models.CharField(_("来源目录"), max_length=300)
    files = models.JSONField(_("文件"), default=dict)  # {file: {"sha256": …, "encoding": …, "bytes": n}}
    summary = models.JSONField(_("结果"), default=dict)  # counts of what was created
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("导入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("老农保导入批次")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"导入批次 {self.pk}"


class ImportReconciliation(models.Model):
    """Per file of a batch: rows and amount totals, read = loaded + rejected (loaded = new + already
    present with the same values)."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="reconciliation")
    file = models.CharField(_("文件"), max_length=40)
    rows_read = models.PositiveIntegerField(_("读入行数"))
    rows_new = models.PositiveIntegerField(_("新增行数"))
    rows_unchanged = models.PositiveIntegerField(_("已存在行数"))
    rows_rejected = models.PositiveIntegerField(_("拒绝行数"))
    amount_read = models.DecimalField(_("读入金额"), **MONEY)
    amount_new = models.DecimalField(_("新增金额"), **MONEY)
    amount_unchanged = models.DecimalField(_("已存在金额"), **MONEY)
    amount_rejected = models.DecimalField(_("拒绝金额"), **MONEY)

    class Meta:
        verbose_name = _("导入对账")
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "file"], name="rural_recon_unique_file"),
            models.CheckConstraint(
                condition=Q(rows_read=F("rows_new") + F("rows_unchanged") + F("rows_rejected")),
                name="rural_recon_rows_balance",
            ),
            models.CheckConstraint(
                condition=Q(amount_read=F("amount_new") + F("amount_unchanged") + F("amount_rejected")),
                name="rural_recon_amount_balance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.file}"


class ImportRejection(models.Model):
    """A row of an import file that was not loaded, with its reason."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="rejections")
    file = models.CharField(_("文件"), max_length=40)
    line_no = models.PositiveIntegerField(_("行号"))  # physical line in the file, header = 1
    content = models.CharField(_("内容"), max_length=500)
    reason = models.CharField(_("原因"), max_length=300)

    class Meta:
        verbose_name = _("导入拒绝行")
        ordering = ["batch", "file", "line_no"]

    def __str__(self) -> str:
        return f"{self.file}:{self.line_no} {self.reason}"


class RuralAccount(models.Model):
    """A person's 老农保 individual account. Its balance is never stored: it is computed from the
    flows and the credited-rate table (``rural_pension.interest``)."""

    person = models.OneToOneField("registry.Person", on_delete=models.PROTECT, related_name="rural_account",
                                  verbose_name=_("人员"))
    town = models.ForeignKey("registry.Region", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("镇街道"))
    community = models.ForeignKey("registry.Region", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("村"))
    enrolled_on = models.DateField(_("参保日期"))
    status = models.CharField(_("状态"), max_length=12, choices=AccountStatus.choices, default=AccountStatus.PAYING)
    closed_on = models.DateField(_("终止日期"), null=True, blank=True)  # refund or death settlement date
    # bank snapshot as the legacy system held it (the registry's BankAccount is what payments use)
    legacy_bank = models.CharField(_("开户银行(原系统)"), max_length=50, blank=True)
    legacy_account_number = models.CharField(_("银行账号(原系统)"), max_length=40, blank=True)
    # monthly benefit (待遇享受), fixed at the start of receipt
    enrollment = models.ForeignKey("benefits.Enrollment", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("待遇享受"))
    benefit_start_month = models.DateField(_("开始领取年月"), null=True, blank=True)
    benefit_base = models.DecimalField(_("领取时账户积累额"), null=True, blank=True, **MONEY)
    coefficient = models.DecimalField(_("计发系数"), max_digits=12, decimal_places=9, null=True, blank=True)
    monthly_benefit = models.DecimalField(_("月养老金"), null=True, blank=True, **MONEY)
    heir = models.ForeignKey("registry.Person", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+", verbose_name=_("代领人"))
    import_batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    person_created_by_import = models.BooleanField(default=False)  # the batch registered the person
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("老农保账户")
        ordering = ["id"]
        constraints = [
            _first_of_month("benefit_start_month", "ruralaccount_benefit_start_first", nullable=True),
            models.CheckConstraint(condition=Q(monthly_benefit__isnull=True) | Q(monthly_benefit__gte=0),
                                   name="ruralaccount_monthly_nonneg"),
        ]
        indexes = [models.Index(fields=["town", "community", "status"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"老农保账户 {self.pk}"


class ContributionKind(models.TextChoices):
    PERSONAL = "personal", _("个人缴费")
    COLLECTIVE = "collective", _("集体补助")
    OTHER = "other", _("其他")


class Contribution(models.Model):
    """A credit to an account in a month. One row per account, month and kind."""

    # no database FK check (db_constraint=False): flows are written by the import's INSERT … SELECT from a
    # join with the accounts, and by the services under the account's lock; a deferred check per row
    # costs more than the load itself at 5 million rows (as in payroll). Covered by the unique index.
    account = models.ForeignKey(RuralAccount, on_delete=models.PROTECT, related_name="contributions",
                                db_index=False, db_constraint=False)
    month = models.DateField(_("年月"))
    kind = models.CharField(_("类别"), max_length=10, choices=ContributionKind.choices)
    amount = models.DecimalField(_("金额"), **MONEY)
    import_batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", db_index=False, db_constraint=False)

    class Meta:
        verbose_name = _("缴费记录")
        ordering = ["account", "month", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["account", "month", "kind"], name="contribution_unique_month_kind"),
            _first_of_month("month", "contribution_month_first"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="contribution_amount_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.month:%Y-%m} {self.kind} {self.amount}"


class PayoutKind(models.TextChoices):
    PENSION = "pension", _("养老金")
    REFUND = "refund", _("退保")
    OTHER = "other", _("其他")


class Payout(models.Model):
    """A debit from an account in a month: a monthly pension (from the legacy system or an approved NB
    payroll line), a refund or a death settlement (linked to its document), other."""

    account = models.ForeignKey(RuralAccount, on_delete=models.PROTECT, related_name="payouts", db_index=False,
                                db_constraint=False)  # see Contribution.account
    month = models.DateField(_("年月"))
    kind = models.CharField(_("类别"), max_length=10, choices=PayoutKind.choices)
    amount = models.DecimalField(_("金额"), **MONEY)
    document = models.ForeignKey("RuralDocument", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="payouts", verbose_name=_("结算单"))
    payroll_line_id = models.BigIntegerField(null=True, blank=True)  # the NB payroll line that paid it
    import_batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", db_index=False, db_constraint=False)

    class Meta:
        verbose_name = _("支付记录")
        ordering = ["account", "month", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["account", "month", "kind"], name="payout_unique_month_kind"),
            _first_of_month("month", "payout_month_first"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.month:%Y-%m} {self.kind} {self.amount}"


class CreditedRate(models.Model):
    """记账利率 of a year, a decimal fraction (0.0250 = 2.5 %)."""

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    rate = models.DecimalField(_("记账利率"), max_digits=7, decimal_places=4)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("记账利率")
        ordering = ["year"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0) & Q(rate__lt=1), name="creditedrate_range"),
            models.CheckConstraint(condition=Q(year__gte=1980) & Q(year__lte=2200), name="creditedrate_year"),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.rate}"


class BenefitCoefficient(models.Model):
    """The coefficient of the agency's 交费领取计算表 applied at the start of receipt:
    monthly benefit = accumulation × coefficient (rounded to the cent). Valid from a month on."""

    from_month = models.DateField(_("起始年月"), unique=True)
    coefficient = models.DecimalField(_("计发系数"), max_digits=12, decimal_places=9)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("计发系数")
        ordering = ["from_month"]
        constraints = [
            _first_of_month("from_month", "coefficient_from_first"),
            models.CheckConstraint(condition=Q(coefficient__gt=0), name="coefficient_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.from_month:%Y-%m} {self.coefficient}"


class DocumentCounter(models.Model):
    """The last number used for 结算单 of a year (NB2026-000123); numbers are never reused."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class RuralDocument(models.Model):
    """A 结算单: a refund (退保/清退) or a settlement with the heir on death. Records what was paid, to
    whom, how, and the yearly table it was computed from (as computed at settlement, so a reprint
    shows the very numbers that were paid)."""

    class Kind(models.TextChoices):
        REFUND = "refund", _("退保结算")
        DEATH_BALANCE = "death_balance", _("死亡结算(账户余额)")
        DEATH_GUARANTEE = "death_guarantee", _("死亡结算(保证期余额)")

    class PayMethod(models.TextChoices):
        BANK = "bank", _("银行代发")
        CASH = "cash", _("现金")

    class State(models.TextChoices):
        SETTLED = "settled", _("已结算")
        ROLLED_BACK = "rolled_back", _("已回退")

    number = models.CharField(_("结算单号"), max_length=20, unique=True)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    account = models.ForeignKey(RuralAccount, on_delete=models.PROTECT, related_name="documents")
    payee = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("领款人"))  # the holder, or the heir (代领人)
    on_date = models.DateField(_("结算日期"))
    amount = models.DecimalField(_("金额"), **MONEY)
    pay_method = models.CharField(_("支付方式"), max_length=4, choices=PayMethod.choices)
    payroll_run_id = models.BigIntegerField(_("零星发放批次"), null=True, blank=True)
    payroll_line_id = models.BigIntegerField(null=True, blank=True)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.SETTLED)
    table = models.JSONField(_("年账户明细"), default=dict)  # the computed quote at settlement
    account_before = models.JSONField(default=dict)  # what rollback restores
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("经办时间"), auto_now_add=True)
    printed_count = models.PositiveIntegerField(_("打印次数"), default=0)
    rolled_back_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+")
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    rollback_reason = models.CharField(_("回退原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("老农保结算单")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ruraldocument_amount_pos"),
            models.CheckConstraint(condition=Q(pay_method="cash") | Q(state="rolled_back")
                                   | Q(payroll_line_id__isnull=False), name="ruraldocument_bank_has_line"),
            models.UniqueConstraint(fields=["account"], condition=Q(state="settled"),
                                    name="ruraldocument_one_settled_per_account"),
        ]

    def __str__(self) -> str:
        return self.number


class AccountYearFlow(models.Model):
    """The flows of an account summed per year — one row per account and year with at least one credit
    or payout: the credits by kind, the payouts, and ``weighted`` = Σ credit × (13 − m) − Σ payout × (13 − m)
    over the months m of the year (the month-products of the interest rule, in yuan). A year's interest is
    round(r × (12 × opening + weighted) / 12, 2), so with these rows and the rates the yearly tables are
    walked without reading the monthly flows again (a rate change: ``rural_years_rerate``).

    Derived data, never edited: every writer of ``Contribution`` / ``Payout`` calls
    ``services.rural_years_refresh(account_ids=…)`` (or, after a bulk load, without ids) in the same
    transaction, which rebuilds these rows from the flows and then the accounts' yearly tables."""

    pk = models.CompositePrimaryKey("account", "year")  # its index serves every lookup (account first)
    account = models.ForeignKey(RuralAccount, on_delete=models.CASCADE, related_name="+", db_index=False,
                                db_constraint=False)  # written by the recompute's INSERT … SELECT from the flows
    year = models.PositiveSmallIntegerField()
    personal = models.DecimalField(**MONEY)
    collective = models.DecimalField(**MONEY)
    other = models.DecimalField(**MONEY)
    payouts = models.DecimalField(**MONEY)
    weighted = models.DecimalField(max_digits=16, decimal_places=2)

    class Meta:
        verbose_name = _("年账户流水合计")

    def __str__(self) -> str:
        return f"{self.account_id} {self.year}"


class AccountYear(models.Model):
    """Cache of the yearly account table (年账户明细) computed by ``rural_years_recompute`` from the flows
    and the rate table; rebuilt, never edited. A year without a rate ends an account's rows."""

    account = models.ForeignKey(RuralAccount, on_delete=models.CASCADE, related_name="+", db_index=False,
                                db_constraint=False)
    year = models.PositiveSmallIntegerField()
    opening = models.DecimalField(**MONEY)
    personal = models.DecimalField(**MONEY)
    collective = models.DecimalField(**MONEY)
    other = models.DecimalField(**MONEY)
    payouts = models.DecimalField(**MONEY)
    rate = models.DecimalField(max_digits=7, decimal_places=4)
    interest = models.DecimalField(**MONEY)
    closing = models.DecimalField(**MONEY)

    class Meta:
        verbose_name = _("年账户明细(计算结果)")
        constraints = [models.UniqueConstraint(fields=["account", "year"], name="accountyear_unique")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.year} {self.closing}"
