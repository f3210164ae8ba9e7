"""Writes to benefits: enrollments, status changes (暂停/恢复/终止), item amounts, adjustments (补发/扣减).
Every service runs in one transaction and writes its audit record in it. The batch raise lives in
``benefits.raises``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone

from shebao.benefits.models import (
    Adjustment,
    BenefitAmount,
    BenefitItem,
    Enrollment,
    PaymentStatus,
    Scheme,
    StatusChange,
    Suspension,
    SuspensionReason,
)
from shebao.benefits.months import MonthError, add_months, format_month, month_of, month_range, parse_month
from shebao.common.audit import audit_record, audit_record_many, diff, snapshot
from shebao.common.money import ZERO, quantize, to_decimal


class BenefitError(Exception):
    """A refused benefits change; ``str()`` is the message for the user (Chinese)."""


def _money(value, what: str, *, positive: bool = False) -> Decimal:
    try:
        amount = to_decimal(value)
    except ValueError as exc:
        raise BenefitError(f"{what}：{exc}") from None
    if amount != quantize(amount):
        raise BenefitError(f"{what} {amount} 不能超过两位小数")
    amount = quantize(amount)
    if amount < 0 or (positive and amount == 0):
        raise BenefitError(f"{what}必须{'大于' if positive else '不小于'} 0")
    return amount


def _item(scheme_id: int, item: BenefitItem | str) -> BenefitItem:
    if isinstance(item, BenefitItem):
        if item.scheme_id != scheme_id:
            raise BenefitError(f"待遇项目 {item.name} 不属于该险种")
        return item
    found = BenefitItem.objects.filter(scheme_id=scheme_id, code=item).first()
    if found is None:
        found = BenefitItem.objects.filter(scheme_id=scheme_id, name=item).first()
    if found is None:
        raise BenefitError(f"该险种没有待遇项目 {item}")
    return found


def scheme_get(code: str) -> Scheme:
    scheme = Scheme.objects.filter(code=code.upper()).first()
    if scheme is None:
        raise BenefitError(f"险种代码 {code} 不存在（ZG/NB/BZ/TB）")
    return scheme


# --------------------------------------------------------------------------------------------------
# enrollments and item amounts


def enrollment_create(
    *,
    person,
    scheme: Scheme,
    start_month,
    user,
    service_years=0,
    items: dict | None = None,
    note: str = "",
) -> Enrollment:
    """Enroll a person in a scheme from ``start_month`` (status 正常) with the given monthly item
    amounts ({item or item code: amount}) in effect from the same month."""
    start = parse_month(start_month)
    years = to_decimal(service_years)
    if years < 0:
        raise BenefitError("工龄不能为负数")
    with transaction.atomic():
        try:
            with transaction.atomic():
                enrollment = Enrollment.objects.create(
                    person=person, scheme=scheme, start_month=start, service_years=years, note=note,
                )
        except IntegrityError:
            raise BenefitError(f"{person.name} 已在{scheme.name}中，不能重复纳入") from None
        StatusChange.objects.create(enrollment=enrollment, from_status="", to_status=PaymentStatus.ACTIVE,
                                    effective_month=start, operator=user, note="纳入")
        created = []
        for key, value in (items or {}).items():
            item = _item(scheme.pk, key)
            created.append(BenefitAmount(
                enrollment=enrollment, item=item, amount=_money(value, f"{item.name}月金额"),
                from_month=start, created_by=user,
            ))
        BenefitAmount.objects.bulk_create(created)
        audit_record(user=user, action="create", obj=enrollment, person_id=person.pk,
                     summary=f"{person.name} 纳入{scheme.name}，{format_month(start)} 起发放",
                     after={**snapshot(enrollment),
                            "items": {a.item.code: a.amount for a in created}})
    return enrollment


@dataclass
class EnrollmentRow:
    """One enrollment for ``enrollment_bulk_create``: ``items`` ({item or code: amount}) from the start
    month; ``changes`` [(item or code, amount, from_month[, note])] later amounts of the history, each
    opening a range that closes the item's previous one at from_month − 1."""

    person: object
    start_month: object
    items: dict = field(default_factory=dict)
    service_years: object = 0
    note: str = ""
    changes: list = field(default_factory=list)


