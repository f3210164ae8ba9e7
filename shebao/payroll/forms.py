"""Forms of the payroll pages: parse and check input only; the services decide."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shebao.benefits.forms import MonthField
from shebao.benefits.models import Scheme
from shebao.benefits.months import MonthError, format_month, parse_month
from shebao.payroll import schemes
from shebao.payroll.models import PayrollRun


def _schemes():
    return Scheme.objects.order_by("sort", "code")


class ComputeForm(forms.Form):
    """The scheme, the run kind (月度结算, or 年度发放 for a scheme that registered an annual rule:
    ``shebao.payroll.schemes``) and the period: a month (YYYY-MM) for a monthly run, a year (YYYY) for
    a yearly one. ``period`` is cleaned to the first day of the month, or 1 January of the year."""

    KINDS = [(PayrollRun.Kind.REGULAR, PayrollRun.Kind.REGULAR.label),
             (PayrollRun.Kind.ANNUAL, PayrollRun.Kind.ANNUAL.label)]

    scheme = forms.ModelChoiceField(label=_("险种"), queryset=Scheme.objects.none(), empty_label=None,
                                    to_field_name="code")
    kind = forms.ChoiceField(label=_("结算类型"), choices=KINDS, initial=PayrollRun.Kind.REGULAR, required=False,
                             help_text=_("年度发放只适用于登记了年度发放规则的险种"))
    period = forms.CharField(label=_("结算年月（年度发放填年份）"), max_length=10,
                             widget=forms.TextInput(attrs={"placeholder": "YYYY-MM / YYYY", "inputmode": "numeric",
                                                           "maxlength": "10", "size": 8}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scheme"].queryset = _schemes()
        if not self.is_bound:
            self.initial.setdefault("period", format_month(timezone.localdate().replace(day=1)))

    def clean_kind(self):
        return self.cleaned_data.get("kind") or PayrollRun.Kind.REGULAR

    def clean(self):
        data = super().clean()
        scheme, kind, text = data.get("scheme"), data.get("kind"), (data.get("period") or "").strip()
        if kind == PayrollRun.Kind.ANNUAL:
            if scheme is not None and schemes.rules_for(scheme).annual is None:
                self.add_error("kind", _("%(scheme)s没有登记年度发放规则，不能进行年度发放") % {"scheme": scheme.name})
            if text.isdigit() and len(text) == 4 and int(text) >= 1900:
                data["period"] = dt.date(int(text), 1, 1)
            elif "period" in data:
                self.add_error("period", _("年度 %(v)s 不正确，应为四位年份，例如 2026") % {"v": text})
        elif "period" in data:
            try:
                data["period"] = parse_month(text)
            except MonthError as exc:
                self.add_error("period", str(exc))
        return data


class WriteOffForm(forms.Form):
    reason = forms.CharField(label=_("核销原因"), max_length=200,
                             widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("例如：本人已死亡且无继承人，经领导批准核销")}))


class RiskReleaseForm(forms.Form):
    reason = forms.CharField(label=_("放行原因"), max_length=200,
                             widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("例如：已电话核实，账户已恢复正常")}))


class OneOffForm(forms.Form):
    """The run's scheme, month and note; the persons come as repeated ``person``/``amount``/``memo``."""

    scheme = forms.ModelChoiceField(label=_("险种"), queryset=Scheme.objects.none(), empty_label=None,
                                    to_field_name="code")
    period = MonthField(label=_("所属年月"))
    note = forms.CharField(label=_("备注"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scheme"].queryset = _schemes()
        if not self.is_bound:
            self.initial.setdefault("period", format_month(timezone.localdate().replace(day=1)))
