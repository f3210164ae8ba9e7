"""Forms of the 自管人员 pages: they parse and check shapes; the services decide."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shebao.benefits.forms import MonthField
from shebao.benefits.models import Adjustment
from shebao.benefits.months import format_month, month_of
from shebao.common.fields import DecimalField
from shebao.common.safefile import upload_validator
from shebao.registry.selectors import bank_choices, towns_visible
from shebao.self_managed.models import Income
from shebao.self_managed.roster import ROSTER_LIMITS
from shebao.self_managed.selectors import suspend_reasons, terminate_reasons, zg_items


def this_month() -> str:
    return format_month(month_of(timezone.localdate()))


MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": 0}


class EnrollForm(forms.Form):
    # a registered person chosen from the search: their id (opaque), not their 身份证号
    person = forms.IntegerField(required=False, widget=forms.HiddenInput)
    id_number = forms.CharField(label=_("身份证号"), max_length=18, required=False)
    name = forms.CharField(label=_("姓名"), max_length=50, required=False, help_text=_("新人员必填；已登记人员须与登记一致"))
    town = forms.ChoiceField(label=_("镇街道"), required=False, help_text=_("新人员必填"))
    mobile = forms.CharField(label=_("手机"), max_length=20, required=False)
    start_month = MonthField(label=_("开始发放年月"))
    service_years = DecimalField(label=_("工龄(年)"), max_digits=5, decimal_places=2, min_value=0, initial=0)
    bank = forms.ChoiceField(label=_("开户银行"), choices=lambda: [("", "—"), *bank_choices()],
                             required=False)
    account_number = forms.CharField(label=_("银行账号"), max_length=32, required=False)
    holder_name = forms.CharField(label=_("户名"), max_length=50, required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, user, chosen=None, current_account=None, masker=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.chosen = chosen
        self.fields["town"].choices = [("", "—")] + [(t.pk, t.name) for t in towns_visible(user)]
        if chosen is not None:
            # shown (masked per the user's right), never sent back: the person is the hidden id
            for name in ("id_number", "mobile", "town"):
                self.fields[name].disabled = True
            self.fields["id_number"].help_text = _("已登记人员（按查找结果选择）")
            self.fields["mobile"].help_text = _("已登记人员的电话在人员信息中修改")
            if current_account is not None:
                shown = masker.account(current_account.account_number) if masker else ""
                self.fields["account_number"].help_text = gettext(
                    "当前账户：%(bank)s %(number)s（%(holder)s）；留空 = 不变更，填写则登记新账户") % {
                    "bank": current_account.get_bank_display(), "number": shown,
                    "holder": current_account.holder_name}
        self.items = list(zg_items())
        for item in self.items:
            self.fields[f"item_{item.code}"] = DecimalField(
                label=gettext("%(item)s（月金额）") % {"item": item.name}, required=False, **MONEY)

    def clean(self):
        data = super().clean()
        if self.chosen is None and not (data.get("id_number") or "").strip():
            self.add_error("id_number", gettext("请填写身份证号"))
        acc = [data.get("bank"), data.get("account_number"), data.get("holder_name")]
        if any(acc) and not all(acc):
            raise forms.ValidationError(gettext("开户银行、银行账号、户名须同时填写"))
        return data

    def item_amounts(self) -> dict:
        return {item.code: self.cleaned_data[f"item_{item.code}"] for item in self.items
                if self.cleaned_data.get(f"item_{item.code}") is not None}


class TerminateForm(forms.Form):
    reason = forms.ChoiceField(label=_("减员原因"))
    death_date = forms.DateField(label=_("死亡日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last_month = MonthField(label=_("最后发放年月"), required=False, help_text=_("死亡以外的原因必填"))
    note = forms.CharField(label=_("说明"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reasons = {r.code: r for r in terminate_reasons()}
        self.fields["reason"].choices = [(r.code, r.name) for r in self.reasons.values()]

    def clean(self):
        data = super().clean()
        if data.get("reason") == "death":
            if not data.get("death_date"):
                self.add_error("death_date", gettext("死亡减员须填写死亡日期"))
            elif data["death_date"] > timezone.localdate():
                self.add_error("death_date", gettext("死亡日期不能晚于今天"))
        elif data.get("reason") and not data.get("last_month"):
            self.add_error("last_month", gettext("请填写最后发放年月"))
        return data

    def last_paid_month(self) -> dt.date:
        data = self.cleaned_data
        return month_of(data["death_date"]) if data["reason"] == "death" else data["last_month"]


class SuspendForm(forms.Form):
    reason = forms.ChoiceField(label=_("暂停原因"))
    from_month = MonthField(label=_("暂停起始年月"), help_text=_("第一个不发放的月份"))
    note = forms.CharField(label=_("说明"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [
            (r.code, (gettext("%(reason)s（恢复时补发）") if r.pays_on_resume else gettext("%(reason)s（恢复时不补发）"))
             % {"reason": r.name}) for r in suspend_reasons()]
        self.fields["from_month"].initial = this_month()


class ResumeForm(forms.Form):
    from_month = MonthField(label=_("恢复发放年月"), help_text=_("第一个重新发放的月份"))
    note = forms.CharField(label=_("说明"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_month"].initial = this_month()


class AmountForm(forms.Form):
    item = forms.ChoiceField(label=_("待遇项目"))
    amount = DecimalField(label=_("新月金额"), **MONEY)
    from_month = MonthField(label=_("起始年月"), help_text=_("新金额从该月起生效；原标准在前一月截止，历史保留"))
    note = forms.CharField(label=_("依据/说明"), max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [(i.code, i.name) for i in zg_items()]
        self.fields["from_month"].initial = this_month()


class AdjustmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=Adjustment.Kind.choices)
    total = DecimalField(label=_("总金额"), max_digits=14, decimal_places=2, min_value=0.01)
    monthly_cap = DecimalField(label=_("每月上限"), max_digits=14, decimal_places=2, min_value=0.01,
                                     required=False, help_text=_("仅扣减：每月最多扣回的金额，其余顺延"))
    reason = forms.CharField(label=_("原因"), max_length=200)
    source = forms.CharField(label=_("来源/依据"), max_length=200, required=False)


class RaiseForm(forms.Form):
    name = forms.CharField(label=_("规则名称"), max_length=100)
    item = forms.ChoiceField(label=_("调整项目"))
    effective_month = MonthField(label=_("生效年月 E"))
    apply_month = MonthField(label=_("执行年月 A"), help_text=_("A ≥ E；E 至 A 前的月份补发"))
    fixed = DecimalField(label=_("定额"), max_digits=14, decimal_places=2, min_value=0, initial=0)
    per_service_year = DecimalField(label=_("每满一年工龄"), max_digits=14, decimal_places=2, min_value=0,
                                          initial=0)
    percent = DecimalField(label=_("比例(%)"), max_digits=7, decimal_places=4, min_value=0, max_value=100,
                                 initial=0, help_text=_("按基本养老金的百分比"))
    age_reference_date = forms.DateField(label=_("年龄计算日"), required=False,
                                         widget=forms.DateInput(attrs={"type": "date"}),
                                         help_text=_("默认生效年月的第一天"))
    age_tilts = forms.CharField(label=_("年龄倾斜"), required=False, max_length=200,
                                help_text=_("如 70:20,75:30,80:50（年满岁数:月增额，取最高一档）"))
    rule_file = forms.FileField(label=_("或上传规则文件 (JSON)"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [(i.code, i.name) for i in zg_items()]
        self.fields["apply_month"].initial = this_month()

    def rule_data(self) -> dict:
        d = self.cleaned_data
        tilts = []
        for part in (d.get("age_tilts") or "").replace("，", ",").split(","):
            part = part.strip()
            if not part:
                continue
            age, _sep, amount = part.replace("：", ":").partition(":")
            try:
                tilts.append({"min_age": int(age), "amount": str(amount.strip())})
            except ValueError:
                raise forms.ValidationError(gettext("年龄倾斜“%(part)s”格式应为 岁数:金额") % {"part": part}) from None
        data = {"name": d["name"], "scheme": "ZG", "item": d["item"],
                "effective_month": format_month(d["effective_month"]), "fixed": str(d["fixed"]),
                "per_service_year": str(d["per_service_year"]), "percent": str(d["percent"]), "age_tilts": tilts}
        if d.get("age_reference_date"):
            data["age_reference_date"] = d["age_reference_date"].isoformat()
        return data


class RosterUploadForm(forms.Form):
    file = forms.FileField(label=_("花名册文件"), help_text=_("xlsx、xls 或 csv（UTF-8 或 GB18030）"),
                           validators=[upload_validator(ROSTER_LIMITS)])


class FlexForm(forms.Form):
    id_number = forms.CharField(label=_("收款人身份证号"), max_length=18)
    amount = DecimalField(label=_("金额"), max_digits=14, decimal_places=2, min_value=0.01)
    reason = forms.CharField(label=_("事由"), max_length=200)
    source = forms.CharField(label=_("依据/来源"), max_length=200, required=False)


class IncomeForm(forms.Form):
    id_number = forms.CharField(label=_("身份证号"), max_length=18)
    kind = forms.ChoiceField(label=_("收入类型"), choices=Income.Kind.choices)
    amount = DecimalField(label=_("金额"), max_digits=14, decimal_places=2, min_value=0.01)
    received_on = forms.DateField(label=_("到账日期"), widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.CharField(label=_("来源"), max_length=200, help_text=_("如 家属退回、银行退回（批次号）"))
    note = forms.CharField(label=_("备注"), max_length=300, required=False)
