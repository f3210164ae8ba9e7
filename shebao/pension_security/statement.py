"""The 养老保障 退保清算 结算单 as a PDF: A4, ReportLab, the CJK font of ``shebao.common.pdf`` embedded.
The person (numbers masked per the viewer's right), what was paid in and received, the category's
formula, the refund in figures and in 大写, the settlement line, operator and date, signature boxes."""

from __future__ import annotations

import io

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from shebao.common.display import user_display_name
from shebao.common.money import amount_in_words, format_yuan
from shebao.common.pdf import FONT, register_font, style

AGENCY = "慈溪市社会保险管理服务中心"


def render_bz_statement(settlement, *, masker, reprint: bool = False) -> bytes:
    register_font()
    buf = io.BytesIO()
    member = settlement.member
    person = member.person
    printed_at = timezone.localtime()

    def decorate(canvas, pdf):
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(15 * mm, 10 * mm, f"结算单号 {settlement.number}")
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"打印时间 {printed_at:%Y-%m-%d %H:%M}")
        if reprint:
            canvas.setFont(FONT, 16)
            canvas.setFillColor(colors.HexColor("#c0392b"))
            canvas.drawRightString(A4[0] - 15 * mm, A4[1] - 20 * mm, "补打")
        canvas.restoreState()

    pdf = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                            bottomMargin=16 * mm, title=f"养老保障退保清算结算单 {settlement.number}", author=AGENCY)
    cell = style(9.5)
    info = [
        ["结算单号", settlement.number, "终止日期", f"{settlement.on_date:%Y-%m-%d}"],
        ["姓名", person.name, "身份证号", masker.id_number(person.id_number)],
        ["类别", member.category.name, "原因", settlement.get_reason_display()],
        ["镇街道", person.town.name, "领款人", settlement.payee_name or "—"],
        ["缴费合计", format_yuan(settlement.paid_in), "已领待遇", format_yuan(settlement.received)],
        ["计算公式", settlement.formula.get("text", ""), "零星发放批次", str(settlement.run_id or "—")],
    ]
    table = Table([[Paragraph(str(c), cell) for c in row] for row in info],
                  colWidths=[24 * mm, 66 * mm, 26 * mm, 64 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f0f0f0")),
                               ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#f0f0f0"))]))
    amount = Table([["退还金额（小写）", f"¥ {format_yuan(settlement.refund)}"],
                    ["退还金额（大写）", f"人民币{amount_in_words(settlement.refund)}"],
                    ["结算净额（含补发、扣减）", f"¥ {format_yuan(settlement.net)}"]], colWidths=[50 * mm, 130 * mm])
    amount.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 11), ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f0f0f0"))]))
    made = timezone.localtime(settlement.created_at)
    box = style(10)
    signatures = Table([[Paragraph("经办人签字：", box), Paragraph("审核人签字：", box), Paragraph("领款人签字：", box)],
                        ["", "", ""]], colWidths=[60 * mm] * 3, rowHeights=[8 * mm, 16 * mm])
    signatures.setStyle(TableStyle([("BOX", (i, 0), (i, -1), 0.8, colors.black) for i in range(3)]))
    story = [Paragraph(AGENCY, style(13, align=TA_CENTER)), Spacer(1, 1.5 * mm),
             Paragraph("养老保障退保清算结算单", style(18, align=TA_CENTER, leading=24)), Spacer(1, 4 * mm),
             table, Spacer(1, 4 * mm),
             KeepTogether([amount, Spacer(1, 3 * mm), Paragraph(
                 f"经办人：{user_display_name(settlement.operator)}　　经办日期：{made:%Y-%m-%d}　　经办机构：{AGENCY}",
                 style(9.5)), Spacer(1, 5 * mm), signatures])]
    pdf.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buf.getvalue()
