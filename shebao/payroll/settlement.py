"""终止结算: what is settled when an enrollment ends (death, transfer, withdrawal), the same for every
scheme. One service, ``enrollment_terminate_settle``; the scheme may add money it owes at the end
through its registered ``termination`` hook (``payroll.schemes``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from shebao.benefits.models import Adjustment, Enrollment, SuspensionReason
from shebao.benefits.months import format_month, month_of
from shebao.benefits.services import (
    BenefitError,
    NetSettlement,
    TerminationResult,
    adjustments_net_settle,
    enrollment_terminate,
)
from shebao.common.audit import audit_record
from shebao.common.money import ZERO, quantize, to_decimal
from shebao.payroll import schemes
from shebao.payroll.models import PayrollComponent, PayrollLine, PayrollRun
from shebao.payroll.services import (
    PayrollError,
    _is_payee,
    _label,
    _new_line,
    _payee_line,
    _set_totals,
)
from shebao.registry.selectors import bank_accounts_current


@dataclass
class Settlement:
    termination: TerminationResult | None  # None for ``enrollment_settle_pending``
    arrears: Decimal  # Σ pending 补发 at the end (remaining)
    deductions: Decimal  # Σ pending 扣减 at the end, the overpayment after the end included
    extra: Decimal  # what the scheme's termination hook owes besides
    net: Decimal  # arrears + extra − deductions: > 0 paid by ``run``, < 0 owed back (``receivable``)
    run: PayrollRun | None  # the one-off run paying what is still owed
    line: PayrollLine | None
    netted: NetSettlement | None  # when nothing was left to pay: the adjustments closed, the 待追回


def enrollment_terminate_settle(*, enrollment: Enrollment, on: dt.date, reason, user, heir=None,
                                note: str = "") -> Settlement:
    """End an enrollment and settle it, in one transaction. ``on``: the date of death (a death is paid
    through its month), or for another reason (转出, 退保 …) the last day paid — its month is the last
    month paid. The end is ``benefits.enrollment_terminate`` (money paid for later months becomes a
    扣减); then net = Σ pending 补发 + what the scheme's termination hook owes − Σ pending 扣减:
    - net > 0: paid as one 零星发放 line of exactly net (components: each 补发 whole, each 扣减 whole,
      the hook's amounts), to the person, or for a death to ``heir`` (a registered person — their
      current account — or a ``registry.Payee``; required then). Approving the run consumes the 补发
      and 扣减 as any run does.
    - net ≤ 0: every pending 补发 and 扣减 is closed and −net becomes one 待追回 (an open 扣减, closed by
      ``adjustment_reduce`` when the money comes back as income).
    Amounts are cents added and subtracted: no rounding. Refused (nothing written) on any error."""
    if isinstance(reason, str):
        found = SuspensionReason.objects.filter(code=reason).first()
        if found is None:
            raise PayrollError(f"终止原因 {reason} 不存在")
        reason = found
    death = reason.code == "death"
    if not isinstance(on, dt.date):
        raise PayrollError("请填写终止日期")
    if on > timezone.localdate():
        raise PayrollError(f"终止日期 {on:%Y-%m-%d} 不能晚于今天")
    if heir is not None and not death:
        raise PayrollError("只有死亡结算可以指定继承人（代领人）或收款方")
    if heir is not None and not _is_payee(heir) and heir.pk == enrollment.person_id:
        raise PayrollError("继承人不能是本人")
    try:
        with transaction.atomic():
            term = enrollment_terminate(enrollment=enrollment, reason=reason, user=user,
                                        death_date=on if death else None,
                                        last_month=None if death else month_of(on), note=note)
            enrollment = term.enrollment
            person = enrollment.person
            hook = schemes.rules_for(enrollment.scheme).termination
            extras = [(quantize(to_decimal(a)), str(d)[:200]) for a, d in
                      (hook(enrollment=enrollment, reason=reason, on=on, user=user) if hook else [])]
            extras = [(a, d) for a, d in extras if a > 0]
            label = f"{person.name} {enrollment.scheme.name}终止结算（{reason.name}）"
            total_arrears, total_deductions, extra, net, run, line, netted = _settle(
                enrollment=enrollment, payee=(heir if death else person), extras=extras, user=user,
                label=label)
            audit_record(user=user, action="enrollment_terminate_settle", obj=enrollment, person_id=person.pk,
                         summary=f"{label}：补发 {total_arrears}，扣减 {total_deductions}"
                                 + (f"，其他应付 {extra}" if extra else "")
                                 + (f"，结算发放 {net}（批次 {run.pk}）" if run else
                                    (f"，待追回 {-net}" if net < 0 else "，已结清")),
                         after={"end_month": format_month(term.end_month), "arrears": total_arrears,
                                "deductions": total_deductions, "extra": extra, "net": net,
                                "run": run.pk if run else None,
                                "receivable": netted.receivable.pk if netted and netted.receivable else None},
                         reason=note)
    except BenefitError as exc:
        raise PayrollError(str(exc)) from None
    return Settlement(term, total_arrears, total_deductions, extra, net, run, line, netted)


def _settle(*, enrollment, payee, extras: list, user, label: str):
    """Net the enrollment's pending 补发 (+ extras) against its pending 扣减, under their row locks: a
    settlement line to ``payee`` when money is owed, else closed with a 待追回 for what is owed back."""
    pending = list(Adjustment.objects.select_for_update().filter(
        enrollment=enrollment, state=Adjustment.State.PENDING).order_by("pk"))
    arrears = [a for a in pending if a.kind == Adjustment.Kind.ARREARS]
    deductions = [a for a in pending if a.kind == Adjustment.Kind.DEDUCTION]
    total_arrears = sum((a.remaining for a in arrears), ZERO)
    total_deductions = sum((a.remaining for a in deductions), ZERO)
    extra = sum((a for a, _ in extras), ZERO)
    net = total_arrears + extra - total_deductions
    run = line = netted = None
    if net > 0:
        if payee is None:
            raise PayrollError(f"{enrollment.person.name} 死亡结算尚有应付款 {net}，须指定继承人（代领人）或收款方")
        run, line = _settlement_run(enrollment=enrollment, payee=payee, arrears=arrears, deductions=deductions,
                                    extras=extras, user=user, memo=label)
    elif pending or extra:
        netted = adjustments_net_settle(enrollment=enrollment, credit=extra, user=user, reason=label)
    return total_arrears, total_deductions, extra, net, run, line, netted


def enrollment_settle_pending(*, enrollment: Enrollment, user, heir=None, note: str = "") -> Settlement:
    """Settle again an enrollment already ended: its 补发/扣减 still pending (a 补发 recorded after the
    end, or a settlement run cancelled before approval) are netted by the rule of
    ``enrollment_terminate_settle`` — a settlement line of net > 0 (to the person, or for a dead person
    to ``heir``), else closed with a 待追回. The scheme's termination amounts are not paid again."""
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.select_for_update().select_related("person", "scheme").get(
                pk=enrollment.pk)
            person = enrollment.person
            if enrollment.payment_status != "terminated":
                raise PayrollError(f"{person.name} 尚未终止发放，请办理终止结算")
            death = person.death_date is not None
            if heir is not None and not death:
                raise PayrollError("只有死亡结算可以指定继承人（代领人）或收款方")
            label = f"{person.name} {enrollment.scheme.name}终止后补充结算"
            total_arrears, total_deductions, extra, net, run, line, netted = _settle(
                enrollment=enrollment, payee=(heir if death else person), extras=[], user=user,
                label=label)
            if run is None and netted is None:
                raise PayrollError(f"{person.name} 没有待结算的补发或扣减")
            audit_record(user=user, action="enrollment_settle_pending", obj=enrollment, person_id=person.pk,
                         summary=f"{label}：补发 {total_arrears}，扣减 {total_deductions}"
                                 + (f"，结算发放 {net}（批次 {run.pk}）" if run else
                                    (f"，待追回 {-net}" if net < 0 else "，已结清")),
                         after={"arrears": total_arrears, "deductions": total_deductions, "net": net,
                                "run": run.pk if run else None,
                                "receivable": netted.receivable.pk if netted and netted.receivable else None},
                         reason=note)
    except BenefitError as exc:
        raise PayrollError(str(exc)) from None
    return Settlement(None, total_arrears, total_deductions, extra, net, run, line, netted)


