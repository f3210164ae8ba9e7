from django.contrib.postgres.indexes import OpClass
from django.db import models
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


class Person(models.Model):
    """One human, keyed by 身份证号 across every scheme."""

    class Sex(models.TextChoices):
        MALE = "M", _("男")
        FEMALE = "F", _("女")

    id_number = models.CharField(_("身份证号"), max_length=18, unique=True)
    id_number_original = models.CharField(_("原15位身份证号"), max_length=15, blank=True)
    name = models.CharField(_("姓名"), max_length=50)
    name_initials = models.CharField(_("姓名拼音首字母"), max_length=50, blank=True)  # e.g. "zsf" for 张三丰
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


class Bank(models.TextChoices):
    ICBC = "ICBC", _("中国工商银行")
    ABC = "ABC", _("中国农业银行")
    BOC = "BOC", _("中国银行")
    CCB = "CCB", _("中国建设银行")
    BOCOM = "BOCOM", _("交通银行")
    PSBC = "PSBC", _("中国邮政储蓄银行")
    NBCB = "NBCB", _("宁波银行")
    CXRCB = "CXRCB", _("慈溪农商银行")


# Account numbers are digits only, with a length range per bank (debit cards are 16–19 digits; the
# ranges also admit each bank's passbook/settlement accounts: BOC's 12-digit, CCB's 20-digit and
# BOCOM's 21-digit accounts, the 一折通 and passbooks of 慈溪农商银行 from 12 to 22 digits).
# Checked at every entry by ``registry.services.account_number_check``.
ACCOUNT_NUMBER_LENGTHS: dict[str, tuple[int, int]] = {
    Bank.ICBC: (16, 19),
    Bank.ABC: (15, 19),
    Bank.BOC: (12, 19),
    Bank.CCB: (16, 20),
    Bank.BOCOM: (16, 21),
    Bank.PSBC: (17, 19),
    Bank.NBCB: (12, 19),
    Bank.CXRCB: (12, 22),
}


class BankAccount(models.Model):
    """A person's payment account over time. The current one has ``valid_to`` empty; a change closes
    the old one and opens a new one, so history is kept."""

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="bank_accounts")
    bank = models.CharField(_("开户银行"), max_length=10, choices=Bank.choices)
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
