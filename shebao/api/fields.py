"""Value types of the API's work routers (payroll, bank, 自管人员, 老农保).

- ``Money``: a ``Decimal`` sent as a string with exactly two decimals (``"1234.50"``), never a float:
  a JSON number is read by most clients as a binary float, and 0.1 + 0.2 is not 0.30.
- ``Month``: a month (the first day of it in the database) sent as ``"YYYY-MM"``.

Both are plain output types; requests take months as text and parse them with ``month_or_422``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from ninja.errors import HttpError
from pydantic import PlainSerializer, WithJsonSchema

from shebao.benefits.months import MonthError, format_month, parse_month
from shebao.common.money import quantize
from shebao.registry import selectors as registry_selectors
from shebao.registry.models import Bank

MONEY_PATTERN = r"^-?\d+\.\d{2}$"
# text parameters: no control characters (a NUL cannot even reach PostgreSQL) → 422
TEXT = r"^[^\x00-\x1f\x7f]*$"


def _money(value: Any) -> str | None:
    if value is None:
        return None
    return format(quantize(value), "f")


def _month(value: Any) -> str | None:
    if value is None:
        return None
    return format_month(value)


Money = Annotated[
    Decimal,
    PlainSerializer(_money, return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["1234.50"],
                    "description": "金额（元），两位小数的字符串"}),
]
Month = Annotated[
    dt.date,
    PlainSerializer(_month, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2026-03"],
                    "description": "年月 YYYY-MM"}),
]


def bank_label(code: str) -> str:
    """The bank's name for its code (the code itself for a code it does not know).

    Stopgap while banks move from a list in code (``registry.models.Bank`` choices) to a table with its
    selector ``registry.selectors.bank_label``: that selector is used where it exists; once it does
    everywhere, call it directly and drop this."""
    if hasattr(registry_selectors, "bank_label"):
        return str(registry_selectors.bank_label(code))
    return str(dict(Bank.choices).get(code, code))


def month_or_422(value: str, *, label: str = "年月") -> dt.date:
    """``"2026-03"`` → date(2026, 3, 1); anything else → 422 with the Chinese reason."""
    try:
        return parse_month(value)
    except MonthError as exc:
        raise HttpError(422, f"请求数据有误：{label}：{exc}") from None
    except ValueError:  # a month of year 0 matches the pattern but is no date
        raise HttpError(422, f"请求数据有误：{label}：年月 {value!r} 超出范围") from None
