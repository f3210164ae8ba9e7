from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Func
from django.db.models.functions import Reverse, Upper
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """慈溪市 → 镇街道 (town) → 村/社区 (community)."""

    class Level(models.TextChoices):
        TOWN = "town", _("镇街道")
        COMMUNITY = "community", _("村社区")

    code = models.CharField(_("区划代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=50)
    level = models.CharField(_("级别"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("行政区划")
        ordering = ["sort", "code"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="region_unique_name_in_parent"),
            models.CheckConstraint(
                condition=(models.Q(level="town", parent__isnull=True) | models.Q(level="community", parent__isnull=False)),
                name="region_level_parent",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class NameChars(Func):
    """``string_to_array(name, NULL)``: the characters of a name, one array element each. Indexed with
    GIN (``person_name_chars``), it lets "name contains 建国" be answered from the index:
    ``NameChars("name") @> ['建', '国']`` narrows to the names holding both characters, the ``LIKE`` then
    checks their order (pg_trgm needs three characters; most names have two or three)."""

    function = "string_to_array"
    template = "string_to_array(%(expressions)s, NULL)"
    output_field = ArrayField(models.TextField())


class Person(models.Model):
    """One human, keyed by 身份证号 across every scheme."""

    class Sex(models.TextChoices):
        MALE = "M", _("男")
        FEMALE = "F", _("女")

    id_number = models.CharField(_("身份证号"), max_length=18, unique=True)
    id_number_original = models.CharField(_("原15位身份证号"), max_length=15, blank=True)
    name = models.CharField(_("姓名"), max_length=50)
    name_initials = models.CharField(_("姓名拼音首字母"), max_length=50, blank=True)  # e.g. "zsf" for 张三丰
    # the sort key of the name: its pinyin with tone numbers ("zhang1 san1 feng1"), so lists sort as a
    # Chinese dictionary does, not by code point (registry.services.name_sort_key; "" until filled)
    name_pinyin = models.CharField(_("姓名拼音"), max_length=300, blank=True, default="", db_default="")
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("出生日期"))
    town = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("镇街道"))
    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("村社区")
    )
    hukou_address = models.CharField(_("户籍地址"), max_length=200, blank=True)
    residence_address = models.CharField(_("居住地址"), max_length=200, blank=True)
    mobile = models.CharField(_("手机"), max_length=20, blank=True)
    phone = models.CharField(_("固定电话"), max_length=20, blank=True)
    death_date = models.DateField(_("死亡日期"), null=True, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("人员")
        indexes = [
            # search by the last digits of the 身份证号: reverse(id_number) LIKE reverse(suffix) || '%'
            models.Index(OpClass(Reverse("id_number"), name="text_pattern_ops"), name="person_id_number_rev"),
            models.Index(OpClass("name", name="varchar_pattern_ops"), name="person_name_prefix"),
            GinIndex(NameChars("name"), name="person_name_chars"),  # name contains …
            models.Index(fields=["name_pinyin", "id"], name="person_name_pinyin"),  # lists sorted by name
            models.Index(OpClass(Upper("name_initials"), name="text_pattern_ops"), name="person_initials_prefix"),
            models.Index(fields=["town", "community"]),
            # a legacy 15-digit number typed in full (person_search ORs it with id_number)
            models.Index(fields=["id_number_original"], condition=~models.Q(id_number_original=""),
                         name="person_id_original"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(id_number__regex=r"^[0-9]{17}[0-9X]$"), name="person_id_number_form"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.id_number[-4:]}）"

    @property
    def age(self) -> int:
        import datetime as dt

        today = dt.date.today()
        return today.year - self.birth_date.year - ((today.month, today.day) < (self.birth_date.month, self.birth_date.day))


class Bank(models.Model):
    """开户银行: the banks payments go through, as data (a new bank is a row added on the banks page, not
    code). ``code`` is the key everything else stores (``BankAccount.bank``, payroll lines, bank files):
    it never changes once created. The account-number length range is the bank's own rule, kept here as
    data for the input checks; ``active=False`` keeps a bank for the accounts and files that name it but
    offers it no more for new accounts."""

    # The codes seeded at installation (migration registry 0004), for code that names one bank
    # (the legacy import's name map, the demo data).
    ICBC = "ICBC"
    ABC = "ABC"
    BOC = "BOC"
    CCB = "CCB"
    BOCOM = "BOCOM"
    PSBC = "PSBC"
    NBCB = "NBCB"
    CXRCB = "CXRCB"

    code = models.CharField(_("银行代码"), max_length=10, unique=True)  # A-Z and digits, the key
    name = models.CharField(_("银行名称"), max_length=50, unique=True)
    account_min_length = models.PositiveSmallIntegerField(_("账号最短位数"))
    account_max_length = models.PositiveSmallIntegerField(_("账号最长位数"))
    active = models.BooleanField(_("启用"), default=True)
    # the bank's own rule that its account numbers pass the Luhn check (debit cards): an account failing
    # it is then a risk (warned at entry, held out of the bank file unless released: payroll.LineRisk)
    luhn_check = models.BooleanField(_("账号须通过 Luhn 校验"), default=False)
    sort = models.PositiveSmallIntegerField(_("排序"), default=0)
    notes = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("开户银行")
        ordering = ["sort", "code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(code__regex=r"^[A-Z][A-Z0-9]{1,9}$"), name="bank_code_form"),
            models.CheckConstraint(
                condition=models.Q(account_min_length__gte=6, account_max_length__lte=32,
                                   account_min_length__lte=models.F("account_max_length")),
                name="bank_account_length_range"),
        ]

    def __str__(self) -> str:
        return self.name


class BankAccount(models.Model):
    """A person's payment account over time. The current one has ``valid_to`` empty; a change closes
    the old one and opens a new one, so history is kept."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="bank_accounts")
    bank = models.CharField(_("开户银行"), max_length=10)  # a Bank.code (checked by bank_account_set)
    branch = models.CharField(_("开户网点"), max_length=100, blank=True)
    account_number = models.CharField(_("银行账号"), max_length=32)
    holder_name = models.CharField(_("户名"), max_length=50)
    valid_from = models.DateField(_("启用日期"))
    valid_to = models.DateField(_("停用日期"), null=True, blank=True)
    luhn_warning = models.BooleanField(_("校验提示"), default=False)  # Luhn failed: a warning only
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("银行账户")
        ordering = ["person", "-valid_from", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person"], condition=models.Q(valid_to__isnull=True), name="bankaccount_one_current"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gte=models.F("valid_from")),
                name="bankaccount_valid_range",
            ),
        ]
        indexes = [models.Index(fields=["account_number"])]

    def __str__(self) -> str:
        return f"{self.get_bank_display()} {self.account_number[-4:]}"

    def get_bank_display(self) -> str:
        """The bank's name from the banks table (the code itself for a code it does not know)."""
        from shebao.registry.selectors import bank_label

        return bank_label(self.bank)

class Payee(models.Model):
    """收款方: a registered organisation (or other non-person) payee — 户名, 开户行, 账号 and, for an
    organisation, its 统一社会信用代码 (GB 32100). Versioned: a change never edits a row, it adds the
    next version of the same ``code`` and closes the current one (``current`` false), so a payroll
    line keeps the version it was paid to. Written only by ``registry.services.payee_create/change``."""

    code = models.CharField(_("收款方编号"), max_length=20)  # stable across versions: "P000001"
    version = models.PositiveIntegerField(_("版本"), default=1)
    current = models.BooleanField(_("当前版本"), default=True)
    name = models.CharField(_("户名"), max_length=100)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    bank = models.CharField(_("开户银行"), max_length=10)  # a code of the banks table
    branch = models.CharField(_("开户网点"), max_length=100, blank=True)
    account_number = models.CharField(_("银行账号"), max_length=32)
    luhn_warning = models.BooleanField(_("校验提示"), default=False)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("收款方")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="payee_unique_version"),
            models.UniqueConstraint(fields=["code"], condition=models.Q(current=True), name="payee_one_current"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="payee_version_from_1"),
            models.CheckConstraint(condition=~models.Q(account_number="") & ~models.Q(name=""),
                                   name="payee_account_name_set"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code} v{self.version}）"
