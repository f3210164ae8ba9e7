"""The 老农保 结算单 (settlement statement) as a PDF, in the shared layout of ``shebao.common.statement``
(A4 portrait, ReportLab, the CJK font of ``shebao/common/fonts/`` embedded).

Contents: agency name and title, document number, the person (numbers masked per the viewer's
right), the yearly account table as computed at settlement, the amount in figures and in 大写,
payment method, operator (by name) and date, signature boxes (经办人/审核人/领款人签字), kept on one page
with the amount. A reprint asked for carries a 补打 mark, a later look at an already printed document a
副本 mark; a rolled-back document a 已回退（作废） mark."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from shebao.common.display import user_display_name
from shebao.common.masking import Masker
from shebao.common.money import format_yuan
from shebao.common.pdf import FONT, register_font, style
from shebao.common.statement import GREY, RED, render_statement_pdf

TITLES = {
    "refund": "老农保退保结算单",
    "death_balance": "老农保死亡结算单（账户余额）",
    "death_guarantee": "老农保死亡结算单（保证期余额）",
}


_style = style
_register_font = register_font  # kept for callers (ops inspection report) that import it from here


def _money(value) -> str:
    return format_yuan(Decimal(str(value)))


def _year_label(row: dict) -> str:
    months = int(row.get("months", 12))
    if months == 12:
        return str(row["year"])
    return f"{row['year']}（计息{months}个月）" if months else f"{row['year']}（不计息）"


def render_statement(doc, *, masker: Masker, reprint: bool, agency: str, words: str, copy: bool = False,
                     layout: dict | None = None) -> bytes:
    """PDF bytes of a ``RuralDocument`` (the layout: ``shebao.common.statement``). ``reprint``: marked 补打
    (an asked-for, counted reprint); ``copy``: marked 副本 (the document looked at again after its original
    print, not counted). ``layout``, when given, is filled with the page count and the page of the amount
    (``amount``), the operator line (``operator``, its text in ``operator_text``) and the signature boxes
    (``signatures``)."""
    register_font()  # before any paragraph in the font is made
    account = doc.account
    person = account.person
    payee = doc.payee
    sex = "男" if person.sex == "M" else "女"
    village = account.community.name if account.community_id else ""
    account_text = "—"
    if doc.pay_method == "bank":
        from shebao.registry.selectors import person_current_account

        bank_account = person_current_account(payee)
        if bank_account is not None:
            account_text = f"{bank_account.get_bank_display()} {masker.account(bank_account.account_number)}"
    info = [
        ["结算单号", doc.number, "结算日期", f"{doc.on_date:%Y-%m-%d}"],
        ["姓名", person.name, "身份证号", masker.id_number(person.id_number)],
        ["性别", sex, "出生日期", f"{person.birth_date:%Y-%m-%d}"],
        ["镇街道", account.town.name, "村", village],
        ["参保日期", f"{account.enrolled_on:%Y-%m-%d}", "支付方式", doc.get_pay_method_display()],
        ["领款人", payee.name + ("（代领人）" if payee.pk != person.pk else ""), "收款账户", account_text],
    ]
    if payee.pk != person.pk:
        info.append(["领款人身份证号", masker.id_number(payee.id_number), "死亡日期",
                     f"{person.death_date:%Y-%m-%d}" if person.death_date else ""])

    body: list = []
    table = doc.table or {}
    years = table.get("years") or []
    if years:
        body.append(Paragraph("个人年账户明细（单位：元）", _style(11)))
        body.append(Spacer(1, 1.5 * mm))
        head = ["年度", "年初余额", "个人缴费", "集体补助", "其他", "支付", "记账利率", "利息", "年末余额"]
        rows = [head]
        totals = {k: Decimal("0") for k in ("personal", "collective", "other", "payouts", "interest")}
        for r in years:
            rows.append([_year_label(r), _money(r["opening"]), _money(r["personal"]), _money(r["collective"]),
                         _money(r["other"]), _money(r["payouts"]), f"{Decimal(r['rate']) * 100:.2f}%",
                         _money(r["interest"]), _money(r["closing"])])
            for k in totals:
                totals[k] += Decimal(r[k])
        rows.append(["合计", "", _money(totals["personal"]), _money(totals["collective"]), _money(totals["other"]),
                     _money(totals["payouts"]), "", _money(totals["interest"]), _money(years[-1]["closing"])])
        year_table = Table(rows, repeatRows=1,
                           colWidths=[29 * mm, 21 * mm, 19 * mm, 19 * mm, 16 * mm, 19 * mm, 15 * mm, 17 * mm, 25 * mm])
        year_table.setStyle(TableStyle([
            ("FONT", (0, 0), (-1, -1), FONT, 8),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
            ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f4f4f4")),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("ALIGN", (0, 0), (-1, 0), "CENTER"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.8),
        ]))
        body += [year_table, Spacer(1, 2 * mm)]
        body.append(Paragraph(
            "计息方法：月积数法。全年利息 = 年初余额 × 当年记账利率 + Σ 当月缴费（支付为负）× 当年记账利率 × (13 − 月份) ÷ 12，"
            "每人每年四舍五入到分；结算当年按结算月之前的月数计息，结算当月的缴费不计息。", _style(7.5, color=colors.grey)))
        body.append(Spacer(1, 3 * mm))
    guarantee = table.get("guarantee")
    if guarantee:
        body.append(Paragraph(
            f"开始领取年月 {guarantee['start_month']}，死亡年月 {guarantee['death_month']}，月养老金 "
            f"{_money(guarantee['monthly'])} 元；120 个月保证期内尚余 {guarantee['months_left']} 个月，"
            f"由代领人领取。", _style(10)))
        body.append(Spacer(1, 3 * mm))

    amount_label = "退款金额" if doc.kind == "refund" else "应付金额"
    operator = user_display_name(doc.operator)  # the person's name, not the login
    made = timezone.localtime(doc.created_at)
    after_operator = []
    if doc.state == "rolled_back" and doc.rolled_back_at:
        after_operator.append(Paragraph(
            f"本结算单已于 {timezone.localtime(doc.rolled_back_at):%Y-%m-%d} 回退：{doc.rollback_reason}",
            _style(9.5, color=RED)))
    marks = []
    if reprint:
        marks.append(("补打", RED))
    elif copy:
        marks.append(("副本", GREY))
    if doc.state == "rolled_back":
        marks.append(("已回退（作废）", RED))
    return render_statement_pdf(
        number=doc.number, title=TITLES.get(doc.kind, "结算单"), agency=agency, info=info, body=body,
        amount_rows=[(f"{amount_label}（小写）", f"¥ {_money(doc.amount)}"), (f"{amount_label}（大写）", f"人民币{words}")],
        operator_line=f"经办人：{operator}　　经办日期：{made:%Y-%m-%d}　　经办机构：{agency}",
        after_operator=after_operator, marks=marks, layout=layout)
