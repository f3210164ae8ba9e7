"""``shebao audit verify [--checkpoint FILE ...]``: recompute the audit trail's hash chain, compare it with
its head (the anchor kept apart from it) and with exported checkpoints, and report the first break.
``shebao audit checkpoint --out FILE``: verify, then write a signed checkpoint of the chain's end to FILE
(keep it away from the database: on another machine, on paper, in the 信息科's archive)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import command_rule
from shebao.common.audit import (
    CheckpointError,
    audit_chain_verify,
    audit_checkpoint_make,
    audit_checkpoint_read,
)
from shebao.common.policy import CONSOLE

VERIFY_RULE = command_rule("audit verify", CONSOLE)
CHECKPOINT_RULE = command_rule("audit checkpoint", CONSOLE)


class Command(BaseCommand):
    help = ("审计日志工具。verify：校验审计链（哈希链、锚点与检查点）是否完整，被改动或删除的记录会被指出；"
            "checkpoint：生成带签名的检查点文件")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", title="子命令", required=True)
        verify = sub.add_parser("verify", help="校验审计链；链断裂、末尾记录被删除或与检查点不符时以退出码 1 结束")
        verify.add_argument("--checkpoint", nargs="+", default=[], metavar="FILE",
                            help="同时核对这些检查点文件（shebao audit checkpoint 生成）")
        checkpoint = sub.add_parser("checkpoint", help="校验审计链后，把链末端（条数、哈希、时间）写成带签名的检查点文件")
        checkpoint.add_argument("--out", required=True, metavar="FILE", help="检查点文件路径（已存在则拒绝覆盖）")

    def handle(self, *args, subcommand: str, **options):
        if subcommand == "verify":
            self._verify(options["checkpoint"])
        elif subcommand == "checkpoint":
            self._checkpoint(options["out"])

    def _verify(self, files: list[str]) -> None:
        checkpoints = []
        for name in files:
            try:
                text = Path(name).read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"无法读取检查点文件 {name}：{exc.strerror or exc}", returncode=1) from None
            try:
                checkpoints.append(audit_checkpoint_read(text, source=name))
            except CheckpointError as exc:
                raise CommandError(str(exc), returncode=1) from None
        check = audit_chain_verify(checkpoints)
        if not check.ok:
            raise CommandError(check.message, returncode=1)
        self.stdout.write(self.style.SUCCESS(check.message))
        for note in check.notes:
            self.stdout.write(note)

    def _checkpoint(self, out: str) -> None:
        path = Path(out)
        if path.exists():
            raise CommandError(f"文件 {out} 已存在，未覆盖", returncode=1)
        try:
            cp, text = audit_checkpoint_make()
        except CheckpointError as exc:
            raise CommandError(str(exc), returncode=1) from None
        try:
            with path.open("x", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise CommandError(f"无法写入检查点文件 {out}：{exc.strerror or exc}", returncode=1) from None
        self.stdout.write(self.style.SUCCESS(
            f"已生成检查点 {out}：共 {cp.count} 条记录，最后一条为第 {cp.last_id} 条，哈希 {cp.hash}"))
