"""Reads of payroll: lines for a bank file, a line explained, month-end figures.

The pages read through the ``user=`` forms: runs of the user's schemes only (``User.schemes``), lines
of persons in the user's towns only (``User.regions``); a line out of scope looks missing (404). Run
totals are the county's (the run's own columns), whoever reads them."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from shebao.benefits.models import Enrollment, Scheme
from shebao.common import policy
from shebao.payroll.models import LineRisk, MonthEndSnapshot, PayrollComponent, PayrollLine, PayrollRun

_KIND_ORDER = {PayrollComponent.Kind.ITEM: 0, PayrollComponent.Kind.ARREARS: 1, PayrollComponent.Kind.DEDUCTION: 2}


def payroll_lines_for_export(run: PayrollRun) -> QuerySet[PayrollLine]:
    """The lines that go into the bank file: net > 0, by sequence. (Net-0 lines go to no file.)"""
    return PayrollLine.objects.filter(run=run, net__gt=0).order_by("seq")


def payroll_schemes(*, user) -> QuerySet[Scheme]:
    """The schemes the user may choose (``User.schemes``), in the usual order."""
    return policy.scope_scheme(Scheme.objects.order_by("sort", "code"), user, "code")


def payroll_beneficiaries_count(*, scheme: Scheme, period: dt.date) -> int:
    """How many enrollments of the scheme are in effect in the month (before suspensions): the compute
    confirm's estimate of who will be looked at."""
    return (Enrollment.objects.filter(scheme=scheme, start_month__lte=period)
            .filter(Q(end_month__isnull=True) | Q(end_month__gte=period)).count())


def payroll_runs(*, scheme: Scheme | None = None, user=None) -> QuerySet[PayrollRun]:
    """Runs (of one scheme); with ``user``, only those of the user's schemes."""
    qs = PayrollRun.objects.select_related("scheme", "created_by", "approved_by")
    if user is not None:
        qs = policy.scope_scheme(qs, user, "scheme__code")
    return qs.filter(scheme=scheme) if scheme else qs


def payroll_run_lines(*, run: PayrollRun, user) -> QuerySet[PayrollLine]:
    """A run's lines the user may see: persons in the user's towns (the run is of their scheme)."""
    return policy.scope_town(PayrollLine.objects.filter(run=run), user, "person__town_id")


def payroll_lines_visible(*, user) -> QuerySet[PayrollLine]:
    """Every line the user may see: runs of the user's schemes, persons in the user's towns."""
    qs = policy.scope_scheme(PayrollLine.objects.all(), user, "run__scheme__code")
    return policy.scope_town(qs, user, "person__town_id")


def payroll_line_get(*, user, pk: int) -> PayrollLine:
    """One line within the user's scope; out of scope looks the same as missing (404)."""
    line = (payroll_lines_visible(user=user).select_related("run", "run__scheme", "written_off_by", "person")
            .filter(pk=pk).first())
    if line is None:
        raise Http404("结算明细不存在或不在您的管辖范围内")
    return line


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


def payroll_person_lines(*, person_id: int, user=None) -> QuerySet[PayrollLine]:
    """A person's full payment history, every run and line, newest first (with ``user``: runs of the
    user's schemes only)."""
    qs = (PayrollLine.objects.filter(person_id=person_id).select_related("run", "run__scheme")
          .order_by("-run__period", "-run_id"))
    return policy.scope_scheme(qs, user, "run__scheme__code") if user is not None else qs


def month_end_figures(*, scheme: Scheme, limit: int | None = None) -> QuerySet[MonthEndSnapshot]:
    """The statistics page's month-by-month table (月末数据), newest first."""
    qs = MonthEndSnapshot.objects.filter(scheme=scheme).order_by("-period")
    return qs[:limit] if limit else qs


# --------------------------------------------------------------------------------------------------
# a run's family (the run and its re-issues) and what is still owed of it


def payroll_run_family(*, run: PayrollRun) -> list[int]:
    """The run and every re-issue run descending from it (二次报盘 of 二次报盘 …), the run first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE f(id) AS (SELECT %s::bigint UNION ALL "
            "SELECT r.id FROM payroll_payrollrun r JOIN f ON r.parent_run_id = f.id) SELECT id FROM f", [run.pk])
        return [r[0] for r in cursor.fetchall()]


def payroll_failed_lines(*, run_ids: list[int], user=None) -> QuerySet[PayrollLine]:
    """The failed lines still owed (失败, neither re-issued nor written off) of these runs; with ``user``,
    only of persons in the user's towns."""
    qs = PayrollLine.objects.filter(run_id__in=run_ids, status=PayrollLine.Status.FAILED)
    return policy.scope_town(qs, user, "person__town_id") if user is not None else qs


def payroll_owed(*, run_ids: list[int], user) -> dict:
    """How many failed lines are still owed of these runs and their total (``{"n", "total"}``), of
    persons in the user's towns."""
    return payroll_failed_lines(run_ids=run_ids, user=user).aggregate(n=Count("id"), total=Sum("net"))


# --------------------------------------------------------------------------------------------------
# risky lines (风险明细) and bank rejections of an account


def payroll_account_rejections(*, account_number: str, limit: int = 3) -> list[PayrollLine]:
    """The latest lines to this account number the bank rejected (失败, then perhaps re-issued or written
    off; lines the export held out are no rejection), newest first — for the warning when an account is
    entered. Reads the partial index of rejected lines."""
    if not account_number:
        return []
    return list(PayrollLine.objects.filter(account_number=account_number, status__in=REJECTED_STATUSES)
                .exclude(risk__held_out_at__isnull=False).select_related("run").order_by("-id")[:limit])


REJECTED_STATUSES = [PayrollLine.Status.FAILED, PayrollLine.Status.REISSUED, PayrollLine.Status.WRITTEN_OFF]


def payroll_run_risks(*, run: PayrollRun, user) -> QuerySet[LineRisk]:
    """A run's risky lines the user may see (persons in the user's towns), by sequence, with the line and
    who released them."""
    qs = (LineRisk.objects.filter(run=run).select_related("line", "released_by")
          .order_by("line__seq"))
    return policy.scope_town(qs, user, "line__person__town_id")


def payroll_run_risk_counts(*, run: PayrollRun) -> dict:
    """How many of the run's risky lines are held (not released, not yet held out), released and held
    out, with their net totals: the county's figures, for the run and approval pages."""
    held = Q(released_at__isnull=True, held_out_at__isnull=True)
    return LineRisk.objects.filter(run=run).aggregate(
        held=Count("id", filter=held), held_total=Sum("line__net", filter=held),
        released=Count("id", filter=Q(released_at__isnull=False)),
        held_out=Count("id", filter=Q(held_out_at__isnull=False)),
        held_out_total=Sum("line__net", filter=Q(held_out_at__isnull=False)))
