"""Writes of the 自管人员 subsystem. Everything that touches a person, an account, a benefit or a run
goes through the registry, benefits and payroll services; what is ours (roster batches, flexible
payments, income) is written here, each in one transaction with its audit record."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from shebao.benefits.models import Adjustment, Enrollment, PaymentStatus, Scheme
from shebao.benefits.months import format_month, month_of
from shebao.benefits.services import (
    BenefitError,
    EnrollmentRow,
    adjustment_reduce,
    benefit_amount_set,
    enrollment_bulk_create,
    enrollment_create,
    enrollment_suspend,
    enrollment_update,
    scheme_get,
)
from shebao.common.audit import audit_record, snapshot
from shebao.common.jobs import Progress
from shebao.common.money import ZERO, quantize, to_decimal
from shebao.payroll import schemes
from shebao.payroll.services import PayrollError, payroll_oneoff_create
from shebao.registry.models import Person
from shebao.registry.roster_import import ImportResult, RosterImporter, apply_persons, row_error
from shebao.registry.services import (
    RegistryError,
    bank_account_set,
    person_create,
    person_update,
)
from shebao.self_managed.models import FlexPayment, Income, RosterImport
from shebao.self_managed.roster import RosterFileError, plan_preview, read_rows, roster_plan

SCHEME = "ZG"


class ZgError(Exception):
    """A refused 自管人员 action; ``str()`` is the message for the user (Chinese)."""


def zg_scheme() -> Scheme:
    return scheme_get(SCHEME)


# --------------------------------------------------------------------------------------------------
# roster import


RosterResult = ImportResult  # (batch, plan, applied) and ``changed``: the roster engine's result


def _apply_person(pp, *, user, reason: str, today: dt.date) -> None:
    """One already enrolled person's changes (new enrollments go set-based: ``_apply_new_enrollments``)."""
    person = Person.objects.get(pk=pp.person_id)
    if pp.person_changes:
        person = person_update(user=user, person=person, reason=reason, **pp.person_changes)
    if pp.account:
        bank, number, holder = pp.account
        bank_account_set(user=user, person=person, bank=bank, account_number=number, holder_name=holder,
                         valid_from=today, reason=reason)
    enrollment = Enrollment.objects.get(pk=pp.enrollment_id)
    if pp.service_years is not None or pp.note is not None:
        enrollment_update(enrollment=enrollment, user=user, reason=reason, service_years=pp.service_years,
                          note=pp.note)
    for change in sorted(pp.items, key=lambda c: (c.item.sort, c.from_month)):
        benefit_amount_set(enrollment=enrollment, item=change.item, amount=change.amount,
                           from_month=change.from_month, user=user, note=reason)


def _row_error(pp, exc: Exception) -> ZgError:
    return row_error(ZgError, pp, exc)


def _apply_new_enrollments(todo: list, *, scheme: Scheme, user, reason: str, today: dt.date,
                           originals: dict) -> None:
    """The persons the roster newly enrolls (most of a first-time import), set-based: new persons and
    changed accounts by the roster engine (``apply_persons``: one ``person_bulk_create``, one
    ``bank_account_bulk_set``), the enrollments with their items in one ``enrollment_bulk_create`` — the
    same rules and audit as one by one. Existing persons' changes and suspensions (rare) go through the
    one-person services."""
    persons = apply_persons(todo, user=user, reason=reason, today=today, error=ZgError, originals=originals)
    rows = [
        EnrollmentRow(
            person=persons[pp.id_number], start_month=pp.start_month, service_years=pp.service_years or 0,
            note=pp.note or "", items={c.item: c.amount for c in pp.items if c.from_month == pp.start_month},
            changes=[(c.item, c.amount, c.from_month) for c in sorted(pp.items, key=lambda c: c.from_month)
                     if c.from_month != pp.start_month],
        )
        for pp in todo
    ]
    try:
        enrollments = enrollment_bulk_create(scheme=scheme, rows=rows, user=user, reason=reason)
    except BenefitError as exc:
        raise _row_error(todo[getattr(exc, "index", 0)], exc) from None
    for pp, enrollment in zip(todo, enrollments, strict=True):
        if pp.status == PaymentStatus.SUSPENDED:
            try:
                enrollment_suspend(enrollment=enrollment, reason="other", user=user, note=reason,
                                   from_month=max(pp.start_month, month_of(today)))
            except BenefitError as exc:
                raise _row_error(pp, exc) from None


