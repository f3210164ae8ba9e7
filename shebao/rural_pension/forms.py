"""Forms of the 老农保 pages: they parse input only; the rules are in ``services``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shebao.benefits.forms import MonthField
from shebao.common.fields import DecimalField
from shebao.common.money import MoneyError, to_decimal
from shebao.common.safefile import Limits, MiB, upload_validator
from shebao.registry.models import Region
from shebao.registry.selectors import towns_visible
from shebao.rural_pension.legacy_import import FILES
from shebao.rural_pension.models import AccountStatus, RuralDocument

# a legacy file is read streaming, line by line (memory independent of its size): only its size is bounded
LEGACY_UPLOAD_LIMITS = Limits(max_bytes=2048 * MiB)
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AccountEditForm(forms.Form):
    """信息修改: the account's facts and the person's basic information, with a reason."""

    name = forms.CharField(label=_("姓名"), max_length=50)
    town = forms.ModelChoiceField(label=_("镇街道"), queryset=Region.objects.none(), empty_label=None)
    community = forms.ModelChoiceField(label=_("村"), queryset=Region.objects.none(), required=False,
                                       empty_label=_("（未登记）"))
    enrolled_on = forms.DateField(label=_("参保日期"), widget=DATE_INPUT)
    status = forms.ChoiceField(label=_("状态"), choices=[(AccountStatus.PAYING, AccountStatus.PAYING.label),
                                                     (AccountStatus.SUSPENDED, AccountStatus.SUSPENDED.label)])
    residence_address = forms.CharField(label=_("居住地址"), max_length=200, required=False)
    mobile = forms.CharField(label=_("手机"), max_length=20, required=False)
    legacy_bank = forms.CharField(label=_("开户银行(原系统)"), max_length=50, required=False)
    legacy_account_number = forms.CharField(label=_("银行账号(原系统)"), max_length=40, required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)
    reason = forms.CharField(label=_("修改原因"), max_length=200, widget=forms.Textarea(attrs={"rows": 2}))

    ACCOUNT_FIELDS = ("town", "community", "enrolled_on", "status", "legacy_bank", "legacy_account_number", "note")
    PERSON_FIELDS = ("name", "residence_address", "mobile")

    def __init__(self, *args, user, account, **kwargs):
        initial = {f: getattr(account, f) for f in self.ACCOUNT_FIELDS}
        initial.update({f: getattr(account.person, f) for f in self.PERSON_FIELDS})
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.account = account
        towns = towns_visible(user)
        self.fields["town"].queryset = towns
        # the villages of the chosen town only (the posted one, else the account's): the list offered every
        # village of every town, and a village of another town was accepted
        town_id = self._town_id()
        self.fields["community"].queryset = Region.objects.filter(
            level=Region.Level.COMMUNITY, parent__in=towns, parent_id=town_id).order_by("sort", "code")
        self.fields["community"].error_messages["invalid_choice"] = _("所选的村不属于所选的镇街道，请重新选择")
        self.fields["town"].widget.attrs.update({
            "hx-get": reverse("registry:communities"), "hx-target": "#id_community", "hx-trigger": "change",
            "hx-swap": "innerHTML",
        })
        if account.status not in (AccountStatus.PAYING, AccountStatus.SUSPENDED):
            self.fields["status"].choices = [(account.status, account.get_status_display())]

    def _town_id(self) -> int | None:
        raw = self.data.get(self.add_prefix("town")) if self.is_bound else None
        if raw is None:
            return self.account.town_id
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None

    def changes(self) -> tuple[dict, dict]:
        """(account changes, person changes): only the fields whose value differs."""
        data = self.cleaned_data
        account = {f: data[f] for f in self.ACCOUNT_FIELDS
                   if data[f] != getattr(self.account, f) and not (data[f] in ("", None)
                                                                   and getattr(self.account, f) in ("", None))}
        person = {f: data[f] for f in self.PERSON_FIELDS if data[f] != getattr(self.account.person, f)}
        return account, person


class RefundForm(forms.Form):
    on = forms.DateField(label=_("结算日期"), widget=DATE_INPUT)
    pay = forms.ChoiceField(label=_("支付方式"), choices=RuralDocument.PayMethod.choices, widget=forms.RadioSelect,
                            initial=RuralDocument.PayMethod.BANK)

    def clean_on(self):
        on = self.cleaned_data["on"]
        if on > timezone.localdate():
            raise forms.ValidationError(gettext("结算日期不能晚于今天"))
        return on


class SettleForm(RefundForm):
    amount = DecimalField(max_digits=14, decimal_places=2, widget=forms.HiddenInput)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("回退原因"), max_length=200, widget=forms.Textarea(attrs={"rows": 2}))


class RateForm(forms.Form):
    year = forms.IntegerField(label=_("年度"), min_value=1980, max_value=2200)
    rate = forms.CharField(label=_("记账利率"), max_length=10, help_text=_("小数，如 0.0250 表示 2.5%"))
    reason = forms.CharField(label=_("原因"), max_length=200, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_rate(self):
        raw = self.cleaned_data["rate"].strip()
        try:
            value = to_decimal(raw)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from None
        if value != value.quantize(Decimal("0.0001")) or not (0 <= value < 1):
            raise forms.ValidationError(gettext("记账利率应为 0 到 1 之间、最多 4 位小数的小数（如 0.0250 表示 2.5%）"))
        return value.quantize(Decimal("0.0001"))


class CoefficientForm(forms.Form):
    """计发系数: the coefficient in force from a month on (交费领取计算表)."""

    from_month = MonthField(label=_("起始年月"), help_text=_("该年月起开始领取的人员使用此系数，如 2027-01"))
    coefficient = forms.CharField(label=_("计发系数"), max_length=14, help_text=_("大于 0、小于 1 的小数，最多 9 位，如 0.008631526"))
    reason = forms.CharField(label=_("原因"), max_length=200, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_coefficient(self):
        raw = self.cleaned_data["coefficient"].strip()
        try:
            value = to_decimal(raw)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from None
        if not value.is_finite() or not (0 < value < 1) or value != value.quantize(Decimal("0.000000001")):
            raise forms.ValidationError(gettext("计发系数应为大于 0、小于 1、最多 9 位小数的小数（如 0.008631526）"))
        return value.quantize(Decimal("0.000000001"))


# --------------------------------------------------------------------------------------------------
# monthly benefit: 开始领取, 代领人, 死亡结算


class BenefitStartForm(forms.Form):
    start = MonthField(label=_("开始领取年月"))
    note = forms.CharField(label=_("备注"), max_length=200, required=False)


class BenefitConfirmForm(BenefitStartForm):
    monthly = DecimalField(max_digits=14, decimal_places=2, widget=forms.HiddenInput)


class HeirForm(forms.Form):
    heir = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=_("原因"), max_length=200, widget=forms.Textarea(attrs={"rows": 2}))


class DeathForm(RefundForm):
    """A refund's settlement date and pay method, after the death date."""

    death_date = forms.DateField(label=_("死亡日期"), widget=DATE_INPUT)
    field_order = ["death_date", "on", "pay"]


