"""社会保险特殊业务: the writes. Keyword-only, typed, atomic, audited in the same transaction; a refusal
is a ``FinanceError`` with a Chinese message and writes nothing.

A record's life: 录入 (``entry_create``; 修改 ``entry_update`` / 删除 ``entry_delete`` while 待到账确认) →
到账确认 (``entry_confirm_arrival``: the bank date and amount; another amount is refused with the
difference) → 复核 (``entry_review``, by another user than the one who entered it — the database refuses
it otherwise) = locked (a trigger refuses any update or delete). A correction is a reversal (红冲,
``entry_reverse``): a new record of the negative amount that references the original, reviewed in turn.

Links from the schemes come in through ``payroll.schemes.ledger_report`` (``ledger_receive``: one
record per source reference) and the bank's return (``results_received``). An expenditure is paid by
bank through a one-off run of the engine (``entry_pay_by_bank``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from shebao.common import policy
from shebao.common.audit import audit_record, snapshot
from shebao.common.money import quantize, to_decimal
from shebao.common.safefile import FileRefused, Limits, check_size
from shebao.finance.models import SUBJECT_CODE_RE, Attachment, BusinessType, Direction, Entry
from shebao.payroll import schemes
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.registry.models import Payee, Person

REVIEW_PERM = "finance.review_ledger"
ARRIVAL_PERM = "finance.confirm_arrival"
TYPES_PERM = "finance.manage_types"
# field names (``snapshot`` selects by name and keys by column: ``type`` → "type_id")
ENTRY_FIELDS = ["number", "direction", "type", "payee", "person", "amount", "occurred_on", "voucher_no",
                "note", "state", "arrival_on", "arrival_amount", "arrival_by", "reviewed_by", "reversal_of", "source",
                "run", "pay_status"]
TYPE_FIELDS = ["code", "name", "direction", "subject_code", "subject_name", "scheme", "active", "sort", "note",
               "subject_confirmed_by", "subject_confirmed_at"]
EDITABLE = {"type", "payee", "person", "amount", "occurred_on", "voucher_no", "note"}
LINKED_EDITABLE = {"voucher_no", "note"}  # a record from a scheme keeps what the scheme reported

ATTACHMENT_LIMITS = Limits(max_bytes=5 << 20)
ATTACHMENT_TYPES = {  # extension → (content type, the file's first bytes)
    "pdf": ("application/pdf", (b"%PDF-",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
}
MAX_ATTACHMENTS = 20


class FinanceError(Exception):
    """A refused ledger act; ``str()`` is the Chinese message."""


def _amount(value, *, label: str = "金额") -> Decimal:
    try:
        amount = to_decimal(value)
    except ValueError as exc:
        raise FinanceError(f"{label}：{exc}") from None
    if amount <= 0 or amount != quantize(amount):
        raise FinanceError(f"{label} {value} 应为大于 0 的两位小数")
    if amount > Decimal("999999999999.99"):
        raise FinanceError(f"{label} {value} 超过上限")
    return quantize(amount)


def _text(value, limit: int) -> str:
    text = (value or "").strip()
    if any(ord(c) < 32 for c in text):
        raise FinanceError("文字中不能有控制字符（换行、制表符等）")
    return text[:limit]


def _snap(entry: Entry) -> dict:
    return snapshot(entry, ENTRY_FIELDS)


def _label(entry: Entry) -> str:
    return f"{entry.get_direction_display()} {entry.number}"


# --------------------------------------------------------------------------------------------------
# business types (data)


def type_save(*, user, code: str, name: str, direction: str, subject_code: str, subject_name: str,
              scheme=None, active: bool = True, sort: int = 0, note: str = "", create: bool = False) -> BusinessType:
    """Add a business type (``create``) or change one (found by ``code``, which never changes). The
    direction of a type already used by a record never changes (its records would change side). The
    subject code is required and of the chart's form (``SUBJECT_CODE_RE``); a new or changed subject
    is 待财务确认 until ``type_confirm_subject``."""

    code = (code or "").strip().upper()
    if not re.fullmatch(r"[A-Z][A-Z0-9_]{1,29}", code):
        raise FinanceError("类型代码须为 2–30 位大写字母、数字或下划线，以字母开头")
    name = _text(name, 50)
    if not name:
        raise FinanceError("请填写类型名称")
    if direction not in Direction.values:
        raise FinanceError("收支方向须为支出或收入")
    subject_code, subject_name = _text(subject_code, 20).replace(" ", ""), _text(subject_name, 50)
    if not subject_code or not subject_name:
        raise FinanceError("请填写会计科目代码和名称")
    if not re.fullmatch(SUBJECT_CODE_RE, subject_code):
        raise FinanceError(f"会计科目代码 {subject_code} 无效：应为数字，一级科目 4 位，明细科目每级 2 位"
                           "（4、6、8、10 或 12 位）")
    values = {"name": name, "direction": direction, "subject_code": subject_code, "subject_name": subject_name,
              "scheme": scheme, "active": bool(active), "sort": sort, "note": _text(note, 200)}
    try:
        with transaction.atomic():
            found = BusinessType.objects.select_for_update().filter(code=code).first()
            if found is not None and create:
                raise FinanceError(f"类型代码 {code} 已存在")
            if found is None:
                found = BusinessType.objects.create(code=code, **values)
                audit_record(user=user, action="create", obj=found, summary=f"新增特殊业务类型 {code} {name}",
                             after=snapshot(found, TYPE_FIELDS))
                return found
            before = snapshot(found, TYPE_FIELDS)
            if direction != found.direction and Entry.objects.filter(type=found).exists():
                raise FinanceError(f"类型 {found.name} 已有收支记录，不能改变收支方向")
            subject_changed = (subject_code, subject_name) != (found.subject_code, found.subject_name)
            for k, v in values.items():
                setattr(found, k, v)
            if subject_changed:  # a changed subject is finance's to confirm again
                found.subject_confirmed_by, found.subject_confirmed_at = None, None
            after = snapshot(found, TYPE_FIELDS)
            if after != before:
                found.save()
                audit_record(user=user, action="update", obj=found,
                             summary=f"修改特殊业务类型 {code} {name}"
                                     + ("（会计科目已变更，待财务确认）" if subject_changed else ""),
                             before=before, after=after)
            return found
    except IntegrityError:
        raise FinanceError(f"类型名称“{name}”已被其他类型使用") from None


def type_confirm_subject(*, user, type: BusinessType, subject_code: str) -> BusinessType:
    """财务确认会计科目: a holder of ``finance.manage_types`` states that the type's subject is the one the
    agency's books use. ``subject_code`` is the code the user saw on the page: when it changed since,
    nothing is confirmed. Audited (``finance_subject_confirm``)."""
    if not policy.has_perm(user, TYPES_PERM):
        raise FinanceError("您没有确认会计科目的权限（须财务人员）")
    with transaction.atomic():
        locked = BusinessType.objects.select_for_update().filter(pk=type.pk).first()
        if locked is None:
            raise FinanceError("该业务类型不存在")
        if (subject_code or "").strip() != locked.subject_code:
            raise FinanceError(f"业务类型 {locked.name} 的会计科目已变更为 {locked.subject_code}，请刷新后核对再确认")
        if locked.subject_confirmed:
            raise FinanceError(f"业务类型 {locked.name} 的会计科目 {locked.subject_code} 已确认")
        before = snapshot(locked, TYPE_FIELDS)
        locked.subject_confirmed_by, locked.subject_confirmed_at = user, timezone.now()
        locked.save(update_fields=["subject_confirmed_by", "subject_confirmed_at"])
        audit_record(user=user, action="finance_subject_confirm", obj=locked,
                     summary=f"确认特殊业务类型 {locked.code} {locked.name} 的会计科目 "
                             f"{locked.subject_code} {locked.subject_name}",
                     before=before, after=snapshot(locked, TYPE_FIELDS))
    return locked


def type_by_code(code: str) -> BusinessType:
    found = BusinessType.objects.filter(code=code).first()
    if found is None:
        raise FinanceError(f"没有业务类型 {code}")
    return found


# --------------------------------------------------------------------------------------------------
# records


def _check_party(type_: BusinessType, payee: Payee | None, person: Person | None) -> Payee | None:
    if payee is not None and person is not None:
        raise FinanceError("收款方（单位）和人员只能填一个")
    if payee is not None:  # a new record uses the payee's current version
        current = Payee.objects.filter(code=payee.code, current=True).first()
        if current is None:  # pragma: no cover - every code keeps one current version
            raise FinanceError(f"收款方 {payee.code} 不存在")
        return current
    return None


def _number(entry: Entry) -> str:
    return f"{'ZC' if entry.direction == Direction.EXPENDITURE else 'SR'}{entry.pk:08d}"


def entry_create(*, user, type: BusinessType, amount, occurred_on: dt.date, payee: Payee | None = None,
                 person: Person | None = None, voucher_no: str = "", note: str = "", source: str | None = None,
                 run: PayrollRun | None = None) -> Entry:
    """新增 a record of ``type`` (its direction): amount > 0 with two decimals, a date not after today,
    a payee (the current version of its code) or a person or neither. Audited."""
    if not type.active and source is None:  # a scheme's money is recorded whatever the type's state
        raise FinanceError(f"业务类型 {type.name} 已停用")
    value = _amount(amount)
    if occurred_on > timezone.localdate():
        raise FinanceError("业务日期不能晚于今天")
    payee = _check_party(type, payee, person)
    with transaction.atomic():
        entry = Entry.objects.create(
            direction=type.direction, type=type, payee=payee, person=person, amount=value, occurred_on=occurred_on,
            voucher_no=_text(voucher_no, 30), note=_text(note, 300), source=source, run=run,
            pay_status=Entry.PayStatus.PENDING if run is not None else Entry.PayStatus.NONE, created_by=user)
        entry.number = _number(entry)
        Entry.objects.filter(pk=entry.pk).update(number=entry.number)
        audit_record(user=user, action="create", obj=entry, person_id=person.pk if person else None,
                     summary=f"新增{_label(entry)} {type.name} {value}", after=_snap(entry))
    return entry


def _locked_for_change(entry: Entry) -> Entry:
    """The record under its row lock, refused when it may no longer change."""
    locked = Entry.objects.select_for_update().select_related("type").filter(pk=entry.pk).first()
    if locked is None:
        raise FinanceError("该记录不存在（可能已被删除）")
    if locked.state == Entry.State.REVIEWED:
        raise FinanceError(f"{_label(locked)} 已复核，不能修改或删除；如需更正请做红冲")
    if locked.state != Entry.State.ENTERED:
        raise FinanceError(f"{_label(locked)} 已到账确认，不能修改或删除")
    if locked.reversal_of_id:
        raise FinanceError(f"{_label(locked)} 是红冲记录，不能修改或删除")
    if locked.pay_status != Entry.PayStatus.NONE and locked.run_id:
        raise FinanceError(f"{_label(locked)} 已生成银行支付批次 {locked.run_id}，不能修改或删除")
    return locked


def entry_update(*, entry: Entry, user, reason: str = "", **changes) -> Entry:
    """修改 while 待到账确认 (not reviewed, not arrived, not in a bank run). A record from a scheme
    (``source``) keeps what the scheme reported: only 凭证号 and 备注 change."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise FinanceError(f"不能修改 {'、'.join(sorted(unknown))}")
    with transaction.atomic():
        locked = _locked_for_change(entry)
        if locked.source and set(changes) - LINKED_EDITABLE:
            fixed = {k for k in set(changes) - LINKED_EDITABLE if changes[k] != getattr(locked, k)}
            if fixed:
                raise FinanceError(f"{_label(locked)} 来自{locked.source}，只能修改凭证号和备注")
        before = _snap(locked)
        type_ = changes.get("type", locked.type)
        if type_.direction != locked.direction:
            raise FinanceError("不能把支出改成收入（或相反），请删除后重新录入")
        if "amount" in changes:
            locked.amount = _amount(changes["amount"])
        if "occurred_on" in changes:
            if changes["occurred_on"] > timezone.localdate():
                raise FinanceError("业务日期不能晚于今天")
            locked.occurred_on = changes["occurred_on"]
        if "payee" in changes or "person" in changes:
            payee = changes.get("payee", locked.payee)
            person = changes.get("person", locked.person)
            if payee is not None and locked.payee_id and payee.pk == locked.payee_id:
                locked.payee = payee  # the version it has keeps
            else:
                locked.payee = _check_party(type_, payee, person)
            locked.person = person
            if locked.payee is not None and locked.person is not None:
                raise FinanceError("收款方（单位）和人员只能填一个")
        locked.type = type_
        if "voucher_no" in changes:
            locked.voucher_no = _text(changes["voucher_no"], 30)
        if "note" in changes:
            locked.note = _text(changes["note"], 300)
        after = _snap(locked)
        if after == before:
            return locked
        locked.save()
        audit_record(user=user, action="update", obj=locked, person_id=locked.person_id,
                     summary=f"修改{_label(locked)}", before=before, after=after, reason=_text(reason, 300))
    return locked


