"""Forms for the person pages. They only parse input; the rules live in ``registry.services``."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from shebao.registry.models import Person, Region
from shebao.registry.selectors import bank_choices, towns_visible


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class _PersonFields(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=50)
    town = forms.ModelChoiceField(label=_("镇街道"), queryset=Region.objects.none(), empty_label=_("请选择"))
    community = forms.ModelChoiceField(label=_("村社区"), queryset=Region.objects.none(), required=False,
                                       empty_label=_("（不指定）"))
    hukou_address = forms.CharField(label=_("户籍地址"), max_length=200, required=False)
    residence_address = forms.CharField(label=_("居住地址"), max_length=200, required=False)
    mobile = forms.CharField(label=_("手机"), max_length=20, required=False)
    phone = forms.CharField(label=_("固定电话"), max_length=20, required=False)
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        towns = towns_visible(user)
        self.fields["town"].queryset = towns
        town_id = self._town_id()
        communities = Region.objects.filter(level=Region.Level.COMMUNITY).order_by("sort", "code")
        self.fields["community"].queryset = (
            communities.filter(parent_id=town_id) if town_id else communities.none()
        )
        self.fields["town"].widget.attrs.update({
            "hx-get": reverse("registry:communities"), "hx-target": "#id_community", "hx-trigger": "change", "hx-swap": "innerHTML",
        })

    def _town_id(self):
        raw = self.data.get(self.add_prefix("town")) if self.is_bound else self.initial.get("town")
        if isinstance(raw, Region):
            return raw.pk
        try:
            return int(raw) if raw else None
        except (TypeError, ValueError):
            return None


class PersonCreateForm(_PersonFields):
    id_number = forms.CharField(label=_("身份证号"), max_length=18, min_length=15,
                                help_text=_("18 位；旧的 15 位号码会自动升位并保留原号"))
    sex = forms.ChoiceField(label=_("性别"), required=False, choices=[("", _("按身份证号"))] + list(Person.Sex.choices),
                            help_text=_("可不填；填写时须与身份证号一致"))
    birth_date = forms.DateField(label=_("出生日期"), required=False, widget=DateInput(),
                                 help_text=_("可不填；填写时须与身份证号一致"))
    field_order = ["id_number", "name", "sex", "birth_date", "town", "community"]

    def clean_id_number(self):
        return self.cleaned_data["id_number"].strip().upper()

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["sex"] = data.get("sex") or None
        return data


class PersonEditForm(_PersonFields):
    death_date = forms.DateField(label=_("死亡日期"), required=False, widget=DateInput())
    reason = forms.CharField(label=_("修改原因"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("记入审计日志"))

    @classmethod
    def initial_for(cls, person: Person) -> dict:
        return {
            "name": person.name, "town": person.town_id, "community": person.community_id,
            "hukou_address": person.hukou_address, "residence_address": person.residence_address,
            "mobile": person.mobile, "phone": person.phone, "notes": person.notes, "death_date": person.death_date,
        }

    def changes(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "reason"}


class BankAccountForm(forms.Form):
    bank = forms.ChoiceField(label=_("开户银行"), choices=lambda: [("", _("请选择")), *bank_choices()])
    branch = forms.CharField(label=_("开户网点"), max_length=100, required=False)
    account_number = forms.CharField(label=_("银行账号"), max_length=40,
                                     help_text=_("未通过 Luhn 校验只作提示，不会拒绝（存折、一折通常见）"))
    holder_name = forms.CharField(label=_("户名"), max_length=50)
    valid_from = forms.DateField(label=_("启用日期"), widget=DateInput(), initial=dt.date.today)
    reason = forms.CharField(label=_("变更原因"), max_length=500, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))