def enrollment_bulk_create(*, scheme: Scheme, rows: list[EnrollmentRow], user, reason: str = "") -> list[Enrollment]:
    """``enrollment_create`` for many persons at once, by the same rules (status 正常 from the start
    month, a StatusChange 纳入, the item amounts, the same audit event per enrollment), plus each
    row's later amount ``changes`` (audited as ``benefit_amount_set`` would). All or nothing: a
    refused row raises ``BenefitError`` (with ``.index``) and nothing is written. Set-based: a few
    queries and one INSERT per table per few thousand rows."""
    if not rows:
        return []
    items_by_key: dict = {}
    for item in BenefitItem.objects.filter(scheme=scheme):
        items_by_key[item.code] = item
        items_by_key.setdefault(item.name, item)

    def refuse(index: int, message: str) -> BenefitError:
        exc = BenefitError(message)
        exc.index = index
        return exc

    def item_of(index: int, key) -> BenefitItem:
        if isinstance(key, BenefitItem):
            if key.scheme_id != scheme.pk:
                raise refuse(index, f"待遇项目 {key.name} 不属于{scheme.name}")
            return key
        found = items_by_key.get(key)
        if found is None:
            raise refuse(index, f"{scheme.name}没有待遇项目 {key}")
        return found

    prepared = []  # (row, start, years, [(item, amount, from_month)] in from order per item)
    seen: dict[int, int] = {}
    for i, row in enumerate(rows):
        person = row.person
        who = getattr(person, "name", person)
        try:
            start = parse_month(row.start_month)
            years = to_decimal(row.service_years or 0)
        except (ValueError, MonthError) as exc:
            raise refuse(i, f"{who}：{exc}") from None
        if years < 0 or years != years.quantize(Decimal("0.01")) or years >= 1000:
            raise refuse(i, f"{who}：工龄 {years} 不正确")
        years = years.quantize(Decimal("0.01"))  # as stored, so the audit record says what the row holds
        if len(row.note or "") > 200:
            raise refuse(i, f"{who}：备注超过 200 字")
        if person.pk in seen:
            raise refuse(i, f"{who} 重复（与第 {seen[person.pk] + 1} 条）")
        seen[person.pk] = i
        ranges: dict[int, list] = {}
        try:
            for key, value in (row.items or {}).items():
                item = item_of(i, key)
                if item.pk in ranges:
                    raise refuse(i, f"{who}：{item.name} 重复")
                ranges[item.pk] = [(item, _money(value, f"{who} {item.name}月金额"), start, "")]
            for key, value, month, *note in row.changes or []:
                item = item_of(i, key)
                month = parse_month(month)
                amount = _money(value, f"{who} {item.name}月金额")
                history = ranges.setdefault(item.pk, [])
                if month < start or (history and month <= history[-1][2]):
                    after = history[-1][2] if history else start
                    raise refuse(i, f"{who}：{item.name} {format_month(month)} 起的标准须晚于 {format_month(after)}"
                                    "（历史标准不可覆盖）")
                history.append((item, amount, month, (note[0] if note else reason)[:200]))
        except BenefitError as exc:
            if not hasattr(exc, "index"):
                exc.index = i
            raise
        except MonthError as exc:
            raise refuse(i, f"{who}：{exc}") from None
        prepared.append((row, start, years, ranges))
    enrolled = set(Enrollment.objects.filter(scheme=scheme, person_id__in=list(seen)).values_list("person_id", flat=True))
    if enrolled:
        first = min(enrolled, key=seen.__getitem__)
        raise refuse(seen[first], f"{getattr(rows[seen[first]].person, 'name', first)} 已在{scheme.name}中，不能重复纳入")

    now = timezone.now()
    enrollments = [
        Enrollment(person=row.person, scheme=scheme, start_month=start, service_years=years, note=row.note or "",
                   created_at=now, updated_at=now)
        for row, start, years, _ in prepared
    ]
    try:
        with transaction.atomic():
            Enrollment.objects.bulk_create(enrollments, batch_size=2000)
            StatusChange.objects.bulk_create([
                StatusChange(enrollment=e, from_status="", to_status=PaymentStatus.ACTIVE,
                             effective_month=e.start_month, operator=user, note="纳入")
                for e in enrollments
            ], batch_size=2000)
            amounts: list[BenefitAmount] = []
            at_start: dict[int, dict] = {}  # enrollment index → {item code: amount} from the start month
            later: list[tuple[BenefitAmount, BenefitAmount | None]] = []  # (new range, the range it closed)
            for k, (e, (_, start, _, ranges)) in enumerate(zip(enrollments, prepared, strict=True)):
                at_start[k] = {h[0][0].code: h[0][1] for h in ranges.values() if h and h[0][2] == start}
                for history in ranges.values():
                    previous = None
                    for n, (item, amount, month, note) in enumerate(history):
                        to = add_months(history[n + 1][2], -1) if n + 1 < len(history) else None
                        a = BenefitAmount(enrollment=e, item=item, amount=amount, from_month=month, to_month=to,
                                          created_by=user, note=note)
                        amounts.append(a)
                        if month != start:
                            later.append((a, previous))
                        previous = a
            BenefitAmount.objects.bulk_create(amounts, batch_size=2000)
            events = []
            for k, e in enumerate(enrollments):
                events.append({
                    "user": user, "action": "create", "obj": e, "person_id": e.person_id,
                    "summary": f"{e.person.name} 纳入{scheme.name}，{format_month(e.start_month)} 起发放",
                    "after": {**snapshot(e), "items": at_start[k]}, "reason": reason,
                })
            for a, previous in later:
                before = None
                if previous is not None:
                    before = {**snapshot(previous), "to_month": None}
                events.append({
                    "user": user, "action": "update" if previous else "create", "obj": a,
                    "person_id": a.enrollment.person_id,
                    "summary": f"{a.enrollment.person.name} {a.item.name} {format_month(a.from_month)} 起 {a.amount}",
                    "before": before, "after": snapshot(a), "reason": a.note,
                })
            audit_record_many(events)
    except IntegrityError:
        raise BenefitError(f"部分人员刚被其他操作纳入{scheme.name}，请重试") from None
    return enrollments


def enrollment_update(
    *,
    enrollment: Enrollment,
    user,
    reason: str,
    service_years=None,
    note: str | None = None,
) -> Enrollment:
    """Change an enrollment's 工龄 and/or 备注 (``None``: leave as is). Done under the enrollment's row
    lock, audited with before/after of what changed; nothing changed writes nothing. The status,
    months and amounts have their own services."""
    if not (reason or "").strip():
        raise BenefitError("请填写变更原因")
    changes: dict = {}
    if service_years is not None:
        try:
            years = to_decimal(service_years)
        except ValueError as exc:
            raise BenefitError(f"工龄：{exc}") from None
        if years < 0:
            raise BenefitError("工龄不能为负数")
        if years != years.quantize(Decimal("0.01")) or years >= 1000:
            raise BenefitError(f"工龄 {years} 不正确（最多两位小数）")
        changes["service_years"] = years.quantize(Decimal("0.01"))
    if note is not None:
        note = note.strip()
        if len(note) > 200:
            raise BenefitError("备注超过 200 字")
        changes["note"] = note
    with transaction.atomic():
        current = _lock(enrollment)
        before = snapshot(current, ["service_years", "note"])
        for key, value in changes.items():
            setattr(current, key, value)
        b, a = diff(before, snapshot(current, ["service_years", "note"]))
        if not a:
            return current
        current.save(update_fields=[*changes, "updated_at"])
        what = "、".join({"service_years": "工龄", "note": "备注"}[k] for k in a)
        audit_record(user=user, action="update", obj=current, person_id=current.person_id,
                     summary=f"{current.person.name} {current.scheme.name}{what}变更", before=b, after=a,
                     reason=reason.strip())
    return current