def entry_delete(*, entry: Entry, user, reason: str) -> None:
    """删除 while 待到账确认; a record from a scheme is never deleted (it is that money's one record)."""
    reason = _text(reason, 300)
    if not reason:
        raise FinanceError("请填写删除原因")
    with transaction.atomic():
        locked = _locked_for_change(entry)
        if locked.source:
            raise FinanceError(f"{_label(locked)} 来自{locked.source}，不能删除")
        before = _snap(locked)
        Attachment.objects.filter(entry=locked).delete()
        Entry.objects.filter(pk=locked.pk).delete()
        audit_record(user=user, action="delete", object_type="finance.entry", object_id=locked.pk,
                     person_id=locked.person_id, summary=f"删除{_label(locked)}", before=before, reason=reason)


def entry_confirm_arrival(*, entry: Entry, user, arrival_on: dt.date, amount) -> Entry:
    """到账确认: the bank's date and amount. An amount other than the record's is refused with the
    difference; an expenditure paid through the bank is confirmed by its return, not by hand."""
    if not policy.has_perm(user, ARRIVAL_PERM):
        raise FinanceError("您没有到账确认的权限")
    value = _amount(amount, label="到账金额")
    if arrival_on > timezone.localdate():
        raise FinanceError("到账日期不能晚于今天")
    with transaction.atomic():
        locked = Entry.objects.select_for_update().filter(pk=entry.pk).first()
        if locked is None:
            raise FinanceError("该记录不存在（可能已被删除）")
        if locked.state != Entry.State.ENTERED:
            raise FinanceError(f"{_label(locked)} 已{locked.get_state_display()}，不能再次到账确认")
        if locked.pay_status in (Entry.PayStatus.PENDING, Entry.PayStatus.FAILED) and locked.run_id:
            raise FinanceError(f"{_label(locked)} 经银行支付（批次 {locked.run_id}），到账以银行回盘为准")
        if value != locked.amount:
            diff = value - locked.amount
            raise FinanceError(f"到账金额 {value} 与记录金额 {locked.amount} 不符，相差 {diff:+} 元，未确认")
        if arrival_on < locked.occurred_on - dt.timedelta(days=366):
            raise FinanceError("到账日期早于业务日期一年以上，请核对")
        before = _snap(locked)
        _arrive(locked, user=user, on=arrival_on, amount=value)
        audit_record(user=user, action="finance_arrival", obj=locked, person_id=locked.person_id,
                     summary=f"到账确认 {_label(locked)} {value}（{arrival_on:%Y-%m-%d}）", before=before,
                     after=_snap(locked))
    return locked


