"""The interest rule, by hand-computed cases and properties (no database)."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shebao.rural_pension.interest import Flow, RateMissing, refund_quote, yearly_table

D = Decimal

RATES = {2020: D("0.0300"), 2021: D("0.0250"), 2022: D("0.0000"), 2023: D("0.0200"), 2024: D("0.0180")}
FLOWS = [
    Flow(2020, 1, "personal", D("1200.00")),  # January: 12 months of interest
    Flow(2020, 12, "collective", D("600.00")),  # December: 1 month
    Flow(2021, 3, "personal", D("300.00")),
    Flow(2021, 7, "payout", D("100.00")),  # a payout in July: −6 months
    Flow(2022, 5, "personal", D("500.00")),  # a year with rate 0
    Flow(2024, 2, "personal", D("240.00")),
    Flow(2024, 6, "collective", D("100.00")),
    Flow(2024, 8, "personal", D("999.00")),  # after the quote's month
]


def test_hand_computed_years():
    rows = yearly_table(FLOWS[:5], RATES, through_year=2023)
    got = [(r.year, r.opening, r.credit_total, r.payouts, r.interest, r.closing) for r in rows]
    assert got == [
        # 1200 × 3% × 12/12 = 36.00; 600 × 3% × 1/12 = 1.50
        (2020, D("0.00"), D("1800.00"), D("0.00"), D("37.50"), D("1837.50")),
        # 1837.50 × 2.5% = 45.9375; 300 × 2.5% × 10/12 = 6.25; −100 × 2.5% × 6/12 = −1.25 → 50.9375 → 50.94
        (2021, D("1837.50"), D("300.00"), D("100.00"), D("50.94"), D("2088.44")),
        # rate 0: no interest
        (2022, D("2088.44"), D("500.00"), D("0.00"), D("0.00"), D("2588.44")),
        # no flows: 2588.44 × 2% = 51.7688 → 51.77
        (2023, D("2588.44"), D("0.00"), D("0.00"), D("51.77"), D("2640.21")),
    ]
    assert rows[0].credits == {"personal": D("1200.00"), "collective": D("600.00"), "other": D("0.00")}


def test_hand_computed_mid_year_quote():
    quote = refund_quote(FLOWS, RATES, on=dt.date(2024, 6, 15))
    last = quote.rows[-1]
    assert [r.year for r in quote.rows] == [2020, 2021, 2022, 2023, 2024]
    # 2640.21 × 1.8% × 5/12 = 19.801575; 240 × 1.8% × 4/12 = 1.44 → 21.241575 → 21.24;
    # June's 100.00 counts without interest; August's 999.00 is after the date
    assert (last.opening, last.months, last.interest) == (D("2640.21"), 5, D("21.24"))
    assert last.credits["collective"] == D("100.00")
    assert quote.amount == D("3001.45") == D("2640.21") + D("240.00") + D("100.00") + D("21.24")


def test_quote_in_january_needs_no_rate_of_its_year():
    quote = refund_quote(FLOWS[:5], {y: r for y, r in RATES.items() if y < 2024}, on=dt.date(2024, 1, 20))
    assert quote.rows[-1].interest == D("0.00")
    assert quote.amount == D("2640.21")


def test_quote_on_the_first_year_december():
    # December 2020: Jan 1200 earns 11 months; December's 600 none → 1200 × 3% × 11/12 = 33.00
    quote = refund_quote(FLOWS, RATES, on=dt.date(2020, 12, 31))
    assert quote.amount == D("1833.00")


def test_interest_rounds_half_up_once_per_year():
    rows = yearly_table([Flow(2019, 1, "personal", D("100.50"))], {2019: D("0.0100")})
    assert rows[0].interest == D("1.01")  # 1.005 → 1.01


def test_missing_rate_names_the_year():
    rates = {y: r for y, r in RATES.items() if y != 2022}
    with pytest.raises(RateMissing) as exc:
        refund_quote(FLOWS, rates, on=dt.date(2024, 6, 1))
    assert exc.value.year == 2022
    assert "2022 年度没有记账利率" in str(exc.value)
    with pytest.raises(RateMissing, match="2024"):
        refund_quote(FLOWS, {y: r for y, r in RATES.items() if y != 2024}, on=dt.date(2024, 6, 1))


def test_no_flows_quote_is_zero():
    assert refund_quote([], RATES, on=dt.date(2024, 6, 1)).amount == D("0.00")


# ---------------------------------------------------------------------------------------------------
# properties

YEARS = list(range(2000, 2011))
flows_st = st.lists(
    st.builds(
        Flow,
        year=st.sampled_from(YEARS),
        month=st.integers(1, 12),
        kind=st.sampled_from(["personal", "collective", "other", "payout"]),
        amount=st.integers(1, 500_000).map(lambda f: D(f) / 100),
    ),
    max_size=40,
)
rates_st = st.fixed_dictionaries({y: st.integers(0, 800).map(lambda b: D(b) / 10_000) for y in YEARS})


def _oracle(flows, rates, on):
    """Independent evaluation with exact fractions, the SPEC's formula term by term."""
    balance = Fraction(0)
    first = min(f.year for f in flows)
    for year in range(first, on.year + 1):
        r = Fraction(rates[year])
        d = on.month if year == on.year else 13
        interest = Fraction(0)
        if year == on.year:
            interest += balance * r * (d - 1) / 12
        else:
            interest += balance * r
        for f in flows:
            if f.year == year and (year < on.year or f.month <= on.month):
                signed = Fraction(f.signed)
                balance += signed
                if f.month < d:
                    interest += signed * r * (d - f.month) / 12
        balance += Fraction(_round(interest))
    return D(balance.numerator) / D(balance.denominator)


def _round(fr: Fraction) -> D:
    # exact half-up rounding of a fraction to the cent
    sign = -1 if fr < 0 else 1
    cents = abs(fr) * 100
    whole = int(cents)
    if cents - whole >= Fraction(1, 2):
        whole += 1
    return D(sign * whole) / 100


@settings(max_examples=300, deadline=None)
@given(flows_st, rates_st, st.integers(1, 12), st.sampled_from(YEARS))
def test_quote_matches_exact_fraction_oracle(flows, rates, month, year):
    on = dt.date(year, month, 10)
    usable = [f for f in flows if (f.year, f.month) <= (year, month)]
    quote = refund_quote(flows, rates, on=on)
    if not usable:
        assert quote.amount == 0
        return
    assert quote.amount == _oracle(usable, rates, on)


@settings(max_examples=200, deadline=None)
@given(flows_st, rates_st)
def test_rows_chain_and_balance(flows, rates):
    rows = yearly_table(flows, rates, through_year=YEARS[-1])
    previous = D("0.00")
    for row in rows:
        assert row.opening == previous
        assert row.closing == row.opening + row.credit_total - row.payouts + row.interest
        assert row.interest == row.interest.quantize(D("0.01"), rounding=ROUND_HALF_UP)
        previous = row.closing
    if flows:
        # the closing of the last year is the quote on the next January 1st (no flows after it)
        last = rows[-1].year
        quote = refund_quote(flows, {**rates, last + 1: D("0")}, on=dt.date(last + 1, 1, 1))
        assert quote.amount == rows[-1].closing


@given(flows_st)
def test_rate_zero_is_plain_sum(flows):
    rows = yearly_table(flows, {y: D("0") for y in YEARS}, through_year=YEARS[-1])
    total = sum((f.signed for f in flows), D("0.00"))
    assert (rows[-1].closing if rows else D("0.00")) == total
