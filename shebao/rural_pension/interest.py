"""The interest rule of 老农保 individual accounts (SPEC "老农保 individual accounts"), pure: no
database, no Django. Hand-checkable; the SQL recompute in ``services`` follows the same formula.

Month-product method (月积数法), for a year Y with rate r (记账利率):

    interest_Y = opening_Y × r + Σ flow × r × (13 − m) / 12

over each credit (+) and payout (−) in month m of Y, rounded to the cent (ROUND_HALF_UP) once per
person per year, and

    closing_Y = opening_Y + credits_Y − payouts_Y + interest_Y,   opening_{Y+1} = closing_Y.

It is evaluated as r × (12 × opening + Σ flow × (13 − m)) / 12, so the only rounding is the last one.

Refund quote on date D (month d of year Y_D): full years before Y_D as above; for Y_D

    interest = r × ((d − 1) × opening + Σ_{m < d} flow × (d − m)) / 12, rounded to the cent,

and flows of month d count in the balance without interest (flows after month d are not part of a
quote on D). The years run from the first year with a flow; every one of them needs a rate — a year
without one stops the quote naming that year (D's own year only when its rate is used: d > 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CREDIT_KINDS = ("personal", "collective", "other")
KIND_LABELS = {"personal": "个人缴费", "collective": "集体补助", "other": "其他"}


class RateMissing(ValueError):  # noqa: N818 - the domain's word
    """A year the computation needs has no credited rate; ``year`` names it."""

    def __init__(self, year: int) -> None:
        super().__init__(f"{year} 年度没有记账利率，无法计算（请先在记账利率表中维护 {year} 年度利率）")
        self.year = year


class Flow(NamedTuple):
    """A credit (kind personal/collective/other, amount > 0) or a payout (kind "payout", amount > 0)
    in a month. ``sign`` is +1 for a credit, −1 for a payout. Immutable (a named tuple: a quote builds
    hundreds of them per call, three times cheaper than a frozen dataclass)."""

    year: int
    month: int  # 1..12
    kind: str
    amount: Decimal

    @property
    def signed(self) -> Decimal:
        return -self.amount if self.kind == "payout" else self.amount


@dataclass
class YearRow:
    year: int
    opening: Decimal
    credits: dict[str, Decimal]  # by kind: personal, collective, other
    payouts: Decimal
    rate: Decimal
    interest: Decimal
    closing: Decimal
    months: int = 12  # months of interest: 12 for a full year, d − 1 for the year of a quote

    @property
    def credit_total(self) -> Decimal:
        return sum(self.credits.values(), ZERO)

    def as_dict(self) -> dict:
        return {
            "year": self.year, "months": self.months, "opening": str(self.opening),
            **{k: str(v) for k, v in self.credits.items()},
            "payouts": str(self.payouts), "rate": str(self.rate), "interest": str(self.interest),
            "closing": str(self.closing),
        }


@dataclass
class Quote:
    on: dt.date
    rows: list[YearRow] = field(default_factory=list)
    amount: Decimal = ZERO  # the balance on D: what a refund pays

    def as_dict(self) -> dict:
        return {"date": self.on.isoformat(), "amount": str(self.amount), "years": [r.as_dict() for r in self.rows]}


def round_cent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _year_row(year: int, opening: Decimal, flows: list[Flow], rate: Decimal, *, upto_month: int | None = None) -> YearRow:
    """One year's row; ``upto_month`` = d for the year of a quote (interest to the start of month d)."""
    credits = {k: ZERO for k in CREDIT_KINDS}
    payouts = ZERO
    weighted = ZERO  # Σ signed flow × months of interest
    end = 13 if upto_month is None else upto_month  # a flow of month m earns end − m months (none from end on)
    for _year, month, kind, amount in flows:
        if kind == "payout":
            payouts += amount
            amount = -amount
        else:
            credits[kind] += amount
        if month < end:
            weighted += amount * (end - month)
    months = 12 if upto_month is None else upto_month - 1
    interest = round_cent(rate * (months * opening + weighted) / 12)
    closing = opening + sum(credits.values(), ZERO) - payouts + interest
    return YearRow(year, opening, credits, payouts, rate, interest, closing, months)


def _by_year(flows: Iterable[Flow]) -> dict[int, list[Flow]]:
    out: dict[int, list[Flow]] = {}
    for f in flows:
        if not 1 <= f.month <= 12:
            raise ValueError(f"月份 {f.month} 无效")
        if f.amount <= 0:
            raise ValueError(f"金额 {f.amount} 必须大于 0")
        if f.kind != "payout" and f.kind not in CREDIT_KINDS:
            raise ValueError(f"未知类别 {f.kind}")
        out.setdefault(f.year, []).append(f)
    return out


def yearly_table(flows: Iterable[Flow], rates: Mapping[int, Decimal], *, through_year: int | None = None) -> list[YearRow]:
    """The yearly account table from the first year with a flow through ``through_year`` (default: the
    last year with a flow, extended over the following years that already have a rate). A year in
    that range without a rate raises ``RateMissing``."""
    years = _by_year(flows)
    if not years:
        return []
    first = min(years)
    if through_year is None:
        through_year = max(years)
        while through_year + 1 in rates:  # the years after the last flow that already have a rate
            through_year += 1
    rows = []
    opening = ZERO
    for year in range(first, through_year + 1):
        if year not in rates:
            raise RateMissing(year)
        row = _year_row(year, opening, years.get(year, []), Decimal(rates[year]))
        rows.append(row)
        opening = row.closing
    return rows


def refund_quote(flows: Iterable[Flow], rates: Mapping[int, Decimal], *, on: dt.date) -> Quote:
    """The balance on date ``on`` by the quote rule (module docstring), with the yearly rows: full
    years before ``on``'s year and a last row for ``on``'s year (``months`` = month(on) − 1)."""
    flows = [f for f in flows if f.year < on.year or (f.year == on.year and f.month <= on.month)]
    years = _by_year(flows)
    quote = Quote(on=on)
    if not years:
        return quote
    opening = ZERO
    for year in range(min(years), on.year):
        if year not in rates:
            raise RateMissing(year)
        row = _year_row(year, opening, years.get(year, []), Decimal(rates[year]))
        quote.rows.append(row)
        opening = row.closing
    if on.month > 1 and on.year not in rates:
        raise RateMissing(on.year)
    rate = Decimal(rates.get(on.year, ZERO))  # with d = 1 nothing earns interest in D's year
    row = _year_row(on.year, opening, years.get(on.year, []), rate, upto_month=on.month)
    quote.rows.append(row)
    quote.amount = row.closing
    return quote