def _arrive(entry: Entry, *, user, on: dt.date, amount: Decimal) -> None:
    entry.state = Entry.State.ARRIVED
    entry.arrival_on, entry.arrival_amount, entry.arrival_by, entry.arrival_at = on, amount, user, timezone.now()
    entry.save(update_fields=["state", "arrival_on", "arrival_amount", "arrival_by", "arrival_at", "updated_at"])


def entry_review(*, entry: Entry, user) -> Entry:
    """复核: by a holder of the review right other than the user who entered the record (the database
    refuses the same user: ``finance_entry_reviewer_not_maker``). Locks the record."""
    if not policy.has_perm(user, REVIEW_PERM):
        raise FinanceError("您没有复核的权限")
    with transaction.atomic():
        locked = Entry.objects.select_for_update().filter(pk=entry.pk).first()
        if locked is None:
            raise FinanceError("该记录不存在（可能已被删除）")
        if locked.state == Entry.State.REVIEWED:
            raise FinanceError(f"{_label(locked)} 已复核")
        if locked.state != Entry.State.ARRIVED:
            raise FinanceError(f"{_label(locked)} 尚未到账确认，不能复核")
        if locked.created_by_id == user.pk:
            raise FinanceError(f"{_label(locked)} 由您本人录入，须由另一位复核人复核")
        before = _snap(locked)
        locked.state, locked.reviewed_by, locked.reviewed_at = Entry.State.REVIEWED, user, timezone.now()
        locked.save(update_fields=["state", "reviewed_by", "reviewed_at", "updated_at"])
        audit_record(user=user, action="finance_review", obj=locked, person_id=locked.person_id,
                     summary=f"复核 {_label(locked)} {locked.amount}", before=before, after=_snap(locked))
    return locked


