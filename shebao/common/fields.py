"""Form fields that parse by the project's own rules (``shebao.common.money``)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from shebao.common.money import MoneyError, to_decimal


class DecimalField(forms.DecimalField):
    """``forms.DecimalField`` parsed by ``money.to_decimal``: no exponent (Django reads ``2e3`` as
    2000), no NaN/Infinity, full-width digits read as ASCII, bounded length; the field's own
    ``max_digits``/``decimal_places``/``min_value`` checks still apply."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if self.localize:
            from django.utils.formats import sanitize_separators

            value = sanitize_separators(value)
        try:
            return to_decimal(value)
        except MoneyError as exc:
            raise ValidationError(str(exc), code="invalid") from None


class AmountField(DecimalField):
    """An amount in yuan: ``max_digits=14, decimal_places=2`` unless given otherwise."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)
