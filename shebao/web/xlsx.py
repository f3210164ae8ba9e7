"""A small, fast, streaming .xlsx writer for list exports.

Why not openpyxl here: without lxml, openpyxl's write-only mode spends ~25 s on 100,000 rows × 8
columns (its per-cell XML serialiser); this writer does the same in under two seconds, with
constant memory (rows go straight into the zip). openpyxl (and python-calamine) read its files
back in the tests. It writes exactly one sheet: a bold, frozen header row with an auto-filter, then
the rows; cell types:

- ``str``                → inline string (control characters removed)
- ``int``/``Decimal``    → number (``money=True`` columns get the ``#,##0.00`` format)
- ``datetime.date``      → date, shown ``yyyy-mm-dd``
- ``datetime.datetime``  → naive local time, shown ``yyyy-mm-dd hh:mm:ss``
- ``None`` / ``""``      → empty cell

Usage::

    with XlsxWriter(fileobj, sheet_name="人员", headers=["姓名", "金额"], money_columns={1}) as w:
        for row in rows:
            w.write_row(row)
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from decimal import Decimal
from xml.sax.saxutils import escape

_EPOCH = dt.date(1899, 12, 30)
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_text(value: str) -> str:
    """XML-escape &, <, > and drop the control characters XML 1.0 cannot hold (most strings need neither)."""
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    return escape(_CTRL.sub("", value))
MAX_ROWS = 1_048_575  # Excel's limit less the header row

# style ids in styles.xml below
_S_DATE, _S_MONEY, _S_DATETIME, _S_HEADER = 1, 2, 3, 4

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
    'Target="docProps/core.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="等线"/></font>'
    '<font><b/><sz val="11"/><name val="等线"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFE8EDF3"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _text_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


class XlsxWriter:
    """Write one sheet to ``fileobj`` (any binary file, seekable or not)."""

    def __init__(self, fileobj, *, sheet_name: str = "Sheet1", headers: list[str],
                 money_columns: set[int] | frozenset[int] = frozenset(), widths: list[int] | None = None):
        self._zip = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheet_name = _CTRL.sub("", re.sub(r"[\[\]:*?/\\]", "_", sheet_name))[:31] or "Sheet1"
        self._headers = [str(h) for h in headers]
        self._money = frozenset(money_columns)
        self._letters = [column_letter(i) for i in range(len(headers))]
        self._rows = 0
        self._widths = widths or [min(max(_text_width(h) + 2, 10), 40) for h in self._headers]
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self._buffer: list[str] = []
        self._start_sheet()

    # -- public ---------------------------------------------------------------------------------
    def write_row(self, values) -> None:
        if self._rows >= MAX_ROWS:
            raise ValueError("超过 Excel 的最大行数")
        self._rows += 1
        r = str(self._rows + 1)
        parts = ['<row r="', r, '">']
        append = parts.append
        letters = self._letters
        money = self._money
        for i, value in enumerate(values):
            if value is None or value == "":
                continue
            kind = type(value)
            if kind is str:
                append(f'<c r="{letters[i]}{r}" t="inlineStr"><is><t xml:space="preserve">'
                       f'{_xml_text(value)}</t></is></c>')
            elif kind is bool:
                append(f'<c r="{letters[i]}{r}" t="b"><v>{int(value)}</v></c>')
            elif kind is int or kind is Decimal or kind is float:
                style = f' s="{_S_MONEY}"' if i in money else ""
                append(f'<c r="{letters[i]}{r}"{style}><v>{value}</v></c>')
            elif kind is dt.datetime:
                days = (value.date() - _EPOCH).days
                secs = value.hour * 3600 + value.minute * 60 + value.second
                append(f'<c r="{letters[i]}{r}" s="{_S_DATETIME}"><v>{days + secs / 86400:.8f}</v></c>')
            elif kind is dt.date:
                append(f'<c r="{letters[i]}{r}" s="{_S_DATE}"><v>{(value - _EPOCH).days}</v></c>')
            else:
                append(f'<c r="{letters[i]}{r}" t="inlineStr"><is><t xml:space="preserve">'
                       f'{_xml_text(str(value))}</t></is></c>')
        append("</row>")
        self._buffer.append("".join(parts))
        if len(self._buffer) >= 2000:
            self._flush()

    @property
    def row_count(self) -> int:
        return self._rows

    def close(self) -> None:
        if self._zip is None:
            return
        self._flush()
        last = f"{self._letters[-1] if self._letters else 'A'}{self._rows + 1}"
        self._sheet.write(f'</sheetData><autoFilter ref="A1:{last}"/>'
                          '<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
                          "</worksheet>".encode())
        self._sheet.close()
        name = escape(self._sheet_name, {'"': "&quot;"})
        self._zip.writestr("[Content_Types].xml", _CONTENT_TYPES)
        self._zip.writestr("_rels/.rels", _ROOT_RELS)
        self._zip.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._zip.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets>'
            '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            f"'{name}'!$A$1:${self._letters[-1] if self._letters else 'A'}${self._rows + 1}"
            "</definedName></definedNames></workbook>",
        )
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._zip.writestr(
            "docProps/core.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:creator>shebao</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created></cp:coreProperties>',
        )
        self._zip.close()
        self._zip = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- internals ------------------------------------------------------------------------------
    def _start_sheet(self) -> None:
        cols = "".join(
            f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>' for i, w in enumerate(self._widths)
        )
        header = "".join(
            f'<c r="{self._letters[i]}1" s="{_S_HEADER}" t="inlineStr"><is><t>{escape(h)}</t></is></c>'
            for i, h in enumerate(self._headers)
        )
        self._sheet.write(
            ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
             '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
             'state="frozen"/></sheetView></sheetViews>'
             '<sheetFormatPr defaultRowHeight="15"/>'
             f"{'<cols>' + cols + '</cols>' if cols else ''}"
             f'<sheetData><row r="1">{header}</row>').encode()
        )

    def _flush(self) -> None:
        if self._buffer:
            self._sheet.write("".join(self._buffer).encode())
            self._buffer.clear()