def entry_reverse(*, entry: Entry, user, reason: str, on: dt.date | None = None) -> Entry:
    """红冲 a reviewed record: a new record of the same type, party and the negative amount that
    references it (one reversal per record), arrived at once (nothing moves at the bank: it corrects
    the books) and reviewed like any record by another user."""
    reason = _text(reason, 200)
    if not reason:
        raise FinanceError("请填写红冲原因")
    on = on or timezone.localdate()
    with transaction.atomic():
        original = Entry.objects.select_for_update(of=("self",)).select_related("type").filter(pk=entry.pk).first()
        if original is None:
            raise FinanceError("该记录不存在")
        if original.reversal_of_id:
            raise FinanceError(f"{_label(original)} 本身是红冲记录，不能再红冲")
        if original.state != Entry.State.REVIEWED:
            raise FinanceError(f"{_label(original)} 尚未复核，可直接修改或删除，不需要红冲")
        if Entry.objects.filter(reversal_of=original).exists():
            raise FinanceError(f"{_label(original)} 已红冲过")
        try:
            with transaction.atomic():
                rev = Entry.objects.create(
                    direction=original.direction, type=original.type, payee=original.payee, person=original.person,
                    amount=-original.amount, occurred_on=on, voucher_no="", note=f"红冲 {original.number}：{reason}",
                    state=Entry.State.ARRIVED, arrival_on=on, arrival_amount=-original.amount, arrival_by=user,
                    arrival_at=timezone.now(), reversal_of=original, created_by=user)
        except IntegrityError:
            raise FinanceError(f"{_label(original)} 已红冲过") from None
        rev.number = _number(rev)
        Entry.objects.filter(pk=rev.pk).update(number=rev.number)
        audit_record(user=user, action="finance_reverse", obj=rev, person_id=rev.person_id,
                     summary=f"红冲 {_label(original)}：{rev.number} {rev.amount}", after=_snap(rev), reason=reason)
    return rev


