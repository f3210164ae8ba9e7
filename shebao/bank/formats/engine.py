"""The template engine: render a payment file (报盘) and parse a return file (回盘) for a layout given
as data. Pure Python, no database. See ``shebao/bank/formats/__init__.py`` for the definition keys."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from operator import attrgetter, itemgetter

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

FORMATS = ("delimited", "fixed", "xlsx")
LINE_ENDINGS = {"CRLF": b"\r\n", "LF": b"\n"}
UNITS = ("yuan", "fen")

# Every field name the engine knows, with its kind and the Chinese label used in messages.
KINDS: dict[str, str] = {
    "batch_no": "text", "date": "date",
    "count": "int", "ok_count": "int", "failed_count": "int",
    "total": "amount", "ok_total": "amount", "failed_total": "amount",
    "seq": "int", "account_no": "text", "holder_name": "text", "amount": "amount",
    "id_number": "text", "memo": "text", "name": "text", "bank": "text", "branch": "text",
    "processed_amount": "amount", "status": "text", "reason": "text",
}
LABELS: dict[str, str] = {
    "batch_no": "批次号", "date": "日期", "count": "笔数", "ok_count": "成功笔数", "failed_count": "失败笔数",
    "total": "总金额", "ok_total": "成功金额", "failed_total": "失败金额", "seq": "序号",
    "account_no": "账号", "holder_name": "户名", "amount": "金额", "id_number": "证件号码", "memo": "备注",
    "name": "姓名", "bank": "银行", "branch": "网点", "processed_amount": "实处理金额",
    "status": "处理标志", "reason": "原因",
}
SUMMARY_NAMES = {"batch_no", "date", "count", "total", "ok_count", "ok_total", "failed_count", "failed_total"}
PAYMENT_DETAIL_NAMES = {"seq", "account_no", "holder_name", "amount", "id_number", "memo", "name", "bank", "branch"}
RETURN_DETAIL_NAMES = PAYMENT_DETAIL_NAMES | {"processed_amount", "status", "reason"}
PAYMENT_SUMMARY_NAMES = {"batch_no", "date", "count", "total"}

MAX_LISTED_ERRORS = 20
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # never in a text field of a bank file (\x05, \x18 got through); a tab may be
_INT_RE = re.compile(r"^[0-9]+$")
_YUAN_RE = re.compile(r"^-?[0-9]+(\.[0-9]{1,2})?$")
_FEN_RE = re.compile(r"^-?[0-9]+$")
# whole columns checked in one call (values joined by newlines): the fast paths below
_INT_COLUMN = re.compile(r"(?:[0-9]+\n)*")
_YUAN_COLUMN = re.compile(r"(?:-?[0-9]+(?:\.[0-9]{1,2})?\n)*")
_FEN_COLUMN = re.compile(r"(?:-?[0-9]+\n)*")


def _bank_limits():
    from shebao.common.safefile import Limits, MiB

    # a return of 800,000 lines is about 80 MB of text or 60 MB of sheet XML
    return Limits(max_bytes=256 * MiB, max_members=100, max_unzipped=512 * MiB, max_rows=1_048_576)


BANK_FILE_LIMITS = _bank_limits()


class _Fallback(Exception):
    """The fast path met something unusual: the generic path renders or reads it (and names any error)."""


class TemplateError(ValueError):
    """The template definition itself is wrong (a configuration error, Chinese message)."""


class BankFileError(ValueError):
    """A file is refused (or cannot be produced). ``errors`` holds (line number or None, reason);
    ``str()`` is the whole Chinese message naming each line and reason."""

    def __init__(self, errors: Sequence[tuple[int | None, str]], title: str = "文件被拒绝"):
        self.errors = sorted(errors, key=lambda e: (e[0] is not None, e[0] or 0))
        self.title = title
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [f"第{n}行：{r}" if n is not None else r for n, r in self.errors[:MAX_LISTED_ERRORS]]
        more = len(self.errors) - MAX_LISTED_ERRORS
        if more > 0:
            parts.append(f"……另有 {more} 处错误")
        return f"{self.title}（{len(self.errors)} 处错误）：" + "；".join(parts)


@dataclass(slots=True)
class PaymentLine:
    """One payment in a file. ``amount`` is Decimal yuan with two places."""

    seq: int
    account_no: str
    holder_name: str
    amount: Decimal
    id_number: str = ""
    memo: str = ""
    name: str = ""
    bank: str = ""
    branch: str = ""
    line_no: int = 0  # where it was read from (parsing only)


@dataclass(slots=True)
class ReturnRecord:
    """One line of a return file: the bank's outcome for one payment."""

    seq: int
    account_no: str
    holder_name: str
    amount: Decimal
    processed_amount: Decimal
    ok: bool
    reason: str = ""
    status: str = ""  # the raw status code as the bank wrote it
    line_no: int = 0


@dataclass
class ParsedFile:
    """A parsed file: the summary values (header and trailer merged) and the detail records."""

    batch_no: str
    summary: dict
    lines: list  # PaymentLine or ReturnRecord

    @property
    def count(self) -> int:
        return len(self.lines)

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), ZERO)


@dataclass(frozen=True)
class Field:
    name: str  # "" for a literal (record type, label cell, filler)
    value: str | None  # the literal's text
    kind: str  # text | int | amount | date | literal
    width: int | None  # bytes in the template's encoding (fixed format)
    align: str  # left | right
    pad: str
    unit: str  # yuan | fen (amounts)
    date_format: str
    cut: bool  # text longer than width is cut on a character boundary (else refused)
    title: str  # xlsx column title

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name) if self.name else "记录标识"


