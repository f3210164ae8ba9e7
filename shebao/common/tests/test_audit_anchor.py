"""The anchored audit chain: what the hash chain alone cannot show — rows cut from its end, an emptied
table, a row changed with every later hash recomputed — is found through the head (kept apart, moved
forward with every append, refused any step back by the database) and exported checkpoints."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from shebao.common.audit import (
    GENESIS,
    _hash_payload,
    audit_chain_verify,
    audit_record,
    audit_record_many,
)
from shebao.common.models import AuditEvent, AuditHead

pytestmark = pytest.mark.django_db


def _events(n=6):
    return [audit_record(user=None, username="t", action="test", object_type="test", summary=f"event {i}")
            for i in range(n)]


def _with_triggers_off(table: str, trigger: str, sql: str, params: list | None = None) -> None:
    """Tamper as someone with the database owner's rights would (the triggers switched off)."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        cursor.execute(sql, params or [])
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def _behind_the_audit_triggers(sql: str, params: list | None = None) -> None:
    _with_triggers_off("common_auditevent", "audit_no_update", sql, params)


def _verify_fails(*args) -> str:
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify", *args)
    assert exc.value.returncode == 1
    return str(exc.value)


def _rewrite_from(event_pk: int, summary: str) -> None:
    """Change one row and recompute its hash and every later row's hash and link (a careful forger)."""
    rows = list(AuditEvent.objects.filter(pk__gte=event_pk).order_by("id"))
    prev = rows[0].prev_hash
    for row in rows:
        if row.pk == event_pk:
            row.summary = summary
        row.prev_hash = prev
        row.hash = _hash_payload(row)
        prev = row.hash
        _behind_the_audit_triggers("UPDATE common_auditevent SET summary = %s, prev_hash = %s, hash = %s WHERE id = %s",
                                   [row.summary, row.prev_hash, row.hash, row.pk])


# ------------------------------------------------------------- the head


def test_head_follows_every_append_in_the_same_transaction():
    start = AuditEvent.objects.count()
    events = _events(2) + audit_record_many([{"user": None, "action": "bulk", "object_type": "test"}] * 3)
    head = AuditHead.objects.get(pk=1)
    assert (head.count, head.last_id, head.hash) == (start + 5, events[-1].pk, events[-1].hash)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(user=None, action="test", object_type="test")
        raise RuntimeError("rolled back")
    assert AuditHead.objects.get(pk=1).count == start + 5


def test_intact_chain_is_still_complete(capsys):
    _events(3)
    count = AuditEvent.objects.count()
    call_command("audit", "verify")
    assert capsys.readouterr().out.strip() == f"审计链完整，共校验 {count} 条记录"


def test_verify_detects_the_last_three_rows_deleted():
    events = _events(6)
    assert audit_chain_verify().ok
    _behind_the_audit_triggers("DELETE FROM common_auditevent WHERE id >= %s", [events[3].pk])
    total = AuditEvent.objects.count()
    assert _verify_fails() == (f"审计链不完整：锚点记录共 {total + 3} 条（最后一条为第 {events[-1].pk} 条），"
                               f"表中只找到 {total} 条相符的记录，末尾的记录被删除")


def test_verify_detects_an_emptied_table():
    events = _events(4)
    count = AuditEvent.objects.count()
    _behind_the_audit_triggers("DELETE FROM common_auditevent")
    assert not AuditEvent.objects.exists()
    assert _verify_fails() == (f"审计链不完整：锚点记录共 {count} 条（最后一条为第 {events[-1].pk} 条），"
                               "表中只找到 0 条相符的记录，末尾的记录被删除")


def test_verify_detects_a_row_changed_with_every_later_hash_recomputed():
    events = _events(5)
    _rewrite_from(events[1].pk, "tampered")
    assert AuditEvent.objects.get(pk=events[1].pk).summary == "tampered"
    assert _verify_fails() == f"审计链被篡改：第 {events[-1].pk} 条记录的哈希与锚点不符，记录被改动后重算了哈希"


def test_a_row_appended_after_the_tail_was_cut_does_not_hide_the_cut():
    events = _events(4)
    _behind_the_audit_triggers("DELETE FROM common_auditevent WHERE id >= %s", [events[2].pk])
    later = audit_record(user=None, action="test", object_type="test", summary="after the cut")
    check = audit_chain_verify()
    assert not check.ok and check.bad_id == later.pk
    assert "不完整" in check.message