# --------------------------------------------------------------------------------------------------
# attachments


def attachment_add(*, entry: Entry, user, file_name: str, data: bytes) -> Attachment:
    """附件: PDF, JPG or PNG (the extension and the file's own first bytes agree), at most 5 MB, at
    most 20 per record; not on a reviewed record."""
    name = _text(file_name.replace("\\", "/").rsplit("/", 1)[-1], 200)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ATTACHMENT_TYPES:
        raise FinanceError("附件只接受 PDF、JPG、PNG 文件")
    try:
        check_size(len(data), ATTACHMENT_LIMITS)
    except FileRefused as exc:
        raise FinanceError(str(exc)) from None
    if not data:
        raise FinanceError("附件是空文件")
    content_type, magics = ATTACHMENT_TYPES[ext]
    if not any(data.startswith(m) for m in magics):
        raise FinanceError(f"附件“{name}”的内容不是 {ext.upper()} 文件")
    with transaction.atomic():
        locked = Entry.objects.select_for_update().filter(pk=entry.pk).first()
        if locked is None:
            raise FinanceError("该记录不存在")
        if locked.state == Entry.State.REVIEWED:
            raise FinanceError(f"{_label(locked)} 已复核，不能再添加附件")
        if Attachment.objects.filter(entry=locked).count() >= MAX_ATTACHMENTS:
            raise FinanceError(f"每条记录最多 {MAX_ATTACHMENTS} 个附件")
        att = Attachment.objects.create(entry=locked, file_name=name, content_type=content_type, size=len(data),
                                        sha256=hashlib.sha256(data).hexdigest(), content=data, uploaded_by=user)
        audit_record(user=user, action="finance_attach", obj=locked, summary=f"{_label(locked)} 添加附件 {name}",
                     after={"attachment": att.pk, "file_name": name, "size": len(data), "sha256": att.sha256})
    return att


