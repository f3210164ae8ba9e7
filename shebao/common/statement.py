"""The 结算单 (settlement statement) layout shared by the schemes (老农保 退保/死亡结算, 养老保障 退保清算): A4
portrait, ReportLab, the CJK font of ``shebao.common.pdf`` embedded (subset), so it prints the same on
any machine.

The page: agency and title; the info table (label/value pairs, two per row); the scheme's own body
(e.g. the yearly account table); the amount in figures and in 大写; the operator line; the three
signature boxes (经办人/审核人/领款人签字) — the amount, the operator line and the boxes kept on one page.
The footer carries the document number, page number and print time; marks (补打, 副本, 已回退（作废）) are
boxed at the top right. ``layout``, when given, is filled with the page count and the page each marked
part landed on (``amount``, ``operator``, ``signatures``) and the operator line's text."""

from __future__ import annotations

import io
from collections.abc import Sequence

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from shebao.common.pdf import FONT, register_font, style

RED = colors.HexColor("#c0392b")
GREY = colors.HexColor("#7f8c8d")


class _Template(SimpleDocTemplate):
    """Notes on which page each marked flowable (``_mark``) landed, in ``layout`` (the tests read it)."""

    layout: dict | None = None

    def afterFlowable(self, flowable) -> None:  # noqa: N802 - ReportLab's hook name
        mark = getattr(flowable, "_mark", None)
        if mark and self.layout is not None:
            self.layout[mark] = self.page
        if self.layout is not None:
            self.layout["pages"] = self.page


def info_table(rows: Sequence[Sequence[str]], *, widths=(24, 61, 24, 71)) -> Table:
    """Label/value pairs, two per row, labels shaded."""
    cell = style(9.5)
    table = Table([[Paragraph(str(c), cell) for c in row] for row in rows], colWidths=[w * mm for w in widths])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f0f0f0")),
        ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#f0f0f0")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def render_statement_pdf(*, number: str, title: str, agency: str, info: Sequence[Sequence[str]], body: list,
                         amount_rows: Sequence[Sequence[str]], operator_line: str, after_operator: list | None = None,
                         marks: Sequence[tuple[str, object]] = (), layout: dict | None = None) -> bytes:
    """PDF bytes of a 结算单. ``info``: rows of four cells (label, value, label, value); ``body``: the
    scheme's flowables between the info table and the amount; ``amount_rows``: (label, value) rows of the
    amount table (the figures, the 大写 …); ``after_operator``: flowables under the operator line (e.g.
    a rollback note); ``marks``: (text, colour) boxed at the top right of every page."""
    register_font()
    buf = io.BytesIO()
    printed_at = timezone.localtime()

    def decorate(canvas, pdf):
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(15 * mm, 10 * mm, f"结算单号 {number}")
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"第 {canvas.getPageNumber()} 页")
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"打印时间 {printed_at:%Y-%m-%d %H:%M}")
        x = A4[0] - 15 * mm
        for text, color in marks:
            width = pdfmetrics.stringWidth(text, FONT, 16) + 6 * mm
            canvas.setStrokeColor(color)
            canvas.setFillColor(color)
            canvas.setLineWidth(1.5)
            canvas.rect(x - width, A4[1] - 24 * mm, width, 11 * mm)
            canvas.setFont(FONT, 16)
            canvas.drawCentredString(x - width / 2, A4[1] - 20.5 * mm, text)
            x -= width + 3 * mm
        canvas.restoreState()

    pdf = _Template(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                    bottomMargin=16 * mm, title=f"{title} {number}", author=agency, subject="结算单",
                    creator="慈溪社保本地系统")
    story = [
        Paragraph(agency, style(13, align=TA_CENTER)),
        Spacer(1, 1.5 * mm),
        Paragraph(title, style(18, align=TA_CENTER, leading=24)),
        Spacer(1, 4 * mm),
        info_table(info),
        Spacer(1, 4 * mm),
        *body,
    ]
    amount_table = Table([list(r) for r in amount_rows], colWidths=[40 * mm, 140 * mm])
    amount_table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 11),
        ("FONT", (1, 0), (1, -1), FONT, 13),
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f0f0f0")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    # the amount, the operator line and the signature boxes stay on one page: a long yearly table used
    # to push the signature boxes alone onto page 2, away from the totals they sign for
    amount_table._mark = "amount"
    closing: list = [amount_table, Spacer(1, 3 * mm)]
    operator_par = Paragraph(operator_line, style(9.5))
    operator_par._mark = "operator"
    if layout is not None:
        layout["operator_text"] = operator_line
    closing.append(operator_par)
    closing += after_operator or []
    closing.append(Spacer(1, 5 * mm))
    box = style(10)
    signatures = Table(
        [[Paragraph("经办人签字：", box), Paragraph("审核人签字：", box), Paragraph("领款人签字：", box)],
         ["", "", ""],
         [Paragraph("日期：", box), Paragraph("日期：", box), Paragraph("日期：", box)]],
        colWidths=[60 * mm, 60 * mm, 60 * mm], rowHeights=[8 * mm, 16 * mm, 8 * mm])
    signatures.setStyle(TableStyle([
        ("BOX", (0, 0), (0, -1), 0.8, colors.black),
        ("BOX", (1, 0), (1, -1), 0.8, colors.black),
        ("BOX", (2, 0), (2, -1), 0.8, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    signatures._mark = "signatures"
    closing.append(signatures)
    story.append(KeepTogether(closing))
    pdf.layout = layout
    pdf.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buf.getvalue()
