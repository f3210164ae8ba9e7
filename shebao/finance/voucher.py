"""The voucher print (记账凭证) of one 特殊业务 record as a PDF: A4 portrait, the shared CJK font and styles
(``shebao.common.pdf``, as the 老农保 结算单). Record number, type and accounting subject, the party
(account numbers masked per the viewer's right), amount in figures and in 大写, 凭证号, dates, the
entering, confirming and reviewing users, signature boxes; a reversal carries 红冲 and the original."""

from __future__ import annotations

import io

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from shebao.common.masking import Masker
from shebao.common.money import amount_in_words, format_yuan
from shebao.common.pdf import FONT, register_font, style
from shebao.registry.selectors import bank_label


def _who(user) -> str:
    if user is None:
        return ""
    return getattr(user, "full_name", "") or user.username


def render_voucher(entry, *, masker: Masker, agency: str) -> bytes:
    register_font()
    buf = io.BytesIO()
    printed = timezone.localtime()

    def decorate(canvas, pdf):
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(15 * mm, 10 * mm, f"记录号 {entry.number}")
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"打印时间 {printed:%Y-%m-%d %H:%M}")
        if entry.state != "reviewed":
            canvas.setFont(FONT, 16)
            canvas.setFillColor(colors.HexColor("#c0392b"))
            canvas.drawRightString(A4[0] - 15 * mm, A4[1] - 18 * mm, "未复核")
        canvas.restoreState()

    party, account = "", ""
    if entry.payee_id:
        p = entry.payee
        party = f"{p.name}（{p.code} 第 {p.version} 版）" + (f" 统一社会信用代码 {p.uscc}" if p.uscc else "")
        account = f"{bank_label(p.bank)} {p.branch} {masker.account(p.account_number)}".replace("  ", " ")
    elif entry.person_id:
        party = f"{entry.person.name} {masker.id_number(entry.person.id_number)}"
    cell = style(10)
    title = ("特殊业务支出凭证" if entry.direction == "expenditure" else "特殊业务收入凭证")
    if entry.reversal_of_id:
        title += "（红冲）"
    rows = [
        ["记录号", entry.number, "凭证号", entry.voucher_no or "—"],
        ["业务类型", entry.type.name, "会计科目", Paragraph(
            f"{entry.type.subject_code} {entry.type.subject_name}"
            + ("" if entry.type.subject_confirmed else "（待财务确认）"), cell)],
        ["收支方向", entry.get_direction_display(), "业务日期", f"{entry.occurred_on:%Y-%m-%d}"],
        ["收款方/付款方", Paragraph(party or "—", cell), "账户", Paragraph(account or "—", cell)],
        ["金额（小写）", f"{'-' if entry.amount < 0 else ''}¥{format_yuan(abs(entry.amount))}", "金额（大写）", Paragraph(amount_in_words(abs(entry.amount))
                                                                          + ("（红字）" if entry.amount < 0 else ""), cell)],
        ["状态", entry.get_state_display(), "银行支付", entry.get_pay_status_display()],
        ["到账日期", f"{entry.arrival_on:%Y-%m-%d}" if entry.arrival_on else "—", "到账金额",
         format_yuan(entry.arrival_amount) if entry.arrival_amount is not None else "—"],
        ["经办人", _who(entry.created_by), "到账确认", _who(entry.arrival_by)],
        ["复核人", _who(entry.reviewed_by), "复核时间",
         f"{timezone.localtime(entry.reviewed_at):%Y-%m-%d %H:%M}" if entry.reviewed_at else "—"],
    ]
    if entry.reversal_of_id:
        rows.append(["红冲原记录", entry.reversal_of.number, "原金额", format_yuan(entry.reversal_of.amount)])
    if entry.source:
        rows.append(["来源", Paragraph(entry.source, cell), "支付批次", str(entry.run_id or "—")])
    rows.append(["备注", Paragraph(entry.note or "—", cell), "", ""])
    table = Table(rows, colWidths=[28 * mm, 62 * mm, 28 * mm, 62 * mm])
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 10),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
        ("BACKGROUND", (2, 0), (2, -2), colors.HexColor("#f2f2f2")),
        ("SPAN", (1, len(rows) - 1), (3, len(rows) - 1)),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    signs = Table([["经办人签字", "", "财务签字", "", "复核人签字", ""]],
                  colWidths=[24 * mm, 36 * mm, 20 * mm, 36 * mm, 24 * mm, 40 * mm], rowHeights=[16 * mm])
    signs.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 10), ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story = [Paragraph(agency, style(13, align=TA_CENTER)), Spacer(1, 3 * mm),
             Paragraph(title, style(18, align=TA_CENTER, leading=24)), Spacer(1, 6 * mm), table,
             Spacer(1, 10 * mm), signs]
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"{title} {entry.number}")
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buf.getvalue()