def attachment_delete(*, attachment: Attachment, user) -> None:
    with transaction.atomic():
        locked = Entry.objects.select_for_update().filter(pk=attachment.entry_id).first()
        if locked is None or locked.state == Entry.State.REVIEWED:
            raise FinanceError("已复核的记录不能删除附件")
        Attachment.objects.filter(pk=attachment.pk).delete()
        audit_record(user=user, action="finance_attach_delete", obj=locked,
                     summary=f"{_label(locked)} 删除附件 {attachment.file_name}",
                     before={"attachment": attachment.pk, "file_name": attachment.file_name, "sha256": attachment.sha256})


# --------------------------------------------------------------------------------------------------
# links from the schemes


def ledger_receive(*, entry: schemes.LedgerEntry, user) -> Entry:
    """The listener of ``payroll.schemes.ledger_report``: the record of ``entry.source``, created the
    first time and returned as it is every time after (the same source saved twice is one record)."""
    source = (entry.source or "").strip()
    if not source or len(source) > 100:
        raise FinanceError("来源引用不能为空，且不超过 100 字符")
    found = Entry.objects.filter(source=source).first()
    if found is not None:
        return found
    type_ = type_by_code(entry.kind)
    payee = Payee.objects.filter(pk=entry.payee_id).first() if entry.payee_id else None
    person = Person.objects.filter(pk=entry.person_id).first() if entry.person_id else None
    run = PayrollRun.objects.filter(pk=entry.run_id).first() if entry.run_id else None
    if run is not None and type_.direction != Direction.EXPENDITURE:
        raise FinanceError(f"业务类型 {type_.name} 是收入，不能有支付批次")
    try:
        with transaction.atomic():
            return entry_create(user=user, type=type_, amount=entry.amount, occurred_on=entry.on, payee=payee,
                                person=person, note=entry.note, source=source, run=run)
    except IntegrityError:  # the same source saved at the same moment: the other one won
        found = Entry.objects.filter(source=source).first()
        if found is None:  # pragma: no cover
            raise
        return found


def report_returned_payment(*, line: PayrollLine, amount, on: dt.date, user, note: str = "") -> Entry:
    """银行退回: money the bank returned after the line had been paid (an account closed after the
    credit …) — not a failed line, which is re-issued. One income record per line
    (``payroll.line:<id>:returned``), at most the paid amount."""
    value = _amount(amount)
    line = PayrollLine.objects.filter(pk=line.pk).first()
    if line is None or line.status != PayrollLine.Status.PAID:
        raise FinanceError("只有已支付的发放明细才能登记银行退回（失败的明细请二次报盘）")
    if value > line.paid_amount:
        raise FinanceError(f"退回金额 {value} 超过该笔实付金额 {line.paid_amount}")
    return schemes.ledger_report(schemes.LedgerEntry(
        source=f"payroll.line:{line.pk}:returned", kind="BANK_RETURN", amount=value, on=on,
        person_id=line.person_id, payee_id=line.payee_id,
        note=(f"银行退回：结算批次 {line.run_id} 第 {line.seq} 笔 {line.name}；{note}".rstrip("；"))[:300]),
        user=user)[0]


# --------------------------------------------------------------------------------------------------
# expenditures paid by bank


