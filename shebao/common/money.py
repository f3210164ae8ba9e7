"""Money: Decimal yuan with two places, rounded ROUND_HALF_UP (四舍五入); never float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest amount any entry accepts: what DecimalField(max_digits=14, decimal_places=2) can hold.
MAX_AMOUNT = Decimal("999999999999.99")
MAX_NUMBER = Decimal(10) ** 15  # any other number (rates, years, percentages): |x| below this
MAX_TEXT = 32  # characters of a number as typed (spaces and separators included)

# The syntax of a number as typed: digits, optionally grouped by thousands with commas, an optional
# fraction, an optional leading minus. No exponent (2e3), no NaN/Infinity, no leading plus.
_NUMBER = re.compile(r"-?(?:[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+)(?:\.[0-9]+)?")
# Full-width digits, point, minus and comma (a Chinese input method in full-width mode) are read as
# their ASCII forms: １２３．４５ is 123.45. Nothing else is normalised.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．－，", "0123456789.-,")


class MoneyError(ValueError):
    pass


def normalize_digits(text: str) -> str:
    """Full-width digits, point, minus and comma → ASCII (the rest unchanged)."""
    return text if text.isascii() else text.translate(_FULL_WIDTH)


def to_decimal(value) -> Decimal:
    """The ONE number parser: a Decimal from str/int/Decimal by the syntax above (floats are refused:
    they cannot hold cents exactly). Refused with a Chinese ``MoneyError``: an exponent, NaN/Infinity,
    a NUL or other stray character, more than ``MAX_TEXT`` characters, |x| ≥ 10^15."""
    if isinstance(value, float):
        raise MoneyError("金额不能使用浮点数")
    if isinstance(value, bool):
        raise MoneyError(f"{value!r} 不是数字")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    else:
        text = str(value)
        if len(text) > MAX_TEXT:
            raise MoneyError(f"数字过长（{len(text):,} 个字符）")
        text = normalize_digits(text.strip()).replace(" ", "")
        if not _NUMBER.fullmatch(text):
            shown = text if text.isprintable() else repr(text)
            if re.fullmatch(r"[-+]?[0-9.,]*[eE][-+]?[0-9]+", text):
                raise MoneyError(f"“{shown}”不是数字（不接受科学计数法，请直接写出数字）")
            raise MoneyError(f"“{shown}”不是数字（只能是数字，最多一个小数点，可带负号）")
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            raise MoneyError(f"“{text}”不是有效数字") from None
    if not number.is_finite():
        raise MoneyError(f"“{value}”不是有效数字")
    if abs(number) >= MAX_NUMBER:
        raise MoneyError("数字超出范围")
    return number


def parse_amount(value, *, negative: bool = False, positive: bool = False, maximum: Decimal = MAX_AMOUNT,
                 label: str = "金额") -> Decimal:
    """An amount in yuan as typed or imported: ``to_decimal``'s syntax, at most 2 decimals, not negative
    unless ``negative``, above 0 when ``positive``, |x| ≤ ``maximum``. Returns it with 2 places."""
    try:
        number = to_decimal(value)
    except MoneyError as exc:
        raise MoneyError(f"{label}：{exc}") from None
    if number != number.quantize(CENT, rounding=ROUND_HALF_UP):
        raise MoneyError(f"{label} {number} 最多两位小数")
    if number < 0 and not negative:
        raise MoneyError(f"{label}不能为负数（{number}）")
    if positive and number <= 0:
        raise MoneyError(f"{label}必须大于 0")
    if abs(number) > maximum:
        raise MoneyError(f"{label} {number} 超出上限 {maximum}")
    return number.quantize(CENT)


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
