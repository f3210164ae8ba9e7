"""批量数据处理: a file of basic-data corrections, one per row — ``身份证号``, ``字段``, ``新值`` (header
row first, any column order; an optional ``姓名`` column must match the register).

Upload checks every row at once (persons looked up in one query, in the uploader's towns) and keeps the
result: each row's person, current → new value, or its error. Another user approves (the same CHECK
``decided_by <> proposed_by`` as a single request): the clean rows are applied in ONE transaction through
``registry.services.person_update`` (one audit event per row, reason naming the batch and its line).
Nothing applies while any row is in error unless the approver ticks 只更正无误的行 (clean rows only);
a value changed by someone else since the upload refuses the whole approval. A row whose new value is
the current one is 无变动 (neither an error nor applied). At most ``MAX_ROWS`` rows a file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from shebao.common import policy
from shebao.common.identity import IdNumberError, parse_id_number
from shebao.common.safefile import FileRefused, Limits, MiB, read_table
from shebao.maintenance.models import CorrectionBatch
from shebao.maintenance.services import (
    PERSON_FIELDS,
    CorrectionError,
    Target,
    current_value,
    parse_new_value,
)
from shebao.registry.models import Person
from shebao.registry.services import RegistryError, person_update

MAX_ROWS = 2000
BATCH_LIMITS = Limits(max_bytes=5 * MiB, max_rows=MAX_ROWS)
COLUMNS = ("身份证号", "字段", "新值")
FIELD_BY_NAME = {**{label: code for code, label in PERSON_FIELDS.items()}, **{c: c for c in PERSON_FIELDS}}
State = CorrectionBatch.State

OK, UNCHANGED, ERROR, APPLIED = "ok", "unchanged", "error", "applied"
STATUS_LABELS = {OK: "待更正", UNCHANGED: "无变动", ERROR: "错误", APPLIED: "已更正"}


@dataclass
class BatchRow:
    line: int
    id_number: str
    field: str
    new: str
    name: str = ""
    person_id: int | None = None
    current: str = ""
    status: str = OK
    error: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _check_rows(user, rows: list[list[str]]) -> list[BatchRow]:
    header = [h.strip() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CorrectionError(f"文件缺少列：{'、'.join(missing)}（第一行应为列名：身份证号、字段、新值，可加姓名）")
    ix = {c: header.index(c) for c in (*COLUMNS, "姓名") if c in header}

    def cell(r, col):
        i = ix.get(col)
        return (r[i] if i is not None and i < len(r) else "").strip()

    out: list[BatchRow] = []
    numbers = []
    for n, r in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in r):
            continue
        row = BatchRow(line=n, id_number=cell(r, "身份证号"), field=cell(r, "字段"), new=cell(r, "新值"),
                       name=cell(r, "姓名"))
        try:
            row.id_number = parse_id_number(row.id_number).number
            numbers.append(row.id_number)
        except IdNumberError as exc:
            row.status, row.error = ERROR, str(exc)
        out.append(row)
    if not out:
        raise CorrectionError("文件没有数据行")
    persons = {p.id_number: p for p in policy.scope_town(Person.objects.filter(id_number__in=numbers), user)}
    seen: set[tuple[int, str]] = set()
    for row in out:
        if row.status == ERROR:
            continue
        person = persons.get(row.id_number)
        code = FIELD_BY_NAME.get(row.field)
        try:
            if person is None:
                raise CorrectionError(f"身份证号 {row.id_number} 未登记或不在您的管辖范围内")
            row.person_id = person.pk
            if row.name and row.name != person.name:
                raise CorrectionError(f"姓名“{row.name}”与登记的不一致")
            row.name = person.name
            if code is None:
                raise CorrectionError(f"字段“{row.field}”不能批量更正（可用：{'、'.join(PERSON_FIELDS.values())}）")
            row.field = code
            if (person.pk, code) in seen:
                raise CorrectionError(f"同一人的{PERSON_FIELDS[code]}重复（每人每个字段一行）")
            seen.add((person.pk, code))
            target = Target("person", code)
            row.new = parse_new_value(target, person, {"value": row.new})["value"]
            row.current = current_value(target, person)["value"]
            if row.current == row.new:
                row.status = UNCHANGED
        except (CorrectionError, RegistryError) as exc:
            row.status, row.error = ERROR, str(exc)
    return out


def batch_upload(*, user, file_name: str, data: bytes, reason: str) -> CorrectionBatch:
    """Check the file and keep the checked rows as a batch 待审核; nothing of any person changes yet.
    A file that cannot be read at all (type, encoding, size, missing columns) is refused as a whole."""
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionError("请填写更正原因")
    try:
        rows = read_table(file_name, data, BATCH_LIMITS)
    except FileRefused as exc:
        raise CorrectionError(str(exc)) from None
    if len(rows) - 1 > MAX_ROWS:
        raise CorrectionError(f"一个文件最多 {MAX_ROWS} 行，请分批上传")
    checked = _check_rows(user, rows)
    return CorrectionBatch.objects.create(
        file_name=file_name[:200], reason=reason[:500], rows=[r.as_dict() for r in checked], row_count=len(checked),
        error_count=sum(1 for r in checked if r.status == ERROR), proposed_by=user,
    )


def _lock_open(batch: CorrectionBatch, user) -> CorrectionBatch:
    locked = CorrectionBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.state != State.OPEN:
        raise CorrectionError(f"批量更正 {locked.number} 已{locked.get_state_display()}，不能再审核")
    if user is None or locked.proposed_by_id == user.pk:
        raise CorrectionError("不能审核自己上传的批量更正，须由另一位用户审核")
    return locked


def batch_approve(*, batch: CorrectionBatch, user, clean_only: bool = False, note: str = "") -> CorrectionBatch:
    """Apply the batch's clean rows in one transaction (all or nothing). Refused while a row is in error
    unless ``clean_only``; refused when a person is outside the approver's towns or a value changed since."""
    with transaction.atomic():
        b = _lock_open(batch, user)
        if b.error_count and not clean_only:
            raise CorrectionError(f"有 {b.error_count} 行错误，没有更正任何数据；如只更正无误的 "
                                  f"{b.row_count - b.error_count} 行，请勾选“只更正无误的行”后再通过")
        rows = [dict(r) for r in b.rows]
        todo = [r for r in rows if r["status"] == OK]
        ids = sorted({r["person_id"] for r in todo})
        persons = {p.pk: p for p in Person.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        proposer = b.proposed_by.full_name or b.proposed_by.username
        approver = user.full_name or user.username
        for r in todo:
            person = persons.get(r["person_id"])
            label = PERSON_FIELDS[r["field"]]
            if person is None or not policy.person_allowed(user, person):
                raise CorrectionError(f"第 {r['line']} 行：该人员不在您的管辖范围内，没有更正任何数据")
            now = current_value(Target("person", r["field"]), person)["value"]
            if now != r["current"]:
                raise CorrectionError(f"第 {r['line']} 行：上传后{label}已被修改，没有更正任何数据；请驳回后重新上传")
            value = r["new"]
            if r["field"] == "death_date":
                value = dt.date.fromisoformat(value) if value else None
            reason = f"批量更正 {b.number} 第 {r['line']} 行：{b.reason}（申请人 {proposer}，审核人 {approver}）"
            try:
                persons[person.pk] = person_update(user=user, person=person, reason=reason[:500],
                                                   **{r["field"]: value})
            except RegistryError as exc:
                raise CorrectionError(f"第 {r['line']} 行：{exc}，没有更正任何数据") from None
            r["status"] = APPLIED
        b.rows = rows
        b.applied_count = len(todo)
        b.clean_only = bool(clean_only and b.error_count)
        b.state = State.APPLIED
        b.decided_by = user
        b.decided_at = timezone.now()
        b.decision_note = (note or "").strip()[:500]
        b.save()
    return b


def batch_refuse(*, batch: CorrectionBatch, user, note: str) -> CorrectionBatch:
    note = (note or "").strip()
    if not note:
        raise CorrectionError("请填写驳回原因")
    with transaction.atomic():
        b = _lock_open(batch, user)
        b.state = State.REFUSED
        b.decided_by = user
        b.decided_at = timezone.now()
        b.decision_note = note[:500]
        b.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    return b
