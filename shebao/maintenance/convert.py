"""数据转换: a file's columns mapped to a saved target layout and written as xlsx or csv.

A layout is text, one target column a line, in output order::

    身份证号 = 公民身份号码
    姓名 = 姓名
    性别 = 性别 | 代码 1=男, 2=女
    出生年月 = 出生日期 | 日期 YYYYMM
    月金额(分) = 发放金额 | 金额 分
    险种 = | 固定 自管

``目标列 = 源列`` renames (and reorders: the lines' order is the output's); after ``|`` come options:
``代码 a=b, c=d`` translates codes (a value not in the list is an error — add ``, *=原值`` to keep
others as they are), ``日期 FORMAT`` re-formats a date (FORMAT one of ``DATE_FORMATS``; input dates may be
2026-03-05, 20260305, 2026/3/5, 2026年3月5日 or an Excel date cell), ``金额 FORMAT`` re-formats an amount
(``0.00`` two decimals, ``分`` integer fen, ``#,##0.00`` with thousands separators; input by
``common.money.parse_amount``), ``固定 值`` writes a constant (the source may then be empty). Every row is
converted or its errors listed (line, column, reason): a file with any error is not written."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from shebao.common.money import MoneyError, parse_amount
from shebao.common.sheets import XlsxWriter, write_csv
from shebao.maintenance.compare import Sheet

DATE_FORMATS = {"YYYY-MM-DD": "%Y-%m-%d", "YYYYMMDD": "%Y%m%d", "YYYY/MM/DD": "%Y/%m/%d",
                "YYYY年MM月DD日": "%Y年%m月%d日", "YYYY-MM": "%Y-%m", "YYYYMM": "%Y%m"}
AMOUNT_FORMATS = ("0.00", "分", "#,##0.00")
_DATE_IN = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})?日?$")
MAX_ERRORS = 200


class ConvertError(ValueError):
    """A layout or a file that cannot be converted; ``str()`` is the Chinese message."""


@dataclass
class Column:
    target: str
    source: str = ""
    codes: dict[str, str] = field(default_factory=dict)
    keep_other_codes: bool = False
    date: str = ""
    amount: str = ""
    fixed: str | None = None


def parse_layout(text: str) -> list[Column]:
    """The layout text → columns; ``ConvertError`` names the line."""
    columns: list[Column] = []
    for n, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, *options = [p.strip() for p in line.split("|")]
        if "=" not in head:
            raise ConvertError(f"第 {n} 行应为“目标列 = 源列”：{line}")
        target, source = (p.strip() for p in head.split("=", 1))
        if not target:
            raise ConvertError(f"第 {n} 行没有目标列名")
        col = Column(target=target, source=source)
        for opt in options:
            word, _sp, arg = opt.partition(" ")
            arg = arg.strip()
            if word == "代码":
                for pair in re.split(r"[,，]", arg):
                    if not pair.strip():
                        continue
                    if "=" not in pair:
                        raise ConvertError(f"第 {n} 行的代码对照应为 原值=新值：{pair.strip()}")
                    a, b = (p.strip() for p in pair.split("=", 1))
                    if a == "*" and b == "原值":
                        col.keep_other_codes = True
                    else:
                        col.codes[a] = b
                if not col.codes:
                    raise ConvertError(f"第 {n} 行的代码对照是空的")
            elif word == "日期":
                if arg not in DATE_FORMATS:
                    raise ConvertError(f"第 {n} 行的日期格式 {arg} 不支持（可用：{'、'.join(DATE_FORMATS)}）")
                col.date = arg
            elif word == "金额":
                if arg not in AMOUNT_FORMATS:
                    raise ConvertError(f"第 {n} 行的金额格式 {arg} 不支持（可用：{'、'.join(AMOUNT_FORMATS)}）")
                col.amount = arg
            elif word == "固定":
                col.fixed = arg
            else:
                raise ConvertError(f"第 {n} 行的选项“{word}”不认识（可用：代码、日期、金额、固定）")
        if not col.source and col.fixed is None:
            raise ConvertError(f"第 {n} 行没有源列（或用“| 固定 值”写固定值）")
        if target in {c.target for c in columns}:
            raise ConvertError(f"第 {n} 行的目标列“{target}”重复")
        columns.append(col)
    if not columns:
        raise ConvertError("格式没有定义任何列")
    return columns


def columns_to_json(columns: list[Column]) -> list[dict]:
    return [dict(c.__dict__) for c in columns]


def _date(value: str) -> dt.date:
    m = _DATE_IN.match(value.strip())
    if not m:
        raise ValueError
    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))


def _convert(col: Column, value: str) -> str:
    if col.fixed is not None and not col.source:
        return col.fixed
    if col.codes:
        if value in col.codes:
            value = col.codes[value]
        elif not col.keep_other_codes and value != "":
            raise ConvertError(f"代码“{value}”不在对照表中")
    if value == "":
        return col.fixed or ""
    if col.date:
        try:
            return _date(value).strftime(DATE_FORMATS[col.date])
        except ValueError:
            raise ConvertError(f"“{value}”不是日期") from None
    if col.amount:
        try:
            amount = parse_amount(value, negative=True)
        except MoneyError as exc:
            raise ConvertError(str(exc)) from None
        if col.amount == "分":
            return str(int(amount * 100))
        if col.amount == "#,##0.00":
            return f"{amount:,.2f}"
        return f"{amount:.2f}"
    return value


@dataclass
class ConvertResult:
    headers: list[str]
    rows: list[list[str]]
    errors: list[str]
    error_count: int


def convert_sheet(sheet: Sheet, columns: list[Column]) -> ConvertResult:
    missing = sorted({c.source for c in columns if c.source and c.source not in sheet.headers})
    if missing:
        raise ConvertError(f"文件没有列：{'、'.join(missing)}（该文件的列：{'、'.join(sheet.headers)}）")
    index = [sheet.headers.index(c.source) if c.source else None for c in columns]
    out, errors, count = [], [], 0
    for n, row in enumerate(sheet.rows, start=2):
        if not any(row):
            continue
        new = []
        for col, i in zip(columns, index, strict=True):
            try:
                new.append(_convert(col, row[i] if i is not None else ""))
            except ConvertError as exc:
                count += 1
                if len(errors) < MAX_ERRORS:
                    errors.append(f"第 {n} 行 {col.source or col.target}：{exc}")
                new.append("")
        out.append(new)
    return ConvertResult([c.target for c in columns], out, errors, count)


def write_converted(result: ConvertResult, fileobj, *, fmt: str) -> int:
    if result.error_count:
        raise ConvertError(f"有 {result.error_count} 处错误，未生成文件")
    if fmt == "csv":
        return write_csv(fileobj, headers=result.headers, rows=result.rows)
    with XlsxWriter(fileobj, sheet_name="转换结果", headers=result.headers) as w:
        for r in result.rows:
            w.write_row(r)
    return len(result.rows)
