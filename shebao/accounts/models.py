import hashlib

from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from shebao.common.display import user_display_name


class Role(models.TextChoices):
    CLERK = "clerk", _("经办员")
    REVIEWER = "reviewer", _("审核员")
    FINANCE = "finance", _("财务")
    IT_ADMIN = "it_admin", _("信息管理员")
    SYS_ADMIN = "sys_admin", _("系统管理员")
    COMMUNITY = "community", _("社区专管员")  # 生存认证 in the 村社区 held (shebao.certification)


class User(AbstractUser):
    """A member of staff. Roles are Django groups named by ``Role``; the region scope limits which
    persons the user can see (a town clerk sees only that town); ``all_regions`` is for centre staff."""

    full_name = models.CharField(_("姓名"), max_length=50, blank=True)
    regions = models.ManyToManyField(
        "registry.Region", blank=True, related_name="+", verbose_name=_("管辖镇街道"),
        limit_choices_to={"level": "town"},
    )
    all_regions = models.BooleanField(_("全市范围"), default=False)
    schemes = ArrayField(models.CharField(max_length=4), default=list, blank=True, verbose_name=_("险种范围"))
    all_schemes = models.BooleanField(_("全部险种"), default=True)
    failed_logins = models.PositiveSmallIntegerField(_("连续登录失败次数"), default=0)
    locked_until = models.DateTimeField(_("锁定至"), null=True, blank=True)
    password_changed_at = models.DateTimeField(_("密码修改时间"), null=True, blank=True)
    must_change_password = models.BooleanField(_("须修改密码"), default=True)

    class Meta:
        verbose_name = _("用户")
        permissions = [
            ("view_sensitive", _("查看敏感信息")),
            ("manage_users", _("管理用户")),
            ("view_audit", _("查看审计日志")),
            ("review", _("审核")),
            ("finance_review", _("财务复核")),
            ("it_ops", _("信息运维")),
        ]

    def __str__(self) -> str:
        return user_display_name(self)

    @property
    def display_name(self) -> str:
        """The name shown to other people (``shebao.common.display.user_display_name``)."""
        return user_display_name(self)

    @property
    def role_codes(self) -> list[str]:
        # read with the roles' permissions when those were (accounts.backends), else asked for
        cached = getattr(self, "_role_codes_of", None)
        if cached is not None and cached[0] is getattr(self, "_group_perm_cache", None):
            return list(cached[1])
        return [g.name for g in self.groups.order_by("id")]

    @property
    def role_labels(self) -> list[str]:
        labels = dict(Role.choices)
        return [str(labels.get(code, code)) for code in self.role_codes]


class ApiToken(models.Model):
    """A token for scripts calling the API (``Authorization: Bearer <token>``); only its hash is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("用途"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)  # shown in lists, to tell tokens apart
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("有效期至"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
