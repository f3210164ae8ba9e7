"""The audit trail: every change to a person, an account or money, and every login, is recorded in the
same transaction as the change. Rows are hash-chained: hash = sha256(prev_hash + canonical JSON of the
row), so altering or deleting a row is detectable by ``audit_chain_verify``.

The chain is anchored twice, so that what a chain cannot show by itself — rows cut from its end, an
emptied table, every hash recomputed after a change — is found too:

- the head (``AuditHead``: count, id and hash of the last row), kept in its own table and moved forward
  in the transaction of every append; the database refuses to delete it or move it backwards;
- checkpoints exported to files (``audit_checkpoint_make``: count, last id, hash and time, signed with an
  HMAC of ``AUDIT_CHECKPOINT_KEY`` or else ``SECRET_KEY``), kept away from the database; ``verify
  --checkpoint FILE`` checks that the chain still holds each checkpoint's row with its hash and count."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from shebao.common.context import current_ip
from shebao.common.models import AuditEvent, AuditHead

GENESIS = "0" * 64
_CHAIN_LOCK = 7_301_001  # pg_advisory_xact_lock key that serialises appends to the chain


def _json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The instance's concrete field values as JSON-safe data (FKs as ids), for before/after."""
    data = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        data[field.attname] = _json_safe(getattr(instance, field.attname))
    return data


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys that changed, on both sides."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _hash_payload(event: AuditEvent) -> str:
    payload = {
        "occurred_at": event.occurred_at.astimezone(dt.UTC).isoformat(),
        "user_id": event.user_id,
        "username": event.username,
        "ip": event.ip,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "person_id": event.person_id,
        "summary": event.summary,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
    }
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((event.prev_hash + canonical).encode("utf-8")).hexdigest()


def audit_record(
    *,
    user,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    person_id: int | None = None,
    summary: str = "",
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    ip: str | None = None,
    username: str = "",
) -> AuditEvent:
    """Append one event to the chain. Call inside the transaction that makes the change."""
    spec = {"user": user, "action": action, "obj": obj, "object_type": object_type, "object_id": object_id,
            "person_id": person_id, "summary": summary, "before": before, "after": after, "reason": reason,
            "ip": ip, "username": username}
    return audit_record_many([spec])[0]


def audit_record_many(events: list[dict[str, Any]], *, batch_size: int = 2000) -> list[AuditEvent]:
    """Append many events to the chain in one locked step (one read of the last hash, one INSERT per
    ``batch_size`` rows), in the order given. Each item holds the keywords of ``audit_record``. Call
    inside the transaction that makes the changes: the chain lock is held until it commits."""
    if not events:
        return []
    now = timezone.now()
    default_ip = current_ip()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
            cursor.execute("SELECT hash FROM common_auditevent ORDER BY id DESC LIMIT 1")
            row = cursor.fetchone()
        prev = row[0] if row else GENESIS
        built = []
        for spec in events:
            unknown = set(spec) - _EVENT_KEYS
            if unknown:
                raise TypeError(f"audit_record_many: unknown keys {sorted(unknown)}")
            obj = spec.get("obj")
            object_type = spec.get("object_type", "")
            object_id = spec.get("object_id", "")
            if obj is not None:
                object_type = object_type or obj._meta.label_lower
                object_id = object_id or obj.pk
            user = spec.get("user")
            authenticated = user is not None and getattr(user, "is_authenticated", False)
            before, after, ip = spec.get("before"), spec.get("after"), spec.get("ip")
            event = AuditEvent(
                occurred_at=now,
                user_id=user.pk if authenticated else None,
                username=(user.get_username() if authenticated else spec.get("username", ""))[:150],
                ip=(default_ip if ip is None else ip)[:64],
                action=spec["action"],
                object_type=object_type,
                object_id=str(object_id or ""),
                person_id=spec.get("person_id"),
                summary=spec.get("summary", "")[:300],
                before=_json_safe(before) if before is not None else None,
                after=_json_safe(after) if after is not None else None,
                reason=spec.get("reason", "")[:500],
                prev_hash=prev,
            )
            event.hash = _hash_payload(event)
            prev = event.hash
            built.append(event)
        created = AuditEvent.objects.bulk_create(built, batch_size=batch_size)
        _head_advance(len(created), created[-1].pk, created[-1].hash, now)
        return created


