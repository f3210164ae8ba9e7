"""shebao tb import FILE --as USER [--dry-run] [--json]
shebao tb export FILE

土保补贴人员 from a file (xlsx / xls / csv; layout in ``shebao.land_subsidy.importing``) and back in the same
layout. The command line exports full numbers (it is run by IT)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from shebao.accounts.cli import acting_user, command_rule
from shebao.common.policy import CONSOLE, rule
from shebao.land_subsidy.importing import export_rows, write_rows
from shebao.land_subsidy.models import SubsidyPerson
from shebao.land_subsidy.permissions import MANAGE
from shebao.land_subsidy.services import TB_IMPORT
from shebao.registry.roster_import import ImportCommand, add_import_parser, export_command, import_command

# --as must hold 土保补贴经办 in scheme TB; rows of persons outside the user's towns are errors of the check
# itself. A --dry-run without --as and the export are the operator's (server shell).
IMPORT_RULE = command_rule("tb import", rule(MANAGE, scheme="TB", note="土保补贴经办（TB）；--dry-run 可不带 --as"))
EXPORT_RULE = command_rule("tb export", CONSOLE)

# the roster engine's command body (``shebao.registry.roster_import.import_command``) in our words and JSON
IMPORT = ImportCommand(
    TB_IMPORT, need_user="导入须用 --as 指定经办人（写入审计记录）；只检查请加 --dry-run",
    describe=lambda pp: pp.describe(), json=lambda plan, result, dry_run: {
        "ok": plan.ok, "dry_run": dry_run, "applied": result.applied and bool(result.batch),
        "batch": result.batch.pk if result.batch else None, "summary": plan.summary(),
        "errors": [e.as_dict() for e in plan.errors],
        "changed": [{"row": p.row, "id_number": p.id_number, "text": p.describe()} for p in plan.changed],
    })


class Command(BaseCommand):
    help = "土保补贴人员：导入、导出"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add_import_parser(sub, help="导入土保补贴人员（xlsx、xls 或 csv）；--dry-run 只检查，不写入")
        exp = sub.add_parser("export", help="按导入格式导出土保补贴人员（.xlsx）")
        exp.add_argument("file")

    def handle(self, *args, **opts):
        if opts["action"] == "export":
            return self._export(opts["file"])
        return self._import(opts)

    def _export(self, file_name: str) -> None:
        export_command(self, file_name, rows=lambda: export_rows(SubsidyPerson.objects.all()), write=write_rows,
                       formats=("xlsx",), done=lambda rows, path: f"已导出 {len(rows)} 人 → {path}")

    def _import(self, opts) -> None:
        user = acting_user(opts["as_user"], IMPORT_RULE, scheme="TB")
        import_command(self, opts, IMPORT, user=user)
