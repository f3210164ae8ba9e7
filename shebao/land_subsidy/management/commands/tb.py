"""shebao tb import FILE --as USER [--dry-run] [--json]
shebao tb export FILE

土保补贴人员 from a file (xlsx / xls / csv; layout in ``shebao.land_subsidy.importing``) and back in the same
layout. The command line exports full numbers (it is run by IT)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.common.jobs import CliProgress
from shebao.common.policy import CONSOLE, rule
from shebao.common.sheets import XlsxWriter
from shebao.land_subsidy.importing import COLUMNS, TbFileError, export_rows
from shebao.land_subsidy.models import SubsidyPerson
from shebao.land_subsidy.permissions import MANAGE
from shebao.land_subsidy.services import TbError, tb_import

MAX_SHOWN = 500

# --as must hold 土保补贴经办 in scheme TB; rows of persons outside the user's towns are errors of the check
# itself. A --dry-run without --as and the export are the operator's (server shell).
IMPORT_RULE = command_rule("tb import", rule(MANAGE, scheme="TB", note="土保补贴经办（TB）；--dry-run 可不带 --as"))
EXPORT_RULE = command_rule("tb export", CONSOLE)


class Command(BaseCommand):
    help = "土保补贴人员：导入、导出"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="导入土保补贴人员（xlsx、xls 或 csv）；--dry-run 只检查，不写入")
        imp.add_argument("file")
        imp.add_argument("--dry-run", action="store_true", help="只检查并显示将发生的变动，不写入")
        imp.add_argument("--as", dest="as_user", help="经办人用户名（导入时必填）")
        imp.add_argument("--json", action="store_true", help="以 JSON 输出结果")
        exp = sub.add_parser("export", help="按导入格式导出土保补贴人员（.xlsx）")
        exp.add_argument("file")

    def handle(self, *args, **opts):
        if opts["action"] == "export":
            return self._export(opts["file"])
        return self._import(opts)

    def _export(self, file_name: str) -> None:
        path = Path(file_name)
        if path.suffix.lower() != ".xlsx":
            raise CommandError("导出文件的扩展名应为 .xlsx")
        rows = export_rows(SubsidyPerson.objects.all())
        with path.open("wb") as fh, XlsxWriter(fh, sheet_name="土保补贴人员", headers=COLUMNS) as w:
            for r in rows:
                w.write_row(r)
        self.stdout.write(f"已导出 {len(rows)} 人 → {path}")

    def _import(self, opts) -> None:
        user = acting_user(opts["as_user"], IMPORT_RULE, scheme="TB")
        if user is None and not opts["dry_run"]:
            raise CommandError("导入须用 --as 指定经办人（写入审计记录）；只检查请加 --dry-run")
        path = Path(opts["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"无法读取文件：{exc}") from None
        progress = CliProgress(self.stderr._out)
        try:
            result = tb_import(file_name=path.name, data=data, user=user, dry_run=opts["dry_run"], progress=progress)
        except (TbFileError, TbError) as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.close()
        plan = result.plan
        if opts["json"]:
            self.stdout.write(json.dumps({
                "ok": plan.ok, "dry_run": opts["dry_run"], "applied": result.applied and bool(result.batch),
                "batch": result.batch.pk if result.batch else None, "summary": plan.summary(),
                "errors": [e.as_dict() for e in plan.errors],
                "changed": [{"row": p.row, "id_number": p.id_number, "text": p.describe()} for p in plan.changed],
            }, ensure_ascii=False))
        else:
            for error in plan.errors[:MAX_SHOWN]:
                self.stdout.write(error.as_text())
            if len(plan.errors) > MAX_SHOWN:
                self.stdout.write(f"……另有 {len(plan.errors) - MAX_SHOWN} 处错误未显示")
        if plan.errors:
            raise CommandError(f"文件有 {len(plan.errors)} 处错误，整个文件未导入，没有写入任何数据")
        if opts["json"]:
            return
        if opts["dry_run"]:
            for pp in plan.changed[:MAX_SHOWN]:
                self.stdout.write(pp.describe())
            self.stdout.write(f"检查通过（未写入）：{plan.summary_text()}")
            return
        batch = f"（批次 {result.batch.pk}）" if result.batch else "（无变动，未写入）"
        self.stdout.write(f"已导入{batch}：{plan.summary_text()}")
        self.stdout.write(f"{result.changed} changed")