def _lock(enrollment: Enrollment) -> Enrollment:
    return Enrollment.objects.select_for_update().select_related("person", "scheme").get(pk=enrollment.pk)


def benefit_amount_set(
    *,
    enrollment: Enrollment,
    item: BenefitItem | str,
    amount,
    from_month,
    user,
    note: str = "",
) -> BenefitAmount:
    """Set an item's monthly amount from ``from_month`` on. History is never overwritten: the open range
    is closed at from_month − 1 and a new one opened. Refused if it would overlap an existing range
    (checked under the enrollment's row lock). Months from ``from_month`` already paid by an approved
    regular run get their difference as one 补发 or 扣减 (``_back_dated_difference``)."""
    start = parse_month(from_month)
    with transaction.atomic():
        enrollment = _lock(enrollment)
        item = _item(enrollment.scheme_id, item)
        value = _money(amount, f"{item.name}月金额")
        ranges = list(BenefitAmount.objects.filter(enrollment=enrollment, item=item).order_by("from_month"))
        open_range = next((r for r in ranges if r.to_month is None), None)
        for r in ranges:
            if r is open_range:
                continue
            if r.to_month >= start:
                raise BenefitError(
                    f"{item.name} 在 {format_month(r.from_month)}–{format_month(r.to_month)} 已有标准，"
                    f"不能从 {format_month(start)} 起重新设置（历史标准不可覆盖）"
                )
        before = None
        if open_range is not None:
            if open_range.from_month >= start:
                raise BenefitError(
                    f"{item.name} 已有 {format_month(open_range.from_month)} 起的标准，"
                    f"新标准须晚于该月（历史标准不可覆盖）"
                )
            before = snapshot(open_range)
            open_range.to_month = add_months(start, -1)
            open_range.save(update_fields=["to_month"])
        new = BenefitAmount.objects.create(enrollment=enrollment, item=item, amount=value, from_month=start,
                                           created_by=user, note=note)
        audit_record(user=user, action="update" if open_range else "create", obj=new,
                     person_id=enrollment.person_id,
                     summary=f"{enrollment.person.name} {item.name} {format_month(start)} 起 {value}",
                     before=before, after=snapshot(new), reason=note)
        if item.recurring:
            _back_dated_difference(enrollment=enrollment, item=item, amount=value, start=start, user=user, note=note)
    return new


def _back_dated_difference(*, enrollment: Enrollment, item: BenefitItem, amount: Decimal, start: dt.date, user,
                           note: str, months_paid_without_item: bool = False) -> Adjustment | None:
    """A new amount from a month whose payroll was already approved (a back-dated change): for each
    such month m ≥ start in which the item was paid, difference_m = amount − (paid_m + earlier
    back-dated differences of the item for m). Σ difference > 0 is one 补发 (paid whole by the next
    run), < 0 one 扣减 (taken by the next runs); each kept with its months in ``detail`` (source_ref
    ``amount:<item id>``), so a later back-dated change counts it. Exact to the cent: amounts are
    cents, no rounding. Every scheme (ZG, NB, BZ, TB) alike."""
    component = apps.get_model("payroll", "PayrollComponent")
    paid = dict(
        component.objects.filter(kind="item", benefit_item_id=item.pk, line__enrollment_id=enrollment.pk,
                                 line__run__kind="regular", line__run__period__gte=start)
        .exclude(line__run__state="computed").exclude(line__status="written_off")
        .values("line__run__period").annotate(total=Sum("amount")).values_list("line__run__period", "total")
    )
    if months_paid_without_item:  # a month the enrollment was paid without this item paid it 0.00
        line = apps.get_model("payroll", "PayrollLine")
        for period in (line.objects.filter(enrollment_id=enrollment.pk, run__kind="regular", run__period__gte=start)
                       .exclude(run__state="computed").exclude(status="written_off")
                       .values_list("run__period", flat=True)):
            paid.setdefault(period, ZERO)
    if not paid:
        return None
    ref = f"amount:{item.pk}"
    earlier: dict[dt.date, Decimal] = {}
    for adj in Adjustment.objects.filter(enrollment=enrollment, source_ref=ref).exclude(state=Adjustment.State.CANCELLED):
        sign = 1 if adj.kind == Adjustment.Kind.ARREARS else -1
        for month, value in (adj.detail.get("months") or {}).items():
            m = parse_month(month)
            earlier[m] = earlier.get(m, ZERO) + sign * Decimal(value)
    per_month = {m: amount - (p + earlier.get(m, ZERO)) for m, p in sorted(paid.items())}
    per_month = {m: d for m, d in per_month.items() if d != 0}
    total = sum(per_month.values(), ZERO)
    if total == 0:
        return None
    kind = Adjustment.Kind.ARREARS if total > 0 else Adjustment.Kind.DEDUCTION
    months = sorted(per_month)
    span = format_month(months[0]) + (f"—{format_month(months[-1])}" if len(months) > 1 else "")
    what = "补发" if total > 0 else "扣回多发"
    adjustment = Adjustment.objects.create(
        enrollment=enrollment, kind=kind, total=abs(total), remaining=abs(total),
        reason=f"{item.name}标准 {format_month(start)} 起调整为 {amount}，{what}已结算月份差额（{span}）"[:200],
        source="待遇标准追溯调整", source_ref=ref, period_from=months[0], period_to=months[-1],
        detail={"months": {format_month(m): str(d) for m, d in per_month.items()}, "item": item.code},
        created_by=user,
    )
    audit_record(user=user, action="create", obj=adjustment, person_id=enrollment.person_id,
                 summary=f"{enrollment.person.name} {item.name}追溯调整{adjustment.get_kind_display()} {abs(total)}"
                         f"（{span}）", after=snapshot(adjustment), reason=note)
    return adjustment


