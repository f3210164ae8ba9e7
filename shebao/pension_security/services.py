"""Writes of the 养老保障 (BZ) subsystem. Persons and accounts go through the registry, enrollments,
amounts and adjustments through the benefits engine, the settlement through the payroll engine's
termination settlement; what is ours (members, paid-in records, proposals, conversions, settlements)
is written here, each in one transaction with its audit record."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from shebao.benefits.models import BenefitItem, Enrollment, PaymentStatus, Scheme
from shebao.benefits.months import add_months, format_month, month_of, parse_month
from shebao.benefits.services import (
    AmountRow,
    BenefitError,
    benefit_amount_set,
    benefit_amounts_bulk_set,
    enrollment_create,
    scheme_get,
)
from shebao.common.audit import audit_record, snapshot
from shebao.common.money import ZERO, quantize, to_decimal
from shebao.payroll.services import PayrollError
from shebao.pension_security import selectors as sel
from shebao.pension_security.models import Category, Conversion, Member, PaidIn, Phase, Proposal, Settlement
from shebao.registry.models import Person
from shebao.registry.services import RegistryError, bank_account_set, person_create

SCHEME = "BZ"
LIVING_ITEM = "living"  # 生活补助 (before the conversion age)
PENSION_ITEM = "basic"  # 养老保障金 = the 养老金 after conversion


class BzError(Exception):
    """A refused 养老保障 action; ``str()`` is the message for the user (Chinese)."""


def bz_scheme() -> Scheme:
    return scheme_get(SCHEME)


def _money(value, what: str, *, positive: bool = False) -> Decimal:
    try:
        amount = to_decimal(value)
    except ValueError as exc:
        raise BzError(f"{what}：{exc}") from None
    if amount != quantize(amount):
        raise BzError(f"{what} {amount} 不能超过两位小数")
    if amount < 0 or (positive and amount == 0):
        raise BzError(f"{what}必须{'大于' if positive else '不小于'} 0")
    return quantize(amount)


# --------------------------------------------------------------------------------------------------
# 人员信息维护


def member_register(*, user, category: Category, person: Person | None = None, new_person: dict | None = None,
                    account: dict | None = None, note: str = "") -> Member:
    """Register a person (existing, or new: ``new_person`` id_number, name, town …) as a 养老保障 person
    of ``category``; optionally set the payment account. Nothing is paid until a benefit is approved."""
    try:
        with transaction.atomic():
            # the category row is locked: a 停用 at the same moment waits, then counts this person
            category = Category.objects.select_for_update().get(pk=category.pk)
            if not category.active:
                raise BzError(f"类别“{category.name}”已停用")
            if person is None:
                if not new_person:
                    raise BzError("请选择已登记人员或填写新人员信息")
                person = person_create(user=user, reason="养老保障人员登记", **new_person)
            if account and account.get("account_number"):
                bank_account_set(user=user, person=person, reason="养老保障人员登记", **account)
            try:
                with transaction.atomic():
                    member = Member.objects.create(person=person, category=category, note=(note or "")[:200],
                                                   created_by=user)
            except IntegrityError:
                raise BzError(f"{person.name} 已是养老保障人员，不能重复登记") from None
            audit_record(user=user, action="create", obj=member, person_id=person.pk,
                         summary=f"{person.name} 登记为养老保障人员（{category.name}）", after=snapshot(member))
    except RegistryError as exc:
        raise BzError(str(exc)) from None
    return member


def member_update(*, member: Member, user, reason: str, category: Category | None = None,
                  note: str | None = None) -> Member:
    """Change a member's category and/or note (under the row lock, audited; nothing changed writes
    nothing). A new category's standards apply to proposals and conversions from then on."""
    if not (reason or "").strip():
        raise BzError("请填写变更原因")
    with transaction.atomic():
        current = Member.objects.select_for_update().select_related("person").get(pk=member.pk)
        before = snapshot(current, ["category", "note"])
        if category is not None and category.pk != current.category_id:
            category = Category.objects.select_for_update().get(pk=category.pk)
            if not category.active:
                raise BzError(f"类别“{category.name}”已停用")
            current.category = category
        if note is not None:
            current.note = note.strip()[:200]
        after = snapshot(current, ["category", "note"])
        if before == after:
            return current
        current.save(update_fields=["category", "note"])
        audit_record(user=user, action="update", obj=current, person_id=current.person_id,
                     summary=f"{current.person.name} 养老保障人员信息变更", before=before, after=after,
                     reason=reason.strip())
    return current


