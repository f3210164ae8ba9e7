"""shebao benefits raise RULE.json --apply-month 2026-07 --as USER [--dry-run] [--json]

The rule file's keys are documented in ``shebao.benefits.raises``."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.accounts.roles import ZG_MANAGE
from shebao.benefits.months import MonthError
from shebao.benefits.raises import raise_apply, raise_preview, raise_terms_parse
from shebao.benefits.services import BenefitError
from shebao.common.policy import rule

# A raise changes the amounts of every person of a scheme (county-wide): 经办 of 待遇 with 全市范围, and
# the scheme the rule file names must be one of the --as user's schemes (checked after reading the file,
# before anything is previewed or written).
RAISE_RULE = command_rule("benefits raise", rule(ZG_MANAGE, county=True,
                                                 note="待遇经办、全市范围；规则文件的 scheme 须在用户的险种范围内"))


class Command(BaseCommand):
    help = "待遇：批量调待"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        raise_ = sub.add_parser("raise", help="按规则文件批量调待（先用 --dry-run 预览）")
        raise_.add_argument("rule", help="规则文件 (JSON)")
        raise_.add_argument("--apply-month", required=True, help="执行年月 YYYY-MM")
        raise_.add_argument("--as", dest="as_user", required=True, help="经办人用户名")
        raise_.add_argument("--dry-run", action="store_true", help="只预览，不写入")
        raise_.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        acting_user(opts["as_user"])  # unknown or inactive: refused before the file is read
        try:
            data = json.loads(Path(opts["rule"]).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"无法读取规则文件：{exc}") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"规则文件不是有效的 JSON：第 {exc.lineno} 行 {exc.msg}") from None
        scheme = str(data.get("scheme") or "").strip().upper() if isinstance(data, dict) else ""
        user = acting_user(opts["as_user"], RAISE_RULE, scheme=scheme or None)
        try:
            terms = raise_terms_parse(data)
            if opts["dry_run"]:
                preview = raise_preview(terms=terms, apply_month=opts["apply_month"])
                rule_id = None
            else:
                rule, preview = raise_apply(terms=terms, apply_month=opts["apply_month"], user=user)
                rule_id = rule.pk
        except (BenefitError, MonthError) as exc:
            raise CommandError(str(exc)) from None
        summary = {**preview.summary(), "rule_id": rule_id, "dry_run": bool(opts["dry_run"])}
        if opts["json"]:
            summary["rows"] = [
                {"id_number": r.id_number, "name": r.name, "current": str(r.current), "raise": str(r.raise_amount),
                 "new": str(r.new_amount) if r.new_amount is not None else None,
                 "arrears_months": r.arrears_months, "arrears": str(r.arrears)} for r in preview.rows
            ]
            summary["skipped_rows"] = [{"id_number": r.id_number, "name": r.name, "note": r.note}
                                       for r in preview.skipped]
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        for r in preview.rows:
            new = r.new_amount if r.new_amount is not None else "（已终止）"
            self.stdout.write(f"{r.name}\t{r.current} + {r.raise_amount} = {new}\t补发 {r.arrears_months} 个月 {r.arrears}")
        for r in preview.skipped:
            self.stdout.write(f"跳过 {r.name}：{r.note}")
        verb = "预览（未写入）" if opts["dry_run"] else f"已执行（规则 {rule_id}）"
        self.stdout.write(f"{verb}：{summary['persons']} 人，月增 {summary['monthly_total']}，"
                          f"补发合计 {summary['arrears_total']}")