def _amounts_by_month(enrollment_id: int, months: list[dt.date]) -> dict[dt.date, Decimal]:
    """Σ recurring item amounts in effect in each month."""
    if not months:
        return {}
    ranges = list(
        BenefitAmount.objects.filter(enrollment_id=enrollment_id, item__recurring=True, from_month__lte=months[-1])
        .filter(Q(to_month__isnull=True) | Q(to_month__gte=months[0]))
        .values_list("from_month", "to_month", "amount")
    )
    out = {}
    for m in months:
        out[m] = sum((a for f, t, a in ranges if f <= m and (t is None or t >= m)), ZERO)
    return out


def _paid_by_month(enrollment: Enrollment, months: list[dt.date]) -> dict[dt.date, Decimal]:
    """Item money of approved regular runs per period for this person and scheme (payroll is read
    through the app registry: benefits sits below payroll). Lines that failed for good (written off)
    are not money paid; failed lines stay owed, and so count."""
    if not months:
        return {}
    component = apps.get_model("payroll", "PayrollComponent")
    rows = (
        component.objects.filter(
            kind="item", line__person_id=enrollment.person_id, line__run__scheme_id=enrollment.scheme_id,
            line__run__kind="regular", line__run__period__in=months,
        )
        .exclude(line__run__state="computed")
        .exclude(line__status="written_off")
        .values("line__run__period")
        .annotate(total=Sum("amount"))
    )
    return {r["line__run__period"]: r["total"] for r in rows}


# --------------------------------------------------------------------------------------------------
# status: suspend, resume, terminate


def enrollment_suspend(
    *,
    enrollment: Enrollment,
    reason: SuspensionReason | str,
    from_month,
    user,
    note: str = "",
) -> Suspension:
    """暂停 from ``from_month`` (the first month not paid). The reason decides whether the months are
    paid on resume; a reason that terminates (死亡) must go through ``enrollment_terminate``."""
    start = parse_month(from_month)
    if isinstance(reason, str):
        reason = SuspensionReason.objects.filter(code=reason).first() or _refuse(f"暂停原因 {reason} 不存在")
    if reason.terminates:
        raise BenefitError(f"“{reason.name}”是终止原因，请办理终止（减员）")
    with transaction.atomic():
        enrollment = _lock(enrollment)
        if start < enrollment.start_month:
            raise BenefitError(f"暂停年月不能早于开始发放年月 {format_month(enrollment.start_month)}")
        changed = Enrollment.objects.filter(pk=enrollment.pk, payment_status=PaymentStatus.ACTIVE).update(
            payment_status=PaymentStatus.SUSPENDED)
        if not changed:
            raise BenefitError(f"{enrollment.person.name} 当前状态为{enrollment.get_payment_status_display()}，不能暂停")
        last = Suspension.objects.filter(enrollment=enrollment).order_by("-from_month").first()
        if last and last.to_month and start <= last.to_month:
            raise BenefitError(f"暂停年月须晚于上次暂停的截止年月 {format_month(last.to_month)}")
        suspension = Suspension.objects.create(enrollment=enrollment, reason=reason,
                                               pays_on_resume=reason.pays_on_resume, from_month=start)
        StatusChange.objects.create(enrollment=enrollment, from_status=PaymentStatus.ACTIVE,
                                    to_status=PaymentStatus.SUSPENDED, effective_month=start, reason=reason,
                                    operator=user, note=note)
        audit_record(user=user, action="suspend", obj=enrollment, person_id=enrollment.person_id,
                     summary=f"{enrollment.person.name} {format_month(start)} 起暂停：{reason.name}",
                     before={"payment_status": PaymentStatus.ACTIVE},
                     after={"payment_status": PaymentStatus.SUSPENDED, "from_month": start,
                            "reason": reason.code, "pays_on_resume": reason.pays_on_resume}, reason=note)
    return suspension


def _refuse(message: str):
    raise BenefitError(message)


@dataclass
class ResumeResult:
    suspension: Suspension
    arrears: Adjustment | None
    months: list[dt.date] = field(default_factory=list)  # suspended months back-paid