def paid_in_add(*, member: Member, kind: str, paid_on: dt.date, amount, user, note: str = "") -> PaidIn:
    """Record what the person paid in (缴费 or 一次性趸缴) on a date; the same record twice is refused."""
    if kind not in PaidIn.Kind.values:
        raise BzError(f"未知的缴费方式 {kind}")
    value = _money(amount, "缴费金额", positive=True)
    if paid_on > timezone.localdate():
        raise BzError("缴费日期不能晚于今天")
    try:
        with transaction.atomic():
            record = PaidIn.objects.create(member=member, kind=kind, paid_on=paid_on, amount=value,
                                           note=(note or "")[:200], created_by=user)
            audit_record(user=user, action="create", obj=record, person_id=member.person_id,
                         summary=f"{member.person.name} {record.get_kind_display()} {value}（{paid_on:%Y-%m-%d}）",
                         after=snapshot(record))
    except IntegrityError:
        raise BzError(f"该缴费记录已存在（{paid_on:%Y-%m-%d} {value}）") from None
    return record


# --------------------------------------------------------------------------------------------------
# 待遇核准


def conversion_month(*, birth_date: dt.date, age: int) -> dt.date:
    """The first month of the 养老金: the month after the month of the birthday of ``age``
    (born 1990-01-31, age 60 → 2050-02; born 1964-02-29, age 60 → 2024-03)."""
    return add_months(dt.date(birth_date.year + age, birth_date.month, 1), 1)


def phase_at(member: Member, month: dt.date) -> str:
    person = member.person
    age = member.category.conversion_age(person.sex)
    return Phase.PENSION if month >= conversion_month(birth_date=person.birth_date, age=age) else Phase.SUBSIDY


def proposal_create(*, member: Member, user, start_month, items: dict | None = None, note: str = "") -> Proposal:
    """A clerk proposes a benefit: the category's standard of the phase the person is in at the start
    month (生活补助 before the conversion age, 养老金 after), or the given items ({item code: amount}).
    Refused while another proposal of the person waits. Nothing is paid until another user approves."""
    start = parse_month(start_month)
    with transaction.atomic():
        member = Member.objects.select_for_update().select_related("person", "category").get(pk=member.pk)
        if member.enrollment_id and Enrollment.objects.filter(
                pk=member.enrollment_id, payment_status=PaymentStatus.TERMINATED).exists():
            raise BzError(f"{member.person.name} 已终止发放，不能再申报待遇")
        phase = phase_at(member, start)
        if not items:
            standard = sel.standard_at(category=member.category, phase=phase, month=start)
            if standard is None:
                raise BzError(f"类别“{member.category.name}”在 {format_month(start)} 没有"
                              f"{Phase(phase).label}标准，请先维护类别标准")
            items = {standard.item.code: standard.amount}
        codes = set(BenefitItem.objects.filter(scheme__code=SCHEME).values_list("code", flat=True))
        clean = {}
        for code, value in items.items():
            if code not in codes:
                raise BzError(f"养老保障没有待遇项目 {code}")
            clean[code] = str(_money(value, "月金额"))
        total = sum((Decimal(v) for v in clean.values()), ZERO)
        try:
            with transaction.atomic():
                proposal = Proposal.objects.create(member=member, category=member.category, phase=phase,
                                                   start_month=start, items=clean, monthly_total=total,
                                                   note=(note or "")[:300], proposed_by=user)
        except IntegrityError:
            raise BzError(f"{member.person.name} 已有待核准的申报，请先核准或退回") from None
        audit_record(user=user, action="bz_propose", obj=proposal, person_id=member.person_id,
                     summary=f"{member.person.name} 申报养老保障待遇：{Phase(phase).label} 月 {total}，"
                             f"{format_month(start)} 起", after=snapshot(proposal), reason=note)
    return proposal