def _settlement_run(*, enrollment, payee, arrears, deductions, extras, user, memo) -> tuple[PayrollRun, PayrollLine]:
    """The one-off run of one settlement line: gross = Σ 补发 + extras, deductions = Σ 扣减 (≤ gross)."""
    gross = sum((a.remaining for a in arrears), ZERO) + sum((a for a, _ in extras), ZERO)
    taken = sum((a.remaining for a in deductions), ZERO)
    run = PayrollRun.objects.create(scheme=enrollment.scheme, period=month_of(timezone.localdate()),
                                    kind=PayrollRun.Kind.ONE_OFF, created_by=user, computed_at=timezone.now(),
                                    note=memo[:300])
    if _is_payee(payee):
        from shebao.registry.models import Payee

        current = Payee.objects.get(code=payee.code, current=True)
        line = _payee_line(run, 1, current, enrollment.pk, gross, memo[:100])
    else:
        account = bank_accounts_current(person_ids=[payee.pk]).get(payee.pk)
        line = _new_line(run, 1, payee.pk, enrollment.pk, payee.id_number, payee.name, account, gross, memo[:100])
    line.deductions, line.net = taken, gross - taken
    line.save()
    components = [PayrollComponent(line=line, kind=PayrollComponent.Kind.ITEM, amount=a, description=d)
                  for a, d in extras]
    components += [PayrollComponent(line=line, kind=PayrollComponent.Kind.ARREARS, adjustment=a, amount=a.remaining,
                                    description=a.reason[:200]) for a in arrears]
    components += [PayrollComponent(line=line, kind=PayrollComponent.Kind.DEDUCTION, adjustment=a,
                                    amount=a.remaining, description=a.reason[:200]) for a in deductions]
    PayrollComponent.objects.bulk_create(components)
    _set_totals(run)
    audit_record(user=user, action="payroll_oneoff", obj=run, summary=f"零星发放 {_label(run)}：{memo}",
                 after={"line": line.pk, "gross": gross, "deductions": taken, "net": line.net})
    return run, line
