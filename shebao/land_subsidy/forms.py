from django import forms
from django.utils.translation import gettext_lazy as _

from shebao.benefits.forms import MonthField
from shebao.common.safefile import upload_validator
from shebao.land_subsidy.importing import LIMITS
from shebao.land_subsidy.models import SubsidyCategory


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
