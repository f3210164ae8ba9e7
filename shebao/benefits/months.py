"""Calendar months (YYYY-MM). A month is stored and passed as a ``datetime.date`` on the first day of
the month, everywhere in benefits and payroll."""

from __future__ import annotations

import datetime as dt
import re

_MONTH = re.compile(r"^\s*(\d{4})[-/.年]?(\d{1,2})月?\s*$")


class MonthError(ValueError):
    pass


def month_of(value: dt.date) -> dt.date:
    """The month a date falls in (first of the month)."""
    return value.replace(day=1)


def parse_month(value) -> dt.date:
    """'2026-03', '202603', '2026/3', '2026年3月' or a date → date(2026, 3, 1)."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return month_of(value)
    if isinstance(value, int):
        value = str(value)
    m = _MONTH.match(str(value or ""))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise MonthError(f"年月 {value!r} 格式不正确，应为 YYYY-MM")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(start: dt.date, end: dt.date) -> int:
    """Number of months in [start, end): 2026-01 → 2026-07 is 6."""
    return (end.year - start.year) * 12 + end.month - start.month


def month_range(start: dt.date, end_inclusive: dt.date) -> list[dt.date]:
    """Every month from start to end, both included (empty if end < start)."""
    return [add_months(start, i) for i in range(months_between(start, end_inclusive) + 1)]


def format_month(month: dt.date | None) -> str:
    return f"{month:%Y-%m}" if month else ""
