"""Audit trail archive (网络安全法: logs kept ≥ 180 days): stretches of the audit chain written to files,
never deleted from the database (its triggers refuse that anyway), each with the signed checkpoint of its
last row — the same checkpoint file ``shebao audit checkpoint`` writes, so ``shebao audit verify
--checkpoint FILE`` checks the live chain against it, and ``audit_archive_verify`` checks the file itself.

Layout of ``SHEBAO_AUDIT_ARCHIVE_DIR`` (default ``var/audit-archive``), one stretch per run, continuing
where the previous one ended::

    audit-000000000001-000000012345.jsonl.gz            one JSON object per row, in id order (every field
                                                        of the hash, id, prev_hash, hash)
    audit-000000000001-000000012345.checkpoint.json     signed: count of rows up to the last, its id, hash
    audit-000000000001-000000012345.jsonl.gz.sha256     "<sha256>  <file>"
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from shebao.common.audit import (
    GENESIS,
    Checkpoint,
    CheckpointError,
    audit_chain_verify,
    audit_checkpoint_read,
    audit_checkpoint_text,
    audit_event_hash,
)
from shebao.common.models import AuditEvent
from shebao.ops.backups import file_sha256
from shebao.ops.models import AuditArchive

KEEP_DAYS = 180
FIELDS = ["id", "occurred_at", "user_id", "username", "ip", "action", "object_type", "object_id", "person_id",
          "summary", "before", "after", "reason", "prev_hash", "hash"]


class ArchiveError(Exception):
    """A refused or failed archive; ``str()`` is the Chinese message."""


def archive_dir() -> Path:
    return Path(settings.SHEBAO_AUDIT_ARCHIVE_DIR)


def audit_archive(*, before: dt.datetime | None = None, folder: Path | None = None) -> AuditArchive | None:
    """Write the rows after the last archived one that occurred before ``before`` (default: 180 days ago)
    to a new file with their checkpoint. The chain is verified first (an archive vouches for sound rows
    only). None when there is nothing to archive."""
    before = before or timezone.now() - dt.timedelta(days=KEEP_DAYS)
    folder = Path(folder or archive_dir())
    check = audit_chain_verify()
    if not check.ok:
        raise ArchiveError(f"审计链校验未通过，未归档：{check.message}")
    previous = AuditArchive.objects.order_by("-last_id").first()
    start = previous.last_id if previous else 0
    last_id = (AuditEvent.objects.filter(id__gt=start, occurred_at__lt=before).order_by("-id")
               .values_list("id", flat=True).first())
    if last_id is None:
        return None
    events = AuditEvent.objects.filter(id__gt=start, id__lte=last_id).order_by("id")
    first_id = events.values_list("id", flat=True).first()
    stem = f"audit-{first_id:012d}-{last_id:012d}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{stem}.jsonl.gz"
        if path.exists():
            raise ArchiveError(f"归档文件 {path} 已存在，未覆盖")
        rows = 0
        last_hash = GENESIS
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            for row in events.values(*FIELDS).iterator(chunk_size=5000):
                row["occurred_at"] = row["occurred_at"].astimezone(dt.UTC).isoformat()
                fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                rows += 1
                last_hash = row["hash"]
        chain_count = AuditEvent.objects.filter(id__lte=last_id).count()
        cp = Checkpoint(count=chain_count, last_id=last_id, hash=last_hash,
                        taken_at=timezone.now().astimezone(dt.UTC).isoformat())
        (folder / f"{stem}.checkpoint.json").write_text(audit_checkpoint_text(cp), encoding="utf-8")
        digest = file_sha256(path)
        (folder / f"{stem}.jsonl.gz.sha256").write_text(f"{digest}  {path.name}\n", encoding="ascii")
    except OSError as exc:
        raise ArchiveError(f"写入归档文件失败：{exc}") from None
    return AuditArchive.objects.create(
        created_at=timezone.now(), before=before, first_id=first_id, last_id=last_id, rows=rows,
        chain_count=chain_count, last_hash=last_hash, folder=str(folder), file_name=path.name, sha256=digest)


@dataclass
class ArchiveCheck:
    rows: int
    first_id: int
    last_id: int
    message: str


def audit_archive_verify(path: Path, *, against_database: bool = True) -> ArchiveCheck:
    """Check an archive file: its checksum, every row's hash and link, its last row against the signed
    checkpoint beside it, and (``against_database``) that the live chain still holds that checkpoint."""
    path = Path(path)
    stem = path.name.removesuffix(".jsonl.gz")
    side, cp_file = path.with_name(path.name + ".sha256"), path.with_name(f"{stem}.checkpoint.json")
    for needed in (path, side, cp_file):
        if not needed.is_file():
            raise ArchiveError(f"找不到 {needed.name}")
    if side.read_text(encoding="ascii").split()[0] != file_sha256(path):
        raise ArchiveError(f"{path.name} 的校验值与 {side.name} 不符：文件已损坏或被改动")
    try:
        cp = audit_checkpoint_read(cp_file.read_text(encoding="utf-8"), source=cp_file.name)
    except CheckpointError as exc:
        raise ArchiveError(str(exc)) from None
    rows, first_id, prev, last = 0, 0, None, None
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            data = json.loads(line)
            event = AuditEvent(**{k: v for k, v in data.items() if k != "occurred_at"},
                               occurred_at=dt.datetime.fromisoformat(data["occurred_at"]))
            if prev is not None and event.prev_hash != prev:
                raise ArchiveError(f"归档中第 {event.pk} 条记录的前序哈希不符：归档不连续")
            if audit_event_hash(event) != event.hash:
                raise ArchiveError(f"归档中第 {event.pk} 条记录的内容与其哈希不符：记录被改动")
            rows += 1
            first_id = first_id or event.pk
            prev, last = event.hash, event
    if last is None or last.pk != cp.last_id or last.hash != cp.hash:
        raise ArchiveError(f"归档的最后一条记录与{cp.label()}不符")
    message = f"归档完整：第 {first_id}–{last.pk} 条，共 {rows} 条，与其检查点相符"
    if against_database:
        check = audit_chain_verify([cp])
        if not check.ok:
            raise ArchiveError(f"数据库中的审计链与归档的检查点不符：{check.message}")
        message += "；数据库中的审计链仍与该检查点相符"
    return ArchiveCheck(rows, first_id, last.pk, message)
