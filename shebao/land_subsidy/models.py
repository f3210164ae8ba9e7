"""土保补贴 records of our own: the subsidy categories (data), each category's amount rule by year (how
much a year and who is entitled: the status and the age on a reference date), each subsidy person's
category and land details, and the import batches. Enrollments (发放状态), accounts and runs belong to the
benefits, registry and payroll engine."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shebao.common.dbfields import MONEY


class SubsidyCategory(models.Model):
    """补贴类别 (e.g. 征地补贴 一类/二类): data, not code."""

    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=50, unique=True)
    active = models.BooleanField(_("启用"), default=True)
    sort = models.PositiveSmallIntegerField(_("排序"), default=0)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("补贴类别")
        ordering = ["sort", "code"]
        permissions = [
            ("view_tb", _("查看土保补贴人员")),
            ("manage_tb", _("土保补贴经办")),
        ]

    def __str__(self) -> str:
        return self.name


class SubsidyRule(models.Model):
    """The amount rule of a category from a year on (the latest ``from_year`` ≤ the run's year applies):
    the yearly ``amount``, and who is entitled — on the reference date (``reference_month``/``reference_day``
    of the run's year) the enrollment is 正常 (or 暂停 when ``pays_suspended``), not ended, the person alive,
    and aged at least ``min_age_male`` / ``min_age_female`` full years (周岁; blank = no age condition)."""

    category = models.ForeignKey(SubsidyCategory, on_delete=models.PROTECT, related_name="rules",
                                 verbose_name=_("补贴类别"))
    from_year = models.PositiveSmallIntegerField(_("起始年度"))
    amount = models.DecimalField(_("年补贴金额"), **MONEY)
    reference_month = models.PositiveSmallIntegerField(_("认定日（月）"), default=12)
    reference_day = models.PositiveSmallIntegerField(_("认定日（日）"), default=31)
    min_age_male = models.PositiveSmallIntegerField(_("男性最低年龄"), null=True, blank=True)
    min_age_female = models.PositiveSmallIntegerField(_("女性最低年龄"), null=True, blank=True)
    pays_suspended = models.BooleanField(_("暂停人员也发放"), default=False)
    # a disabled rule is not applied (the year falls back to the category's earlier active rule)
    active = models.BooleanField(_("启用"), default=True, db_default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("补贴标准")
        ordering = ["category__sort", "category__code", "-from_year"]
        constraints = [
            models.UniqueConstraint(fields=["category", "from_year"], name="subsidyrule_one_per_year"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="subsidyrule_amount_pos"),
            models.CheckConstraint(condition=Q(reference_month__gte=1, reference_month__lte=12),
                                   name="subsidyrule_month_range"),
            # a day every year has (no 29 February): the reference date exists in each year
            models.CheckConstraint(condition=Q(reference_day__gte=1) & (
                Q(reference_month__in=[1, 3, 5, 7, 8, 10, 12], reference_day__lte=31)
                | Q(reference_month__in=[4, 6, 9, 11], reference_day__lte=30)
                | Q(reference_month=2, reference_day__lte=28)), name="subsidyrule_day_valid"),
            models.CheckConstraint(condition=Q(from_year__gte=1990, from_year__lte=2100), name="subsidyrule_year_range"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.from_year}"


class SubsidyPerson(models.Model):
    """One 土保补贴人员: the TB enrollment (发放状态 and its history are the engine's), the category, and
    the land details the business keeps (征地时间, 征地项目)."""

    enrollment = models.OneToOneField("benefits.Enrollment", on_delete=models.PROTECT, related_name="+")
    person = models.OneToOneField("registry.Person", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("人员"))
    category = models.ForeignKey(SubsidyCategory, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("补贴类别"))
    land_date = models.DateField(_("征地时间"), null=True, blank=True)
    land_project = models.CharField(_("征地项目"), max_length=100, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("土保补贴人员")
        ordering = ["id"]
        indexes = [models.Index(fields=["category"])]

    def __str__(self) -> str:
        return f"{self.person_id} {self.category_id}"


class TbImport(models.Model):
    """One 土保补贴人员 file: previewed and, if clean and confirmed, applied (the bytes kept: what was
    imported stays provable, and the confirm applies exactly what was previewed)."""

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
    preview = models.JSONField(_("检查结果"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("经办人"))
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    applied_at = models.DateTimeField(_("导入时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("土保补贴人员导入")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_state_display()})"
