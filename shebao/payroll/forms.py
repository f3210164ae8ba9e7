"""Forms of the payroll pages: parse and check input only; the services decide."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shebao.benefits.forms import MonthField
from shebao.benefits.models import Scheme
from shebao.benefits.months import format_month


def _schemes():
    return Scheme.objects.order_by("sort", "code")


class ComputeForm(forms.Form):
    scheme = forms.ModelChoiceField(label=_("险种"), queryset=Scheme.objects.none(), empty_label=None,
                                    to_field_name="code")
    period = MonthField(label=_("结算年月"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scheme"].queryset = _schemes()
        if not self.is_bound:
            self.initial.setdefault("period", format_month(timezone.localdate().replace(day=1)))


class WriteOffForm(forms.Form):
    reason = forms.CharField(label=_("核销原因"), max_length=200,
                             widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("例如：本人已死亡且无继承人，经领导批准核销")}))


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