def _lock_open(proposal: Proposal, user) -> Proposal:
    locked = Proposal.objects.select_for_update().select_related("member__person", "category").get(pk=proposal.pk)
    if locked.state != Proposal.State.PROPOSED:
        raise BzError(f"该申报{locked.get_state_display()}，不能再处理")
    if locked.proposed_by_id == user.pk:
        raise BzError("不能核准或退回自己申报的待遇（须由另一名审核人员办理）")
    return locked


def proposal_approve(*, proposal: Proposal, user, note: str = "") -> Proposal:
    """核准: another user than the proposer approves (the database refuses the same user). A first
    benefit enrolls the person in BZ from the start month with the items (``benefits.enrollment_create``);
    a later one sets the amounts from its start month (``benefit_amount_set``, history kept)."""
    try:
        with transaction.atomic():
            proposal = _lock_open(proposal, user)
            member = Member.objects.select_for_update().get(pk=proposal.member_id)
            changed = Proposal.objects.filter(pk=proposal.pk, state=Proposal.State.PROPOSED).update(
                state=Proposal.State.APPROVED, decided_by=user, decided_at=timezone.now(),
                decision_reason=(note or "")[:300])
            if not changed:  # pragma: no cover - locked above
                raise BzError("该申报已被处理")
            person = member.person
            if member.enrollment_id is None:
                enrollment = enrollment_create(person=person, scheme=bz_scheme(), start_month=proposal.start_month,
                                               user=user, items=proposal.items, note=f"待遇核准 {proposal.pk}")
                member.enrollment = enrollment
            else:
                enrollment = member.enrollment
                for code, amount in proposal.items.items():
                    benefit_amount_set(enrollment=enrollment, item=code, amount=amount,
                                       from_month=proposal.start_month, user=user, note=f"待遇核准 {proposal.pk}")
            member.phase = proposal.phase
            member.category = proposal.category
            member.save(update_fields=["enrollment", "phase", "category"])
            proposal.refresh_from_db()
            audit_record(user=user, action="bz_approve", obj=proposal, person_id=person.pk,
                         summary=f"{person.name} 养老保障待遇核准：月 {proposal.monthly_total}，"
                                 f"{format_month(proposal.start_month)} 起",
                         before={"state": "proposed"}, after={"state": "approved", "enrollment": enrollment.pk},
                         reason=note)
    except IntegrityError:
        raise BzError("不能核准自己申报的待遇（须由另一名审核人员办理）") from None
    except BenefitError as exc:
        raise BzError(str(exc)) from None
    return proposal


def proposal_refuse(*, proposal: Proposal, user, reason: str) -> Proposal:
    """退回 with a reason (kept in the person's history); another user than the proposer."""
    reason = (reason or "").strip()
    if not reason:
        raise BzError("请填写退回原因")
    try:
        with transaction.atomic():
            proposal = _lock_open(proposal, user)
            Proposal.objects.filter(pk=proposal.pk, state=Proposal.State.PROPOSED).update(
                state=Proposal.State.REFUSED, decided_by=user, decided_at=timezone.now(), decision_reason=reason[:300])
            proposal.refresh_from_db()
            audit_record(user=user, action="bz_refuse", obj=proposal, person_id=proposal.member.person_id,
                         summary=f"{proposal.member.person.name} 养老保障待遇申报退回：{reason}",
                         before={"state": "proposed"}, after={"state": "refused"}, reason=reason)
    except IntegrityError:
        raise BzError("不能退回自己申报的待遇（须由另一名审核人员办理）") from None
    return proposal


# --------------------------------------------------------------------------------------------------
# 到龄转换


@dataclass
class ConvertResult:
    month: dt.date
    dry_run: bool
    converted: list[dict] = field(default_factory=list)  # {member, person, id_number, name, month, before, after}
    skipped: list[dict] = field(default_factory=list)  # {id_number, name, reason}


