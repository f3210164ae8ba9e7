"""shebao zg import FILE [--dry-run] [--as USER]
shebao zg export FILE

The 自管人员 花名册 (roster) with items and accounts, xlsx / xls / csv; layout in
``shebao.self_managed.roster``. The command line exports full numbers (it is run by IT)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from shebao.accounts.cli import acting_user, command_rule
from shebao.common.policy import CONSOLE, rule
from shebao.registry.roster_import import ImportCommand, add_import_parser, export_command, import_command
from shebao.self_managed.permissions import MANAGE
from shebao.self_managed.roster import roster_export_rows, write_roster
from shebao.self_managed.services import ROSTER

# --as must hold 经办 of 自管人员 in scheme ZG; rows of persons outside the user's towns are refused by
# the roster check itself. A --dry-run without --as and the export are the operator's (server shell).
IMPORT_RULE = command_rule("zg import", rule(MANAGE, scheme="ZG", note="自管人员经办（ZG）；--dry-run 可不带 --as"))
EXPORT_RULE = command_rule("zg export", CONSOLE)


class Command(BaseCommand):
    help = "自管人员：花名册导入、导出"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add_import_parser(sub, help="导入花名册（xlsx、xls 或 csv）；--dry-run 只检查，不写入", json=False)
        exp = sub.add_parser("export", help="按导入格式导出花名册（扩展名决定 xlsx 或 csv）")
        exp.add_argument("file")

    def handle(self, *args, **opts):
        if opts["action"] == "export":
            return self._export(opts["file"])
        return self._import(opts)

    def _export(self, file_name: str) -> None:
        export_command(self, file_name, rows=roster_export_rows, write=write_roster,
                       done=lambda rows, path: f"已导出 {len({r[0] for r in rows})} 人 {len(rows)} 行 → {path}")

    def _import(self, opts) -> None:
        user = acting_user(opts["as_user"], IMPORT_RULE, scheme="ZG")
        import_command(self, opts, IMPORT, user=user)


def _describe(pp) -> str:
    parts = []
    if pp.new_person:
        parts.append("新增人员")
    if pp.new_enrollment:
        parts.append(f"纳入自管人员（{pp.start_month:%Y-%m} 起）")
    if pp.person_changes:
        parts.append("信息变更：" + "、".join(pp.person_changes))
    if pp.account:
        parts.append("账户变更")
    if pp.service_years is not None and not pp.new_enrollment:
        parts.append(f"工龄 {pp.service_years_before} → {pp.service_years}")
    for c in pp.items:
        old = "新增" if c.old_amount is None else f"{c.old_amount} →"
        parts.append(f"{c.item.name} {old} {c.amount}（{c.from_month:%Y-%m} 起）")
    return f"第 {pp.rows[0]} 行 {pp.name}：{'；'.join(parts)}"


# the roster engine's command body (``shebao.registry.roster_import.import_command``) in our words
IMPORT = ImportCommand(ROSTER, need_user="导入须用 --as 指定经办人（写入审计和发放状态记录）；只检查请加 --dry-run",
                       describe=_describe)
