from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shebao.common.money import MoneyError, amount_in_words, quantize

CASES = [
    ("0.05", "伍分"),
    ("0.50", "伍角"),
    ("0.55", "伍角伍分"),
    ("0.00", "零元整"),
    ("1.00", "壹元整"),
    ("10.00", "壹拾元整"),
    ("10.05", "壹拾元零伍分"),
    ("10.50", "壹拾元零伍角"),
    ("11.00", "壹拾壹元整"),
    ("100.10", "壹佰元零壹角"),
    ("100.01", "壹佰元零壹分"),
    ("101.00", "壹佰零壹元整"),
    ("110.00", "壹佰壹拾元整"),
    ("1001.00", "壹仟零壹元整"),
    ("1010.00", "壹仟零壹拾元整"),
    ("1100.00", "壹仟壹佰元整"),
    ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
    ("1234.50", "壹仟贰佰叁拾肆元伍角"),
    ("1234.06", "壹仟贰佰叁拾肆元零陆分"),
    ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
    ("10000.00", "壹万元整"),
    ("10001.00", "壹万零壹元整"),
    ("10010.00", "壹万零壹拾元整"),
    ("100000.00", "壹拾万元整"),
    ("100100.00", "壹拾万零壹佰元整"),
    ("105000.00", "壹拾万伍仟元整"),
    ("1000010.00", "壹佰万零壹拾元整"),
    ("1010101.01", "壹佰零壹万零壹佰零壹元零壹分"),
    ("1100000.00", "壹佰壹拾万元整"),
    ("100500.00", "壹拾万零伍佰元整"),
    ("107000.53", "壹拾万柒仟元零伍角叁分"),  # the example of 《支付结算办法》
    ("100001000.00", "壹亿零壹仟元整"),
    ("110010000.00", "壹亿壹仟零壹万元整"),
    ("20000000.00", "贰仟万元整"),
    ("100000000.00", "壹亿元整"),
    ("100010000.00", "壹亿零壹万元整"),
    ("100000001.00", "壹亿零壹元整"),
    ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分"),
    ("1000000000000.00", "壹万亿元整"),
    ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ("-12.30", "负壹拾贰元叁角"),
    ("1234.565", "壹仟贰佰叁拾肆元伍角柒分"),  # rounded half up to the cent first
]


@pytest.mark.parametrize(("value", "words"), CASES)
def test_amount_in_words(value, words):
    assert amount_in_words(Decimal(value)) == words


def test_amount_in_words_takes_strings_and_ints_not_floats():
    assert amount_in_words("12") == "壹拾贰元整"
    assert amount_in_words(3) == "叁元整"
    with pytest.raises(MoneyError):
        amount_in_words(1.5)


_BACK = dict(zip("零壹贰叁肆伍陆柒捌玖", range(10), strict=True))


def _parse(words: str) -> Decimal:
    """An independent reading of the words back to a number (the test's oracle)."""
    if words == "零元整":
        return Decimal("0.00")
    total = 0
    yuan_part, _, cents_part = words.partition("元")
    if not _:
        yuan_part, cents_part = "", words
    section = 0  # below 万
    number = 0
    big = 0  # ≥ 亿 collected
    for ch in yuan_part:
        if ch in _BACK:
            number = _BACK[ch]
        elif ch in "拾佰仟":
            section += number * {"拾": 10, "佰": 100, "仟": 1000}[ch]
            number = 0
        elif ch == "万":
            section = (section + number) * 10_000
            number = 0
            if big and section == 0:
                big *= 10_000
        elif ch == "亿":
            big = (big + section + number) * 100_000_000
            section = number = 0
    total = big + section + number
    fen = 0
    digit = 0
    for ch in cents_part:
        if ch in _BACK:
            digit = _BACK[ch]
        elif ch == "角":
            fen += digit * 10
        elif ch == "分":
            fen += digit
    return Decimal(total) + Decimal(fen) / 100


@given(st.integers(min_value=0, max_value=99_999_999_999_99))
def test_amount_in_words_reads_back(fen):
    value = Decimal(fen) / 100
    words = amount_in_words(value)
    assert _parse(words) == quantize(value)
    assert ("整" in words) == (fen % 100 == 0)
    assert "零零" not in words
    if fen >= 100:
        assert not words.startswith("零")
