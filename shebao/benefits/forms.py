"""Form fields shared by the pages of the paying schemes."""

from __future__ import annotations

import datetime as dt

from django import forms

from shebao.benefits.months import MonthError, format_month, parse_month


class MonthField(forms.CharField):
    """A calendar month typed as YYYY-MM (also 202603, 2026/3, 2026年3月); cleaned to the first day."""

    widget = forms.TextInput(attrs={"placeholder": "YYYY-MM", "inputmode": "numeric", "pattern": r"\d{4}-?\d{1,2}",
                                    "maxlength": "10", "size": 8})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return parse_month(value)
        except MonthError as exc:
            raise forms.ValidationError(str(exc)) from None

    def prepare_value(self, value):
        return format_month(value) if isinstance(value, dt.date) else value
