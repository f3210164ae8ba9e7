"""shebao archive load DIR --as USER

The 原遗留养老系统 archive: a legacy system's table dumps (one csv per table) with their data dictionary
(表.csv, 字段.csv, 代码.csv or one xlsx, the warehouse's layout) into the read-only schema ``archive``
(``shebao.archive.loading``). All or nothing. Separate from ``shebao rural import`` (live 老农保 accounts)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.archive.loading import ArchiveError, archive_load
from shebao.archive.permissions import LOAD_RULE

ARCHIVE_LOAD_RULE = command_rule("archive load", LOAD_RULE)


class Command(BaseCommand):
    help = "原遗留养老系统档案：装载旧系统的数据表（只读）"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="装载一个目录：数据字典（表.csv、字段.csv、代码.csv 或 xlsx）和每张表的 <表名>.csv")
        load.add_argument("dir", metavar="DIR")
        load.add_argument("--as", dest="as_user", required=True, help="经办人用户名（须有装载档案的权限，全市范围）")

    def handle(self, *args, **opts):
        user = acting_user(opts["as_user"], ARCHIVE_LOAD_RULE)
        try:
            summary = archive_load(path=Path(opts["dir"]), user=user)
        except ArchiveError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(summary.text())