def _apply(plan, todo: list, *, user, reason: str, progress: Progress) -> None:
    """The roster's apply step (inside the engine's transaction): the new enrollments set-based, each
    enrolled person's changes one by one."""
    today = timezone.localdate()
    enrolling = [pp for pp in todo if pp.new_enrollment]
    if enrolling:
        _apply_new_enrollments(enrolling, scheme=zg_scheme(), user=user, reason=reason, today=today,
                               originals=plan.id_originals)
        progress.advance(len(enrolling))
    for pp in todo:
        if pp.new_enrollment:
            continue
        try:
            with transaction.atomic():
                _apply_person(pp, user=user, reason=reason, today=today)
        except (RegistryError, BenefitError) as exc:
            raise _row_error(pp, exc) from None
        progress.advance()


ROSTER = RosterImporter(
    batch_model=RosterImport, error=ZgError, file_error=RosterFileError, read=read_rows, check=roster_plan,
    apply=_apply, preview=plan_preview, reason="花名册导入 {file_name}", audit_action="roster_import",
    audit_title="自管人员花名册导入 {file_name}：")


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
    (or ``dry_run``) nothing is written. Otherwise the whole file is applied in one transaction through
    the registry and benefits services, audited, and recorded as a batch (the roster engine's flow)."""
    return ROSTER.run(file_name=file_name, data=data, user=user, username=username, dry_run=dry_run,
                      progress=progress, batch=batch)


def roster_upload(*, file_name: str, data: bytes, user) -> RosterImport:
    """The web's first step: keep the file and its check (errors, or what would change) as a batch to
    confirm. Writes only the batch record."""
    return ROSTER.upload(file_name=file_name, data=data, user=user)


def roster_confirm(*, batch: RosterImport, user) -> RosterResult:
    """Apply a previewed batch (checked again: the data may have moved since the preview). A batch is
    applied once: a second confirm (double click) is refused."""
    return ROSTER.confirm(batch=batch, user=user)


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
        # the ledger (社会保险特殊业务) records it once as an expenditure paid by the run
        schemes.ledger_report(schemes.LedgerEntry(
            source=f"self_managed.flex:{payment.pk}", kind="FLEX_PAYMENT", amount=payment.amount,
            on=timezone.localdate(), person_id=person.pk, run_id=run.pk, note=f"灵活支付：{reason}"[:300]), user=user)
    return payment


# the ledger's business type of each kind of 自管人员 income
LEDGER_KINDS = {Income.Kind.OVERPAYMENT: "OVERPAY_RECOVERY", Income.Kind.BANK_RETURN: "BANK_RETURN",
                Income.Kind.OTHER: "OTHER_INCOME"}


# --------------------------------------------------------------------------------------------------
# 收入


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
        if deduction is not None and deduction.remaining > 0:
            applied = min(value, deduction.remaining)
            try:
                adjustment_reduce(adjustment=deduction, amount=applied, user=user,
                                  reason=f"收入冲减（{income.get_kind_display()}，{income.source}）",
                                  source=f"income:{income.pk}")
            except BenefitError as exc:
                raise ZgError(str(exc)) from None
            Income.objects.filter(pk=income.pk).update(deduction=deduction, applied=applied)
            income.refresh_from_db()
        audit_record(user=user, action="create", obj=income, person_id=person.pk,
                     summary=f"收入 {person.name} {income.get_kind_display()} {value}"
                     + (f"，冲减扣减 {applied}" if applied else ""),
                     after=snapshot(income), reason=note or source)
        # the ledger records the money once (追回/退回 as income), for 到账确认 and 复核 by finance
        schemes.ledger_report(schemes.LedgerEntry(
            source=f"self_managed.income:{income.pk}", kind=LEDGER_KINDS[income.kind], amount=income.amount,
            on=income.received_on, person_id=person.pk,
            note=f"自管人员{income.get_kind_display()}：{income.source}"[:300]), user=user)
    return income


def month_text(month) -> str:
    return format_month(month)
