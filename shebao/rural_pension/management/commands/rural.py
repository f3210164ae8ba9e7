"""shebao rural import DIR [--dry-run] [--as USER] [--rejected FILE]
shebao rural quote --id ID --date YYYY-MM-DD [--json]
shebao rural refund --id ID --date YYYY-MM-DD --pay bank|cash --as USER [--amount X]
shebao rural rollback DOC --as USER [--reason TEXT]
shebao rural print DOC --as USER --out FILE.pdf
shebao rural rate --year Y --rate R --as USER [--reason TEXT]
shebao rural recompute
shebao rural payouts --period YYYY-MM --as USER

老农保 from the command line (IT and cron). The command line shows full numbers (it is run by IT);
``print`` masks per the --as user's right like the pages."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.accounts.roles import NB_EDIT, NB_RATES, NB_REFUND, NB_ROLLBACK
from shebao.common import policy
from shebao.common.jobs import CliProgress
from shebao.common.masking import masker_for
from shebao.common.money import amount_in_words, format_yuan
from shebao.rural_pension.interest import KIND_LABELS
from shebao.rural_pension.legacy_import import ImportFileError, rural_import
from shebao.rural_pension.models import RuralDocument
from shebao.rural_pension.selectors import account_by_id_number
from shebao.rural_pension.services import (
    RuralError,
    credited_rate_set,
    rural_benefit_payouts_record,
    rural_document_pdf,
    rural_refund_quote,
    rural_refund_rollback,
    rural_refund_settle,
    rural_years_recompute,
)

IT_OPS = "accounts.it_ops"

# Who the --as user must be (shebao.common.policy). The account or document a command names must also be
# in the user's towns. quote and recompute take no --as (the operator at the server); so does an import
# with --dry-run and without --as.
IMPORT_RULE = command_rule("rural import", policy.rule(IT_OPS, scheme="NB", county=True,
                                                       note="信息科、全市范围；--dry-run 可不带 --as"))
QUOTE_RULE = command_rule("rural quote", policy.CONSOLE)
REFUND_RULE = command_rule("rural refund", policy.rule(NB_REFUND, scheme="NB", note="老农保退款经办，本人管辖镇街道"))
ROLLBACK_RULE = command_rule("rural rollback", policy.rule(NB_ROLLBACK, scheme="NB", note="退款回退，本人管辖镇街道"))
PRINT_RULE = command_rule("rural print", policy.rule(NB_REFUND, scheme="NB", note="打印结算单，本人管辖镇街道"))
RATE_RULE = command_rule("rural rate", policy.rule(NB_RATES, scheme="NB", county=True,
                                                   note="记账利率（复核员），重算全部账户"))
RECOMPUTE_RULE = command_rule("rural recompute", policy.CONSOLE)
PAYOUTS_RULE = command_rule("rural payouts", policy.rule(NB_EDIT, scheme="NB", county=True,
                                                         note="整期结算记入账户，全市范围"))


def _in_town(user, person, username: str) -> None:
    """The account's person must be in the --as user's towns (the same refusal as a page's 404)."""
    if user is not None and not policy.person_allowed(user, person):
        raise CommandError(f"用户 {username}：{policy.NO_TOWN}")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"日期 {value} 无效（应为 YYYY-MM-DD）") from None


