"""The audit trail: every change to a person, an account or money, and every login, is recorded in the
same transaction as the change. Rows are hash-chained: hash = sha256(prev_hash + canonical JSON of the
row), so altering or deleting a row is detectable by ``audit_chain_verify``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from shebao.common.context import current_ip
from shebao.common.models import AuditEvent

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
        return AuditEvent.objects.bulk_create(built, batch_size=batch_size)


_EVENT_KEYS = {"user", "action", "obj", "object_type", "object_id", "person_id", "summary", "before", "after",
               "reason", "ip", "username"}


@dataclass
class ChainCheck:
    ok: bool
    checked: int
    bad_id: int | None = None
    message: str = ""


def audit_chain_verify() -> ChainCheck:
    """Recompute every hash in id order; report the first row whose content or link is wrong."""
    prev = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=5000):
        if event.prev_hash != prev:
            return ChainCheck(False, checked, event.pk, f"第 {event.pk} 条记录的前序哈希不符：之前的记录被删除或改动")
        if _hash_payload(event) != event.hash:
            return ChainCheck(False, checked, event.pk, f"第 {event.pk} 条记录的内容与其哈希不符：记录被改动")
        prev = event.hash
        checked += 1
    return ChainCheck(True, checked, None, f"审计链完整，共校验 {checked} 条记录")
