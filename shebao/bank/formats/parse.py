"""Reading a file: a payment file back (round trips), a return file checked as a whole, the batch
number peeked; text decoded line by line in the template's encoding, each record parsed by its layout."""

from __future__ import annotations

import codecs
import io

from shebao.bank.formats.definition import (
    ZERO,
    BankFileError,
    Field,
    Layout,
    ParsedFile,
    PaymentLine,
    ReturnRecord,
)
from shebao.bank.formats.values import (
    _apply,
    _cell_text,
    _check_file,
    _check_seq,
    _check_summary,
    _converter,
    _number_by_position,
)


class Parsing:
    """The readers of ``Template`` (text formats; xlsx in ``Xlsx``)."""

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
                _apply(f, name, conv, part.strip(), line_no, out, errors)
            return out

        return parse_delimited

    def _parse_value(self, f: Field, text: str, line_no: int, out: dict, errors) -> None:
        _apply(f, f.name, _converter(f), text, line_no, out, errors)
