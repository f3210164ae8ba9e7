"""Excel layouts (``format: xlsx``): writing a sheet and reading one back, columns found by title."""

from __future__ import annotations

import datetime as dt
import io

from shebao.bank.formats.definition import _CONTROL, CENT, BankFileError, Field, Layout
from shebao.bank.formats.values import _blank, _cell_text, _get, _number_by_position


class Xlsx:
    """The xlsx writer and reader of ``Template``."""

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