@dataclass(frozen=True)
class Layout:
    """One direction of a template (payment or return): its records."""

    header: tuple[Field, ...]
    detail: tuple[Field, ...]
    trailer: tuple[Field, ...]
    status_paid: tuple[str, ...] = ()
    status_failed: tuple[str, ...] = ()

    def names(self, record: str) -> set[str]:
        return {f.name for f in getattr(self, record) if f.name}


class Template:
    """A bank layout built from its data definition (validated on construction)."""

    def __init__(self, definition: dict):
        self.definition = definition
        err = _definition_errors(definition)
        if err:
            raise TemplateError(f"银行模板定义有误：{'；'.join(err)}")
        d = definition
        self.code: str = d["code"]
        self.name: str = d.get("name", d["code"])
        self.format: str = d["format"]
        self.encoding: str = d.get("encoding", "GB18030")
        self.codec: str = codecs.lookup(self.encoding).name
        self.eol: bytes = LINE_ENDINGS[d.get("line_ending", "CRLF")]
        self.delimiter: str = d.get("delimiter", "|")
        self.amount_unit: str = d.get("amount_unit", "yuan")
        self.sheet: str = d.get("sheet", "Sheet1")
        self.payment = self._layout(d["payment"], "payment")
        self.returns = self._layout(d["return"], "return")
        problems = self._layout_errors()
        if problems:
            raise TemplateError(f"银行模板“{self.code}”定义有误：{'；'.join(problems)}")

    # ---- construction --------------------------------------------------------------------------
    def _field(self, spec) -> Field:
        if isinstance(spec, str):
            spec = {"name": spec}
        name = spec.get("name", "")
        kind = "literal" if not name else KINDS.get(name, "text")
        numeric = kind in ("int", "amount")
        fixed = self.format == "fixed"
        return Field(
            name=name,
            value=spec.get("value", "") if not name else None,
            kind=kind,
            width=spec.get("width"),
            align=spec.get("align", "right" if numeric else "left"),
            pad=spec.get("pad", "0" if (numeric and fixed) else " "),
            unit=spec.get("unit", self.amount_unit),
            date_format=spec.get("date_format", "%Y%m%d"),
            cut=bool(spec.get("cut", False)),
            title=spec.get("title", LABELS.get(name, name)),
        )

    def _layout(self, spec: dict, which: str) -> Layout:
        status = spec.get("status", {})
        return Layout(
            header=tuple(self._field(f) for f in spec.get("header") or ()),
            detail=tuple(self._field(f) for f in spec.get("detail") or ()),
            trailer=tuple(self._field(f) for f in spec.get("trailer") or ()),
            status_paid=tuple(str(s) for s in status.get("paid", ())),
            status_failed=tuple(str(s) for s in status.get("failed", ())),
        )

    def _layout_errors(self) -> list[str]:
        out: list[str] = []
        for which, layout, detail_names in (("报盘", self.payment, PAYMENT_DETAIL_NAMES),
                                             ("回盘", self.returns, RETURN_DETAIL_NAMES)):
            if not layout.detail:
                out.append(f"{which}缺少明细记录定义")
            summary = layout.names("header") | layout.names("trailer")
            allowed_summary = PAYMENT_SUMMARY_NAMES if which == "报盘" else SUMMARY_NAMES
            for bad in sorted(summary - allowed_summary):
                out.append(f"{which}汇总行不能含字段“{bad}”")
            for bad in sorted(layout.names("detail") - detail_names):
                out.append(f"{which}明细不能含字段“{bad}”")
            for need in ("account_no", "amount"):
                if need not in layout.names("detail"):
                    out.append(f"{which}明细缺少字段“{need}”")
            if which == "回盘":
                if "status" not in layout.names("detail"):
                    out.append("回盘明细缺少处理标志字段“status”")
                if not layout.status_paid or not layout.status_failed:
                    out.append("回盘须定义成功与失败的处理标志（status.paid / status.failed）")
                if set(layout.status_paid) & set(layout.status_failed):
                    out.append("成功与失败的处理标志不能相同")
                if "batch_no" not in summary:
                    out.append("回盘汇总行须含批次号“batch_no”，否则无法对应报盘")
            for rec in ("header", "detail", "trailer"):
                fields = getattr(layout, rec)
                if self.format == "fixed":
                    for f in fields:
                        if not isinstance(f.width, int) or f.width < 1:
                            out.append(f"{which}{rec} 字段“{f.name or f.value}”须有正整数宽度（字节）")
                        if len(f.pad) != 1 or not f.pad.isascii():
                            out.append(f"{which}{rec} 字段“{f.name}”的填充字符须为一个ASCII字符")
                for f in fields:
                    if f.kind == "amount" and f.unit not in UNITS:
                        out.append(f"金额单位须为 yuan 或 fen：“{f.unit}”")
                    if f.align not in ("left", "right"):
                        out.append(f"对齐方式须为 left 或 right：“{f.align}”")
            if self.format == "fixed":
                widths = {rec: sum(f.width or 0 for f in getattr(layout, rec))
                          for rec in ("header", "detail", "trailer") if getattr(layout, rec)}
                if len(set(widths.values())) > 1:
                    out.append(f"{which}各记录的字节长度须相同，现为 {widths}")
            if self.format == "xlsx" and layout.names("trailer"):
                out.append("Excel 格式不支持汇总行在末尾，请用 header")
        return out

    @property
    def extension(self) -> str:
        return ".xlsx" if self.format == "xlsx" else ".txt"

    @property
    def record_length(self) -> int | None:
        """Bytes per line (without the line ending) of a fixed layout."""
        if self.format != "fixed":
            return None
        return sum(f.width for f in self.payment.detail)

    # ---- rendering -----------------------------------------------------------------------------
    def render_payment(self, *, batch_no: str, date: dt.date, lines: Iterable, columns: Sequence[str] | None = None
                       ) -> bytes:
        """The payment file for these lines, in order. Amounts must already be whole cents. ``lines`` are
        ``PaymentLine`` objects, or with ``columns`` (PaymentLine field names) plain tuples in that order
        — no object per line, the way the bank service renders 800,000 lines."""
        lines = list(lines)
        if columns is not None:
            amount = itemgetter(list(columns).index("amount"))
            total = sum(map(amount, lines), ZERO)
        else:
            total = sum((ln.amount for ln in lines), ZERO)
        summary = {"batch_no": batch_no, "date": date, "count": len(lines), "total": total}
        fast = self._render_fast(self.payment, summary, lines, columns)
        if fast is not None:
            return fast
        if columns is not None:
            lines = [PaymentLine(**dict(zip(columns, ln, strict=True))) for ln in lines]
        return self._render(self.payment, summary, lines, "报盘文件无法生成")

    def render_return(self, *, batch_no: str, date: dt.date, records: Iterable[ReturnRecord]) -> bytes:
        """A return file as the bank would send it (used by tests, the benchmark and the demo)."""
        records = list(records)
        ok = [r for r in records if r.ok]
        summary = {
            "batch_no": batch_no, "date": date, "count": len(records),
            "total": sum((r.amount for r in records), ZERO),
            "ok_count": len(ok), "ok_total": sum((r.processed_amount for r in ok), ZERO),
            "failed_count": len(records) - len(ok),
            "failed_total": sum((r.amount for r in records if not r.ok), ZERO),
        }
        paid, failed = self.returns.status_paid[0], self.returns.status_failed[0]
        rows = [replace(r, status=paid if r.ok else failed) for r in records]
        fast = self._render_fast(self.returns, summary, rows, None)
        return fast if fast is not None else self._render(self.returns, summary, rows, "回盘文件无法生成")

    # ---- fast paths: whole columns at a time ---------------------------------------------------
    def _render_fast(self, layout: Layout, summary: dict, rows: list, columns) -> bytes | None:
        """A delimited or fixed-width file built column by column (one pass per field over all rows, no
        call per field and line), or None when anything is unusual — a value that would need an error
        message, a delimiter or line break inside a value, a character the encoding lacks — so that
        the generic renderer produces the file or names the problem. Same bytes either way."""
        if self.format == "xlsx":
            return None
        fixed = self.format == "fixed"
        errors: list = []
        join = self._joiner(fixed)
        head = join(self._compiled(layout.header), summary, errors, "汇总行") if layout.header else None
        tail = join(self._compiled(layout.trailer), summary, errors, "汇总行") if layout.trailer else None
        if errors:
            return None
        try:
            cols = [self._fast_column(f, rows, columns, fixed) for f in layout.detail]
        except (_Fallback, ValueError, TypeError, AttributeError, IndexError, UnicodeEncodeError):
            return None
        body = list(map(b"".join if fixed else self.delimiter.join, zip(*cols, strict=True))) if rows else []
        out = ([head] if head is not None else []) + body + ([tail] if tail is not None else [])
        if fixed:
            data = self.eol.join(out) + self.eol
        else:
            eol = self.eol.decode("ascii")
            text = eol.join(out) + eol
            # a value holding the delimiter would shift the fields: the generic path names it
            fields = (len(layout.header) - 1 if layout.header else 0) + (len(layout.trailer) - 1 if layout.trailer
                                                                             else 0)
            if text.count(self.delimiter) != fields + len(rows) * (len(layout.detail) - 1):
                return None
            try:
                data = text.encode(self.codec)
            except UnicodeEncodeError:
                return None
        # a value holding a line break would make an extra record
        if data.count(b"\n") != len(out) or data.count(b"\r") != (len(out) if self.eol == b"\r\n" else 0):
            return None
        return data

    def _fast_column(self, f: Field, rows: list, columns, fixed: bool) -> list:
        n = len(rows)
        if f.kind == "literal":
            col = [f.value or ""] * n
        else:
            if columns is None:
                values = list(map(attrgetter(f.name), rows))
            elif f.name in columns:
                values = list(map(itemgetter(list(columns).index(f.name)), rows))
            else:
                values = [None] * n
            if f.kind == "int":
                col = [str(int(v)) for v in values]
            elif f.kind == "amount":
                col = list(map(str, values))  # Decimal with two places: "1234.50"
                for t in col:
                    if len(t) < 4 or t[-3] != "." or "E" in t:
                        raise _Fallback
                if f.unit == "fen":
                    col = [str(int(t[:-3] + t[-2:])) for t in col]
            elif f.kind == "date":
                col = [v.strftime(f.date_format) for v in values]
            else:
                col = [v if v.__class__ is str else ("" if v is None else str(v)) for v in values]
                if _CONTROL.search("".join(col)):
                    raise _Fallback  # a control character: the generic path names the line
        if not fixed:
            return col
        codec, width, pad, right = self.codec, f.width, f.pad.encode("ascii"), f.align == "right"
        out = []
        for t in col:
            b = t.encode(codec)
            if len(b) > width:
                if not f.cut:
                    raise _Fallback
                b = cut_to_bytes(t, width, codec)
            out.append(b.rjust(width, pad) if right else b.ljust(width, pad))
        return out

    def _fast_records(self, fields, rows) -> list | None:
        """The detail lines of a delimited file read column by column (each column checked by one
        regular expression over the whole column), or None when any value is not plainly valid — the
        generic reader then names every bad line."""
        if self.format != "delimited" or not rows:
            return None
        delimiter, n = self.delimiter, len(fields)
        split = [raw.split(delimiter) for _, raw in rows]
        for parts in split:
            if len(parts) != n:
                return None
        names, columns = [], []
        for f, raw_col in zip(fields, zip(*split, strict=True), strict=True):
            col = [c.strip() for c in raw_col]
            if f.kind == "literal":
                expected = (f.value or "").strip()
                if col.count(expected) != len(col):
                    return None
                continue
            joined = "\n".join(col) + "\n"
            if f.kind == "int":
                if not _INT_COLUMN.fullmatch(joined):
                    return None
                values = list(map(int, col))
            elif f.kind == "amount":
                if f.unit == "fen":
                    if not _FEN_COLUMN.fullmatch(joined):
                        return None
                    values = [Decimal(c).scaleb(-2) for c in col]
                else:
                    if not _YUAN_COLUMN.fullmatch(joined):
                        return None
                    values = [Decimal(c).quantize(CENT) for c in col]
            elif f.kind == "date":
                return None
            else:
                values = col
            if f.name:
                names.append(f.name)
                columns.append(values)
        return [(line_no, dict(zip(names, vals, strict=True)))
                for (line_no, _), vals in zip(rows, zip(*columns, strict=True), strict=True)]

    def _render(self, layout: Layout, summary: dict, rows: list, title: str) -> bytes:
        errors: list[tuple[int | None, str]] = []
        if self.format == "xlsx":
            return self._render_xlsx(layout, summary, rows, errors, title)
        fixed = self.format == "fixed"
        join = self._joiner(fixed)
        out: list = []
        if layout.header:
            out.append(join(self._compiled(layout.header), summary, errors, "汇总行"))
        detail = self._compiled(layout.detail)
        for row in rows:
            out.append(join(detail, row, errors, None))
            if len(errors) > MAX_LISTED_ERRORS * 5:
                break
        if layout.trailer:
            out.append(join(self._compiled(layout.trailer), summary, errors, "汇总行"))
        if errors:
            raise BankFileError(errors, title)
        if fixed:
            return self.eol.join(out) + self.eol
        eol = self.eol.decode("ascii")
        text = eol.join(out) + eol
        try:
            return text.encode(self.codec)
        except UnicodeEncodeError as exc:
            line = text.count("\n", 0, exc.start) + 1
            raise BankFileError([(None, f"第{line}条记录含 {self.encoding} 无法表示的字符"
                                        f"“{exc.object[exc.start:exc.end]}”")], title) from None

    def _compiled(self, fields) -> list:
        """Per field: (field, getter(source) → value, formatter(value) → str)."""
        return [(f, _getter(f.name), self._formatter(f)) for f in fields]

    def _formatter(self, f: Field):
        delimiter = None if self.format == "fixed" else self.delimiter
        if f.kind == "literal":
            literal = f.value or ""
            return lambda _v: literal
        if f.kind == "amount":
            label, fen = f.label, f.unit == "fen"

            def amount(v):
                if v is None:
                    return ""
                if not fen:
                    s = str(v)
                    if len(s) > 3 and s[-3] == "." and "E" not in s:  # already two places: 1234.56
                        return s
                q = v.quantize(CENT)
                if q != v:
                    raise ValueError(f"{label} {v} 不是整分金额")
                return str(int(q.scaleb(2))) if fen else f"{q:.2f}"

            return amount
        if f.kind == "int":
            return lambda v: "" if v is None else str(int(v))
        if f.kind == "date":
            pattern = f.date_format
            return lambda v: "" if v is None else v.strftime(pattern)
        label = f.label

        def text(v):
            s = "" if v is None else str(v)
            if (delimiter and delimiter in s) or "\n" in s or "\r" in s:
                raise ValueError(f"{label}“{s}”含分隔符或换行，不能写入文件")
            if _CONTROL.search(s):
                raise ValueError(f"{label}“{s!r}”含控制字符，不能写入文件")
            return s

        return text

    def _joiner(self, fixed: bool):
        delimiter, codec, encoding = self.delimiter, self.codec, self.encoding

        def where_of(source, where):
            return where or f"第{getattr(source, 'seq', '?')}笔"

        def delimited(compiled, source, errors, where):
            try:
                return delimiter.join([fmt(get(source)) for _, get, fmt in compiled])
            except (ValueError, TypeError, AttributeError) as exc:
                errors.append((None, f"{where_of(source, where)}：{exc}"))
                return ""

        def fixed_width(compiled, source, errors, where):
            out = []
            for f, get, fmt in compiled:
                try:
                    text = fmt(get(source))
                    raw = text.encode(codec)
                except UnicodeEncodeError as exc:
                    errors.append((None, f"{where_of(source, where)}：{f.label}含 {encoding} 无法表示的字符"
                                         f"“{exc.object[exc.start:exc.end]}”"))
                    raw = b""
                except (ValueError, TypeError, AttributeError) as exc:
                    errors.append((None, f"{where_of(source, where)}：{exc}"))
                    raw = b""
                width = f.width
                if len(raw) > width:
                    if f.cut:
                        raw = cut_to_bytes(text, width, codec)
                    else:
                        errors.append((None, f"{where_of(source, where)}：{f.label}“{text}”长 {len(raw)} 字节，"
                                             f"超过宽度 {width} 字节"))
                        raw = raw[:width]
                fill = f.pad.encode("ascii") * (width - len(raw))
                out.append(fill + raw if f.align == "right" else raw + fill)
            return b"".join(out)

        return fixed_width if fixed else delimited

    def _xlsx_value(self, f: Field, value):
        if f.kind == "literal":
            return f.value or ""
        if value is None:
            return None
        if f.kind == "amount":
            q = value.quantize(CENT)
            if q != value:
                raise ValueError(f"{f.label} {value} 不是整分金额")
            return int(q * 100) if f.unit == "fen" else q
        if f.kind == "int":
            return int(value)
        if f.kind == "date":
            return value.strftime(f.date_format)
        text = str(value)
        if _CONTROL.search(text):
            raise ValueError(f"{f.label}“{text!r}”含控制字符或换行，不能写入文件")
        return text

    def _render_xlsx(self, layout, summary, rows, errors, title) -> bytes:
        """One sheet by the one spreadsheet writer (``shebao.common.sheets``): every text is a text cell
        (a formula-leading one quote-prefixed, never a formula), amounts are numbers with 2 decimals."""
        from shebao.common.sheets import XlsxWriter

        when = summary.get("date")
        when = when if isinstance(when, dt.date) else dt.date(2000, 1, 1)
        buf = io.BytesIO()
        amount_columns = {i for i, f in enumerate(layout.detail) if f.kind == "amount" and f.unit != "fen"}
        summary_amounts = {i for i, f in enumerate(layout.header) if f.kind == "amount" and f.unit != "fen"}

        def cells(fields, source, where):
            out = []
            for f in fields:
                try:
                    v = self._xlsx_value(f, _get(source, f.name))
                except (ValueError, TypeError, AttributeError) as exc:
                    errors.append((None, f"{where}：{exc}"))
                    v = None
                out.append(v)
            return out

        with XlsxWriter(buf, sheet_name=self.sheet, headers=None, money_columns=amount_columns,
                        money_format="0.00", created=dt.datetime(when.year, when.month, when.day)) as ws:
            if layout.header:
                ws.write_row(cells(layout.header, summary, "汇总行"), money_columns=summary_amounts)
            ws.write_row([f.title for f in layout.detail], money_columns=frozenset())
            for row in rows:
                ws.write_row(cells(layout.detail, row, f"第{getattr(row, 'seq', '?')}笔"))
        if errors:
            raise BankFileError(errors, title)
        return buf.getvalue()

    # ---- parsing -------------------------------------------------------------------------------
    def parse_payment(self, data: bytes) -> ParsedFile:
        """Read a payment file back (round trips, checking a file before it leaves)."""
        summary, records, errors, summary_line = self._read(self.payment, data)
        lines = []
        for line_no, rec in records:
            lines.append(PaymentLine(
                seq=rec.get("seq", 0), account_no=rec.get("account_no", ""),
                holder_name=rec.get("holder_name", ""), amount=rec.get("amount", ZERO),
                id_number=rec.get("id_number", ""), memo=rec.get("memo", ""), name=rec.get("name", ""),
                bank=rec.get("bank", ""), branch=rec.get("branch", ""), line_no=line_no))
        _check_seq(lines, errors)
        _check_summary(summary, summary_line, lines, errors, is_return=False)
        if errors:
            raise BankFileError(errors, "报盘文件有误")
        return ParsedFile(summary.get("batch_no", ""), summary, lines)

    def parse_return(self, data: bytes) -> ParsedFile:
        """Read and check a return file as a whole: every line's format and status, processed amounts
        (paid: equal to the amount; failed: 0.00), no duplicate sequence numbers, and the summary's
        counts and totals. Any error refuses the whole file (``BankFileError``)."""
        summary, records, errors, summary_line = self._read(self.returns, data)
        paid, failed = set(self.returns.status_paid), set(self.returns.status_failed)
        has_processed = "processed_amount" in self.returns.names("detail")
        lines = []
        for line_no, rec in records:
            status = rec.get("status", "")
            amount = rec.get("amount", ZERO)
            if status in paid:
                ok = True
            elif status in failed:
                ok = False
            else:
                errors.append((line_no, f"处理标志“{status}”无法识别（成功为 {'/'.join(sorted(paid))}，"
                                        f"失败为 {'/'.join(sorted(failed))}）"))
                continue
            processed = rec.get("processed_amount", ZERO) if has_processed else (amount if ok else ZERO)
            if amount <= 0:
                errors.append((line_no, f"金额 {amount} 应大于零"))
            if ok and processed != amount:
                errors.append((line_no, f"处理成功但实处理金额 {processed} 与应处理金额 {amount} 不符"))
            if not ok and processed != ZERO:
                errors.append((line_no, f"处理失败但实处理金额为 {processed}（应为 0.00）"))
            reason = rec.get("reason", "")
            if not ok and not reason:
                reason = "银行未说明原因"
            lines.append(ReturnRecord(
                seq=rec.get("seq", 0), account_no=rec.get("account_no", ""),
                holder_name=rec.get("holder_name", ""), amount=amount, processed_amount=processed,
                ok=ok, reason=reason, status=status, line_no=line_no))
        _check_seq(lines, errors)
        if len(lines) == len(records):
            _check_summary(summary, summary_line, lines, errors, is_return=True)
        if not summary.get("batch_no"):
            errors.append((summary_line, "缺少批次号"))
        if errors:
            raise BankFileError(errors, "回盘文件被拒绝")
        return ParsedFile(summary["batch_no"], summary, lines)

    def peek_batch_no(self, data: bytes) -> str | None:
        """The batch number a return file in this layout claims (header or trailer only, nothing else
        checked), or None when the file does not look like this layout. Used to find the payment
        file a return answers before reading it whole with that file's own template."""
        layout = self.returns
        if "batch_no" not in layout.names("header") | layout.names("trailer"):
            return None
        is_zip = data[:4] == b"PK\x03\x04"
        errors: list = []
        try:
            if self.format == "xlsx":
                if not is_zip or not layout.header:
                    return None
                _check_file(data)
                from python_calamine import CalamineWorkbook

                wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
                names = wb.sheet_names
                sheet = wb.get_sheet_by_name(self.sheet if self.sheet in names else names[0])
                first = next(iter(sheet.iter_rows()), None)
                if first is None:
                    return None
                rec: dict = {}
                cells = list(first) + [None] * len(layout.header)
                for f, cell in zip(layout.header, cells, strict=False):
                    self._parse_value(f, _cell_text(f, cell, 1, errors), 1, rec, errors)
            else:
                if is_zip:
                    return None
                body = data.strip(b"\r\n")
                if "batch_no" in layout.names("header"):
                    fields, line = layout.header, body.split(b"\n", 1)[0]
                else:
                    fields, line = layout.trailer, body.rsplit(b"\n", 1)[-1]
                line = line.rstrip(b"\r")
                if self.format != "fixed":
                    line = line.decode(self.codec)
                rec = self._parse_record(fields, 1, line, errors)
        except Exception:  # not this layout
            return None
        batch = rec.get("batch_no")
        return batch or None

    def _read(self, layout: Layout, data: bytes):
        """→ (summary dict, [(line_no, record dict)], errors, line number of the summary)."""
        if not data:
            raise BankFileError([(None, "文件为空")])
        _check_file(data)
        if self.format == "xlsx":
            return self._read_xlsx(layout, data)
        rows = self._decode_lines(data)
        errors: list[tuple[int | None, str]] = []
        summary: dict = {}
        need = (1 if layout.header else 0) + (1 if layout.trailer else 0)
        if len(rows) < need:
            raise BankFileError([(None, f"文件只有 {len(rows)} 行，缺少汇总行")])
        summary_line = None
        if layout.header:
            line_no, raw = rows.pop(0)
            summary.update(self._parse_record(layout.header, line_no, raw, errors))
            summary_line = line_no
        if layout.trailer:
            line_no, raw = rows.pop()
            summary.update(self._parse_record(layout.trailer, line_no, raw, errors))
            summary_line = summary_line or line_no
        records = self._fast_records(layout.detail, rows)
        if records is None:
            parse = self._record_parser(layout.detail)
            records = []
            for line_no, raw in rows:
                if not raw.strip():
                    errors.append((line_no, "空行"))
                    continue
                records.append((line_no, parse(line_no, raw, errors)))
        _number_by_position(layout, records)
        return summary, records, errors, summary_line

    def _decode_lines(self, data: bytes) -> list[tuple[int, bytes | str]]:
        """Split into lines (CRLF or LF) after checking that the file decodes in the template's
        encoding; a line that does not is named. Delimited files give text lines, fixed-width ones
        bytes (their widths count bytes). A file that is really UTF-8 when GB18030 is expected is
        refused, not read as mojibake. (0x0A is never part of a GB18030 character, so splitting the
        bytes and the text gives the same lines.)"""
        if self.codec in ("gb18030", "gbk", "gb2312") and not data.isascii():
            if data.startswith(codecs.BOM_UTF8):
                raise BankFileError([(1, f"文件带 UTF-8 BOM，是 UTF-8 编码，不是模板规定的 {self.encoding}")])
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                raise BankFileError([(None, f"文件是 UTF-8 编码，不是模板规定的 {self.encoding}，请让银行按 "
                                            f"{self.encoding} 重新提供")])
        try:
            text = data.decode(self.codec)
        except UnicodeDecodeError:
            errors = []
            for i, raw in enumerate(data.split(b"\n"), start=1):
                try:
                    raw.rstrip(b"\r").decode(self.codec)
                except UnicodeDecodeError as exc:
                    bad = raw[exc.start:exc.start + 4].hex(" ").upper()
                    errors.append((i, f"第 {exc.start + 1} 字节起无法按 {self.encoding} 解码（字节 {bad}）"))
            raise BankFileError(errors or [(None, f"文件无法按 {self.encoding} 解码")]) from None
        lines = data.split(b"\n") if self.format == "fixed" else text.split("\n")
        cr = b"\r" if self.format == "fixed" else "\r"
        while lines and not lines[-1].strip(cr):
            lines.pop()
        if not lines:
            raise BankFileError([(None, "文件为空")])
        return [(i, raw[:-1] if raw.endswith(cr) else raw) for i, raw in enumerate(lines, start=1)]

    def _parse_record(self, fields, line_no: int, raw, errors) -> dict:
        return self._record_parser(fields)(line_no, raw, errors)

    def _record_parser(self, fields):
        """A function (line_no, line, errors) → record dict for these fields, built once per layout."""
        convs = [(f, f.name, _converter(f)) for f in fields]
        n = len(fields)
        if self.format == "fixed":
            codec = self.codec
            width = sum(f.width for f in fields)
            spans = []
            pos = 0
            for f in fields:
                spans.append((pos, pos + f.width))
                pos += f.width

            def parse_fixed(line_no, raw: bytes, errors) -> dict:
                out: dict = {}
                if len(raw) != width:
                    errors.append((line_no, f"长度为 {len(raw)} 字节，应为 {width} 字节"))
                    return out
                for (f, name, conv), (a, b) in zip(convs, spans, strict=True):
                    try:
                        text = raw[a:b].decode(codec)
                    except UnicodeDecodeError:
                        errors.append((line_no, f"{f.label}（第 {a + 1}–{b} 字节）截断了汉字，无法解码"))
                        continue
                    text = text.strip(" ")
                    if f.pad != " " and f.kind in ("int", "amount"):
                        text = text.lstrip(f.pad) or "0"
                    _apply(f, name, conv, text, line_no, out, errors)
                return out

            return parse_fixed
        delimiter = self.delimiter

        def parse_delimited(line_no, text: str, errors) -> dict:
            parts = text.split(delimiter)
            out: dict = {}
            if len(parts) != n:
                errors.append((line_no, f"有 {len(parts)} 个字段，应为 {n} 个"))
                return out
            for (f, name, conv), part in zip(convs, parts, strict=True):
                part = part.strip()
                try:
                    value = conv(part)
                except _Refused as exc:
                    errors.append((line_no, str(exc)))
                    continue
                except ValueError as exc:
                    errors.append((line_no, f"{f.label}“{part}”{exc}"))
                    continue
                if name:
                    out[name] = value
            return out

        return parse_delimited

    def _parse_value(self, f: Field, text: str, line_no: int, out: dict, errors) -> None:
        _apply(f, f.name, _converter(f), text, line_no, out, errors)

    def _read_xlsx(self, layout: Layout, data: bytes):
        from python_calamine import CalamineWorkbook

        try:
            wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
            names = wb.sheet_names
            sheet = wb.get_sheet_by_name(self.sheet if self.sheet in names else names[0])
            rows = sheet.to_python(skip_empty_area=False)
        except Exception as exc:  # calamine raises several kinds for a file that is not a workbook
            raise BankFileError([(None, f"不是有效的 Excel（xlsx/xls）文件：{exc}")]) from None
        while rows and all(_blank(c) for c in rows[-1]):
            rows.pop()
        errors: list[tuple[int | None, str]] = []
        summary: dict = {}
        pos = 0
        summary_line = None
        if layout.header:
            if not rows:
                raise BankFileError([(None, "文件为空")])
            summary_line = 1
            cells = rows[0] + [None] * len(layout.header)
            for f, cell in zip(layout.header, cells, strict=False):
                self._parse_value(f, _cell_text(f, cell, 1, errors), 1, summary, errors)
            pos = 1
        if len(rows) <= pos:
            raise BankFileError([(None, "缺少列标题行")])
        titles = [str(c).strip() if c is not None else "" for c in rows[pos]]
        title_row = pos + 1
        columns = []
        for f in layout.detail:
            if f.title in titles:
                columns.append((f, titles.index(f.title)))
            else:
                errors.append((title_row, f"缺少列“{f.title}”"))
        if errors:
            raise BankFileError(errors)
        records = []
        for i, row in enumerate(rows[pos + 1:], start=title_row + 1):
            if all(_blank(c) for c in row):
                errors.append((i, "空行"))
                continue
            rec: dict = {}
            for f, col in columns:
                cell = row[col] if col < len(row) else None
                self._parse_value(f, _cell_text(f, cell, i, errors), i, rec, errors)
            records.append((i, rec))
        _number_by_position(layout, records)
        return summary, records, errors, summary_line


