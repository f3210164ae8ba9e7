"""The ONE writer of spreadsheet files (.xlsx and .csv) for every export: list pages, the 花名册, the
bank's xlsx template, statistics, rejected rows. Everything written from data goes through the text
rule below, so nothing a clerk (or an imported file) typed can become a live formula or DDE link.

The text rule (``FORMULA_LEADING``): a text value starting with ``= + - @``, a tab or a carriage return,
or their full-width forms ``＝ ＋ － ＠``, is *neutralised*:

- in .xlsx every text is an inline string (never a formula) and such a text also gets the "quote
  prefix" style (what Excel itself sets when a user types ``'=…``): the value stays exactly as stored
  (a bank reading the cell gets the same characters) and editing the cell in Excel keeps it text;
- in .csv (no cell types) such a text is written with a leading apostrophe ``'`` (``'=HYPERLINK(…)``);
  ``safefile.strip_csv_quote`` removes it again when our own importers read the file back.

Control characters that XML 1.0 cannot hold are removed from xlsx text; CSV keeps the text as is
(quoted by the csv module).

Numbers: ``int`` as is; ``Decimal`` amounts (``money_columns``) as numbers with exactly 2 decimals
(``1234.50``); other Decimals in plain notation; a ``float`` is never written as its binary value
(707.8099999999999): it goes through ``repr`` and, in a money column, is rounded to the cent; NaN and
infinities are refused (``ValueError``).

Why hand-written and not openpyxl or XlsxWriter: see README "Files in and out" (``python -m
shebao.bench.xlsx``: 80,000 rows × 12 columns). It writes exactly one sheet, streaming (rows go
straight into the zip, constant memory), with an optional bold frozen header row and auto-filter;
cell types:

- ``str``                → inline string (control characters removed, formula-leading quote-prefixed)
- ``int``/``Decimal``    → number (``money_columns`` get ``#,##0.00`` or the given ``money_format``)
- ``datetime.date``      → date, shown ``yyyy-mm-dd``
- ``datetime.datetime``  → naive local time, shown ``yyyy-mm-dd hh:mm:ss``
- ``None`` / ``""``      → empty cell

Usage::

    with XlsxWriter(fileobj, sheet_name="人员", headers=["姓名", "金额"], money_columns={1}) as w:
        for row in rows:
            w.write_row(row)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

_EPOCH = dt.date(1899, 12, 30)
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b-\x1f]")
_CENT = Decimal("0.01")

# A text starting with one of these is read by spreadsheet programs as a formula (or DDE command):
# = + - @, tab and carriage return (OWASP "CSV injection"), and the full-width forms that a Chinese
# input method types and Excel also accepts as a formula start.
FORMULA_LEADING = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def formula_like(text: str) -> bool:
    """True when ``text`` would start a formula in a spreadsheet program."""
    return text.startswith(FORMULA_LEADING)


def csv_text(value: str) -> str:
    """A text for a CSV cell by the text rule: a formula-leading text gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_LEADING) else value


