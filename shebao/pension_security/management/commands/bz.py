"""shebao bz import FILE --as USER [--dry-run] [--json]
shebao bz export FILE
shebao bz convert --month YYYY-MM --as USER [--dry-run] [--json]

养老保障: the 花名册 (layout in ``shebao.pension_security.roster``; the export has full numbers: it is
run at the server) and 到龄转换 of a month."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.benefits.months import MonthError, format_month
from shebao.common.policy import CONSOLE, rule
from shebao.pension_security.permissions import MANAGE, SCHEME
from shebao.pension_security.roster import ROSTER, roster_export_rows, write_roster
from shebao.pension_security.services import BzError, bz_convert
from shebao.registry.roster_import import ImportCommand, add_import_parser, export_command, import_command

MAX_SHOWN = 500
IMPORT_RULE = command_rule("bz import", rule(MANAGE, scheme=SCHEME, note="养老保障经办（BZ）；--dry-run 可不带 --as"))
EXPORT_RULE = command_rule("bz export", CONSOLE)
CONVERT_RULE = command_rule("bz convert", rule(MANAGE, scheme=SCHEME, county=True,
                                               note="养老保障经办（BZ），全市范围；--dry-run 可不带 --as"))

# the roster engine's command body (``shebao.registry.roster_import.import_command``) in our words and JSON
IMPORT = ImportCommand(
    ROSTER, need_user="导入须用 --as 指定经办人；只检查请加 --dry-run", more_errors_note=False, batch_in_done=False,
    progress=False, json=lambda plan, result, dry_run: {
        **plan.summary(), "dry_run": dry_run, "applied": result.applied and bool(plan.changed),
        "batch": result.batch.pk if result.batch else None,
        "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in plan.errors],
    })


class Command(BaseCommand):
    help = "养老保障：花名册导入、导出，到龄转换"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add_import_parser(sub, help="导入花名册（xlsx、xls 或 csv）；--dry-run 只检查，不写入")
        exp = sub.add_parser("export", help="按导入格式导出花名册（扩展名决定 xlsx 或 csv）")
        exp.add_argument("file")
        conv = sub.add_parser("convert", help="到龄转换：转换到该月为止已到转换年龄的人员")
        conv.add_argument("--month", required=True)
        conv.add_argument("--as", dest="as_user")
        conv.add_argument("--dry-run", action="store_true")
        conv.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        return getattr(self, f"_{opts['action']}")(opts)

    def _export(self, opts) -> None:
        export_command(self, opts["file"], rows=roster_export_rows, write=write_roster,
                       done=lambda rows, path: f"已导出 {len({r[0] for r in rows})} 人 {len(rows)} 行 → {path}")

    def _import(self, opts) -> None:
        user = acting_user(opts["as_user"], IMPORT_RULE, scheme=SCHEME)
        import_command(self, opts, IMPORT, user=user)

    def _convert(self, opts) -> None:
        user = acting_user(opts["as_user"], CONVERT_RULE, scheme=SCHEME)
        if user is None and not opts["dry_run"]:
            raise CommandError("到龄转换须用 --as 指定经办人；只列出请加 --dry-run")
        try:
            result = bz_convert(month=opts["month"], user=user, dry_run=opts["dry_run"])
        except MonthError as exc:
            raise CommandError(f"--month：{exc}") from None
        except BzError as exc:
            raise CommandError(str(exc)) from None
        if opts["json"]:
            self.stdout.write(json.dumps({
                "month": format_month(result.month), "dry_run": result.dry_run,
                "converted": [c["id_number"] for c in result.converted],
                "details": [{"id_number": c["id_number"], "name": c["name"], "from_month": c["month"],
                             "before": c["before"], "after": c["after"]} for c in result.converted],
                "skipped": result.skipped,
            }, ensure_ascii=False))
            return
        for c in result.converted[:MAX_SHOWN]:
            self.stdout.write(f"{c['id_number']} {c['name']}：{c['month']} 起 养老金 {c['after']['basic']}")
        for s in result.skipped:
            self.stdout.write(f"未转换 {s['id_number']} {s['name']}：{s['reason']}")
        what = "将转换（未写入）" if result.dry_run else "已转换"
        self.stdout.write(f"{format_month(result.month)} 到龄转换：{what} {len(result.converted)} 人")
