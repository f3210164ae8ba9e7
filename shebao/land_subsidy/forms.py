from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from shebao.benefits.forms import MonthField
from shebao.common.safefile import upload_validator
from shebao.land_subsidy.importing import LIMITS
from shebao.land_subsidy.models import SubsidyCategory
from shebao.registry.models import Region
from shebao.registry.selectors import bank_choices, towns_visible


class RecordForm(forms.Form):
    category = forms.ModelChoiceField(label=_("补贴类别"), queryset=SubsidyCategory.objects.filter(active=True))
    land_date = forms.DateField(label=_("征地时间"), required=False, help_text=_("YYYY-MM-DD"))
    land_project = forms.CharField(label=_("征地项目"), max_length=100, required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)
    reason = forms.CharField(label=_("修改原因"), max_length=200)


class UploadForm(forms.Form):
    file = forms.FileField(label=_("人员文件"), help_text=_("xlsx、xls 或 csv（UTF-8 或 GB18030）"),
                           validators=[upload_validator(LIMITS)])


class CategoryForm(forms.Form):
    code = forms.CharField(label=_("代码"), max_length=20)
    name = forms.CharField(label=_("名称"), max_length=50)
    sort = forms.IntegerField(label=_("排序"), min_value=0, max_value=999, initial=0)
    note = forms.CharField(label=_("说明"), max_length=200, required=False)


class CategoryEditForm(CategoryForm):
    active = forms.BooleanField(label=_("启用"), required=False,
                                help_text=_("停用后不能再纳入或改入该类别；仍有未减员人员时不能停用"))


class RuleForm(forms.Form):
    category = forms.ModelChoiceField(label=_("补贴类别"), queryset=SubsidyCategory.objects.all())
    from_year = forms.IntegerField(label=_("起始年度"), min_value=1990, max_value=2100)
    amount = forms.DecimalField(label=_("年补贴金额（元）"), max_digits=14, decimal_places=2, min_value=0.01)
    reference_month = forms.IntegerField(label=_("认定日（月）"), min_value=1, max_value=12, initial=12)
    reference_day = forms.IntegerField(label=_("认定日（日）"), min_value=1, max_value=31, initial=31)
    min_age_male = forms.IntegerField(label=_("男性最低年龄"), min_value=0, max_value=120, required=False,
                                      help_text=_("认定日的周岁；空 = 不限"))
    min_age_female = forms.IntegerField(label=_("女性最低年龄"), min_value=0, max_value=120, required=False,
                                        help_text=_("认定日的周岁；空 = 不限"))
    pays_suspended = forms.BooleanField(label=_("暂停人员也发放"), required=False)
    note = forms.CharField(label=_("说明"), max_length=200, required=False)


def _reasons(terminates: bool):
    from shebao.benefits.models import SuspensionReason

    return [(r.code, r.name) for r in SuspensionReason.objects.filter(active=True, terminates=terminates)
            .order_by("sort")]


class StatusForm(forms.Form):
    """暂停 (a reason and the first month not paid), 恢复 (the first month paid again) or 减员 (a terminating
    reason; the date of death, or the last month paid)."""

    action = forms.ChoiceField(label=_("办理"), choices=[("suspend", _("暂停发放")), ("resume", _("恢复发放")),
                                                         ("terminate", _("减员"))])
    reason = forms.ChoiceField(label=_("原因"), required=False, help_text=_("暂停或减员的原因"))
    month = MonthField(label=_("年月"), required=False,
                       help_text=_("暂停：第一个不发放的月份；恢复：第一个重新发放的月份；非死亡减员：最后发放年月"))
    death_date = forms.DateField(label=_("死亡日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("说明"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", "---------")] + _reasons(False) + _reasons(True)

    def clean(self):
        data = super().clean()
        action, reason = data.get("action"), data.get("reason")
        suspending, ending = dict(_reasons(False)), dict(_reasons(True))
        if action == "suspend" and reason not in suspending:
            self.add_error("reason", _("请选择暂停原因"))
        if action == "terminate" and reason not in ending:
            self.add_error("reason", _("请选择减员原因"))
        if action == "terminate" and reason == "death":
            if not data.get("death_date"):
                self.add_error("death_date", _("死亡减员须填写死亡日期"))
        elif action and not data.get("month"):
            self.add_error("month", _("请填写年月"))
        return data


class RuleEditForm(RuleForm):
    """A rule's change (the category stays): refused by the service for a year already computed."""

    active = forms.BooleanField(label=_("启用"), required=False,
                                help_text=_("停用后该年度起改按此前最近的启用标准；已计算年度所用的标准不能停用"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["category"]


class PersonAddForm(forms.Form):
    """One 土保补贴人员 (人员新增): the import's row, as a form; checked by the import's own row check."""

    id_number = forms.CharField(label=_("身份证号"), max_length=18, min_length=15,
                                help_text=_("18 位；旧的 15 位号码会自动升位"))
    name = forms.CharField(label=_("姓名"), max_length=50)
    town = forms.ModelChoiceField(label=_("镇街道"), queryset=Region.objects.none(), empty_label=_("请选择"))
    community = forms.ModelChoiceField(label=_("村社区"), queryset=Region.objects.none(), required=False,
                                       empty_label=_("（不指定）"))
    category = forms.ModelChoiceField(label=_("补贴类别"), queryset=SubsidyCategory.objects.filter(active=True),
                                      empty_label=_("请选择"))
    start_month = MonthField(label=_("开始年月"), help_text=_("YYYY-MM：从该月起享受"))
    bank = forms.ChoiceField(label=_("开户银行"), required=False,
                             choices=lambda: [("", _("请选择")), *bank_choices()])
    account_number = forms.CharField(label=_("银行账号"), max_length=40, required=False,
                                     help_text=_("未通过 Luhn 校验只作提示，不会拒绝（存折、一折通常见）；"
                                                 "已登记账户的人员可不填"))
    holder_name = forms.CharField(label=_("户名"), max_length=50, required=False, help_text=_("空 = 姓名"))
    land_date = forms.DateField(label=_("征地时间"), required=False, help_text=_("YYYY-MM-DD"))
    land_project = forms.CharField(label=_("征地项目"), max_length=100, required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["town"].queryset = towns_visible(user)
        raw = self.data.get("town") if self.is_bound else None
        try:
            town_id = int(raw) if raw else None
        except (TypeError, ValueError):
            town_id = None
        communities = Region.objects.filter(level=Region.Level.COMMUNITY).order_by("sort", "code")
        self.fields["community"].queryset = communities.filter(parent_id=town_id) if town_id else communities.none()
        self.fields["town"].widget.attrs.update({
            "hx-get": reverse("registry:communities"), "hx-target": "#id_community", "hx-trigger": "change",
            "hx-swap": "innerHTML"})
