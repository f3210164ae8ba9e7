"""Forms of the accounts pages: they parse and check input; the services do the work."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shebao.accounts.models import Role
from shebao.accounts.services import SCHEME_LABELS
from shebao.registry.models import Region

TOKEN_DAYS = [(30, _("30 天")), (90, _("90 天")), (180, _("180 天")), (365, _("365 天"))]

# The schemes' names as people read them (SCHEME_LABELS in accounts.services holds the same Chinese);
# written out here so that makemessages collects them.
SCHEME_NAMES = {"ZG": _("自管人员"), "NB": _("老农保"), "BZ": _("养老保障"), "TB": _("土保补贴")}


def scheme_label(code: str) -> str:
    return str(SCHEME_NAMES.get(code) or SCHEME_LABELS.get(code, code))


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, strip=False)


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=_("原密码"), widget=forms.PasswordInput, strip=False)
    new_password1 = forms.CharField(label=_("新密码"), widget=forms.PasswordInput, strip=False)
    new_password2 = forms.CharField(label=_("再次输入新密码"), widget=forms.PasswordInput, strip=False)

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", gettext("两次输入的新密码不一致"))
        return data


class PasswordResetForm(forms.Form):
    new_password1 = forms.CharField(label=_("临时密码"), widget=forms.PasswordInput, strip=False)
    new_password2 = forms.CharField(label=_("再次输入临时密码"), widget=forms.PasswordInput, strip=False)

    def clean(self):
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", gettext("两次输入的密码不一致"))
        return data


class UserForm(forms.Form):
    full_name = forms.CharField(label=_("姓名"), max_length=50)
    email = forms.EmailField(label=_("电子邮箱"), required=False)
    roles = forms.MultipleChoiceField(
        label=_("角色"), choices=Role.choices, widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请至少选择一个角色")},
    )
    all_regions = forms.BooleanField(label=_("全市范围"), required=False, help_text=_("中心工作人员可查看全市人员"))
    regions = forms.ModelMultipleChoiceField(
        label=_("管辖镇街道"), required=False, widget=forms.CheckboxSelectMultiple,
        queryset=Region.objects.filter(level=Region.Level.TOWN).order_by("sort", "code"),
    )
    communities = forms.MultipleChoiceField(
        label=_("负责的村社区"), required=False, choices=(),
        help_text=_("仅社区专管员：只能查看、认证所选村社区的人员（可按住 Ctrl 多选）"),
    )
    schemes = forms.MultipleChoiceField(
        label=_("险种范围"), required=False,
        choices=[(code, SCHEME_NAMES.get(code, label)) for code, label in SCHEME_LABELS.items()], widget=forms.CheckboxSelectMultiple, help_text=_("不选表示全部险种"),
    )
    sensitive = forms.BooleanField(label=_("查看敏感信息"), required=False,
                                   help_text=_("可查看完整的身份证号、银行账号和电话"))
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # 村社区 grouped by their 镇街道 (a select of a few hundred options)
        groups: dict[str, list] = {}
        for c in (Region.objects.filter(level=Region.Level.COMMUNITY).select_related("parent")
                  .order_by("parent__sort", "parent__code", "sort", "code")):
            groups.setdefault(c.parent.name if c.parent else "", []).append((str(c.pk), c.name))
        self.fields["communities"].choices = list(groups.items())
        self.fields["communities"].widget.attrs.update({"size": "12", "class": "multi-communities"})

    def clean(self):
        data = super().clean()
        roles = set(data.get("roles") or [])
        ids = [int(i) for i in data.get("communities") or []]
        data["communities"] = list(Region.objects.filter(pk__in=ids, level=Region.Level.COMMUNITY)
                                   .select_related("parent").order_by("parent__sort", "sort", "code"))
        if data["communities"] and Role.COMMUNITY not in roles:
            self.add_error("communities", gettext("只有社区专管员可以选择负责的村社区"))
        if data.get("all_regions"):
            data["regions"] = Region.objects.none()
            if data["communities"]:
                self.add_error("communities", gettext("全市范围的用户不能限定到村社区"))
        elif not data.get("regions") and roles & {Role.CLERK, Role.REVIEWER, Role.FINANCE}:
            self.add_error("regions", gettext("请选择管辖镇街道，或勾选“全市范围”"))
        elif Role.COMMUNITY in roles and not data.get("regions") and not data["communities"]:
            self.add_error("communities", gettext("请选择社区专管员负责的村社区"))
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "full_name": data["full_name"], "roles": list(data["roles"]),
            "region_ids": [r.pk for r in data["regions"]], "all_regions": bool(data["all_regions"]),
            "schemes": list(data["schemes"]), "sensitive": bool(data["sensitive"]),
        }


class UserCreateForm(UserForm):
    username = forms.RegexField(
        label=_("用户名"), max_length=150, regex=r"^[A-Za-z0-9_.@+-]+$",
        error_messages={"invalid": _("用户名只能包含字母、数字和 _ . @ + -")},
    )
    password1 = forms.CharField(label=_("初始密码"), widget=forms.PasswordInput, strip=False,
                                help_text=_("用户首次登录时必须修改"))
    password2 = forms.CharField(label=_("再次输入初始密码"), widget=forms.PasswordInput, strip=False)

    field_order = ["username", "full_name", "password1", "password2"]

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", gettext("两次输入的密码不一致"))
        return data


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=_("用途"), max_length=100, help_text=_("例如：夜间数据核对脚本"))
    days = forms.TypedChoiceField(label=_("有效期"), choices=TOKEN_DAYS, coerce=int, initial=90)


def password_policy_texts() -> list[str]:
    return password_validation.password_validators_help_texts()
