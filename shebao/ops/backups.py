"""Database backups: ``pg_dump -Fc`` with the server's own major version (``pgtools``), a ``.sha256``
beside each file (``sha256sum -c`` reads it), a retention policy, and the restore into an empty database.

Layout of ``SHEBAO_BACKUP_DIR`` (default ``var/backups``)::

    shebao-20260102-023000.dump          pg_dump custom format (restore with shebao ops restore FILE)
    shebao-20260102-023000.dump.sha256   "<sha256>  shebao-20260102-023000.dump"

Retention: good backups older than ``SHEBAO_BACKUP_KEEP_DAYS`` (30) are deleted, but the newest
``SHEBAO_BACKUP_KEEP_MIN`` (7) good ones are always kept; a failed run's partial file is deleted at once.
Every run is a ``Backup`` row, kept after its file is gone (``removed_at``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from django.utils import timezone

from shebao.ops.models import Backup
from shebao.ops.pgtools import PgToolError, Target, current_target, find_program, server_major

CHUNK = 1 << 20


class BackupError(Exception):
    """A refused or failed backup/restore; ``str()`` is the Chinese message."""


def backup_dir() -> Path:
    return Path(settings.SHEBAO_BACKUP_DIR)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def backup_create(*, trigger: str = "手动", now: dt.datetime | None = None) -> Backup:
    """Dump the configured database into ``SHEBAO_BACKUP_DIR`` with the matching pg_dump, write its
    checksum file, then apply the retention policy. The row says 成功 or 失败 with the reason; a failure
    raises ``BackupError`` after it is recorded."""
    now = now or timezone.now()
    folder = backup_dir()
    record = Backup.objects.create(started_at=timezone.now(), trigger=trigger, folder=str(folder))
    partial: Path | None = None
    try:
        major, version = server_major()
        record.server_version = version
        program = find_program("pg_dump", major)
        record.pg_dump = str(program)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"无法创建备份目录 {folder}：{exc.strerror}") from None
        stem = f"shebao-{timezone.localtime(now):%Y%m%d-%H%M%S}"
        name, n = f"{stem}.dump", 1
        while (folder / name).exists():  # two backups in one second: never overwrite
            n += 1
            name = f"{stem}-{n}.dump"
        path = folder / name
        partial = path.with_name(name + ".partial")
        target = current_target()
        proc = subprocess.run([str(program), "--format=custom", "--no-password", "--file", str(partial),
                               *target.args()], capture_output=True, text=True, env=target.env())
        if proc.returncode != 0:
            raise BackupError(f"pg_dump 失败（退出码 {proc.returncode}）：{proc.stderr.strip()[:1000]}")
        partial.rename(path)
        partial = None
        digest = file_sha256(path)
        (folder / f"{name}.sha256").write_text(f"{digest}  {name}\n", encoding="ascii")
        record.file_name, record.sha256, record.size = name, digest, path.stat().st_size
        record.status = Backup.Status.OK
        removed = backup_retention_apply(now=now, keep_also=record.pk)
        record.message = f"已备份 {record.size:,} 字节" + (f"；按保留策略删除 {removed} 个旧备份" if removed else "")
    except (BackupError, PgToolError) as exc:
        record.status, record.message = Backup.Status.FAILED, str(exc)
    except OSError as exc:
        record.status, record.message = Backup.Status.FAILED, f"写入备份文件失败：{exc}"
    finally:
        if partial is not None and partial.exists():
            partial.unlink()
        record.finished_at = timezone.now()
        record.save()
    if record.status == Backup.Status.FAILED:
        raise BackupError(record.message)
    return record


def backup_retention_apply(*, now: dt.datetime | None = None, keep_also: int | None = None) -> int:
    """Delete the files of good backups older than ``SHEBAO_BACKUP_KEEP_DAYS``, never the newest
    ``SHEBAO_BACKUP_KEEP_MIN``; returns how many were deleted (their rows get ``removed_at``)."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.SHEBAO_BACKUP_KEEP_DAYS)
    good = list(Backup.objects.filter(status=Backup.Status.OK, removed_at__isnull=True).order_by("-started_at", "-id"))
    keep = {b.pk for b in good[: settings.SHEBAO_BACKUP_KEEP_MIN]} | ({keep_also} if keep_also else set())
    removed = 0
    for b in good:
        if b.pk in keep or b.started_at >= cutoff:
            continue
        for path in (Path(b.folder) / b.file_name, Path(b.folder) / f"{b.file_name}.sha256"):
            path.unlink(missing_ok=True)
        Backup.objects.filter(pk=b.pk).update(removed_at=now)
        removed += 1
    return removed