def _get(source, name: str):
    if not name:
        return None
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name, None)


def _getter(name: str):
    """source → value of ``name``; a summary is a dict, a detail row an object."""
    if not name:
        return lambda _s: None

    def get(source):
        if source.__class__ is dict:
            return source.get(name)
        return getattr(source, name, None)

    return get


class _Refused(ValueError):
    """A conversion error whose message is complete (not prefixed with the field and value)."""


def _apply(f: Field, name: str, conv, text: str, line_no: int, out: dict, errors) -> None:
    try:
        value = conv(text)
    except _Refused as exc:
        errors.append((line_no, str(exc)))
        return
    except ValueError as exc:
        errors.append((line_no, f"{f.label}“{text}”{exc}"))
        return
    if name:
        out[name] = value


def _converter(f: Field):
    """text → value for one field, raising ValueError with the reason."""
    if f.kind == "literal":
        expected = (f.value or "").strip()

        def literal(text):
            if text != expected:
                raise _Refused(f"记录标识应为“{f.value}”，实为“{text}”")
            return None

        return literal
    if f.kind == "text":
        return str
    if f.kind == "int":
        def integer(text):
            if not (text.isascii() and text.isdigit()):
                raise ValueError("不是整数")
            return int(text)

        return integer
    if f.kind == "amount":
        if f.unit == "fen":
            def fen(text):
                if not _FEN_RE.match(text):
                    raise ValueError("不是以分为单位的整数金额")
                return Decimal(text).scaleb(-2)

            return fen

        def yuan(text):
            if not _YUAN_RE.match(text):
                raise ValueError("不是有效金额（元，最多两位小数）")
            return Decimal(text).quantize(CENT)

        return yuan
    if f.kind == "date":
        pattern = f.date_format

        def date(text):
            try:
                return dt.datetime.strptime(text, pattern).date()
            except ValueError:
                raise ValueError(f"不是有效日期（格式 {pattern}）") from None

        return date
    raise ValueError("未知字段类型")


