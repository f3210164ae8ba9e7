"""Reads of payroll: lines for a bank file, a line explained, month-end figures."""

from __future__ import annotations

from django.db.models import QuerySet

from shebao.benefits.models import Scheme
from shebao.payroll.models import MonthEndSnapshot, PayrollComponent, PayrollLine, PayrollRun

_KIND_ORDER = {PayrollComponent.Kind.ITEM: 0, PayrollComponent.Kind.ARREARS: 1, PayrollComponent.Kind.DEDUCTION: 2}


def payroll_lines_for_export(run: PayrollRun) -> QuerySet[PayrollLine]:
    """The lines that go into the bank file: net > 0, by sequence. (Net-0 lines go to no file.)"""
    return PayrollLine.objects.filter(run=run, net__gt=0).order_by("seq")


def payroll_runs(*, scheme: Scheme | None = None) -> QuerySet[PayrollRun]:
    qs = PayrollRun.objects.select_related("scheme", "created_by", "approved_by")
    return qs.filter(scheme=scheme) if scheme else qs


def payroll_line_explain(line: PayrollLine) -> dict:
    """Why is this amount what it is: the components (items in effect, 补发 taken whole, 扣减 taken)
    that add up to gross, deductions and net, and for a re-issue line the failed line it re-pays."""
    components = sorted(
        PayrollComponent.objects.filter(line=line).select_related("benefit_item", "adjustment"),
        key=lambda c: (_KIND_ORDER[c.kind], c.pk),
    )
    parts = []
    for c in components:
        entry = {"kind": c.kind, "kind_label": str(c.get_kind_display()), "amount": c.amount,
                 "description": c.description, "item": c.benefit_item.name if c.benefit_item else "",
                 "adjustment_id": c.adjustment_id}
        if c.adjustment is not None:
            entry["adjustment_total"] = c.adjustment.total
            entry["adjustment_reason"] = c.adjustment.reason
            entry["adjustment_source"] = c.adjustment.source
        parts.append(entry)
    gross = sum((c.amount for c in components if c.kind != PayrollComponent.Kind.DEDUCTION), start=0)
    deductions = sum((c.amount for c in components if c.kind == PayrollComponent.Kind.DEDUCTION), start=0)
    chain = []
    origin = line.origin_line
    while origin is not None:
        chain.append({"line_id": origin.pk, "run_id": origin.run_id, "seq": origin.seq, "status": origin.status,
                      "account_number": origin.account_number, "fail_reason": origin.fail_reason})
        origin = origin.origin_line
    return {
        "line_id": line.pk, "run_id": line.run_id, "seq": line.seq, "name": line.name,
        "gross": line.gross, "deductions": line.deductions, "net": line.net, "components": parts,
        "components_gross": gross, "components_deductions": deductions,
        "consistent": gross == line.gross and deductions == line.deductions and line.net == gross - deductions,
        "origin_chain": chain,
    }


def payroll_person_lines(*, person_id: int) -> QuerySet[PayrollLine]:
    """A person's full payment history, every run and line, newest first."""
    return (PayrollLine.objects.filter(person_id=person_id).select_related("run", "run__scheme")
            .order_by("-run__period", "-run_id"))


def month_end_figures(*, scheme: Scheme, limit: int | None = None) -> QuerySet[MonthEndSnapshot]:
    """The statistics page's month-by-month table (月末数据), newest first."""
    qs = MonthEndSnapshot.objects.filter(scheme=scheme).order_by("-period")
    return qs[:limit] if limit else qs
