import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from shebao.common.identity import (
    IdNumberError,
    account_number_warnings,
    check_char,
    check_consistent,
    parse_id_number,
    upgrade_15,
    validate_uscc,
)


def test_valid_18_derives_birth_date_and_sex():
    idn = parse_id_number("11010519491231002X")
    assert idn.number == "11010519491231002X"
    assert idn.birth_date == dt.date(1949, 12, 31)
    assert idn.sex == "F"  # sequence 002 is even
    assert idn.original == ""


def test_lower_case_x_and_spaces_are_normalised():
    assert parse_id_number(" 11010519491231002x ").number == "11010519491231002X"


def test_male_odd_sequence():
    first17 = "33028219500101001"
    idn = parse_id_number(first17 + check_char(first17))
    assert idn.sex == "M"
    assert idn.area_code == "330282"


def test_bad_check_digit_names_the_expected_one():
    with pytest.raises(IdNumberError, match="校验位错误（应为 X）"):
        parse_id_number("110105194912310021")


def test_bad_birth_date():
    first17 = "33028219500230001"  # 30 February
    with pytest.raises(IdNumberError, match="出生日期 19500230 不是有效日期"):
        parse_id_number(first17 + check_char(first17))


def test_future_birth_date_refused():
    first17 = "33028229990101001"
    with pytest.raises(IdNumberError, match="不合理"):
        parse_id_number(first17 + check_char(first17))


@pytest.mark.parametrize("raw,msg", [("", "不能为空"), ("3302821950", "应为 18 位"),
                                     ("33028219500101A01X", "非法字符"), ("99028219500101001X", "地区码")])
def test_malformed(raw, msg):
    with pytest.raises(IdNumberError, match=msg):
        parse_id_number(raw)


def test_15_digit_upgrade_keeps_original():
    idn = parse_id_number("330282500101001")
    assert idn.number == "33028219500101001" + check_char("33028219500101001")
    assert idn.original == "330282500101001"
    assert idn.birth_date == dt.date(1950, 1, 1)
    assert idn.sex == "M"


def test_15_digit_with_bad_date_refused():
    with pytest.raises(IdNumberError, match="不是有效日期"):
        parse_id_number("330282501301001")


def test_known_upgrade():
    # A published example: 130503670401001 → 130503196704010016
    assert upgrade_15("130503670401001") == "130503196704010016"


def test_entered_values_must_match_number():
    idn = parse_id_number("11010519491231002X")
    check_consistent(idn, birth_date=dt.date(1949, 12, 31), sex="F")
    with pytest.raises(IdNumberError, match="出生日期 1949-12-30 与身份证号"):
        check_consistent(idn, birth_date=dt.date(1949, 12, 30))
    with pytest.raises(IdNumberError, match="性别与身份证号.*应为女"):
        check_consistent(idn, sex="M")


@given(
    area=st.sampled_from(["330282", "330281", "110105", "330203"]),
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)),
    seq=st.integers(min_value=0, max_value=999),
)
def test_agrees_with_stdnum(area, born, seq):
    first17 = f"{area}{born:%Y%m%d}{seq:03d}"
    number = first17 + check_char(first17)
    assert ric.calc_check_digit(number) == number[-1]  # stdnum takes the whole number
    assert parse_id_number(number).birth_date == born
    # any other check character is refused
    wrong = next(c for c in "0123456789X" if c != number[-1])
    with pytest.raises(IdNumberError):
        parse_id_number(first17 + wrong)


def test_luhn_is_only_a_warning():
    assert account_number_warnings("6222021001115704287") == []  # passes Luhn
    assert "Luhn" in account_number_warnings("6222021001115704288")[0]


def test_uscc():
    assert validate_uscc("91110000600037341L") == "91110000600037341L"
    with pytest.raises(ValueError, match="统一社会信用代码"):
        validate_uscc("91110000600037341X")
