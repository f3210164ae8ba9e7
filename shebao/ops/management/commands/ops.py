"""shebao ops backup
shebao ops restore FILE [--database NAME] [--no-checksum]
shebao ops inspect [--out FILE] [--json]
shebao ops probe
shebao ops audit-archive [--before YYYY-MM-DD] [--out DIR]
shebao ops audit-archive-verify FILE

互联网络和安全 at the server's console (the operator's commands: no --as). ``backup`` dumps the configured
database into ``SHEBAO_BACKUP_DIR``; ``restore`` writes a backup into an EMPTY database (the configured
one, or ``--database`` on the same server) and refuses any other; ``inspect`` runs the inspection, keeps
it in the history and prints it (text, or the JSON of ``shebao.ops.inspection``), ``--out`` writes it
to a file too (``.pdf`` → the printable report); ``probe`` probes the link targets that are due;
``audit-archive`` writes the audit rows older than 180 days (or ``--before``) not yet archived to a file
with their signed checkpoint (rows are never deleted), ``audit-archive-verify`` checks such a file."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import command_rule
from shebao.common.policy import CONSOLE

BACKUP_RULE = command_rule("ops backup", CONSOLE)
RESTORE_RULE = command_rule("ops restore", CONSOLE)
INSPECT_RULE = command_rule("ops inspect", CONSOLE)
PROBE_RULE = command_rule("ops probe", CONSOLE)
ARCHIVE_RULE = command_rule("ops audit-archive", CONSOLE)
ARCHIVE_VERIFY_RULE = command_rule("ops audit-archive-verify", CONSOLE)


class Command(BaseCommand):
    help = "互联网络和安全：备份、恢复、巡检、链路探测"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("backup", help="备份数据库到 SHEBAO_BACKUP_DIR（pg_dump 自定义格式 + .sha256），并执行保留策略")
        restore = sub.add_parser("restore", help="把备份恢复到一个空数据库（非空则拒绝）")
        restore.add_argument("file")
        restore.add_argument("--database", help="恢复到同一服务器上的这个数据库（须为空），默认为配置的数据库")
        restore.add_argument("--no-checksum", action="store_true", help="不核对 .sha256 校验文件（文件缺失时）")
        inspect = sub.add_parser("inspect", help="巡检：打印报告并保存到历史")
        inspect.add_argument("--out", help="同时写入文件（扩展名 .pdf 为打印版，.json 或 --json 为 JSON，其余为文本）")
        inspect.add_argument("--json", action="store_true", help="以 JSON 输出")
        sub.add_parser("probe", help="链路监测：立即探测到期的目标")
        archive = sub.add_parser("audit-archive", help="把 180 天前（或 --before 之前）尚未归档的审计记录写入归档文件（不删除）")
        archive.add_argument("--before", help="归档此日期（YYYY-MM-DD，本地时间 0 点）之前的记录")
        archive.add_argument("--out", help="归档目录，默认 SHEBAO_AUDIT_ARCHIVE_DIR")
        verify = sub.add_parser("audit-archive-verify", help="核对归档文件：校验值、逐条哈希、检查点签名及数据库中的审计链")
        verify.add_argument("file")

    def handle(self, *args, **opts):
        getattr(self, f"_{opts['action'].replace('-', '_')}")(opts)

    def _backup(self, opts) -> None:
        from shebao.ops.backups import BackupError, backup_create

        try:
            record = backup_create(trigger="手动")
        except BackupError as exc:
            raise CommandError(f"备份失败：{exc}") from None
        self.stdout.write(f"已备份 → {Path(record.folder) / record.file_name}（{record.size:,} 字节，"
                          f"sha256 {record.sha256}，PostgreSQL {record.server_version}）")
        if "删除" in record.message:
            self.stdout.write(record.message)

    def _restore(self, opts) -> None:
        from shebao.ops.backups import BackupError, backup_restore
        from shebao.ops.pgtools import PgToolError

        try:
            result = backup_restore(path=Path(opts["file"]), database=opts["database"],
                                    check=not opts["no_checksum"])
        except (BackupError, PgToolError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"已将 {result.file.name} 恢复到数据库 {result.database}"
                          + (f"（校验值 {result.sha256} 相符）" if result.sha256 else "")
                          + "。请运行 shebao migrate 确认结构为最新，再运行 shebao audit verify")

    def _inspect(self, opts) -> None:
        from shebao.ops.inspection import inspection_run, report_json, report_pdf, report_text

        report = inspection_run(trigger="命令行")
        as_json = opts["json"] or (opts["out"] or "").lower().endswith(".json")
        text = json.dumps(report_json(report), ensure_ascii=False, indent=2) + "\n" if as_json else report_text(report)
        if opts["out"]:
            out = Path(opts["out"])
            try:
                if out.suffix.lower() == ".pdf":
                    out.write_bytes(report_pdf(report))
                else:
                    out.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"无法写入 {out}：{exc.strerror}") from None
        self.stdout.write(text, ending="")

    def _probe(self, opts) -> None:
        from shebao.ops.links import links_probe_due

        probes = links_probe_due()
        for p in probes:
            self.stdout.write(f"{p.target.name}：{'成功' if p.ok else '失败'} {p.latency_ms or '-'} ms {p.message}")
        if not probes:
            self.stdout.write("没有到期的目标")

    def _audit_archive(self, opts) -> None:
        import datetime as dt

        from django.utils import timezone

        from shebao.ops.archive import ArchiveError, audit_archive

        before = None
        if opts["before"]:
            try:
                day = dt.date.fromisoformat(opts["before"])
            except ValueError:
                raise CommandError(f"--before 应为日期 YYYY-MM-DD，而不是“{opts['before']}”") from None
            before = timezone.make_aware(dt.datetime.combine(day, dt.time()))
        try:
            done = audit_archive(before=before, folder=Path(opts["out"]) if opts["out"] else None)
        except ArchiveError as exc:
            raise CommandError(str(exc)) from None
        if done is None:
            self.stdout.write("没有需要归档的审计记录")
            return
        self.stdout.write(f"已归档第 {done.first_id}–{done.last_id} 条审计记录（{done.rows} 条）→ "
                          f"{Path(done.folder) / done.file_name}；记录仍保留在数据库中")

    def _audit_archive_verify(self, opts) -> None:
        from shebao.ops.archive import ArchiveError, audit_archive_verify

        try:
            check = audit_archive_verify(Path(opts["file"]))
        except ArchiveError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(check.message)
