"""老农保 money going out through the NB payment flow: the one place this app touches payroll and bank.

A bank refund (or a death settlement paid by bank) is a 零星发放 (one-off) run of scheme NB with one
line, made by ``payroll_oneoff_create``; it is approved by a reviewer and exported to the bank by the
bank app like any run. "Sent to a bank" means: the line is in a bank file, or the run has been
exported, or the line is no longer 待发.

Cancelling the payment when a refund is rolled back drops the one-off run through the payroll
engine's ``payroll_oneoff_cancel`` (state 已计算/已审核, no line sent, under the run's row lock — the
same lock ``bank_export`` takes; audited there); ``nb_payment_cancel`` first checks, narrowly, that
the run is a one-off NB run whose only line is ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


class PaymentError(Exception):
    """``str()`` is the message for the user (Chinese)."""


@dataclass(frozen=True)
class PaymentRef:
    run_id: int
    line_id: int


def nb_payment_create(*, person, amount: Decimal, memo: str, user, period) -> PaymentRef:
    """One NB one-off line to the person's current bank account (refused without one)."""
    from shebao.benefits.services import scheme_get
    from shebao.payroll.models import PayrollLine
    from shebao.payroll.services import PayrollError, payroll_oneoff_create
    from shebao.rural_pension.rules import bank_payee_refusal

    if refusal := bank_payee_refusal(person):
        raise PaymentError(refusal)
    try:
        run = payroll_oneoff_create(scheme=scheme_get("NB"), items=[(person, amount, memo)], user=user,
                                    period=period, note=memo)
    except PayrollError as exc:
        raise PaymentError(str(exc)) from None
    line_id = PayrollLine.objects.filter(run=run).values_list("pk", flat=True).get()
    return PaymentRef(run.pk, line_id)


def nb_payment_sent(*, run_id: int, line_id: int, lock: bool = False) -> str:
    """Why the payment counts as sent to a bank (a message), or "" when it has not left. With ``lock``
    the run row is locked first (as ``bank_export`` does), so no export can slip in after the check."""
    from shebao.bank.selectors import bank_file_list
    from shebao.payroll.models import PayrollLine, PayrollRun

    runs = PayrollRun.objects.filter(pk=run_id)
    if lock:
        runs = runs.select_for_update()
    run = runs.first()
    if run is None:
        return f"零星发放批次 {run_id} 不存在"
    line = PayrollLine.objects.filter(pk=line_id, run_id=run_id).first()
    files = list(bank_file_list(run=run_id).values_list("batch_no", flat=True))
    if files:
        return f"款项已报盘（报盘文件 {'、'.join(files)}）"
    if run.state not in (PayrollRun.State.COMPUTED, PayrollRun.State.APPROVED):
        return f"零星发放批次 {run_id} 已{run.get_state_display()}"
    if line is None or line.status != PayrollLine.Status.PENDING:
        return f"发放明细已{line.get_status_display() if line else '不存在'}"
    return ""


def nb_payment_state(*, run_id: int | None, line_id: int | None) -> dict:
    """Where the payment is: run state and line status labels (for pages and the statement)."""
    from shebao.payroll.models import PayrollLine, PayrollRun

    if not run_id:
        return {}
    run = PayrollRun.objects.filter(pk=run_id).first()
    line = PayrollLine.objects.filter(pk=line_id).first() if line_id else None
    return {
        "run_id": run_id, "run_state": run.get_state_display() if run else "已撤销",
        "line_status": line.get_status_display() if line else "已撤销",
        "paid_amount": line.paid_amount if line else None,
    }


def nb_payment_cancel(*, run_id: int, line_id: int, user, reason: str) -> None:
    """Drop the one-off run of a rolled-back payment (see the module docstring). Call inside the
    caller's transaction; refused when the money has left or the run holds anything else."""
    from shebao.payroll.models import PayrollLine, PayrollRun
    from shebao.payroll.services import PayrollError, payroll_oneoff_cancel

    why = nb_payment_sent(run_id=run_id, line_id=line_id, lock=True)
    if why:
        raise PaymentError(f"款项已发往银行，不能回退：{why}")
    run = PayrollRun.objects.get(pk=run_id)
    if run.kind != PayrollRun.Kind.ONE_OFF or run.scheme.code != "NB":
        raise PaymentError(f"批次 {run_id} 不是老农保零星发放，不能撤销")
    if PayrollLine.objects.filter(run_id=run_id).exclude(pk=line_id).exists():
        raise PaymentError(f"零星发放批次 {run_id} 还有其他人员的明细，不能整批撤销")
    try:
        payroll_oneoff_cancel(run=run, user=user, reason=f"退款回退：{reason}")
    except PayrollError as exc:
        raise PaymentError(str(exc)) from None