def entry_pay_by_bank(*, entry: Entry, user) -> PayrollRun:
    """An expenditure to its payee (or person) through the bank: a one-off run of the engine (零星发放)
    of exactly the amount, in the scheme of the business type; it is approved by another user, exported
    and returned like any run, and the return moves the record (paid: 到账 confirmed with the bank's
    amount; failed: 支付失败, re-issued from the bank pages)."""
    from shebao.payroll.services import PayrollError, payroll_oneoff_create

    with transaction.atomic():
        locked = Entry.objects.select_for_update(of=("self",)).select_related(
            "type", "type__scheme", "payee", "person").filter(pk=entry.pk).first()
        if locked is None:
            raise FinanceError("该记录不存在")
        if locked.direction != Direction.EXPENDITURE:
            raise FinanceError("只有支出才能经银行支付")
        if locked.state != Entry.State.ENTERED or locked.reversal_of_id:
            raise FinanceError(f"{_label(locked)} 已{locked.get_state_display()}，不能再发起银行支付")
        if locked.run_id:
            raise FinanceError(f"{_label(locked)} 已在支付批次 {locked.run_id} 中")
        if locked.type.scheme is None:
            raise FinanceError(f"业务类型 {locked.type.name} 未指定银行支付险种，不能经银行支付")
        who = locked.payee or locked.person
        if who is None:
            raise FinanceError("请先为该支出指定收款方或人员")
        before = _snap(locked)
        try:
            run = payroll_oneoff_create(scheme=locked.type.scheme, items=[(who, locked.amount, locked.type.name[:100])],
                                        user=user, note=f"特殊业务支出 {locked.number}"[:300])
        except PayrollError as exc:
            raise FinanceError(str(exc)) from None
        line = PayrollLine.objects.get(run=run)
        locked.run, locked.pay_status = run, Entry.PayStatus.PENDING
        if line.payee_id:
            locked.payee_id = line.payee_id  # the version the bank is sent to
        locked.save(update_fields=["run", "pay_status", "payee", "updated_at"])
        audit_record(user=user, action="finance_pay", obj=locked, person_id=locked.person_id,
                     summary=f"{_label(locked)} 经银行支付：零星发放批次 {run.pk}", before=before, after=_snap(locked))
    return run


def _root_run(run: PayrollRun) -> PayrollRun:
    seen = set()
    while run.parent_run_id and run.pk not in seen:  # a re-issue → the run it re-issues
        seen.add(run.pk)
        run = PayrollRun.objects.get(pk=run.parent_run_id)
    return run


def results_received(*, run: PayrollRun, user) -> None:
    """The listener of the return import (``payroll.schemes.results_listen``): the records paid by
    ``run`` (or by the run it re-issues) follow their line — paid: 已支付 and 到账 confirmed with the
    bank's amount and today's date; failed: 支付失败 (a re-issue's payment moves it again)."""
    if run.kind not in (PayrollRun.Kind.ONE_OFF, PayrollRun.Kind.REISSUE):
        return
    root = _root_run(run)
    entries = list(Entry.objects.select_for_update().filter(run=root, state=Entry.State.ENTERED)
                   .exclude(pay_status=Entry.PayStatus.PAID))
    if not entries:
        return
    lines = list(PayrollLine.objects.filter(run=run).select_related("payee"))
    for entry in entries:
        line = next((ln for ln in lines if (entry.person_id and ln.person_id == entry.person_id)
                     or (entry.payee_id and ln.payee_id and ln.payee.code == entry.payee.code)), None)
        if line is None:
            continue
        before = _snap(entry)
        if line.status == PayrollLine.Status.PAID:
            entry.pay_status = Entry.PayStatus.PAID
            entry.save(update_fields=["pay_status", "updated_at"])
            if line.paid_amount == entry.amount:
                _arrive(entry, user=user, on=timezone.localdate(), amount=line.paid_amount)
            summary = f"{_label(entry)} 银行已支付 {line.paid_amount}（批次 {run.pk} 第 {line.seq} 笔）"
        elif line.status == PayrollLine.Status.FAILED:
            entry.pay_status = Entry.PayStatus.FAILED
            entry.save(update_fields=["pay_status", "updated_at"])
            summary = f"{_label(entry)} 银行支付失败：{line.fail_reason}（批次 {run.pk} 第 {line.seq} 笔）"
        else:
            continue
        audit_record(user=user, action="finance_bank_result", obj=entry, person_id=entry.person_id,
                     summary=summary[:300], before=before, after=_snap(entry))