def enrollment_resume(*, enrollment: Enrollment, from_month, user, note: str = "") -> ResumeResult:
    """恢复 from ``from_month`` (the first month paid again). If the suspension's reason pays on resume,
    the suspended months that were not paid are paid as one 补发 of Σ the recurring item amounts in
    effect in each of those months."""
    start = parse_month(from_month)
    with transaction.atomic():
        enrollment = _lock(enrollment)
        suspension = Suspension.objects.filter(enrollment=enrollment, to_month__isnull=True).first()
        if enrollment.payment_status != PaymentStatus.SUSPENDED or suspension is None:
            raise BenefitError(f"{enrollment.person.name} 当前不是暂停状态，不能恢复")
        if start <= suspension.from_month:
            raise BenefitError(f"恢复年月须晚于暂停起始年月 {format_month(suspension.from_month)}")
        changed = Enrollment.objects.filter(pk=enrollment.pk, payment_status=PaymentStatus.SUSPENDED).update(
            payment_status=PaymentStatus.ACTIVE)
        if not changed:
            raise BenefitError(f"{enrollment.person.name} 当前不是暂停状态，不能恢复")
        suspension.to_month = add_months(start, -1)
        suspension.save(update_fields=["to_month"])
        StatusChange.objects.create(enrollment=enrollment, from_status=PaymentStatus.SUSPENDED,
                                    to_status=PaymentStatus.ACTIVE, effective_month=start,
                                    reason=suspension.reason, operator=user, note=note)
        months: list[dt.date] = []
        arrears = None
        if suspension.pays_on_resume:
            last = suspension.to_month
            if enrollment.end_month:
                last = min(last, enrollment.end_month)
            candidates = month_range(max(suspension.from_month, enrollment.start_month), last)
            due = _amounts_by_month(enrollment.pk, candidates)
            paid = _paid_by_month(enrollment, candidates)
            per_month = {m: due[m] for m in candidates if due[m] > 0 and not paid.get(m)}
            months = sorted(per_month)
            total = sum(per_month.values(), ZERO)
            if total > 0:
                arrears = Adjustment.objects.create(
                    enrollment=enrollment, kind=Adjustment.Kind.ARREARS, total=total, remaining=total,
                    reason=f"恢复发放补发暂停期间待遇（{suspension.reason.name}）", source="暂停恢复",
                    source_ref=f"suspension:{suspension.pk}", period_from=months[0], period_to=months[-1],
                    detail={"months": {format_month(m): str(a) for m, a in per_month.items()}}, created_by=user,
                )
        audit_record(user=user, action="resume", obj=enrollment, person_id=enrollment.person_id,
                     summary=f"{enrollment.person.name} {format_month(start)} 起恢复发放"
                     + (f"，补发 {arrears.total}（{len(months)} 个月）" if arrears else ""),
                     before={"payment_status": PaymentStatus.SUSPENDED},
                     after={"payment_status": PaymentStatus.ACTIVE, "from_month": start,
                            "arrears": arrears.total if arrears else None,
                            "arrears_months": [format_month(m) for m in months]}, reason=note)
    return ResumeResult(suspension=suspension, arrears=arrears, months=months)


def suspension_cancel(*, enrollment: Enrollment, user, note: str = "") -> Suspension:
    """撤销 an open suspension that has not withheld any month yet (no regular run of the scheme for a
    month from its first month on exists): the suspension is removed, the status is 正常 again from
    its first month (a StatusChange records it), and no month was ever unpaid, so nothing is owed.
    Used when a 生存认证 arrives inside the suspension's first month. Once a run has withheld a month,
    resume instead (``enrollment_resume``, with its 补发)."""
    with transaction.atomic():
        enrollment = _lock(enrollment)
        suspension = Suspension.objects.filter(enrollment=enrollment, to_month__isnull=True).select_related(
            "reason").first()
        if enrollment.payment_status != PaymentStatus.SUSPENDED or suspension is None:
            raise BenefitError(f"{enrollment.person.name} 当前不是暂停状态，不能撤销暂停")
        run = apps.get_model("payroll", "PayrollRun")
        withheld = run.objects.filter(scheme_id=enrollment.scheme_id, kind="regular",
                                      period__gte=suspension.from_month).order_by("period").first()
        if withheld is not None:
            raise BenefitError(f"{format_month(withheld.period)} 已结算，暂停已生效，请办理恢复发放")
        changed = Enrollment.objects.filter(pk=enrollment.pk, payment_status=PaymentStatus.SUSPENDED).update(
            payment_status=PaymentStatus.ACTIVE)
        if not changed:  # pragma: no cover - locked above
            raise BenefitError(f"{enrollment.person.name} 当前不是暂停状态，不能撤销暂停")
        before = snapshot(suspension)
        suspension.delete()
        StatusChange.objects.create(enrollment=enrollment, from_status=PaymentStatus.SUSPENDED,
                                    to_status=PaymentStatus.ACTIVE, effective_month=suspension.from_month,
                                    reason=suspension.reason, operator=user, note=f"撤销暂停：{note}"[:300])
        audit_record(user=user, action="suspension_cancel", obj=enrollment, person_id=enrollment.person_id,
                     summary=f"{enrollment.person.name} 撤销 {format_month(suspension.from_month)} 起的暂停"
                             f"（{suspension.reason.name}），照常发放",
                     before={"payment_status": PaymentStatus.SUSPENDED, "suspension": before},
                     after={"payment_status": PaymentStatus.ACTIVE}, reason=note)
    return suspension


@dataclass
class TerminationResult:
    enrollment: Enrollment
    end_month: dt.date  # last month paid
    overpaid_months: list[dt.date]
    overpaid: Decimal
    deduction: Adjustment | None  # the overpayment to recover (扣回), if any