def _convert(f: Field, text: str):
    return _converter(f)(text)


def _blank(cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _cell_text(f: Field, cell, row_no: int, errors) -> str:
    """An Excel cell as the text the field parser reads. Numbers stored as numbers are accepted when
    they are exact (an account number of more than 15 digits stored as a number has lost digits)."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return str(int(cell))
    if isinstance(cell, float):
        if f.kind == "amount" and f.unit == "yuan":
            return repr(cell) if not cell.is_integer() else f"{int(cell)}"
        if cell.is_integer():
            if abs(cell) >= 1e15 and f.kind == "text":
                errors.append((row_no, f"{f.label}以数值格式保存，超过15位的数字已丢失精度，请以文本格式提供"))
            return str(int(cell))
        return repr(cell)
    if isinstance(cell, dt.datetime | dt.date):
        return cell.strftime(f.date_format)
    return str(cell).strip()


def _number_by_position(layout: Layout, records) -> None:
    """Layouts without a sequence field number their detail lines 1, 2, … in file order."""
    if "seq" not in layout.names("detail"):
        for n, (_, rec) in enumerate(records, start=1):
            rec["seq"] = n


def _check_seq(lines, errors) -> None:
    seen: dict[int, int] = {}
    for ln in lines:
        if ln.seq in seen:
            errors.append((ln.line_no, f"序号 {ln.seq} 与第{seen[ln.seq]}行重复"))
        else:
            seen[ln.seq] = ln.line_no


def _check_summary(summary: dict, line_no, lines, errors, *, is_return: bool) -> None:
    """The summary line's counts and totals must add up to the detail lines."""
    checks = [("count", len(lines)), ("total", sum((ln.amount for ln in lines), ZERO))]
    if is_return:
        ok = [ln for ln in lines if ln.ok]
        bad = [ln for ln in lines if not ln.ok]
        checks += [("ok_count", len(ok)), ("ok_total", sum((ln.processed_amount for ln in ok), ZERO)),
                   ("failed_count", len(bad)), ("failed_total", sum((ln.amount for ln in bad), ZERO))]
    for name, actual in checks:
        if name in summary and summary[name] != actual:
            errors.append((line_no, f"汇总行{LABELS[name]} {summary[name]} 与明细合计 {actual} 不符"))


def cut_to_bytes(text: str, limit: int, codec: str = "gb18030") -> bytes:
    """The longest prefix of ``text`` whose encoding fits in ``limit`` bytes, cut between characters
    (a Chinese character is never split: 张三丰四 in 6 bytes → 张三丰; in 5 bytes → 张三)."""
    out = bytearray()
    for ch in text:
        b = ch.encode(codec)
        if len(out) + len(b) > limit:
            break
        out += b
    return bytes(out)


def _check_file(data: bytes) -> None:
    """The safe reader's checks (``shebao.common.safefile``) before any parser: size; for a zip (xlsx)
    its members and inflated size from the central directory; for text, no NUL byte."""
    from shebao.common.safefile import FileRefused, check_size, check_zip

    try:
        check_size(len(data), BANK_FILE_LIMITS)
        if data[:4] == b"PK\x03\x04":
            check_zip(data, BANK_FILE_LIMITS)
        elif b"\x00" in data:
            line = data.count(b"\n", 0, data.index(b"\x00")) + 1
            raise BankFileError([(line, "含有空字符（NUL），不是银行的文本文件或已损坏")])
    except FileRefused as exc:
        raise BankFileError([(None, str(exc))]) from None


def _definition_errors(d) -> list[str]:
    if not isinstance(d, dict):
        return ["定义须为 JSON 对象"]
    out = []
    if not str(d.get("code", "")).strip():
        out.append("缺少模板代码 code")
    if d.get("format") not in FORMATS:
        out.append(f"format 须为 {'/'.join(FORMATS)} 之一")
    try:
        codecs.lookup(d.get("encoding", "GB18030"))
    except LookupError:
        out.append(f"未知编码“{d.get('encoding')}”")
    if d.get("line_ending", "CRLF") not in LINE_ENDINGS:
        out.append("line_ending 须为 CRLF 或 LF")
    if d.get("format") == "delimited" and len(d.get("delimiter", "|")) != 1:
        out.append("分隔符 delimiter 须为一个字符")
    if d.get("amount_unit", "yuan") not in UNITS:
        out.append("amount_unit 须为 yuan 或 fen")
    for part in ("payment", "return"):
        if not isinstance(d.get(part), dict):
            out.append(f"缺少 {part} 布局")
            continue
        for rec in ("header", "detail", "trailer"):
            for f in d[part].get(rec) or ():
                if isinstance(f, str):
                    f = {"name": f}
                if not isinstance(f, dict):
                    out.append(f"{part}.{rec} 的字段须为字段名或对象")
                elif f.get("name") and f["name"] not in KINDS:
                    out.append(f"{part}.{rec} 有未知字段“{f['name']}”")
    return out