class Command(BaseCommand):
    help = "老农保：导入、试算、退款、回退、打印结算单、利率、重算"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="导入原系统文件（persons/contributions/payouts/rates.csv）")
        imp.add_argument("directory")
        imp.add_argument("--dry-run", action="store_true", help="只校验并对账，不写入")
        imp.add_argument("--as", dest="as_user", help="经办人用户名（写入时必填）")
        imp.add_argument("--rejected", help="把全部拒绝行写入此 CSV 文件")
        imp.add_argument("--show", type=int, default=200, help="最多显示多少条拒绝行（默认 200）")
        q = sub.add_parser("quote", help="退款试算：年账户明细和退款金额")
        q.add_argument("--id", required=True, dest="id_number")
        q.add_argument("--date", required=True)
        q.add_argument("--json", action="store_true")
        r = sub.add_parser("refund", help="退款结算（关闭账户，出结算单）")
        r.add_argument("--id", required=True, dest="id_number")
        r.add_argument("--date", required=True)
        r.add_argument("--pay", required=True, choices=["bank", "cash"])
        r.add_argument("--as", dest="as_user", required=True)
        r.add_argument("--amount", help="确认的金额（与试算不符则拒绝）")
        b = sub.add_parser("rollback", help="退款回退（当月、未报盘）")
        b.add_argument("document")
        b.add_argument("--as", dest="as_user", required=True)
        b.add_argument("--reason", default="经办回退")
        p = sub.add_parser("print", help="打印结算单 PDF（第二次起标“补打”）")
        p.add_argument("document")
        p.add_argument("--as", dest="as_user", required=True)
        p.add_argument("--out", required=True)
        rate = sub.add_parser("rate", help="设置年度记账利率（重算全部年账户明细）")
        rate.add_argument("--year", type=int, required=True)
        rate.add_argument("--rate", required=True)
        rate.add_argument("--as", dest="as_user", required=True)
        rate.add_argument("--reason", default="")
        sub.add_parser("recompute", help="重算全部账户的年账户明细（缓存）")
        pay = sub.add_parser("payouts", help="把已审核的老农保月度结算记入个人账户支付")
        pay.add_argument("--period", required=True)
        pay.add_argument("--as", dest="as_user", required=True)

    def _account(self, id_number: str):
        account = account_by_id_number(user=None, id_number=id_number)
        if account is None:
            raise CommandError(f"身份证号 {id_number} 没有老农保账户")
        return account

    def handle(self, *args, **opts):
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except (RuralError, ImportFileError) as exc:
            raise CommandError(str(exc)) from None

    # ----------------------------------------------------------------------------------------------
    def _import(self, opts) -> None:
        user = acting_user(opts["as_user"], IMPORT_RULE, scheme="NB")
        if user is None and not opts["dry_run"]:
            raise CommandError("导入须用 --as 指定经办人；只检查请加 --dry-run")
        progress = CliProgress(self.stderr._out)
        t0 = time.monotonic()
        try:
            result = rural_import(directory=opts["directory"], user=user, dry_run=opts["dry_run"],
                                  progress=progress, keep_rejected=max(opts["show"], 0),
                                  rejected_file=opts["rejected"] or None)
        finally:
            progress.close()
        for name, info in result.files.items():
            self.stdout.write(f"{name}：{info.get('encoding', '')}，{info['bytes']:,} 字节，sha256 {info['sha256'][:16]}…")
        shown = result.rejected[: opts["show"]]
        for r in shown:
            self.stdout.write(r.as_text())
        if result.rejected_count > len(shown):
            self.stdout.write(f"……共 {result.rejected_count:,} 行被拒绝，另有 {result.rejected_count - len(shown):,} 行未显示"
                              + ("" if opts["rejected"] else "（用 --rejected FILE 导出全部）"))
        if opts["rejected"]:
            self.stdout.write(f"拒绝行已写入 {opts['rejected']}（{result.rejected_count:,} 行）")
        self.stdout.write("")
        self.stdout.write("对账（读入 = 新增 + 已存在 + 拒绝）：")
        self.stdout.write(f"{'文件':<18}{'读入行':>10}{'新增行':>10}{'已存在':>10}{'拒绝行':>10}"
                          f"{'读入金额':>18}{'新增金额':>18}{'已存在金额':>18}{'拒绝金额':>16}  平衡")
        for r in result.reconciliation:
            self.stdout.write(
                f"{r.file:<18}{r.rows_read:>10,}{r.rows_new:>10,}{r.rows_unchanged:>10,}{r.rows_rejected:>10,}"
                f"{format_yuan(r.amount_read):>18}{format_yuan(r.amount_new):>18}{format_yuan(r.amount_unchanged):>18}"
                f"{format_yuan(r.amount_rejected):>16}  {'是' if r.balanced else '否'}")
        if result.receivers is not None and result.receivers.skipped_text():
            self.stdout.write(f"领取人员未纳入老农保月度发放（NB）：{result.receivers.skipped_text()}")
        created = "，".join(f"{k} {v:,}" for k, v in result.created.items())
        elapsed = f"{time.monotonic() - t0:.1f} 秒"
        if result.dry_run:
            self.stdout.write(f"试运行（未写入任何数据）：将新增 {created}；拒绝 {result.rejected_count:,} 行；{elapsed}")
        else:
            self.stdout.write(f"已导入（批次 {result.batch.pk}）：新增 {created}；拒绝 {result.rejected_count:,} 行；{elapsed}"
                              + ("" if result.changed else "。与已导入的数据相同，没有变化"))

    def _quote(self, opts) -> None:
        account = self._account(opts["id_number"])
        on = _date(opts["date"])
        quote = rural_refund_quote(account=account, on=on)
        if opts["json"]:
            data = {"id_number": account.person.id_number, "name": account.person.name,
                    "status": account.get_status_display(), **quote.as_dict(),
                    "amount_in_words": amount_in_words(quote.amount)}
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        p = account.person
        self.stdout.write(f"{p.name}  {p.id_number}  {account.town.name}  {account.get_status_display()}  试算日期 {on}")
        cols = ["opening", *KIND_LABELS, "payouts", "rate", "interest", "closing"]
        heads = ["年初余额", *KIND_LABELS.values(), "支付", "利率", "利息", "年末余额"]
        self.stdout.write(f"{'年度':<10}" + "".join(f"{h:>12}" for h in heads))
        for row in quote.rows:
            d = row.as_dict()
            label = str(row.year) if row.months == 12 else f"{row.year}({row.months}月)"
            self.stdout.write(f"{label:<10}" + "".join(
                f"{d[c]:>12}" if c == "rate" else f"{format_yuan(d[c]):>12}" for c in cols))
        self.stdout.write(f"退款金额：{format_yuan(quote.amount)}（{amount_in_words(quote.amount)}）")

    def _refund(self, opts) -> None:
        user = acting_user(opts["as_user"], REFUND_RULE, scheme="NB")
        account = self._account(opts["id_number"])
        _in_town(user, account.person, opts["as_user"])
        doc = rural_refund_settle(account=account, on=_date(opts["date"]),
                                  pay_method=opts["pay"], user=user, expected_amount=opts["amount"])
        extra = f"，零星发放批次 {doc.payroll_run_id}（待审核后报盘）" if doc.payroll_run_id else ""
        self.stdout.write(f"{doc.number}")
        self.stderr.write(f"已退款 {format_yuan(doc.amount)}（{amount_in_words(doc.amount)}），"
                          f"{doc.get_pay_method_display()}{extra}；账户已退保")

    def _document(self, number: str) -> RuralDocument:
        doc = RuralDocument.objects.filter(number=number.strip().upper()).first()
        if doc is None:
            raise CommandError(f"结算单 {number} 不存在")
        return doc

    def _rollback(self, opts) -> None:
        user = acting_user(opts["as_user"], ROLLBACK_RULE, scheme="NB")
        document = self._document(opts["document"])
        _in_town(user, document.account.person, opts["as_user"])
        doc = rural_refund_rollback(document=document, user=user, reason=opts["reason"])
        self.stdout.write(f"结算单 {doc.number} 已回退，账户已恢复为“{doc.account.get_status_display()}”")

    def _print(self, opts) -> None:
        user = acting_user(opts["as_user"], PRINT_RULE, scheme="NB")
        document = self._document(opts["document"])
        _in_town(user, document.account.person, opts["as_user"])
        data = rural_document_pdf(document=document, user=user, masker=masker_for(user), reprint=True)
        Path(opts["out"]).write_bytes(data)
        self.stdout.write(f"已写入 {opts['out']}（{len(data):,} 字节）")

    def _rate(self, opts) -> None:
        obj = credited_rate_set(user=acting_user(opts["as_user"], RATE_RULE, scheme="NB"), year=opts["year"], rate=opts["rate"],
                                reason=opts["reason"])
        self.stdout.write(f"{obj.year} 年度记账利率 {obj.rate}；年账户明细已重算")

    def _recompute(self, opts) -> None:
        t0 = time.monotonic()
        n = rural_years_recompute()
        self.stdout.write(f"已重算 {n:,} 个账户年度，{time.monotonic() - t0:.1f} 秒")

    def _payouts(self, opts) -> None:
        user = acting_user(opts["as_user"], PAYOUTS_RULE, scheme="NB")
        n = rural_benefit_payouts_record(period=opts["period"], user=user)
        self.stdout.write(f"记入养老金支付 {n:,} 笔")
