"""Writes of the 自管人员 subsystem. Everything that touches a person, an account, a benefit or a run
goes through the registry, benefits and payroll services; what is ours (roster batches, flexible
payments, income) is written here, each in one transaction with its audit record."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shebao.benefits.models import Adjustment, Enrollment, PaymentStatus, Scheme
from shebao.benefits.months import format_month, month_of
from shebao.benefits.services import (
    BenefitError,
    benefit_amount_set,
    enrollment_create,
    enrollment_suspend,
    scheme_get,
)
from shebao.common.audit import audit_record, snapshot
from shebao.common.jobs import NullProgress, Progress
from shebao.common.money import ZERO, quantize, to_decimal
from shebao.payroll.services import PayrollError, payroll_oneoff_create
from shebao.registry.models import Person
from shebao.registry.services import RegistryError, bank_account_set, person_create, person_update
from shebao.self_managed.models import FlexPayment, Income, RosterImport
from shebao.self_managed.roster import RosterFileError, RosterPlan, read_rows, roster_plan

SCHEME = "ZG"


class ZgError(Exception):
    """A refused 自管人员 action; ``str()`` is the message for the user (Chinese)."""


def zg_scheme() -> Scheme:
    return scheme_get(SCHEME)


# --------------------------------------------------------------------------------------------------
# roster import


@dataclass
class RosterResult:
    batch: RosterImport | None
    plan: RosterPlan
    applied: bool

    @property
    def changed(self) -> int:
        return len(self.plan.changed) if self.applied else 0


def _user_label(user, username: str) -> str:
    if user is not None and getattr(user, "is_authenticated", False):
        return user.get_username()
    return username


def enrollment_service_years_set(*, enrollment: Enrollment, service_years: Decimal, user, reason: str = "") -> None:
    """工龄 of an enrollment. STOPGAP until benefits offers ``enrollment_update``: a conditional update
    of that one field with its audit record (the raise reads it; nothing else derives from it)."""
    with transaction.atomic():
        current = Enrollment.objects.select_for_update().select_related("person").get(pk=enrollment.pk)
        if current.service_years == service_years:
            return
        before = current.service_years
        Enrollment.objects.filter(pk=current.pk).update(service_years=service_years, updated_at=timezone.now())
        audit_record(user=user, action="update", obj=current, person_id=current.person_id,
                     summary=f"{current.person.name} 工龄 {before} → {service_years}",
                     before={"service_years": before}, after={"service_years": service_years}, reason=reason)


def enrollment_note_set(*, enrollment: Enrollment, note: str, user, reason: str = "") -> None:
    """备注 of an enrollment. STOPGAP until benefits offers ``enrollment_update`` (as above)."""
    with transaction.atomic():
        current = Enrollment.objects.select_for_update().select_related("person").get(pk=enrollment.pk)
        if current.note == note:
            return
        Enrollment.objects.filter(pk=current.pk).update(note=note[:200], updated_at=timezone.now())
        audit_record(user=user, action="update", obj=current, person_id=current.person_id,
                     summary=f"{current.person.name} 自管人员备注", before={"note": current.note},
                     after={"note": note[:200]}, reason=reason)


def _apply_person(pp, *, scheme: Scheme, user, reason: str, today: dt.date) -> None:
    if pp.new_person:
        extra = {k: v for k, v in (("mobile", pp.mobile), ("phone", pp.phone)) if v}
        person = person_create(user=user, id_number=pp.id_number, name=pp.name, town=pp.town, reason=reason, **extra)
    else:
        person = Person.objects.get(pk=pp.person_id)
        if pp.person_changes:
            person = person_update(user=user, person=person, reason=reason, **pp.person_changes)
    if pp.account:
        bank, number, holder = pp.account
        bank_account_set(user=user, person=person, bank=bank, account_number=number, holder_name=holder,
                         valid_from=today, reason=reason)
    if pp.new_enrollment:
        at_start = [c for c in pp.items if c.from_month == pp.start_month]
        enrollment = enrollment_create(
            person=person, scheme=scheme, start_month=pp.start_month, user=user,
            service_years=pp.service_years or 0, note=pp.note or "", items={c.item: c.amount for c in at_start},
        )
        for change in (c for c in pp.items if c.from_month != pp.start_month):
            benefit_amount_set(enrollment=enrollment, item=change.item, amount=change.amount,
                               from_month=change.from_month, user=user, note=reason)
        if pp.status == PaymentStatus.SUSPENDED:
            enrollment_suspend(enrollment=enrollment, reason="other", user=user, note=reason,
                               from_month=max(pp.start_month, month_of(today)))
        return
    enrollment = Enrollment.objects.get(pk=pp.enrollment_id)
    if pp.service_years is not None:
        enrollment_service_years_set(enrollment=enrollment, service_years=pp.service_years, user=user, reason=reason)
    if pp.note is not None:
        enrollment_note_set(enrollment=enrollment, note=pp.note, user=user, reason=reason)
    for change in sorted(pp.items, key=lambda c: (c.item.sort, c.from_month)):
        benefit_amount_set(enrollment=enrollment, item=change.item, amount=change.amount,
                           from_month=change.from_month, user=user, note=reason)


def roster_import(
    *,
    file_name: str,
    data: bytes,
    user=None,
    username: str = "",
    dry_run: bool = False,
    progress: Progress | None = None,
    batch: RosterImport | None = None,
) -> RosterResult:
    """Import a 花名册 (see ``shebao.self_managed.roster``). Every row is checked first; with any error
    (or ``dry_run``) nothing is written but the batch record. Otherwise the whole file is applied in
    one transaction through the registry and benefits services, audited, and recorded as a batch."""
    progress = progress or NullProgress()
    rows = read_rows(file_name, data)
    progress.note("检查中")
    plan = roster_plan(rows, user=user)
    sha = hashlib.sha256(data).hexdigest()
    if not plan.ok or dry_run:
        return RosterResult(None, plan, False)
    if user is None or not getattr(user, "is_authenticated", False):
        raise ZgError("导入须指定经办人（命令行用 --as 用户名）")
    scheme = zg_scheme()
    reason = f"花名册导入 {file_name}"
    today = timezone.localdate()
    todo = plan.changed
    if not todo and batch is None:
        progress.finish("没有变动")
        return RosterResult(None, plan, True)  # the same file again: nothing is written at all
    with transaction.atomic():
        progress.start(len(todo), "导入中")
        for pp in todo:
            try:
                with transaction.atomic():
                    _apply_person(pp, scheme=scheme, user=user, reason=reason, today=today)
            except (RegistryError, BenefitError) as exc:
                raise ZgError(f"第 {pp.rows[0]} 行（{pp.name}）：{exc}") from None
            progress.advance()
        summary = plan.summary()
        if batch is None:
            batch = RosterImport.objects.create(
                file_name=file_name[:200], sha256=sha, content=data, state=RosterImport.State.APPLIED,
                row_count=plan.rows, changed_count=len(todo), summary=summary, created_by=user,
                created_by_name=_user_label(user, username), applied_at=timezone.now(),
            )
        else:
            RosterImport.objects.filter(pk=batch.pk).update(
                state=RosterImport.State.APPLIED, applied_at=timezone.now(), changed_count=len(todo),
                error_count=0, summary=summary)
            batch.refresh_from_db()
        audit_record(user=user, action="roster_import", obj=batch, summary=f"自管人员花名册导入 {file_name}："
                     f"{plan.summary_text()}", after={**summary, "sha256": sha}, reason=reason)
    progress.finish(f"已导入：变动 {len(todo)} 人")
    return RosterResult(batch, plan, True)


def roster_upload(*, file_name: str, data: bytes, user) -> RosterImport:
    """The web's first step: keep the file and its check (errors, or what would change) as a batch to
    confirm. Writes only the batch record."""
    try:
        plan = roster_plan(read_rows(file_name, data), user=user)
    except RosterFileError as exc:
        raise ZgError(str(exc)) from None
    return RosterImport.objects.create(
        file_name=file_name[:200], sha256=hashlib.sha256(data).hexdigest(), content=data,
        state=RosterImport.State.PREVIEWED if plan.ok else RosterImport.State.REFUSED,
        row_count=plan.rows, error_count=len(plan.errors), changed_count=len(plan.changed),
        summary=plan.summary(), created_by=user, created_by_name=user.get_username(),
    )


def roster_confirm(*, batch: RosterImport, user) -> RosterResult:
    """Apply a previewed batch (checked again: the data may have moved since the preview). A batch is
    applied once: a second confirm (double click) is refused."""
    with transaction.atomic():
        locked = RosterImport.objects.select_for_update().get(pk=batch.pk)
        if locked.state != RosterImport.State.PREVIEWED:
            raise ZgError(f"该批次{locked.get_state_display()}，不能导入")
        if locked.created_by_id != user.pk:
            raise ZgError("只能确认自己上传的花名册")
        result = roster_import(file_name=locked.file_name, data=bytes(locked.content), user=user, batch=locked)
        if not result.applied:
            raise ZgError(f"花名册有 {len(result.plan.errors)} 处错误（数据已变化），未导入，请重新上传")
    return result


# --------------------------------------------------------------------------------------------------
# enrollment (人员新增)


def zg_enroll(
    *,
    user,
    start_month,
    items: dict,
    service_years=0,
    note: str = "",
    person: Person | None = None,
    new_person: dict | None = None,
    account: dict | None = None,
) -> Enrollment:
    """人员新增: enroll an existing person, or register a new one (``new_person``: id_number, name,
    town, mobile …), in 自管人员 from ``start_month`` with the item amounts; optionally set the
    payment account (``account``: bank, account_number, holder_name, branch). One transaction."""
    scheme = zg_scheme()
    with transaction.atomic():
        if person is None:
            if not new_person:
                raise ZgError("请选择已登记人员或填写新人员信息")
            person = person_create(user=user, reason="自管人员新增", **new_person)
        if account and account.get("account_number"):
            bank_account_set(user=user, person=person, reason="自管人员新增", **account)
        items = {k: v for k, v in items.items() if v not in (None, "")}
        if not items:
            raise ZgError("请至少填写一个待遇项目的月金额")
        return enrollment_create(person=person, scheme=scheme, start_month=start_month, user=user,
                                 service_years=service_years, items=items, note=note)


# --------------------------------------------------------------------------------------------------
# 灵活支付


def flex_payment_create(*, person: Person, amount, reason: str, user, source: str = "", period=None) -> FlexPayment:
    """A one-off payment to a person: a one-off run (零星发放) of one line through the payroll engine,
    to be approved by another user and sent like any run; the payment is recorded with its run."""
    reason = (reason or "").strip()
    if not reason:
        raise ZgError("请填写事由")
    try:
        value = to_decimal(amount)
    except ValueError as exc:
        raise ZgError(str(exc)) from None
    if value <= 0 or value != quantize(value):
        raise ZgError(f"金额 {amount} 应为大于 0 的两位小数")
    if not person.bank_accounts.filter(valid_to__isnull=True).exists():
        raise ZgError(f"{person.name} 没有支付账户，请先登记账户")
    with transaction.atomic():
        try:
            run = payroll_oneoff_create(scheme=zg_scheme(), items=[(person, value, reason[:100])], user=user,
                                        period=period, note=f"灵活支付：{reason}"[:300])
        except PayrollError as exc:
            raise ZgError(str(exc)) from None
        payment = FlexPayment.objects.create(person=person, amount=quantize(value), reason=reason[:200],
                                             source=source.strip()[:200], run=run, created_by=user)
        audit_record(user=user, action="create", obj=payment, person_id=person.pk,
                     summary=f"灵活支付 {person.name} {quantize(value)}（零星发放批次 {run.pk}）",
                     after=snapshot(payment), reason=reason)
    return payment


# --------------------------------------------------------------------------------------------------
# 收入


def _deduction_reduce(*, deduction: Adjustment, amount: Decimal, user, income: Income) -> Decimal:
    """Reduce an open 扣减 by money that came back from outside. STOPGAP until benefits offers
    ``adjustment_reduce``: a conditional update (pending, remaining unchanged since read) with its
    audit record; settles the deduction when nothing remains. Returns the amount applied."""
    applied = min(amount, deduction.remaining)
    if applied <= 0:
        return ZERO
    left = deduction.remaining - applied
    changed = Adjustment.objects.filter(
        pk=deduction.pk, state=Adjustment.State.PENDING, remaining=deduction.remaining,
    ).update(remaining=F("remaining") - applied,
             state=Adjustment.State.SETTLED if left == 0 else Adjustment.State.PENDING)
    if not changed:
        raise ZgError("该扣减刚被其他操作改动，请重试")
    audit_record(user=user, action="recover", obj=deduction, person_id=income.person_id,
                 summary=f"收入冲减扣减 {applied}（收入 {income.pk}），未结 {deduction.remaining} → {left}",
                 before={"remaining": deduction.remaining, "state": deduction.state},
                 after={"remaining": left, "state": "settled" if left == 0 else "pending", "income": income.pk})
    return applied


def income_record(
    *,
    person: Person,
    kind: str,
    amount,
    received_on: dt.date,
    source: str,
    user,
    note: str = "",
    deduction: Adjustment | None = None,
) -> Income:
    """收入: money that came back for a person. A recovered overpayment or a returned payment reduces
    the person's open 扣减 of 自管人员 (the given one, else the oldest pending one) by up to its
    remaining amount — the rest is income only. Audited in the same transaction."""
    if kind not in Income.Kind.values:
        raise ZgError(f"未知的收入类型 {kind}")
    try:
        value = to_decimal(amount)
    except ValueError as exc:
        raise ZgError(str(exc)) from None
    if value <= 0 or value != quantize(value):
        raise ZgError(f"金额 {amount} 应为大于 0 的两位小数")
    value = quantize(value)
    if not (source or "").strip():
        raise ZgError("请填写来源")
    if received_on > timezone.localdate():
        raise ZgError("到账日期不能晚于今天")
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().filter(person=person, scheme__code=SCHEME).first()
        if deduction is not None:
            if enrollment is None or deduction.enrollment_id != enrollment.pk:
                raise ZgError("所选扣减不属于该人员")
            if deduction.kind != Adjustment.Kind.DEDUCTION or deduction.state != Adjustment.State.PENDING:
                raise ZgError("所选记录不是待处理的扣减")
        elif enrollment is not None and kind != Income.Kind.OTHER:
            deduction = (Adjustment.objects.filter(enrollment=enrollment, kind=Adjustment.Kind.DEDUCTION,
                                                   state=Adjustment.State.PENDING)
                         .order_by("created_at", "id").first())
        if deduction is not None:
            deduction = Adjustment.objects.select_for_update().get(pk=deduction.pk)
        income = Income.objects.create(
            person=person, enrollment=enrollment, kind=kind, amount=value, received_on=received_on,
            source=source.strip()[:200], note=(note or "").strip()[:300], created_by=user,
        )
        applied = ZERO
        if deduction is not None:
            applied = _deduction_reduce(deduction=deduction, amount=value, user=user, income=income)
            Income.objects.filter(pk=income.pk).update(deduction=deduction if applied else None, applied=applied)
            income.refresh_from_db()
        audit_record(user=user, action="create", obj=income, person_id=person.pk,
                     summary=f"收入 {person.name} {income.get_kind_display()} {value}"
                     + (f"，冲减扣减 {applied}" if applied else ""),
                     after=snapshot(income), reason=note or source)
    return income


def month_text(month) -> str:
    return format_month(month)
