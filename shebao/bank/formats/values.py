"""Values in and out of a bank file: reading a field from a line or a record, converting and checking
one value (amounts, counts, dates, text), the whole-file checks of the summary and the numbering,
and the byte/encoding helpers (``cut_to_bytes``, ``_check_file``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shebao.bank.formats.definition import (
    _FEN_RE,
    _YUAN_RE,
    BANK_FILE_LIMITS,
    CENT,
    LABELS,
    ZERO,
    BankFileError,
    Field,
    Layout,
)


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