def bz_convert(*, month, user, dry_run: bool = False) -> ConvertResult:
    """到龄转换 for month M: every member still on 生活补助 (enrollment 正常 or 暂停) whose conversion month
    (the month after the birthday month of the category's age for their sex) is ≤ M is switched, from
    that conversion month, to the category's 养老金 standard in effect then: 生活补助 0 and 养老保障金 =
    the standard, through the engine (``benefit_amounts_bulk_set``: history kept; months already paid
    give a 补发/扣减 of the difference). The candidates are found in one statement; one Conversion per
    member (a second run converts nobody twice). ``dry_run`` lists them and writes nothing."""
    m = parse_month(month)
    result = ConvertResult(month=m, dry_run=dry_run)
    with transaction.atomic():
        rows = sel.conversion_candidates(month=m)
        todo = []
        for r in rows:
            if r["pension_amount"] is None:
                result.skipped.append({"id_number": r["id_number"], "name": r["name"],
                                       "reason": f"类别“{r['category']}”在 {format_month(r['conv_month'])} "
                                                 "没有养老金标准"})
                continue
            before = json.loads(r["before"]) if r["before"] else {}
            after = {LIVING_ITEM: "0.00", PENSION_ITEM: str(r["pension_amount"])}
            todo.append((r, before, after))
            result.converted.append({"member": r["member_id"], "person": r["person_id"], "id_number": r["id_number"],
                                     "name": r["name"], "month": format_month(r["conv_month"]),
                                     "before": before, "after": after})
        if dry_run or not todo:
            return result
        note = f"到龄转换（{format_month(m)} 批）"
        amount_rows = []
        for r, _before, _after in todo:
            amount_rows.append(AmountRow(enrollment_id=r["enrollment_id"], item=LIVING_ITEM, amount=ZERO,
                                         from_month=r["conv_month"], note=note))
            amount_rows.append(AmountRow(enrollment_id=r["enrollment_id"], item=PENSION_ITEM,
                                         amount=r["pension_amount"], from_month=r["conv_month"], note=note))
        try:
            benefit_amounts_bulk_set(scheme=bz_scheme(), rows=amount_rows, user=user)
        except BenefitError as exc:
            raise BzError(str(exc)) from None
        conversions = [Conversion(member_id=r["member_id"], enrollment_id=r["enrollment_id"], month=r["conv_month"],
                                  age=r["age"], before=before, after=after, run_month=m, created_by=user)
                       for r, before, after in todo]
        try:
            with transaction.atomic():
                Conversion.objects.bulk_create(conversions, batch_size=2000)
        except IntegrityError:
            raise BzError("部分人员刚被另一次到龄转换处理，请重试") from None
        Member.objects.filter(pk__in=[r["member_id"] for r, _, _ in todo]).update(phase=Phase.PENSION)
        audit_record(user=user, action="bz_convert_batch", object_type="pension_security.conversion",
                     summary=f"养老保障到龄转换 {format_month(m)}：{len(todo)} 人",
                     after={"month": format_month(m), "converted": len(todo), "skipped": len(result.skipped),
                            "conversions": [c.pk for c in conversions]})
    return result


def conversion_review(*, conversions: list[int], user) -> int:
    """Mark listed conversions as reviewed (复核) by ``user`` — not the one who converted them."""
    with transaction.atomic():
        qs = Conversion.objects.select_for_update().filter(pk__in=conversions, reviewed_by__isnull=True)
        own = qs.filter(created_by=user).count()
        if own:
            raise BzError(f"{own} 条转换是您本人办理的，须由另一名人员复核")
        ids = list(qs.order_by("pk").values_list("pk", flat=True))
        n = Conversion.objects.filter(pk__in=ids).update(reviewed_by=user, reviewed_at=timezone.now())
        if n:
            audit_record(user=user, action="bz_conversion_review", object_type="pension_security.conversion",
                         summary=f"养老保障到龄转换复核 {n} 条", after={"conversions": ids})
    return n


# --------------------------------------------------------------------------------------------------
# 退保清算


def refund_amount(*, paid_in: Decimal, received: Decimal, category: Category) -> tuple[Decimal, dict]:
    """refund = max(floor, round_half_up(paid_in × paid_in_rate − received × received_rate, 0.01)); the
    rates and the floor are the category's (data). Returns the amount and the formula as recorded."""
    raw = (paid_in * category.refund_paid_in_rate - received * category.refund_received_rate).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP)
    refund = max(category.refund_floor, raw)
    return refund, {"paid_in_rate": str(category.refund_paid_in_rate),
                    "received_rate": str(category.refund_received_rate), "floor": str(category.refund_floor),
                    "raw": str(raw), "text": f"max({category.refund_floor}, 缴费合计×{category.refund_paid_in_rate}"
                                             f" − 已领待遇×{category.refund_received_rate})"}