def enrollment_terminate(
    *,
    enrollment: Enrollment,
    reason: SuspensionReason | str,
    user,
    death_date: dt.date | None = None,
    last_month=None,
    note: str = "",
) -> TerminationResult:
    """终止 (减员). A death ends payment from the month after the death month (the death month is
    paid); money already paid for later months is an overpayment, recorded as a 扣减 to recover.
    Other reasons end after ``last_month``."""
    if isinstance(reason, str):
        reason = SuspensionReason.objects.filter(code=reason).first() or _refuse(f"终止原因 {reason} 不存在")
    if not reason.terminates:
        raise BenefitError(f"“{reason.name}”不是终止原因")
    if reason.code == "death":
        if death_date is None:
            raise BenefitError("死亡减员须填写死亡日期")
        end = month_of(death_date)
    else:
        if last_month is None:
            raise BenefitError("请填写最后发放年月")
        end = parse_month(last_month)
    with transaction.atomic():
        enrollment = _lock(enrollment)
        person = enrollment.person
        before = snapshot(enrollment, ["payment_status", "end_month"])
        changed = Enrollment.objects.filter(
            pk=enrollment.pk, payment_status__in=[PaymentStatus.ACTIVE, PaymentStatus.SUSPENDED]
        ).update(payment_status=PaymentStatus.TERMINATED, end_month=end)
        if not changed:
            raise BenefitError(f"{person.name} 已终止发放")
        if death_date is not None and person.death_date != death_date:
            from shebao.registry.services import RegistryError, person_update

            try:
                person_update(user=user, person=person, death_date=death_date, reason=note or "死亡减员")
            except RegistryError as exc:
                raise BenefitError(str(exc)) from None
        open_suspension = Suspension.objects.filter(enrollment=enrollment, to_month__isnull=True).first()
        if open_suspension:
            open_suspension.to_month = max(open_suspension.from_month, end)
            open_suspension.save(update_fields=["to_month"])
        StatusChange.objects.create(enrollment=enrollment, from_status=before["payment_status"],
                                    to_status=PaymentStatus.TERMINATED, effective_month=add_months(end, 1),
                                    event_date=death_date, reason=reason, operator=user, note=note)
        # overpayment: item money of approved regular runs for months after the end month
        component = apps.get_model("payroll", "PayrollComponent")
        rows = (
            component.objects.filter(kind="item", line__person_id=person.pk, line__run__scheme_id=enrollment.scheme_id,
                                     line__run__kind="regular", line__run__period__gt=end)
            .exclude(line__run__state="computed")
            .exclude(line__status__in=["failed", "written_off"])
            .values("line__run__period").annotate(total=Sum("amount")).order_by("line__run__period")
        )
        per_month = {r["line__run__period"]: r["total"] for r in rows if r["total"]}
        overpaid = sum(per_month.values(), ZERO)
        deduction = None
        if overpaid > 0:
            deduction = Adjustment.objects.create(
                enrollment=enrollment, kind=Adjustment.Kind.DEDUCTION, total=overpaid, remaining=overpaid,
                reason=f"{reason.name}后多发待遇扣回", source=f"{reason.name}减员",
                source_ref=f"termination:{enrollment.pk}", period_from=min(per_month), period_to=max(per_month),
                detail={"months": {format_month(m): str(a) for m, a in per_month.items()}}, created_by=user,
            )
        enrollment.refresh_from_db()
        audit_record(user=user, action="terminate", obj=enrollment, person_id=person.pk,
                     summary=f"{person.name} 终止发放（{reason.name}），最后发放年月 {format_month(end)}"
                     + (f"，多发 {overpaid} 待扣回" if overpaid else ""),
                     before=before, after={**snapshot(enrollment, ["payment_status", "end_month"]),
                                           "overpaid": overpaid}, reason=note)
    return TerminationResult(enrollment, end, sorted(per_month), overpaid, deduction)


# --------------------------------------------------------------------------------------------------
# adjustments


def adjustment_create(
    *,
    enrollment: Enrollment,
    kind: str,
    total,
    reason: str,
    user,
    monthly_cap=None,
    source: str = "",
    source_ref: str = "",
) -> Adjustment:
    """Record a 补发 (paid whole in the next payroll) or a 扣减 (taken up to the gross each month, at
    most ``monthly_cap``, carried over until recovered)."""
    if kind not in Adjustment.Kind.values:
        raise BenefitError(f"未知的调整类型 {kind}")
    amount = _money(total, "金额", positive=True)
    cap = None
    if monthly_cap not in (None, ""):
        if kind != Adjustment.Kind.DEDUCTION:
            raise BenefitError("只有扣减可以设置每月上限")
        cap = _money(monthly_cap, "每月上限", positive=True)
    if not (reason or "").strip():
        raise BenefitError("请填写原因")
    with transaction.atomic():
        enrollment = _lock(enrollment)
        adjustment = Adjustment.objects.create(
            enrollment=enrollment, kind=kind, total=amount, remaining=amount, monthly_cap=cap,
            reason=reason.strip(), source=source, source_ref=source_ref, created_by=user,
        )
        audit_record(user=user, action="create", obj=adjustment, person_id=enrollment.person_id,
                     summary=f"{enrollment.person.name} {adjustment.get_kind_display()} {amount}",
                     after=snapshot(adjustment), reason=reason)
    return adjustment