class DeathSettleForm(DeathForm):
    heir = forms.IntegerField(widget=forms.HiddenInput)
    amount = DecimalField(max_digits=14, decimal_places=2, widget=forms.HiddenInput)


class ImportForm(forms.Form):
    """The four legacy files uploaded (any of them), or a folder on the server holding them."""

    directory = forms.CharField(label=_("服务器目录"), max_length=300, required=False,
                                help_text=_("服务器上存放 CSV 文件的目录（绝对路径）；或在下方上传文件"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in FILES:
            self.fields[_field(name)] = forms.FileField(label=name, required=False,
                                                        validators=[upload_validator(LEGACY_UPLOAD_LIMITS)])

    def uploads(self) -> dict[str, object]:
        return {name: self.cleaned_data.get(_field(name)) for name in FILES if self.cleaned_data.get(_field(name))}

    def clean(self):
        data = super().clean()
        directory = (data.get("directory") or "").strip()
        uploads = self.uploads()
        if directory and uploads:
            raise forms.ValidationError(gettext("请只选一种方式：服务器目录，或上传文件"))
        if not directory and not uploads:
            raise forms.ValidationError(gettext("请填写服务器目录，或上传至少一个文件"))
        if directory:
            path = Path(directory)
            if not path.is_absolute():
                raise forms.ValidationError(gettext("服务器目录须为绝对路径"))
            if not path.is_dir():
                raise forms.ValidationError(gettext("目录 %(directory)s 不存在") % {"directory": directory})
            if not any((path / name).is_file() for name in FILES):
                raise forms.ValidationError(gettext("目录 %(directory)s 中没有 %(files)s 中的任何文件") % {
                    "directory": directory, "files": gettext("、").join(FILES)})
            data["directory"] = str(path)
        return data


def _field(name: str) -> str:
    return "file_" + name.removesuffix(".csv")


def today() -> dt.date:
    return timezone.localdate()
