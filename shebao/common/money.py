"""Money: Decimal yuan with two places, rounded ROUND_HALF_UP (四舍五入); never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    pass


def to_decimal(value) -> Decimal:
    """A Decimal from str/int/Decimal (floats are refused: they cannot hold cents exactly)."""
    if isinstance(value, float):
        raise MoneyError("金额不能使用浮点数")
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise MoneyError(f"金额 {value!r} 不是有效数字") from None


def quantize(value) -> Decimal:
    """Round to the cent, half up."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_fen(value) -> int:
    return int(quantize(value) * 100)


def from_fen(fen: int) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(CENT)


def format_yuan(value) -> str:
    """1234567.8 → '1,234,567.80'."""
    return f"{quantize(value):,.2f}"