def number_text(value, *, money: bool = False) -> str:
    """A number as the file writes it: money with exactly 2 decimals (half up), Decimals in plain
    notation, floats through ``repr`` (never their binary expansion); NaN/∞ refused."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"不能写入非有限数值 {value!r}")
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"不能写入非有限数值 {value}")
        if money:
            return f"{value.quantize(_CENT, rounding=ROUND_HALF_UP):f}"
        text = f"{value:f}"
        return text
    if money:
        return f"{value}.00"
    return str(value)


def _xml_text(value: str) -> str:
    """XML-escape &, <, >, CR and drop the control characters XML 1.0 cannot hold (most strings need neither)."""
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    return escape(_CTRL.sub("", value), {"\r": "&#13;"})  # a bare CR would be read back as LF
MAX_ROWS = 1_048_575  # Excel's limit less the header row

# style ids in styles.xml below
_S_DATE, _S_MONEY, _S_DATETIME, _S_HEADER, _S_QUOTED, _S_MONEY_PLAIN = 1, 2, 3, 4, 5, 6
MONEY_FORMATS = {"#,##0.00": _S_MONEY, "0.00": _S_MONEY_PLAIN}

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
    '<cellXfs count="7">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
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
    """Write one sheet to ``fileobj`` (any binary file, seekable or not).

    ``headers``: the bold, frozen first row with an auto-filter; ``None`` for a sheet without one (the
    bank template writes its own summary and title rows). ``created``: a fixed time for the archive's
    entries and core properties, so the same rows always give the same bytes (bank files)."""

    def __init__(self, fileobj, *, sheet_name: str = "Sheet1", headers: list[str] | None,
                 money_columns: set[int] | frozenset[int] = frozenset(), widths: list[int] | None = None,
                 money_format: str = "#,##0.00", created: dt.datetime | None = None):
        self._zip = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheet_name = _CTRL.sub("", re.sub(r"[\[\]:*?/\\]", "_", sheet_name))[:31] or "Sheet1"
        self._has_header = headers is not None
        self._headers = [str(h) for h in headers or ()]
        self._money = frozenset(money_columns)
        self._money_style = MONEY_FORMATS[money_format]
        self._created = created
        self._width = len(self._headers)
        self._letters = [column_letter(i) for i in range(max(len(self._headers), 1))]
        self._rows = 0
        self._widths = widths or [min(max(_text_width(h) + 2, 10), 40) for h in self._headers]
        self._sheet = self._zip.open(self._info("xl/worksheets/sheet1.xml"), "w", force_zip64=True)
        self._buffer: list[str] = []
        self._start_sheet()

    # -- public ---------------------------------------------------------------------------------
    def write_row(self, values, *, money_columns: set[int] | frozenset[int] | None = None) -> None:
        """One row; ``money_columns`` overrides the writer's own for this row (a summary row above
        the column titles has its amounts elsewhere)."""
        if self._rows >= MAX_ROWS:
            raise ValueError("超过 Excel 的最大行数")
        self._rows += 1
        r = str(self._rows + (1 if self._has_header else 0))
        parts = ['<row r="', r, '">']
        append = parts.append
        letters = self._letters
        money = self._money if money_columns is None else money_columns
        for i, value in enumerate(values):
            if value is None or value == "":
                continue
            if i >= len(letters):
                letters.append(column_letter(i))
            kind = type(value)
            if kind is str:
                style = f' s="{_S_QUOTED}"' if value.startswith(FORMULA_LEADING) else ""
                append(f'<c r="{letters[i]}{r}"{style} t="inlineStr"><is><t xml:space="preserve">'
                       f'{_xml_text(value)}</t></is></c>')
            elif kind is bool:
                append(f'<c r="{letters[i]}{r}" t="b"><v>{int(value)}</v></c>')
            elif kind is int or kind is Decimal or kind is float:
                if i in money:
                    append(f'<c r="{letters[i]}{r}" s="{self._money_style}"><v>{number_text(value, money=True)}</v></c>')
                else:
                    append(f'<c r="{letters[i]}{r}"><v>{number_text(value)}</v></c>')
            elif kind is dt.datetime:
                days = (value.date() - _EPOCH).days
                secs = value.hour * 3600 + value.minute * 60 + value.second
                append(f'<c r="{letters[i]}{r}" s="{_S_DATETIME}"><v>{days + secs / 86400:.8f}</v></c>')
            elif kind is dt.date:
                append(f'<c r="{letters[i]}{r}" s="{_S_DATE}"><v>{(value - _EPOCH).days}</v></c>')
            else:
                text = str(value)
                style = f' s="{_S_QUOTED}"' if text.startswith(FORMULA_LEADING) else ""
                append(f'<c r="{letters[i]}{r}"{style} t="inlineStr"><is><t xml:space="preserve">'
                       f'{_xml_text(text)}</t></is></c>')
        self._width = max(self._width, len(values))
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
        last_row = self._rows + (1 if self._has_header else 0)
        last_col = column_letter(max(self._width, 1) - 1)
        tail = f'<autoFilter ref="A1:{last_col}{last_row}"/>' if self._has_header else ""
        self._sheet.write(f'</sheetData>{tail}'
                          '<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
                          "</worksheet>".encode())
        self._sheet.close()
        name = escape(self._sheet_name, {'"': "&quot;"})
        self._zip.writestr(self._info("[Content_Types].xml"), _CONTENT_TYPES)
        self._zip.writestr(self._info("_rels/.rels"), _ROOT_RELS)
        self._zip.writestr(self._info("xl/_rels/workbook.xml.rels"), _WORKBOOK_RELS)
        self._zip.writestr(self._info("xl/styles.xml"), _STYLES)
        defined = (
            '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            f"'{name}'!$A$1:${last_col}${last_row}</definedName></definedNames>" if self._has_header else ""
        )
        self._zip.writestr(
            self._info("xl/workbook.xml"),
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets>{defined}</workbook>',
        )
        when = self._created or dt.datetime.now(dt.UTC)
        now = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        self._zip.writestr(
            self._info("docProps/core.xml"),
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
    def _info(self, name: str):
        if self._created is None:
            return name
        info = zipfile.ZipInfo(name, date_time=self._created.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def _start_sheet(self) -> None:
        cols = "".join(
            f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>' for i, w in enumerate(self._widths)
        )
        header = "".join(
            f'<c r="{self._letters[i]}1" s="{_S_HEADER}" t="inlineStr"><is><t>{_xml_text(h)}</t></is></c>'
            for i, h in enumerate(self._headers)
        )
        first = f'<row r="1">{header}</row>' if self._has_header else ""
        view = ('<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
                'state="frozen"/></sheetView></sheetViews>') if self._has_header else ""
        self._sheet.write(
            ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
             f'{view}<sheetFormatPr defaultRowHeight="15"/>'
             f"{'<cols>' + cols + '</cols>' if cols else ''}"
             f"<sheetData>{first}").encode()
        )

    def _flush(self) -> None:
        if self._buffer:
            self._sheet.write("".join(self._buffer).encode())
            self._buffer.clear()


def write_csv(fileobj, *, headers: list[str], rows, money_columns: set[int] | frozenset[int] = frozenset()) -> int:
    """Write header + rows as CSV the way Excel opens it (UTF-8 with BOM, CRLF), by the text rule
    (formula-leading texts get a leading apostrophe) and the number rule (money with 2 decimals).
    Returns the row count."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([csv_text(str(h)) for h in headers])
    count = 0
    for row in rows:
        out = []
        for i, v in enumerate(row):
            if v is None:
                out.append("")
            elif isinstance(v, bool):
                out.append("是" if v else "否")
            elif isinstance(v, int | Decimal | float):
                out.append(number_text(v, money=i in money_columns))
            elif isinstance(v, dt.datetime):
                out.append(v.strftime("%Y-%m-%d %H:%M:%S"))
            elif isinstance(v, dt.date):
                out.append(v.isoformat())
            else:
                out.append(csv_text(str(v)))
        writer.writerow(out)
        count += 1
    fileobj.write(b"\xef\xbb\xbf" + text.getvalue().encode("utf-8"))
    return count