@pytest.mark.parametrize("statement", [
    "DELETE FROM common_audithead",
    "UPDATE common_audithead SET count = count - 1",
    "UPDATE common_audithead SET last_id = last_id - 1",
    "UPDATE common_audithead SET hash = repeat('a', 64)",
])
def test_database_refuses_to_move_the_head_backwards_or_delete_it(statement):
    _events(2)
    before = AuditHead.objects.values_list("count", "last_id", "hash").get(pk=1)
    with pytest.raises(DatabaseError, match="审计链锚点只能向前推进，不能删除或回退"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditHead.objects.values_list("count", "last_id", "hash").get(pk=1) == before


def test_a_missing_head_with_rows_left_is_not_complete():
    _events(2)
    _with_triggers_off("common_audithead", "audit_head_forward_only", "DELETE FROM common_audithead")
    assert _verify_fails().startswith("审计链不完整：锚点记录缺失")


# ------------------------------------------------------------- checkpoints


def test_checkpoint_then_verify_against_it(tmp_path, capsys):
    events = _events(3)
    out = tmp_path / "cp1.json"
    call_command("audit", "checkpoint", "--out", str(out))
    count = AuditEvent.objects.count()
    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["count"], data["last_id"], data["hash"]) == (count, events[-1].pk, events[-1].hash)
    assert len(data["hmac"]) == 64 and data["taken_at"]
    assert f"已生成检查点 {out}：共 {count} 条记录" in capsys.readouterr().out
    _events(2)
    call_command("audit", "verify", "--checkpoint", str(out))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"审计链完整，共校验 {count + 2} 条记录"
    assert lines[1].startswith(f"检查点（{out}，") and lines[1].endswith(f"共 {count} 条）与审计链相符")


def test_checkpoint_refuses_to_overwrite_and_refuses_a_broken_chain(tmp_path):
    _, middle, _ = _events(3)
    out = tmp_path / "cp.json"
    out.write_text("keep", encoding="utf-8")
    with pytest.raises(CommandError, match="已存在，未覆盖"):
        call_command("audit", "checkpoint", "--out", str(out))
    assert out.read_text(encoding="utf-8") == "keep"
    _behind_the_audit_triggers("UPDATE common_auditevent SET summary = 'x' WHERE id = %s", [middle.pk])
    other = tmp_path / "cp2.json"
    with pytest.raises(CommandError, match=f"审计链校验未通过，未生成检查点：第 {middle.pk} 条记录的内容与其哈希不符"):
        call_command("audit", "checkpoint", "--out", str(other))
    assert not other.exists()


def test_a_rewrite_that_also_moved_the_head_is_found_by_an_exported_checkpoint(tmp_path):
    """The forger holds the database owner's rights: recomputes every hash and sets the head to match.
    Only the checkpoint kept outside the database still tells."""
    events = _events(5)
    cp = tmp_path / "cp.json"
    call_command("audit", "checkpoint", "--out", str(cp))
    _events(2)
    _rewrite_from(events[1].pk, "tampered")
    last = AuditEvent.objects.order_by("-id").first()
    _with_triggers_off("common_audithead", "audit_head_forward_only",
                       "UPDATE common_audithead SET hash = %s WHERE id = 1", [last.hash])
    call_command("audit", "verify")  # the chain and the head agree: without a checkpoint, nothing shows
    message = _verify_fails("--checkpoint", str(cp))
    assert message.startswith(f"审计链被篡改：第 {events[-1].pk} 条记录的哈希与检查点（{cp}，")
    assert message.endswith("不符，此前的记录被改动后重算了哈希")


def test_a_checkpoint_whose_row_was_cut_is_reported(tmp_path):
    events = _events(4)
    cp = tmp_path / "cp.json"
    call_command("audit", "checkpoint", "--out", str(cp))
    _behind_the_audit_triggers("DELETE FROM common_auditevent WHERE id >= %s", [events[2].pk])
    _with_triggers_off("common_audithead", "audit_head_forward_only",
                       "UPDATE common_audithead SET count = count - 2, last_id = %s, hash = %s WHERE id = 1",
                       [events[1].pk, events[1].hash])
    message = _verify_fails("--checkpoint", str(cp))
    assert message.startswith("审计链被篡改：检查点（") and message.endswith(f"中的第 {events[-1].pk} 条记录已不在审计链中")


def test_a_forged_or_foreign_checkpoint_is_refused(tmp_path):
    _events(2)
    cp = tmp_path / "cp.json"
    call_command("audit", "checkpoint", "--out", str(cp))
    data = json.loads(cp.read_text(encoding="utf-8"))
    data["hash"] = hashlib.sha256(b"other").hexdigest()
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data), encoding="utf-8")
    assert _verify_fails("--checkpoint", str(forged)) == f"{forged} 的签名无效：文件被改动，或签名密钥与生成时不同"
    with override_settings(AUDIT_CHECKPOINT_KEY="another-key"):
        assert _verify_fails("--checkpoint", str(cp)) == f"{cp} 的签名无效：文件被改动，或签名密钥与生成时不同"
    junk = tmp_path / "junk.json"
    junk.write_text("{}", encoding="utf-8")
    assert _verify_fails("--checkpoint", str(junk)) == f"{junk} 不是审计链检查点文件"
    assert _verify_fails("--checkpoint", str(tmp_path / "none.json")).startswith("无法读取检查点文件")


def test_genesis_is_the_empty_chains_hash():
    assert GENESIS == "0" * 64
