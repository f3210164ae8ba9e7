"""Test data for 老农保: accounts with flows and rates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shebao.benefits.tests.factories import make_person, make_user  # noqa: F401 - re-exported
from shebao.registry.models import Region
from shebao.rural_pension.models import Contribution, CreditedRate, Payout, RuralAccount

D = Decimal

RATES = {2020: "0.0300", 2021: "0.0250", 2022: "0.0000", 2023: "0.0200", 2024: "0.0180", 2025: "0.0150",
         2026: "0.0150"}


def set_rates(rates: dict | None = None) -> None:
    for year, rate in (rates or RATES).items():
        CreditedRate.objects.update_or_create(year=year, defaults={"rate": D(rate)})


def make_account(person=None, *, name: str = "王阿大", birth: dt.date = dt.date(1962, 3, 5), status: str = "paying",
                 flows: list | None = None, account: str | None = "6222021234567890") -> RuralAccount:
    """An account with flows [(YYYY-MM, kind, amount)], kind personal/collective/other or payout:<kind>."""
    person = person or make_person(name, birth=birth, account=account)
    town = Region.objects.get(pk=person.town_id)
    acc = RuralAccount.objects.create(person=person, town=town, enrolled_on=dt.date(2019, 12, 1), status=status)
    for ym, kind, amount in flows or []:
        month = dt.date(int(ym[:4]), int(ym[5:7]), 1)
        if kind.startswith("payout:"):
            Payout.objects.create(account=acc, month=month, kind=kind.split(":")[1], amount=D(amount))
        else:
            Contribution.objects.create(account=acc, month=month, kind=kind, amount=D(amount))
    return acc


# the hand-computed case of test_interest (closing 2023 = 2640.21)
HAND_FLOWS = [
    ("2020-01", "personal", "1200.00"),
    ("2020-12", "collective", "600.00"),
    ("2021-03", "personal", "300.00"),
    ("2021-07", "payout:other", "100.00"),
    ("2022-05", "personal", "500.00"),
    ("2024-02", "personal", "240.00"),
    ("2024-06", "collective", "100.00"),
]