def adjustments_consume(*, taken_sql: str, params) -> int:
    """The 补发/扣减 a payroll run takes, consumed when the run is approved, set-based: ``taken_sql`` is a
    SELECT of (adjustment_id, taken) — what the run's components take of each adjustment. Under the
    adjustments' row locks (in id order): refused when one is no longer pending or has less remaining
    than the run takes (another run took it, or it was cancelled: recompute); otherwise remaining −=
    taken, settled at 0, in one UPDATE. Returns the number of adjustments changed. The caller (payroll
    approval) audits it in its transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT a.id FROM benefits_adjustment a WHERE a.id IN (SELECT adjustment_id FROM ({taken_sql}) t) "
                       "ORDER BY a.id FOR UPDATE", params)
        cursor.execute(f"SELECT count(*) FROM ({taken_sql}) t JOIN benefits_adjustment a ON a.id = t.adjustment_id "
                       "WHERE a.state <> 'pending' OR a.remaining < t.taken", params)
        stale = cursor.fetchone()[0]
        if stale:
            raise BenefitError(f"{stale} 笔补发/扣减已被其他批次结算或已取消，请重新计算后再审核")
        cursor.execute(f"UPDATE benefits_adjustment a SET remaining = a.remaining - t.taken, "
                       f"state = CASE WHEN a.remaining - t.taken = 0 THEN 'settled' ELSE a.state END "
                       f"FROM ({taken_sql}) t WHERE a.id = t.adjustment_id", params)
        return cursor.rowcount


@dataclass
class NetSettlement:
    arrears: Decimal  # Σ remaining of the pending 补发 netted
    deductions: Decimal  # Σ remaining of the pending 扣减 netted
    settled: list[int]  # the adjustments closed
    receivable: Adjustment | None  # 待追回: what is still owed back, an open 扣减


def adjustments_net_settle(*, enrollment: Enrollment, credit=ZERO, user, reason: str) -> NetSettlement:
    """Net an ended enrollment's pending 补发 and 扣减 when nothing is left to pay: owed back =
    Σ remaining 扣减 − Σ remaining 补发 − ``credit`` (other money the scheme owes, e.g. a guarantee);
    refused when that is negative (money is owed: pay it through a settlement line instead). Every
    pending 补发 and 扣减 is closed (remaining 0, 已结清); what is owed back (> 0) becomes one 待追回 — an
    open 扣减 (source_ref ``recovery:<enrollment>``) that ``adjustment_reduce`` closes when the money
    comes back as income. Under the adjustments' row locks; audited in the same transaction."""
    credit = quantize(to_decimal(credit))
    with transaction.atomic():
        enrollment = _lock(enrollment)
        pending = list(Adjustment.objects.select_for_update().filter(enrollment=enrollment,
                                                                     state=Adjustment.State.PENDING).order_by("pk"))
        arrears = sum((a.remaining for a in pending if a.kind == Adjustment.Kind.ARREARS), ZERO)
        deductions = sum((a.remaining for a in pending if a.kind == Adjustment.Kind.DEDUCTION), ZERO)
        owed_back = deductions - arrears - credit
        if owed_back < 0:
            raise BenefitError(f"{enrollment.person.name} 尚有应付款 {-owed_back}，须以结算明细发放，不能直接冲抵")
        ids = [a.pk for a in pending]
        changed = Adjustment.objects.filter(pk__in=ids, state=Adjustment.State.PENDING).update(
            remaining=ZERO, state=Adjustment.State.SETTLED)
        if changed != len(ids):  # pragma: no cover - locked above
            raise BenefitError("补发/扣减已被其他操作处理，请重试")
        receivable = None
        if owed_back > 0:
            receivable = Adjustment.objects.create(
                enrollment=enrollment, kind=Adjustment.Kind.DEDUCTION, total=owed_back, remaining=owed_back,
                reason=f"待追回：{reason}"[:200], source="终止结算待追回", source_ref=f"recovery:{enrollment.pk}",
                detail={"netted": ids, "arrears": str(arrears), "deductions": str(deductions), "credit": str(credit)},
                created_by=user,
            )
        audit_record(user=user, action="adjustments_net_settle", obj=enrollment, person_id=enrollment.person_id,
                     summary=f"{enrollment.person.name} 终止结算冲抵：补发 {arrears}，扣减 {deductions}"
                             + (f"，其他应付 {credit}" if credit else "")
                             + (f"，待追回 {owed_back}" if owed_back > 0 else "，已结清"),
                     before={"pending": ids}, after={"settled": ids, "receivable": receivable.pk if receivable else None,
                                                     "owed_back": owed_back}, reason=reason)
    return NetSettlement(arrears, deductions, ids, receivable)


def adjustment_cancel(*, adjustment: Adjustment, user, reason: str) -> Adjustment:
    """Cancel a pending adjustment (the part already taken stays taken)."""
    if not (reason or "").strip():
        raise BenefitError("请填写取消原因")
    with transaction.atomic():
        changed = Adjustment.objects.filter(pk=adjustment.pk, state=Adjustment.State.PENDING).update(
            state=Adjustment.State.CANCELLED)
        if not changed:
            raise BenefitError("只有待处理的补发/扣减可以取消")
        adjustment.refresh_from_db()
        audit_record(user=user, action="cancel", obj=adjustment, person_id=adjustment.enrollment.person_id,
                     summary=f"取消{adjustment.get_kind_display()} {adjustment.total}",
                     before={"state": "pending"}, after={"state": "cancelled"}, reason=reason)
    return adjustment


def adjustment_reduce(*, adjustment: Adjustment, amount, user, reason: str, source: str = "") -> Adjustment:
    """Reduce a pending 扣减 by money that came back from outside (收入: a recovered overpayment, a
    returned payment), so it is not recovered twice: remaining − amount; at 0 it is settled. More
    than the remaining amount is refused. A conditional update (pending, remaining ≥ amount), so two
    clerks (or a double click) can never both apply; audited with before/after."""
    value = _money(amount, "冲减金额", positive=True)
    if not (reason or "").strip():
        raise BenefitError("请填写原因")
    if adjustment.kind != Adjustment.Kind.DEDUCTION:
        raise BenefitError("只有扣减可以用收入冲减")
    with transaction.atomic():
        changed = Adjustment.objects.filter(
            pk=adjustment.pk, kind=Adjustment.Kind.DEDUCTION, state=Adjustment.State.PENDING, remaining__gte=value,
        ).update(
            remaining=F("remaining") - value,
            state=Case(When(remaining=value, then=Value(str(Adjustment.State.SETTLED))),
                       default=Value(str(Adjustment.State.PENDING))),
        )
        current = Adjustment.objects.select_related("enrollment__person").get(pk=adjustment.pk)
        if not changed:
            if current.state != Adjustment.State.PENDING:
                raise BenefitError(f"该扣减{current.get_state_display()}，不能冲减")
            raise BenefitError(f"冲减金额 {value} 超过未结金额 {current.remaining}")
        before_remaining = current.remaining + value
        audit_record(user=user, action="reduce", obj=current, person_id=current.enrollment.person_id,
                     summary=f"{current.enrollment.person.name} 扣减冲减 {value}，未结 {before_remaining} → "
                     f"{current.remaining}" + (f"（{source}）" if source else ""),
                     before={"remaining": before_remaining, "state": Adjustment.State.PENDING},
                     after={"remaining": current.remaining, "state": current.state, "source": source},
                     reason=reason.strip())
    adjustment.remaining, adjustment.state = current.remaining, current.state
    return current


