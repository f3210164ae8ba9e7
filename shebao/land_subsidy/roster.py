"""The yearly roster (年度发放明细) as an xlsx file in the business's layout, through the one safe writer
(``shebao.common.sheets``). Layout (README "## 5 土保补贴人员"):

- row 1: the title 「慈溪市土保补贴人员 YYYY 年度发放明细」;
- row 2: 批次、状态、制表日期、人数、实发合计;
- row 3: the column titles ``COLUMNS``;
- then one row per person, by 镇街道 then 身份证号, each 镇街道 closed by a 「小计」 row (persons and sums);
- last a 「合计」 row (persons and sums of the whole run).
"""

from __future__ import annotations

import datetime as dt

from django.utils import translation

from shebao.common.sheets import XlsxWriter
from shebao.land_subsidy.selectors import RosterRow, roster_rows, roster_totals
from shebao.registry.selectors import bank_choices

COLUMNS = ["序号", "镇街道", "姓名", "身份证号", "补贴类别", "应发金额", "扣减金额", "实发金额", "开户银行",
           "银行账号", "发放结果", "实付金额", "备注"]
MONEY = {5, 6, 7, 11}
WIDTHS = [7, 14, 10, 21, 16, 12, 11, 12, 14, 24, 10, 12, 28]


def write_roster(fileobj, run, *, masker=None, today: dt.date | None = None) -> dict:
    """Write ``run``'s roster to ``fileobj``; ``masker`` masks 身份证号 and 银行账号 (a user without the right).
    Returns the totals."""
    rows = roster_rows(run)
    totals = roster_totals(rows)
    today = today or dt.date.today()
    with translation.override("zh-hans"):
        banks = {code: str(label) for code, label in bank_choices(include_inactive=True)}

    def shown(row: RosterRow) -> tuple[str, str]:
        if masker is None:
            return row.id_number, row.account_number
        return masker.id_number(row.id_number), masker.account(row.account_number)

    def sums(label: str, part: list[RosterRow], town: str = "") -> list:
        t = roster_totals(part)
        return ["", town, label, f"{t['count']} 人", "", t["gross"], t["deductions"], t["net"], "", "", "",
                t["paid"], ""]

    with XlsxWriter(fileobj, sheet_name=f"{run.period.year}年度发放明细", headers=None, money_columns=MONEY,
                    widths=WIDTHS) as w:
        w.write_row([f"慈溪市土保补贴人员 {run.period.year} 年度发放明细"], money_columns=set())
        w.write_row([f"批次：{run.pk}", f"状态：{run.get_state_display()}", f"制表日期：{today:%Y-%m-%d}",
                     f"人数：{totals['count']}", f"实发合计：{totals['net']:,.2f}"], money_columns=set())
        w.write_row(COLUMNS, money_columns=set())
        town_rows: list[RosterRow] = []
        for i, row in enumerate(rows):
            id_number, account = shown(row)
            w.write_row([i + 1, row.town, row.name, id_number, row.category, row.gross, row.deductions, row.net,
                         banks.get(row.bank, row.bank), account, row.outcome, row.paid, row.note])
            town_rows.append(row)
            if i + 1 == len(rows) or rows[i + 1].town != row.town:
                w.write_row(sums("小计", town_rows, row.town))
                town_rows = []
        w.write_row(sums("合计", rows))
    return totals
