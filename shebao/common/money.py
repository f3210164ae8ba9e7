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


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_IN_GROUP = ("仟", "佰", "拾", "")  # places within a group of four digits
_GROUP_UNITS = ("", "万", "亿", "万")  # 10^0, 10^4, 10^8, 10^12 (… 万亿)


def _integer_in_words(n: int) -> str:
    """Capital Chinese numerals of a non-negative integer below 10^16: one 零 for each run of zeros
    between non-zero digits, none at the end; the 万/亿 boundary needs one only when the next group
    starts with zeros or a whole group is empty (105000 → 壹拾万伍仟, 100500 → 壹拾万零伍佰,
    100001000 → 壹亿零壹仟)."""
    if n == 0:
        return "零"
    groups = []
    while n:
        groups.append(n % 10_000)
        n //= 10_000
    out: list[str] = []
    zero_pending = False
    skipped = False  # a whole group of zeros since the last digit (100001000 → 壹亿零壹仟)
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = skipped = bool(out)
            if index == 2 and out and groups[3]:  # 壹万亿: the 亿 of an empty 亿-group after 万亿
                out.append("亿")
            continue
        if not skipped:
            zero_pending = False  # trailing zeros of the group before: 105000 → 壹拾万伍仟
        skipped = False
        text = f"{group:04d}" if out else str(group)
        places = _IN_GROUP[4 - len(text):]
        for ch, place in zip(text, places, strict=True):
            if ch == "0":
                zero_pending = bool(out)
                continue
            if zero_pending:
                out.append("零")
            zero_pending = False
            out.append(_DIGITS[int(ch)] + place)
        out.append(_GROUP_UNITS[index])
    return "".join(out)


def amount_in_words(value) -> str:
    """大写金额 of a yuan amount (rounded to the cent first), by the usual financial rules:
    1234.56 → 壹仟贰佰叁拾肆元伍角陆分; 整 when there are no 角分 (10.00 → 壹拾元整); 零 for the gaps
    (1001.00 → 壹仟零壹元整); 零 after 元 when the units digit is 0 and 角 is not (100.10 → 壹佰元零壹角);
    零 before 分 when 角 is 0 (10.05 → 壹拾元零伍分); amounts under one yuan start at 角/分 (0.05 → 伍分);
    0 → 零元整; a negative amount is prefixed 负."""
    amount = quantize(value)
    prefix = ""
    if amount < 0:
        prefix, amount = "负", -amount
    fen_total = int(amount * 100)
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)
    if yuan >= 10**16:
        raise MoneyError(f"金额 {value} 超出大写金额的范围")
    if fen_total == 0:
        return "零元整"
    parts: list[str] = []
    if yuan:
        parts.append(_integer_in_words(yuan) + "元")
    if jiao == 0 and fen == 0:
        return prefix + "".join(parts) + "整"
    if jiao:
        if yuan and yuan % 10 == 0:
            parts.append("零")
        parts.append(_DIGITS[jiao] + "角")
    if fen:
        if yuan and jiao == 0:
            parts.append("零")
        parts.append(_DIGITS[fen] + "分")
    return prefix + "".join(parts)