def _head_advance(n: int, last_id: int, last_hash: str, now) -> None:
    """Move the anchor forward by ``n`` rows (same transaction, under the chain lock). The count grows
    from the head's own count, not from the table's: rows removed behind the database's back stay
    missing in every later comparison."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO common_audithead (id, count, last_id, hash, updated_at) VALUES (1, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET count = common_audithead.count + EXCLUDED.count, "
            "last_id = EXCLUDED.last_id, hash = EXCLUDED.hash, updated_at = EXCLUDED.updated_at",
            [n, last_id, last_hash, now],
        )


_EVENT_KEYS = {"user", "action", "obj", "object_type", "object_id", "person_id", "summary", "before", "after",
               "reason", "ip", "username"}


@dataclass
class ChainCheck:
    ok: bool
    checked: int
    bad_id: int | None = None
    message: str = ""
    count: int = 0  # the anchored point (for a checkpoint): rows up to and including last_id
    last_id: int = 0
    hash: str = GENESIS
    notes: list[str] = dc_field(default_factory=list)  # one line per checkpoint that matched


@dataclass(frozen=True)
class Checkpoint:
    """A point of the chain written to a file: ``count`` rows up to row ``last_id`` whose hash is ``hash``."""

    count: int
    last_id: int
    hash: str
    taken_at: str
    source: str = ""  # the file it was read from

    def label(self) -> str:
        where = f"{self.source}，" if self.source else ""
        return f"检查点（{where}{self.taken_at[:19].replace('T', ' ')}，共 {self.count} 条）"


class CheckpointError(Exception):
    """A checkpoint file that cannot be trusted (unreadable, not ours, signature wrong); Chinese message."""


def _head() -> AuditHead | None:
    return AuditHead.objects.filter(pk=1).first()


def audit_chain_verify(checkpoints: list[Checkpoint] | None = None) -> ChainCheck:
    """Recompute every hash in id order and report the first row whose content or link is wrong; then
    compare the chain with its head (rows cut from the end, an emptied table, a rewritten chain) and
    with each exported checkpoint (the row it names must still be there with its hash and its count).

    The head is read before the rows: every row it counts was committed with it, so appends running
    meanwhile are never mistaken for tampering."""
    checkpoints = list(checkpoints or [])
    head = _head()
    wanted = {cp.last_id for cp in checkpoints} | ({head.last_id} if head is not None else set())
    seen: dict[int, tuple[int, str]] = {}  # last_id → (rows up to it, its hash)
    prev = GENESIS
    checked = 0
    last_pk = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=5000):
        if event.prev_hash != prev:
            return ChainCheck(False, checked, event.pk, f"第 {event.pk} 条记录的前序哈希不符：之前的记录被删除或改动")
        if _hash_payload(event) != event.hash:
            return ChainCheck(False, checked, event.pk, f"第 {event.pk} 条记录的内容与其哈希不符：记录被改动")
        prev = event.hash
        checked += 1
        last_pk = event.pk
        if event.pk in wanted:
            seen[event.pk] = (checked, event.hash)

    if head is None:
        if checked:
            return ChainCheck(False, checked, None, f"审计链不完整：锚点记录缺失，无法确认表中 {checked} 条记录之后"
                                                    "是否有记录被删除")
        count, last_id, last_hash = 0, 0, GENESIS
    else:
        count, last_id, last_hash = head.count, head.last_id, head.hash
        if count:
            at = seen.get(last_id)
            if at is None:
                return ChainCheck(False, checked, last_id, f"审计链不完整：锚点记录共 {count} 条（最后一条为第 {last_id} 条），"
                                                           f"表中只找到 {checked} 条相符的记录，末尾的记录被删除")
            if at[1] != last_hash:
                return ChainCheck(False, checked, last_id, f"审计链被篡改：第 {last_id} 条记录的哈希与锚点不符，"
                                                           "记录被改动后重算了哈希")
            if at[0] != count:
                return ChainCheck(False, checked, last_id, f"审计链不完整：锚点记录到第 {last_id} 条为止共 {count} 条，"
                                                           f"表中为 {at[0]} 条")
        if last_pk > last_id:
            later = _head()  # appended while we read: counted by the head as it is now
            if later is None or later.last_id < last_pk:
                return ChainCheck(False, checked, last_pk, f"审计链被篡改：第 {last_pk} 条记录不在锚点记录之内，"
                                                           "记录未经系统写入")
    notes = []
    for cp in checkpoints:
        at = seen.get(cp.last_id) if cp.count else (0, GENESIS)
        if at is None:
            return ChainCheck(False, checked, cp.last_id, f"审计链被篡改：{cp.label()}中的第 {cp.last_id} 条记录已不在审计链中")
        if cp.count and at[1] != cp.hash:
            return ChainCheck(False, checked, cp.last_id, f"审计链被篡改：第 {cp.last_id} 条记录的哈希与{cp.label()}不符，"
                                                          "此前的记录被改动后重算了哈希")
        if at[0] != cp.count:
            return ChainCheck(False, checked, cp.last_id, f"审计链不完整：{cp.label()}到第 {cp.last_id} 条为止共 "
                                                          f"{cp.count} 条，表中为 {at[0]} 条")
        notes.append(f"{cp.label()}与审计链相符")
    return ChainCheck(True, checked, None, f"审计链完整，共校验 {checked} 条记录", count=count, last_id=last_id,
                      hash=last_hash, notes=notes)


# -- checkpoints ------------------------------------------------------------------------------------

_CHECKPOINT_KIND = "shebao-audit-checkpoint"


def _checkpoint_key() -> bytes:
    key = getattr(settings, "AUDIT_CHECKPOINT_KEY", "") or settings.SECRET_KEY
    return key.encode("utf-8")


def _checkpoint_body(cp: Checkpoint) -> dict[str, Any]:
    return {"kind": _CHECKPOINT_KIND, "version": 1, "count": cp.count, "last_id": cp.last_id, "hash": cp.hash,
            "taken_at": cp.taken_at}


def _sign(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hmac.new(_checkpoint_key(), canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def audit_checkpoint_make() -> tuple[Checkpoint, str]:
    """Verify the chain, then the checkpoint of its anchored end and the signed file text (JSON).
    Raises ``CheckpointError`` when the chain does not verify: a checkpoint vouches only for a sound chain."""
    check = audit_chain_verify()
    if not check.ok:
        raise CheckpointError(f"审计链校验未通过，未生成检查点：{check.message}")
    cp = Checkpoint(count=check.count, last_id=check.last_id, hash=check.hash,
                    taken_at=timezone.now().astimezone(dt.UTC).isoformat())
    return cp, audit_checkpoint_text(cp)


def audit_checkpoint_text(cp: Checkpoint) -> str:
    """The signed file text (JSON) of a checkpoint, as ``audit_checkpoint_read`` reads it back: the chain's
    end here, the end of an archived stretch in ``shebao.ops.archive``."""
    body = _checkpoint_body(cp)
    return json.dumps(body | {"hmac": _sign(body)}, ensure_ascii=False, indent=2) + "\n"


def audit_event_hash(event: AuditEvent) -> str:
    """The hash an event must carry (its ``prev_hash`` and content): for checking archived rows."""
    return _hash_payload(event)


def audit_checkpoint_read(text: str, *, source: str = "") -> Checkpoint:
    """The checkpoint in a file's text once its signature holds; ``CheckpointError`` otherwise."""
    name = source or "检查点文件"
    try:
        data = json.loads(text)
        body = {k: data[k] for k in ("kind", "version", "count", "last_id", "hash", "taken_at")}
        signature = str(data["hmac"])
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{name} 不是审计链检查点文件") from None
    if body["kind"] != _CHECKPOINT_KIND:
        raise CheckpointError(f"{name} 不是审计链检查点文件")
    if not hmac.compare_digest(_sign(body), signature):
        raise CheckpointError(f"{name} 的签名无效：文件被改动，或签名密钥与生成时不同")
    return Checkpoint(count=int(body["count"]), last_id=int(body["last_id"]), hash=str(body["hash"]),
                      taken_at=str(body["taken_at"]), source=source)
