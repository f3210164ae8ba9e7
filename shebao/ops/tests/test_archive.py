"""Audit archive: rows older than the cut-off go to a file with the signed checkpoint of their last row; the
rows stay in the database; the next archive continues where the last ended; the file verifies by itself and
the live chain still verifies against its checkpoint; a changed file or a tampered chain is found."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from shebao.common.audit import audit_chain_verify, audit_checkpoint_read, audit_record
from shebao.common.models import AuditEvent
from shebao.ops.archive import ArchiveError, audit_archive, audit_archive_verify
from shebao.ops.models import AuditArchive

pytestmark = pytest.mark.django_db


def _events(n: int, label: str):
    return [audit_record(user=None, action="test", object_type="test", summary=f"{label} {i}",
                         after={"amount": "12.34", "n": i}) for i in range(n)]


def test_archive_keeps_rows_and_chains_across_stretches(tmp_path):
    old = _events(3, "旧")
    cut = timezone.now() + dt.timedelta(seconds=1)
    total_before = AuditEvent.objects.count()
    first = audit_archive(before=cut, folder=tmp_path)
    assert (first.first_id, first.last_id, first.rows) == (AuditEvent.objects.order_by("id").first().pk,
                                                           old[-1].pk, total_before)
    assert AuditEvent.objects.count() == total_before  # archived, never deleted
    path = tmp_path / first.file_name
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = [json.loads(x) for x in fh]
    assert [x["summary"] for x in lines[-3:]] == ["旧 0", "旧 1", "旧 2"] and lines[-1]["hash"] == old[-1].hash
    cp = audit_checkpoint_read((tmp_path / first.file_name.replace(".jsonl.gz", ".checkpoint.json")).read_text())
    assert (cp.last_id, cp.hash, cp.count) == (old[-1].pk, old[-1].hash, total_before)
    assert audit_chain_verify([cp]).ok  # the live chain still verifies across the archive's checkpoint

    assert audit_archive(before=cut, folder=tmp_path) is None  # nothing new before the cut
    new = _events(2, "新")
    second = audit_archive(before=timezone.now() + dt.timedelta(seconds=1), folder=tmp_path)
    assert second.first_id == old[-1].pk + 1 and second.last_id == new[-1].pk and second.rows == 2
    check = audit_archive_verify(tmp_path / second.file_name)
    assert check.message == (f"归档完整：第 {second.first_id}–{second.last_id} 条，共 2 条，与其检查点相符；"
                             "数据库中的审计链仍与该检查点相符")
    assert AuditArchive.objects.count() == 2


def test_a_changed_archive_or_a_tampered_chain_is_found(tmp_path):
    events = _events(3, "事件")
    done = audit_archive(before=timezone.now() + dt.timedelta(seconds=1), folder=tmp_path)
    path = tmp_path / done.file_name
    audit_archive_verify(path)
    # the database changed behind the triggers' back: the archive's checkpoint no longer matches
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE common_auditevent DISABLE TRIGGER audit_no_update")
        cursor.execute("UPDATE common_auditevent SET summary = 'tampered' WHERE id = %s", [events[1].pk])
        cursor.execute("ALTER TABLE common_auditevent ENABLE TRIGGER audit_no_update")
    with pytest.raises(ArchiveError, match="数据库中的审计链与归档的检查点不符"):
        audit_archive_verify(path)
    assert audit_archive_verify(path, against_database=False).rows == done.rows  # the file itself is sound
    with pytest.raises(ArchiveError, match="审计链校验未通过，未归档"):
        audit_archive(before=timezone.now(), folder=tmp_path / "more")
    # the file changed (and its checksum recomputed): the row's own hash tells
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    row = json.loads(lines[-1])
    row["summary"] = "改过"
    lines[-1] = json.dumps(row, ensure_ascii=False, sort_keys=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    from shebao.ops.backups import file_sha256

    (tmp_path / f"{done.file_name}.sha256").write_text(f"{file_sha256(path)}  {done.file_name}\n")
    with pytest.raises(ArchiveError, match=f"归档中第 {events[-1].pk} 条记录的内容与其哈希不符"):
        audit_archive_verify(path, against_database=False)


def test_commands(tmp_path):
    _events(2, "命令")
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    out = io.StringIO()
    call_command("ops", "audit-archive", "--before", tomorrow, "--out", str(tmp_path), stdout=out)
    assert "记录仍保留在数据库中" in out.getvalue()
    done = AuditArchive.objects.get()
    out = io.StringIO()
    call_command("ops", "audit-archive-verify", str(tmp_path / done.file_name), stdout=out)
    assert out.getvalue().startswith("归档完整：")
    with pytest.raises(CommandError, match="--before 应为日期 YYYY-MM-DD"):
        call_command("ops", "audit-archive", "--before", "昨天", stdout=io.StringIO())
    out = io.StringIO()
    call_command("ops", "audit-archive", stdout=out)  # 180 days ago: nothing that old
    assert out.getvalue().strip() == "没有需要归档的审计记录"
