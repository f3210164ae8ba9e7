"""社会保险特殊业务: the ledger of money that moves outside the payrolls — business types (data), the
expenditure and income records (支出/收入) with their attachments, their 财务复核 (到账确认, 复核 by
another user), reversals (红冲) and the links from the schemes (a unique ``source`` per record).

The database keeps the rules that matter even against code that forgets them:
- ``finance_entry_reviewer_not_maker``: the reviewer is never the user who entered the record;
- ``finance_entry_locked`` (a trigger, migration 0002): a reviewed record is neither updated nor
  deleted (only its bank payment status may still move);
- one record per source reference, one reversal per record, a reversal's amount negative;
- ``finance_attachment_locked`` (a trigger, migration 0003): a reviewed record's attachments are
  neither added, changed nor deleted;
- ``finance_type_subject_code_form``: a business type's accounting subject code is digits, a 4-digit
  first level then 2-digit levels (4, 6, 8, 10 or 12 digits).
Payees are ``registry.Payee`` versions (the engine's register): a record keeps the version it used."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from shebao.common.dbfields import MONEY

# 会计科目代码: a 4-digit first-level subject, then 2-digit levels (4, 6, 8, 10 or 12 digits)
SUBJECT_CODE_RE = r"^[0-9]{4}([0-9]{2}){0,4}$"


class Direction(models.TextChoices):
    EXPENDITURE = "expenditure", _("支出")
    INCOME = "income", _("收入")


class BusinessType(models.Model):
    """业务类型: what a record is (土保转社保政府补助支出, 统筹外经费收回 …), expenditure or income, and the
    accounting subject (会计科目) it posts to. Data, not code: a new type is a row. ``scheme``: the
    scheme whose one-off runs pay an expenditure of this type through the bank (none: not by bank).

    The subject is the agency's chart of accounts, which finance owns: a subject nobody in finance has
    confirmed (the seeded ones, or one changed since) is 待财务确认 (``subject_confirmed_by`` empty)
    until a holder of ``finance.manage_types`` confirms it (``services.type_confirm_subject``)."""

    code = models.CharField(_("类型代码"), max_length=30, unique=True)
    name = models.CharField(_("类型名称"), max_length=50, unique=True)
    direction = models.CharField(_("收支方向"), max_length=12, choices=Direction.choices)
    subject_code = models.CharField(_("会计科目代码"), max_length=20)
    subject_name = models.CharField(_("会计科目"), max_length=50)
    scheme = models.ForeignKey("benefits.Scheme", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("银行支付险种"))
    active = models.BooleanField(_("启用"), default=True)
    sort = models.PositiveSmallIntegerField(_("排序"), default=0)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    subject_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                             blank=True, related_name="+", verbose_name=_("会计科目确认人"))
    subject_confirmed_at = models.DateTimeField(_("会计科目确认时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("业务类型")
        ordering = ["sort", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[A-Z][A-Z0-9_]{1,29}$"), name="finance_type_code_form"),
            models.CheckConstraint(condition=Q(direction__in=["expenditure", "income"]), name="finance_type_direction"),
            models.CheckConstraint(condition=Q(subject_code__regex=SUBJECT_CODE_RE),
                                   name="finance_type_subject_code_form"),
            models.CheckConstraint(condition=Q(subject_confirmed_by__isnull=True, subject_confirmed_at__isnull=True)
                                   | Q(subject_confirmed_by__isnull=False, subject_confirmed_at__isnull=False),
                                   name="finance_type_subject_confirmed_both"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def subject_confirmed(self) -> bool:
        return self.subject_confirmed_by_id is not None


class Entry(models.Model):
    """One expenditure or income record (支出/收入). 录入 → 到账确认 → 复核 (another user) = locked.
    A correction of a reviewed record is a reversal (红冲: ``reversal_of`` the original, amount its
    negative) that nets it to zero. ``source``: the scheme record it comes from (unique)."""

    class State(models.TextChoices):
        ENTERED = "entered", _("待到账确认")
        ARRIVED = "arrived", _("已到账待复核")
        REVIEWED = "reviewed", _("已复核")

    class PayStatus(models.TextChoices):
        NONE = "none", _("不经银行")
        PENDING = "pending", _("待银行支付")
        PAID = "paid", _("已支付")
        FAILED = "failed", _("支付失败")

    number = models.CharField(_("记录号"), max_length=20, blank=True)
    direction = models.CharField(_("收支方向"), max_length=12, choices=Direction.choices)
    type = models.ForeignKey(BusinessType, on_delete=models.PROTECT, related_name="+", verbose_name=_("业务类型"))
    payee = models.ForeignKey("registry.Payee", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name=_("收款方/付款方"))
    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("人员"))
    amount = models.DecimalField(_("金额"), **MONEY)
    occurred_on = models.DateField(_("业务日期"))
    voucher_no = models.CharField(_("凭证号"), max_length=30, blank=True)
    note = models.CharField(_("备注"), max_length=300, blank=True)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.ENTERED)
    arrival_on = models.DateField(_("银行到账日期"), null=True, blank=True)
    arrival_amount = models.DecimalField(_("到账金额"), null=True, blank=True, **MONEY)
    arrival_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("到账确认人"))
    arrival_at = models.DateTimeField(_("到账确认时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("复核人"))
    reviewed_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    reversal_of = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="reversal", verbose_name=_("红冲原记录"))
    source = models.CharField(_("来源"), max_length=100, null=True, blank=True)
    run = models.ForeignKey("payroll.PayrollRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                            verbose_name=_("支付批次"))
    pay_status = models.CharField(_("银行支付"), max_length=10, choices=PayStatus.choices, default=PayStatus.NONE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("收支记录")
        ordering = ["-occurred_on", "-id"]
        permissions = [
            ("view_ledger", _("查看特殊业务收支")),
            ("manage_ledger", _("特殊业务经办（收支录入、收款方登记、银行支付）")),
            ("confirm_arrival", _("特殊业务到账确认")),
            ("review_ledger", _("特殊业务复核")),
            ("manage_types", _("特殊业务类型维护")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(reviewed_by__isnull=True) | ~Q(reviewed_by=F("created_by")),
                                   name="finance_entry_reviewer_not_maker"),
            models.CheckConstraint(condition=~Q(state="reviewed") | (Q(reviewed_by__isnull=False)
                                                                     & Q(reviewed_at__isnull=False)),
                                   name="finance_entry_reviewed_has_reviewer"),
            models.CheckConstraint(condition=Q(state="entered") | (Q(arrival_on__isnull=False)
                                                                   & Q(arrival_amount=F("amount"))),
                                   name="finance_entry_arrival_equals_amount"),
            models.CheckConstraint(condition=Q(payee__isnull=True) | Q(person__isnull=True),
                                   name="finance_entry_payee_or_person"),
            models.CheckConstraint(condition=(Q(reversal_of__isnull=True) & Q(amount__gt=0))
                                   | (Q(reversal_of__isnull=False) & Q(amount__lt=0)),
                                   name="finance_entry_amount_sign"),
            models.CheckConstraint(condition=Q(direction__in=["expenditure", "income"]), name="finance_entry_direction"),
            models.CheckConstraint(condition=Q(run__isnull=True) | Q(direction="expenditure"),
                                   name="finance_entry_run_is_expenditure"),
            models.UniqueConstraint(fields=["source"], condition=Q(source__isnull=False), name="finance_entry_one_per_source"),
            models.UniqueConstraint(fields=["number"], condition=~Q(number=""), name="finance_entry_unique_number"),
        ]
        indexes = [models.Index(fields=["occurred_on"]), models.Index(fields=["run"], condition=Q(run__isnull=False),
                                                                       name="finance_entry_run")]

    def __str__(self) -> str:
        return f"{self.number} {self.type} {self.amount}"

    @property
    def locked(self) -> bool:
        return self.state == self.State.REVIEWED

    @property
    def counterparty(self) -> str:
        if self.payee_id:
            return self.payee.name
        if self.person_id:
            return self.person.name
        return ""


class Attachment(models.Model):
    """附件 of a record: a scan or a PDF (type and size checked by ``services.attachment_add``)."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="attachments")
    file_name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(_("类型"), max_length=50)
    size = models.PositiveIntegerField(_("大小"))
    sha256 = models.CharField(_("校验和"), max_length=64)
    content = models.BinaryField(_("内容"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("附件")
        ordering = ["entry", "id"]

    def __str__(self) -> str:
        return self.file_name
