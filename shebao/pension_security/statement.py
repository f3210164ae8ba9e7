"""The 养老保障 退保清算 结算单 as a PDF, in the shared layout of ``shebao.common.statement`` (the same as the
老农保 结算单): the person (numbers masked per the viewer's right), the category and its formula, what was
paid in and received, the refund in figures and in 大写, the settlement's net and its 零星发放 run, the
operator and date, signature boxes. The second and later prints are marked 补打."""

from __future__ import annotations

from django.utils import timezone
from reportlab.platypus import Paragraph, Spacer

from shebao.common.display import user_display_name
from shebao.common.money import amount_in_words, format_yuan
from shebao.common.pdf import register_font, style
from shebao.common.statement import RED, render_statement_pdf

AGENCY = "慈溪市社会保险管理服务中心"
TITLE = "养老保障退保清算结算单"


def render_bz_statement(settlement, *, masker, reprint: bool = False, layout: dict | None = None) -> bytes:
    register_font()  # before any paragraph in the font is made
    member = settlement.member
    person = member.person
    info = [
        ["结算单号", settlement.number, "终止日期", f"{settlement.on_date:%Y-%m-%d}"],
        ["姓名", person.name, "身份证号", masker.id_number(person.id_number)],
        ["性别", "男" if person.sex == "M" else "女", "出生日期", f"{person.birth_date:%Y-%m-%d}"],
        ["镇街道", person.town.name, "类别", member.category.name],
        ["原因", settlement.get_reason_display(), "领款人", settlement.payee_name or "—"],
        ["缴费合计", f"{format_yuan(settlement.paid_in)} 元", "已领待遇", f"{format_yuan(settlement.received)} 元"],
    ]
    body = [
        Paragraph(f"计算公式：退还金额 = {settlement.formula.get('text', '')}，四舍五入到分；"
                  f"结算净额（含未发的补发、扣减）{format_yuan(settlement.net)} 元"
                  + (f"，由零星发放批次 {settlement.run_id} 经银行支付。" if settlement.run_id else "。"), style(9.5)),
        Spacer(1, 3),
    ]
    made = timezone.localtime(settlement.created_at)
    return render_statement_pdf(
        number=settlement.number, title=TITLE, agency=AGENCY, info=info, body=body,
        amount_rows=[("退还金额（小写）", f"¥ {format_yuan(settlement.refund)}"),
                     ("退还金额（大写）", f"人民币{amount_in_words(settlement.refund)}")],
        operator_line=f"经办人：{user_display_name(settlement.operator)}　　经办日期：{made:%Y-%m-%d}　　经办机构：{AGENCY}",
        marks=[("补打", RED)] if reprint else [], layout=layout)