# --------------------------------------------------------------------------------------------------
# many amounts at once (e.g. 养老保障 到龄转换)


@dataclass
class AmountRow:
    """One change for ``benefit_amounts_bulk_set``: the item's amount from ``from_month`` on."""

    enrollment_id: int
    item: BenefitItem | str
    amount: object
    from_month: object
    note: str = ""


def benefit_amounts_bulk_set(*, scheme: Scheme, rows: list[AmountRow], user) -> int:
    """``benefit_amount_set`` for many enrollments of one scheme at once, by the same rule: the item's
    open range is closed at from_month − 1 and a new range opened (history never overwritten; a
    from_month not after the open range's start, or inside a closed range, is refused — all or
    nothing). Set-based: the enrollments locked in id order in one statement, the open ranges closed in
    one UPDATE per distinct end month, the new ranges in one INSERT per 2,000, one audit event per
    enrollment (each item's range before and after). Months already paid
    by an approved regular run get their difference as ``benefit_amount_set`` gives it (one 补发 or
    扣减 per enrollment and item: ``_back_dated_difference``), for those enrollments only — an item new
    from such a month (e.g. the 养老金 of a late 到龄转换) is owed for every month the enrollment was paid."""
    if not rows:
        return 0
    items_by_key: dict = {}
    for item in BenefitItem.objects.filter(scheme=scheme):
        items_by_key[item.code] = item
        items_by_key.setdefault(item.name, item)
    prepared = []
    seen = set()
    for row in rows:
        item = row.item if isinstance(row.item, BenefitItem) else items_by_key.get(row.item)
        if item is None or item.scheme_id != scheme.pk:
            raise BenefitError(f"{scheme.name}没有待遇项目 {row.item}")
        key = (row.enrollment_id, item.pk)
        if key in seen:
            raise BenefitError(f"待遇项目 {item.name} 重复（待遇享受 {row.enrollment_id}）")
        seen.add(key)
        prepared.append((row.enrollment_id, item, _money(row.amount, f"{item.name}月金额"),
                         parse_month(row.from_month), (row.note or "")[:200]))
    eids = sorted({p[0] for p in prepared})
    with transaction.atomic():
        locked = {e.pk: e for e in Enrollment.objects.select_for_update().select_related("person")
                  .filter(pk__in=eids, scheme=scheme).order_by("pk")}
        if len(locked) != len(eids):
            raise BenefitError(f"{len(eids) - len(locked)} 条待遇享受不存在或不属于{scheme.name}")
        ranges: dict[tuple[int, int], list] = {}
        for r in BenefitAmount.objects.filter(enrollment_id__in=eids, item_id__in={p[1].pk for p in prepared}):
            ranges.setdefault((r.enrollment_id, r.item_id), []).append(r)
        to_close: list[BenefitAmount] = []
        new: list[BenefitAmount] = []
        events = []
        for eid, item, amount, start, note in prepared:
            enrollment = locked[eid]
            open_range = None
            for r in ranges.get((eid, item.pk), []):
                if r.to_month is None:
                    open_range = r
                elif r.to_month >= start:
                    raise BenefitError(f"{enrollment.person.name} {item.name} 在 {format_month(r.from_month)}–"
                                       f"{format_month(r.to_month)} 已有标准，不能从 {format_month(start)} 起重新设置"
                                       "（历史标准不可覆盖）")
            before = None
            if open_range is not None:
                if open_range.from_month >= start:
                    raise BenefitError(f"{enrollment.person.name} {item.name} 已有 {format_month(open_range.from_month)}"
                                       " 起的标准，新标准须晚于该月（历史标准不可覆盖）")
                before = snapshot(open_range)
                open_range.to_month = add_months(start, -1)
                to_close.append(open_range)
            a = BenefitAmount(enrollment=enrollment, item=item, amount=amount, from_month=start, created_by=user,
                              note=note)
            new.append(a)
            events.append((a, before, note))
        by_month: dict[dt.date, list[int]] = {}
        for r in to_close:  # one UPDATE per distinct end month (a conversion batch has a few)
            by_month.setdefault(r.to_month, []).append(r.pk)
        for month, ids in by_month.items():
            BenefitAmount.objects.filter(pk__in=ids, to_month__isnull=True).update(to_month=month)
        BenefitAmount.objects.bulk_create(new, batch_size=2000)
        per_enrollment: dict[int, list] = {}
        for a, before, note in events:
            per_enrollment.setdefault(a.enrollment_id, []).append((a, before, note))
        audit_record_many([{  # one event per enrollment: every item it changed, before and after
            "user": user, "action": "update", "obj": changes[0][0].enrollment,
            "person_id": changes[0][0].enrollment.person_id,
            "summary": f"{changes[0][0].enrollment.person.name} "
                       + "，".join(f"{a.item.name} {format_month(a.from_month)} 起 {a.amount}" for a, _, _ in changes),
            "before": {"amounts": {a.item.code: b for a, b, _ in changes}},
            "after": {"amounts": {a.item.code: snapshot(a) for a, _, _ in changes}}, "reason": changes[0][2],
        } for changes in per_enrollment.values()])
        # back-dated: only the enrollments with an approved regular run of a month ≥ the change
        first = min(p[3] for p in prepared)
        component = apps.get_model("payroll", "PayrollComponent")
        paid_eids = set(component.objects.filter(
            kind="item", line__enrollment_id__in=eids, line__run__kind="regular", line__run__period__gte=first,
        ).exclude(line__run__state="computed").values_list("line__enrollment_id", flat=True).distinct())
        for eid, item, amount, start, note in prepared:
            if eid in paid_eids and item.recurring:
                _back_dated_difference(enrollment=locked[eid], item=item, amount=amount, start=start, user=user,
                                       note=note, months_paid_without_item=True)
    return len(new)