def bz_termination_amounts(*, enrollment, reason, on, user) -> list[tuple[Decimal, str]]:
    """The ``termination`` hook of scheme BZ (``payroll.schemes``): on 退保 or death the 退保清算 refund
    (the category's formula over Σ paid in and Σ received), paid in the engine's settlement line —
    worked out here from the data, so a death recorded elsewhere (``shebao person death``, the
    certification's 死亡减员) settles the refund too. Other terminations (转出 …) owe nothing more."""
    code = getattr(reason, "code", reason)
    if code not in ("death", "withdrawal"):
        return []
    member = Member.objects.select_related("category").filter(enrollment=enrollment).first()
    if member is None:
        return []
    paid_in, received = sel.paid_in_total(member), sel.received_total(member)
    refund, _formula = refund_amount(paid_in=paid_in, received=received, category=member.category)
    return [(refund, f"退保清算退还（缴费 {paid_in} − 已领 {received}）")] if refund > 0 else []


def _next_number(year: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('bz_settlement_number'))")
    prefix = f"BZ{year}-"
    last = (Settlement.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True)
            .first())
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{n:06d}"


def bz_settle(*, member: Member, reason: str, on: dt.date, user, heir=None, note: str = "") -> Settlement:
    """退保清算: on withdrawal (退保, ``on`` the last day paid) or death (``on`` the date of death; an
    heir — a registered person or a payee — receives what is owed). refund = the category's formula
    (``refund_amount``) over Σ paid in and Σ received (BZ money the bank confirmed paid to the person).
    The enrollment is ended by the engine (``enrollment_terminate_settle``), whose settlement line pays
    refund + pending 补发 − 扣减 through the bank as a 零星发放; numbered, audited, in one transaction."""
    if reason not in Settlement.Reason.values:
        raise BzError(f"未知的清算原因 {reason}")
    from shebao.payroll.settlement import enrollment_terminate_settle

    with transaction.atomic():
        member = Member.objects.select_for_update().select_related("person", "category").get(pk=member.pk)
        if member.enrollment_id is None:
            raise BzError(f"{member.person.name} 尚未核准待遇，没有可清算的发放")
        if Settlement.objects.filter(member=member).exists():
            raise BzError(f"{member.person.name} 已办理退保清算，不能重复办理")
        paid_in = sel.paid_in_total(member)
        received = sel.received_total(member)
        refund, formula = refund_amount(paid_in=paid_in, received=received, category=member.category)
        try:  # the refund is paid in the settlement line by the termination hook above
            settled = enrollment_terminate_settle(enrollment=member.enrollment, on=on,
                                                  reason="death" if reason == "death" else "withdrawal",
                                                  user=user, heir=heir, note=note or "养老保障退保清算")
        except PayrollError as exc:
            raise BzError(str(exc)) from None
        payee = heir if reason == "death" else member.person
        settlement = Settlement.objects.create(
            member=member, number=_next_number(on.year), reason=reason, on_date=on, paid_in=paid_in,
            received=received, formula=formula, refund=refund, net=settled.net, run=settled.run,
            payee_name=getattr(payee, "name", "") if settled.run else "", operator=user)
        audit_record(user=user, action="bz_settle", obj=settlement, person_id=member.person_id,
                     summary=f"{member.person.name} 养老保障退保清算（{settlement.get_reason_display()}）："
                             f"缴费 {paid_in}，已领 {received}，退还 {refund}，结算净额 {settled.net}"
                             + (f"（零星发放批次 {settled.run.pk}）" if settled.run else ""),
                     after=snapshot(settlement), reason=note)
    return settlement


def settlement_printed(*, settlement: Settlement, user) -> Settlement:
    with transaction.atomic():
        Settlement.objects.filter(pk=settlement.pk).update(print_count=F("print_count") + 1)
        settlement.refresh_from_db()
        audit_record(user=user, action="bz_settlement_print", obj=settlement, person_id=settlement.member.person_id,
                     summary=f"打印养老保障结算单 {settlement.number}（第 {settlement.print_count} 次）")
    return settlement


def month_text(month) -> str:
    return format_month(month_of(month) if isinstance(month, dt.date) else parse_month(month))
