"""``shebao audit verify``: recompute the audit trail's hash chain and report the first broken row."""

from django.core.management.base import BaseCommand, CommandError

from shebao.common.audit import audit_chain_verify


class Command(BaseCommand):
    help = "审计日志工具。verify：校验审计链（哈希链）是否完整，被改动或删除的记录会被指出"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", title="子命令", required=True)
        sub.add_parser("verify", help="校验审计链；链断裂时以退出码 1 结束")

    def handle(self, *args, subcommand: str, **options):
        if subcommand == "verify":
            check = audit_chain_verify()
            if not check.ok:
                raise CommandError(check.message, returncode=1)
            self.stdout.write(self.style.SUCCESS(check.message))
