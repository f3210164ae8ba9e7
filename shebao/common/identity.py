"""Identity numbers: 身份证号 (GB 11643-1999), 统一社会信用代码 (GB 32100), bank account Luhn.

The one module that knows these rules; everything else calls it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from stdnum import luhn
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # indexed by (Σ digit × weight) mod 11
# Province-level codes of the mainland administrative divisions (first two digits).
PROVINCE_CODES = frozenset(
    ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"]
)
SEX_MALE = "M"
SEX_FEMALE = "F"


class IdNumberError(ValueError):
    """A 身份证号 that is not valid; ``str()`` is a message for the user, in Chinese."""


@dataclass(frozen=True)
class IdNumber:
    number: str  # the 18-character number
    original: str  # the 15-digit number it was upgraded from, or ""
    birth_date: dt.date
    sex: str  # "M" (odd sequence) or "F" (even)

    @property
    def area_code(self) -> str:
        return self.number[:6]


def check_char(first17: str) -> str:
    """The 18th character of a 身份证号 from its first 17 digits."""
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def upgrade_15(number15: str) -> str:
    """A 15-digit (1st generation) number → 18 characters: insert "19" before the year, add the check."""
    first17 = number15[:6] + "19" + number15[6:]
    return first17 + check_char(first17)


def _birth_date(digits: str, raw: str) -> dt.date:
    try:
        born = dt.date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise IdNumberError(f"身份证号 {raw} 中的出生日期 {digits[0:8]} 不是有效日期") from None
    if born.year < 1880 or born > dt.date.today():
        raise IdNumberError(f"身份证号 {raw} 中的出生日期 {born:%Y-%m-%d} 不合理")
    return born


def parse_id_number(raw: str) -> IdNumber:
    """Validate a 身份证号 (18, or legacy 15 digits, upgraded) and derive birth date and sex."""
    value = re.sub(r"\s", "", str(raw or "")).upper()
    if not value:
        raise IdNumberError("身份证号不能为空")
    original = ""
    if len(value) == 15:
        if not value.isdigit():
            raise IdNumberError(f"15 位身份证号 {value} 只能包含数字")
        original = value
        _birth_date("19" + value[6:12], value)
        value = upgrade_15(value)
    elif len(value) != 18:
        raise IdNumberError(f"身份证号 {value} 应为 18 位（或旧的 15 位），实际 {len(value)} 位")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise IdNumberError(f"身份证号 {value} 含有非法字符（前 17 位须为数字，末位为数字或 X）")
    if value[:2] not in PROVINCE_CODES:
        raise IdNumberError(f"身份证号 {value} 的地区码 {value[:6]} 无效")
    born = _birth_date(value[6:14], raw)
    expected = check_char(value[:17])
    if value[17] != expected:
        raise IdNumberError(f"身份证号 {value} 校验位错误（应为 {expected}）")
    sex = SEX_MALE if int(value[16]) % 2 == 1 else SEX_FEMALE
    return IdNumber(number=value, original=original, birth_date=born, sex=sex)


def check_consistent(idn: IdNumber, *, birth_date: dt.date | None = None, sex: str | None = None) -> None:
    """Entered birth date and sex must agree with the number; a mismatch is an error."""
    if birth_date is not None and birth_date != idn.birth_date:
        raise IdNumberError(
            f"出生日期 {birth_date:%Y-%m-%d} 与身份证号 {idn.number} 不一致（应为 {idn.birth_date:%Y-%m-%d}）"
        )
    if sex and sex != idn.sex:
        expected = "男" if idn.sex == SEX_MALE else "女"
        raise IdNumberError(f"性别与身份证号 {idn.number} 不一致（应为{expected}）")


def is_valid_id_number(raw: str) -> bool:
    try:
        parse_id_number(raw)
    except IdNumberError:
        return False
    return True


def account_number_warnings(account_number: str) -> list[str]:
    """Bank account checks that only warn: many valid accounts, passbooks and 一折通 fail Luhn."""
    warnings: list[str] = []
    if not account_number.isdigit():
        warnings.append("账号含有非数字字符")
    elif not luhn.is_valid(account_number):
        warnings.append("账号未通过 Luhn 校验（存折、一折通账号常见，请核对）")
    if not 8 <= len(account_number) <= 32:
        warnings.append(f"账号长度 {len(account_number)} 位，不常见")
    return warnings


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def normalize_account_number(raw: str) -> str:
    """As typed → as stored: spaces and hyphens removed (6228 4800 …), full-width digits read as ASCII.
    Whatever else is left (letters, control bytes) is for ``account_number_error`` to refuse."""
    text = str(raw or "").translate(_FULL_WIDTH_DIGITS)
    return re.sub(r"[ \t\u3000-]", "", text.strip())


def account_number_error(number: str, lengths: tuple[int, int] | None, bank_label: str = "") -> str | None:
    """Why a (normalised) account number is refused, or None: digits only (0-9), and a length within
    the bank's range (the banks table, ``registry.selectors.bank_rules``). Luhn is not checked here: it only warns."""
    if not number:
        return "银行账号不能为空"
    if not (number.isascii() and number.isdigit()):
        bad = next((ch for ch in number if not ("0" <= ch <= "9")), "")
        shown = repr(bad) if not bad.isprintable() else f"“{bad}”"
        return f"银行账号只能包含数字 0-9（含有 {shown}）"
    if lengths is not None:
        low, high = lengths
        if not low <= len(number) <= high:
            span = f"{low} 位" if low == high else f"{low}–{high} 位"
            return f"{bank_label}账号应为 {span}数字，实际 {len(number)} 位"
    return None


# Characters never allowed in a name (a person's 姓名 or an account's 户名): the field delimiters of
# the bank files (| and ,), quotes and the characters that start a spreadsheet formula.
_NAME_FORBIDDEN = set('|,;"\\<>=+@＝＋＠＂＜＞｜，；')


def name_error(name: str, *, label: str = "姓名", max_length: int = 50) -> str | None:
    """Why a person's name or an account holder's name is refused, or None: not empty, at most
    ``max_length`` characters, no control or format character (CR, LF, tab, NUL, \\x05, zero-width …),
    none of ``| , ; " \\ < > = + @`` (nor their full-width forms), not starting with a hyphen."""
    import unicodedata

    if not name:
        return f"{label}不能为空"
    if len(name) > max_length:
        return f"{label}过长（最多 {max_length} 个字符）"
    for ch in name:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"{label}含有控制字符 {ch!r}，请重新输入"
        if ch in _NAME_FORBIDDEN:
            return f"{label}不能含有字符“{ch}”"
    if name[0] in "-－":
        return f"{label}不能以“{name[0]}”开头"
    return None


def validate_uscc(raw: str) -> str:
    """统一社会信用代码 (GB 32100): returns the compact code or raises ValueError (Chinese message)."""
    try:
        return uscc.validate(raw)
    except StdnumError:
        raise ValueError(f"统一社会信用代码 {raw} 无效") from None