def last_good_backup() -> Backup | None:
    return Backup.objects.filter(status=Backup.Status.OK).order_by("-finished_at", "-id").first()


# -- restore --------------------------------------------------------------------------------------------

def checksum_verify(path: Path) -> str:
    """The file's sha256 when it equals its ``.sha256`` file's; ``BackupError`` otherwise."""
    side = path.with_name(path.name + ".sha256")
    if not side.is_file():
        raise BackupError(f"找不到校验文件 {side.name}：无法确认备份文件完整（确认无误后可加 --no-checksum）")
    try:
        wanted = side.read_text(encoding="ascii").split()[0].lower()
    except (OSError, UnicodeDecodeError, IndexError):
        raise BackupError(f"校验文件 {side.name} 无法读取") from None
    actual = file_sha256(path)
    if actual != wanted:
        raise BackupError(f"备份文件 {path.name} 的校验值与 {side.name} 不符：文件已损坏或被改动，拒绝恢复")
    return actual


def _user_relations(target: Target) -> int:
    try:
        with psycopg.connect(**target.connect_kwargs(), connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
                "AND n.nspname NOT LIKE 'pg_temp%%'").fetchone()
    except psycopg.OperationalError as exc:
        raise BackupError(f"无法连接目标数据库 {target.name}：{str(exc).strip()[:300]}") from None
    return int(row[0])


@dataclass
class RestoreResult:
    database: str
    file: Path
    sha256: str


def backup_restore(*, path: Path, database: str | None = None, check: bool = True) -> RestoreResult:
    """Restore a backup into an EMPTY database (the configured one, or ``database`` on the same server),
    in one transaction (``pg_restore --single-transaction --exit-on-error``): a failure leaves it empty.
    A database holding any table, view or sequence is refused — a restore never merges into live data."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"找不到备份文件 {path}")
    digest = checksum_verify(path) if check else ""
    target = current_target(database)
    existing = _user_relations(target)
    if existing:
        raise BackupError(f"目标数据库 {target.name} 不是空的（已有 {existing} 个表、视图或序列），拒绝恢复："
                          "恢复只能写入新建的空数据库，请先创建空数据库并将 DATABASE_URL 指向它")
    major, _version = server_major()
    program = find_program("pg_restore", major)
    proc = subprocess.run([str(program), "--no-password", "--single-transaction", "--exit-on-error", "--no-owner",
                           *target.args(), str(path)], capture_output=True, text=True, env=target.env())
    if proc.returncode != 0:
        raise BackupError(f"pg_restore 失败（退出码 {proc.returncode}），目标数据库未写入："
                          f"{proc.stderr.strip()[:1000]}")
    return RestoreResult(database=target.name, file=path, sha256=digest)


def database_fingerprint(database: str | None = None) -> dict[str, dict[str, str]]:
    """Per table of the public schema: its row count and the total of every money column (numeric with
    two decimals), as text — compared before and after a restore (the drill)."""
    target = current_target(database)
    out: dict[str, dict[str, str]] = {}
    with psycopg.connect(**target.connect_kwargs()) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE' ORDER BY table_name")]
        money = {}
        for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND data_type = 'numeric' AND numeric_scale = 2 ORDER BY table_name, ordinal_position"):
            money.setdefault(table, []).append(column)
        for table in tables:
            cols = money.get(table, [])
            select = ", ".join(["count(*)"] + [f'COALESCE(sum("{c}"), 0)' for c in cols])
            row = conn.execute(f'SELECT {select} FROM "{table}"').fetchone()
            out[table] = {"rows": str(row[0])} | {c: str(v) for c, v in zip(cols, row[1:], strict=True)}
    return out
