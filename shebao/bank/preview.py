"""The preview of a template definition (the template editing page): a sample payment file rendered
from a chosen run's first lines exactly as the export would render it, shown line by line with each
field's width in bytes of the template's encoding (GB18030/GBK: a Chinese character is 2 bytes) —
for fixed-width layouts field by field against the widths the definition asks for. Writes nothing.

Account and identity numbers are masked (same length, so the widths shown are the real ones) for a
user without the right to see them."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from shebao.bank.formats import Template
from shebao.bank.services import _payment_rows, _render_rows
from shebao.common.masking import Masker

PREVIEW_LINES = 20


@dataclass
class Segment:
    label: str
    text: str
    width: int  # bytes in the file
    wanted: int | None = None  # the definition's width (fixed layouts)


@dataclass
class PreviewLine:
    no: int
    record: str  # 头 / 明细 / 尾
    text: str
    length: int  # bytes without the line ending
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Preview:
    template: Template
    batch_no: str
    size: int  # bytes of the whole sample file
    line_count: int  # payments in the sample
    lines: list[PreviewLine] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)  # xlsx: the sheet's cells


def bank_template_preview(*, definition: dict, run, masker: Masker, limit: int = PREVIEW_LINES,
                          on: dt.date | None = None) -> Preview:
    """Render ``definition`` for the first ``limit`` lines of ``run`` that a bank file would carry.
    Raises ``TemplateError`` (a wrong definition) or ``BankFileError`` (a value the layout cannot hold),
    each with its Chinese message."""
    from shebao.payroll.selectors import payroll_lines_for_export

    engine = Template(definition)
    on = on or dt.date.today()
    rows = [(pk, run_id, seq, bank, masker.account(account), holder, net, masker.id_number(idn), name, memo)
            for pk, run_id, seq, bank, account, holder, net, idn, name, memo in
            payroll_lines_for_export(run).values_list("pk", "run_id", "seq", "bank", "account_number", "holder_name",
                                                      "net", "id_number", "name", "memo")[:limit]]
    batch_no = f"{on:%Y%m%d}{(rows[0][3] if rows else '') or 'BANK'}001"
    content = _render_rows(engine, batch_no=batch_no, on=on, rows=_payment_rows(rows, {run.pk: run}))
    preview = Preview(engine, batch_no, len(content), len(rows))
    if engine.format == "xlsx":
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
        preview.rows = sheet.to_python()
        return preview
    layout = engine.payment
    raw_lines = content.split(engine.eol)
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    for i, raw in enumerate(raw_lines):
        if layout.header and i == 0:
            record, fields = "头", layout.header
        elif layout.trailer and i == len(raw_lines) - 1:
            record, fields = "尾", layout.trailer
        else:
            record, fields = "明细", layout.detail
        line = PreviewLine(i + 1, record, raw.decode(engine.codec, errors="replace"), len(raw))
        if engine.format == "fixed":
            pos = 0
            for f in fields:
                part = raw[pos:pos + f.width]
                line.segments.append(Segment(f.label if f.name else f"“{f.value}”", part.decode(
                    engine.codec, errors="replace"), len(part), f.width))
                pos += f.width
        else:
            parts = line.text.split(engine.delimiter)
            for f, part in zip(fields, parts, strict=False):
                line.segments.append(Segment(f.label if f.name else f"“{f.value}”", part,
                                             len(part.encode(engine.codec))))
        preview.lines.append(line)
    return preview
