"""生存认证 (survival certification) records and the certification cycle of each scheme. A person is
certified (not an enrollment): one record serves every scheme the person is in; each scheme has its
own cycle (``SchemeCycle``, 12 months when none is recorded)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Method(models.TextChoices):
    OFFICE = "office", _("经办机构")
    COMMUNITY = "community", _("社区上门")
    MOBILE = "mobile", _("手机/人脸识别")
    TERMINAL = "terminal", _("自助终端")
    BANK = "bank", _("银行")
    DATA = "data", _("数据比对")
    OTHER = "other", _("其他")


class Certification(models.Model):
    """One 生存认证 of a person on a day. At most one per person and day (a second one the same day
    changes nothing: re-importing a file is idempotent). Never edited."""

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="certifications",
                               verbose_name=_("人员"))
    certified_on = models.DateField(_("认证日期"))
    method = models.CharField(_("认证方式"), max_length=12, choices=Method.choices)
    place = models.CharField(_("认证地点"), max_length=100, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    source = models.CharField(_("来源"), max_length=200, blank=True)  # "导入 xx.csv", "数据比对：…"
    # stored under a random name with the extension its content shows (``services.attachment_check``);
    # the uploader's own file name, cleaned, is kept apart for the download's Content-Disposition
    attachment = models.FileField(_("附件"), upload_to="certification/%Y/%m/", blank=True)
    attachment_name = models.CharField(_("附件文件名"), max_length=120, blank=True, default="", db_default="")
    attachment_type = models.CharField(_("附件类型"), max_length=40, blank=True, default="", db_default="")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("生存认证")
        ordering = ["-certified_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "certified_on"], name="certification_one_per_day"),
        ]
        indexes = [models.Index(fields=["person", "-certified_on"], name="certification_person_last"),
                   models.Index(fields=["certified_on"], name="certification_date")]
        permissions = [
            ("record_death", _("死亡减员（登记死亡、终止发放并结算多发）")),
            ("run_sweep", _("生存认证到期批量暂停、批量导入（全市）")),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} {self.certified_on:%Y-%m-%d} {self.get_method_display()}"


class SchemeCycle(models.Model):
    """The certification cycle of a scheme in months (12 when the scheme has no row)."""

    scheme = models.OneToOneField("benefits.Scheme", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("险种"))
    months = models.PositiveSmallIntegerField(_("认证周期(月)"), default=12)

    class Meta:
        verbose_name = _("认证周期")
        constraints = [models.CheckConstraint(condition=Q(months__gte=1, months__lte=60),
                                              name="schemecycle_months_range")]

    def __str__(self) -> str:
        return f"{self.scheme_id} {self.months}"


class CommunityInfo(models.Model):
    """What the agency keeps of a 村社区 (a ``registry.Region`` of level community) for 社会化管理:
    address, the contact person and phones. Edited on the community page; audited."""

    region = models.OneToOneField("registry.Region", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("村社区"))
    address = models.CharField(_("地址"), max_length=200, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    mobile = models.CharField(_("手机"), max_length=20, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("村社区信息")

    def __str__(self) -> str:
        return f"{self.region_id}"


class PersonContact(models.Model):
    """A person's own contact for 社会化管理: a family member (家属) or an agent (代理人)."""

    class Relation(models.TextChoices):
        FAMILY = "family", _("家属")
        AGENT = "agent", _("代理人")

    person = models.ForeignKey("registry.Person", on_delete=models.PROTECT, related_name="social_contacts",
                               verbose_name=_("人员"))
    name = models.CharField(_("姓名"), max_length=50)
    relation = models.CharField(_("关系"), max_length=10, choices=Relation.choices)
    relation_note = models.CharField(_("具体关系"), max_length=20, blank=True)  # 子女, 配偶 …
    phone = models.CharField(_("电话"), max_length=20)
    active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("人员联系人")
        ordering = ["person", "-active", "id"]
        permissions = [("manage_community", _("维护村社区信息与人员联系人"))]

    def __str__(self) -> str:
        return f"{self.person_id} {self.name}"


class SocialProfile(models.Model):
    """What 社会化管理 keeps of a person besides the registry (人员维护): where to visit them, how they
    live now (居住状况 — who is away needs a 协查 instead of a visit), and notes for the visitor. The
    person's 村社区 and phones stay on ``registry.Person``; their 家属/代理人 are ``PersonContact``.
    Edited on the 人员维护 page; audited."""

    class Living(models.TextChoices):
        HOME = "home", _("本地居家")
        ELSEWHERE = "elsewhere", _("异地居住")
        ABROAD = "abroad", _("境外居住")
        CARE = "care", _("养老机构")
        HOSPITAL = "hospital", _("长期住院")

    person = models.OneToOneField("registry.Person", on_delete=models.PROTECT, related_name="social_profile",
                                  verbose_name=_("人员"))
    visit_address = models.CharField(_("走访地址"), max_length=200, blank=True)
    living = models.CharField(_("居住状况"), max_length=12, choices=Living.choices, default=Living.HOME)
    living_place = models.CharField(_("居住地或机构"), max_length=100, blank=True)
    visit_note = models.CharField(_("走访备注"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True, verbose_name=_("更新人"))

    class Meta:
        verbose_name = _("人员社会化信息")
        indexes = [models.Index(fields=["living"], name="socialprofile_living")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.living}"
