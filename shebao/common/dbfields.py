"""Model-field conventions shared by the apps that hold money and months."""

from django.db import models
from django.db.models import Q

MONEY = {"max_digits": 14, "decimal_places": 2}  # DecimalField(**MONEY): yuan with two places


def first_of_month_check(field: str, name: str, *, nullable: bool = False) -> models.CheckConstraint:
    """A month is stored as a DateField on the first day of the month; the database refuses other days."""
    cond = Q(**{f"{field}__day": 1})
    if nullable:
        cond |= Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(condition=cond, name=name)
