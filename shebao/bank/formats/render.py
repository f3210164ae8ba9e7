"""Writing a file: payment (报盘) and return (回盘) files in fixed-width or delimited text, whole
columns at a time where it can (the fast paths) and record by record otherwise."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import Decimal
from operator import attrgetter, itemgetter, methodcaller

from shebao.bank.formats.definition import (
    _CONTROL,
    _FEN_COLUMN,
    _INT_COLUMN,
    _YUAN_COLUMN,
    CENT,
    MAX_LISTED_ERRORS,
    ZERO,
    BankFileError,
    Field,
    Layout,
    PaymentLine,
    ReturnRecord,
    _Fallback,
)
from shebao.bank.formats.values import _getter, cut_to_bytes

# an amount column as ``str()`` gives it, one value a line: every value with exactly two decimals and no
# exponent ("1234.50", "0.01"), else the generic path (which refuses a fraction of a cent, names the line)
_TWO_PLACES_COLUMN = re.compile(r"(?:[^E\n]+\.[^E\n]{2}\n)*")
_PAYMENT_LINE_FIELDS = frozenset(PaymentLine.__dataclass_fields__) - {"line_no"}
_WITHOUT_POINT = methodcaller("replace", ".", "", 1)  # "1234.50" → "123450" (fen)
# Encodings in which a newline is the one byte 0x0A and no other character's bytes contain it (every
# byte of a multi-byte character is ≥ 0x30): a column joined by newlines, encoded once and split on
# b"\n" gives each value's own bytes. (``codecs.lookup(...).name`` spellings.)
_NEWLINE_SAFE_CODECS = frozenset({"gb18030", "gbk", "gb2312", "utf-8", "ascii", "latin-1", "iso8859-1", "cp1252",
                                  "big5"})


class Rendering:
    """The text renderers of ``Template`` (fixed-width, delimited)."""

    # ---- rendering -----------------------------------------------------------------------------
    def render_payment(self, *, batch_no: str, date: dt.date, lines: Iterable, columns: Sequence[str] | None = None
                       ) -> bytes:
        """The payment file for these lines, in order. Amounts must already be whole cents. ``lines`` are
        ``PaymentLine`` objects, or with ``columns`` (PaymentLine field names) plain tuples in that order
        — no object per line, the way the bank service renders 800,000 lines; a column not named after a
        PaymentLine field is the caller's own and is not read; without a "seq" column the lines are
        numbered 1, 2, … in order."""
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
        if columns is not None:  # the columns PaymentLine has (a caller's own extra columns are not the file's)
            picked = [(name, i) for i, name in enumerate(columns) if name in _PAYMENT_LINE_FIELDS]
            numbered = "seq" not in columns
            lines = [PaymentLine(**({"seq": n} if numbered else {}), **{name: ln[i] for name, i in picked})
                     for n, ln in enumerate(lines, start=1)]
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
        """One field's texts (delimited) or padded bytes (fixed) for every row, each step one call over the
        whole column where it can: the values of a column are checked together (one regular expression
        over the joined column), encoded together (the column joined by newlines, encoded once and split
        again — a value holds no newline: checked before) and padded by ``map``. Anything unusual raises
        ``_Fallback`` (or a conversion error) and the record-by-record renderer writes the file or names
        the problem: the same bytes either way."""
        n = len(rows)
        if f.kind == "literal":
            col = [f.value or ""] * n
        else:
            if columns is None:
                values = list(map(attrgetter(f.name), rows))
            elif f.name in columns:
                values = list(map(itemgetter(columns.index(f.name)), rows))
            elif f.name == "seq":  # numbered by position
                values = list(range(1, n + 1))
            else:
                values = [None] * n
            if f.kind == "int":
                col = (list(map(str, values)) if set(map(type, values)) <= {int}
                       else [str(int(v)) for v in values])
            elif f.kind == "amount":
                col = list(map(str, values))  # Decimal with two places: "1234.50"
                if col and not _TWO_PLACES_COLUMN.fullmatch("\n".join(col) + "\n"):
                    raise _Fallback
                if f.unit == "fen":
                    col = list(map(str, map(int, map(_WITHOUT_POINT, col))))
            elif f.kind == "date":
                col = [v.strftime(f.date_format) for v in values]
            else:
                try:
                    joined = "".join(values)  # all text (the usual case): the values are the column
                    col = values
                except TypeError:
                    col = [v if v.__class__ is str else ("" if v is None else str(v)) for v in values]
                    joined = "".join(col)
                if _CONTROL.search(joined):
                    raise _Fallback  # a control character: the generic path names the line
        if not fixed:
            return col
        codec, width, pad = self.codec, f.width, f.pad.encode("ascii")
        if codec in _NEWLINE_SAFE_CODECS and n:
            encoded = "\n".join(col).encode(codec).split(b"\n")
            if len(encoded) != n:  # pragma: no cover - a newline in a value is refused above
                raise _Fallback
        else:
            encoded = [t.encode(codec) for t in col]
        if n and max(map(len, encoded)) > width:
            if not f.cut:
                raise _Fallback
            encoded = [b if len(b) <= width else cut_to_bytes(t, width, codec) for b, t in zip(encoded, col, strict=True)]
        return list(map(methodcaller("rjust" if f.align == "right" else "ljust", width, pad), encoded))

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
