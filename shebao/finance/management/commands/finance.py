"""shebao finance report --month YYYY-MM [--json]

The month's 社会保险特殊业务 totals — income and expenditure by type, payee and status, and the bank
check — the same figures as the report page (``selectors.report_for``). Amounts in JSON are strings."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import command_rule
from shebao.common.money import format_yuan
from shebao.finance.rules import REPORT_COMMAND_RULE
from shebao.finance.selectors import report_for

REPORT_RULE = command_rule("finance report", REPORT_COMMAND_RULE)


class Command(BaseCommand):
    help = "社会保险特殊业务：收支报表"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        rep = sub.add_parser("report", help="月度收支合计（按类型、收款方、状态），与报表页一致")
        rep.add_argument("--month", required=True, help="YYYY-MM")
        rep.add_argument("--json", action="store_true", help="以 JSON 输出（金额为字符串）")

    def handle(self, *args, **opts):
        month = opts["month"]
        if len(month.strip()) == 4:
            raise CommandError(f"月份 {month} 无效，应为 YYYY-MM")
        try:
            report = report_for(month)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if opts["json"]:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
            return
        dirs = {"income": "收入", "expenditure": "支出"}
        self.stdout.write(f"社会保险特殊业务收支 {report.label}（{report.start} 至 {report.end}）")
        self.stdout.write(f"收入 {report.income_count} 笔 {format_yuan(report.income_total)}；"
                          f"支出 {report.expenditure_count} 笔 {format_yuan(report.expenditure_total)}；"
                          f"差额 {format_yuan(report.net)}")
        self.stdout.write("按业务类型：")
        for r in report.by_type:
            pending = "" if r["subject_confirmed"] else "，科目待财务确认"
            self.stdout.write(f"  {dirs[r['direction']]} {r['name']}（{r['subject_code']} {r['subject_name']}{pending}）"
                              f" {r['count']} 笔 {format_yuan(r['total'])}")
        self.stdout.write("按状态：")
        for r in report.by_status:
            self.stdout.write(f"  {dirs[r['direction']]} {r['label']} {r['count']} 笔 {format_yuan(r['total'])}")
        bank = report.bank
        self.stdout.write(f"银行支付：记录 {bank['records_count']} 笔 {format_yuan(bank['records_total'])}；"
                          f"报盘文件 {bank['files_count']} 笔 {format_yuan(bank['files_total'])}")
        self.stdout.write("核对：" + ("一致" if report.reconciled else "不一致"))
        if not report.reconciled:
            raise CommandError("报表合计与记录或银行文件不一致，请核查")
