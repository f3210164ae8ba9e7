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
from shebao.payroll.models import (
    AccountRejection,
    LineRisk,
    MonthEndSnapshot,
    PayrollComponent,
    PayrollLine,
    PayrollRun,
)
from shebao.payroll.sqlfiles import sql_parts

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


def payroll_account_rejections(*, account_number: str, limit: int = 3) -> list[AccountRejection]:
    """The latest bank rejections of this account number (回盘 失败; ``models.AccountRejection``), newest
    first — for the warning when an account is entered."""
    if not account_number:
        return []
    return list(AccountRejection.objects.filter(account_number=account_number).select_related("run")
                .order_by("-id")[:limit])


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


# --------------------------------------------------------------------------------------------------
# the approval's comparison with the scheme's previous run, and months never computed

_COMPARE = sql_parts("compare.sql")
_LINE_STATES = {"item": PayrollComponent.Kind.ITEM.value, "arrears": PayrollComponent.Kind.ARREARS.value}
COMPARE_LIMIT = 200  # rows of each list on the page; the export has them all


def payroll_run_previous(run: PayrollRun) -> PayrollRun | None:
    """The scheme's previous run of the same kind: the latest one of an earlier period (for a monthly
    run normally the month before; a re-issue or one-off run: the latest earlier one of its kind)."""
    return (PayrollRun.objects.filter(scheme_id=run.scheme_id, kind=run.kind, period__lt=run.period)
            .order_by("-period", "-id").first())


def _prev_month(period: dt.date) -> dt.date:
    return dt.date(period.year - (period.month == 1), 12 if period.month == 1 else period.month - 1, 1)


def payroll_run_compare(*, run: PayrollRun, limit: int | None = COMPARE_LIMIT) -> dict | None:
    """What changed against the previous run (``payroll_run_previous``), set-based in two statements
    (``payroll/sql/compare.sql``): None when there is none. ``{"previous", "months_between", "groups",
    "items", "totals"}``:

    - ``groups``: ``added`` (payees in this run only: cause ``new`` — the enrollment starts after the
      previous run's period — or ``resumed``), ``stopped`` (in the previous run only: ``ended`` —
      terminated —, ``suspended`` or ``other``), ``changed`` (in both with another gross or net: cause
      ``raise`` — the items' amounts differ (增资/调整) —, ``arrears`` (补发), ``deduction`` (扣减); several
      at once possible). Each ``{"n", "delta" (Σ net − previous net), "counts" by cause, "rows"}`` with at
      most ``limit`` rows (by 身份证号; ``limit=None``: every row, for the export);
    - ``items``: amounts by item, 补发 and 扣减 of both runs (``previous``, ``current``, ``delta``);
    - ``totals``: line count, gross, deductions, net of both runs.
    Run totals are the county's (the runs' own)."""
    prev = payroll_run_previous(run)
    if prev is None:
        return None
    params = {**_LINE_STATES, "run": run.pk, "prev": prev.pk, "period": run.period, "prev_period": prev.period,
              "limit": limit if limit is not None else 2**31 - 1}
    empty = {"n": 0, "delta": 0, "counts": {}, "rows": []}
    groups = {"added": dict(empty, rows=[]), "stopped": dict(empty, rows=[]), "changed": dict(empty, rows=[])}
    with connection.cursor() as cursor:
        cursor.execute(_COMPARE["diff"], params)
        for (what, line_id, person_id, name, id_number, prev_net, net, by_raise, by_arrears, by_deduction,
             status_cause, n, n_raise, n_arrears, n_deduction, n_new, n_resumed, n_ended, n_suspended,
             delta) in cursor.fetchall():
            g = groups[what]
            if not g["rows"]:
                g.update(n=n, delta=delta, counts={
                    "added": {"new": n_new, "resumed": n_resumed, "other": n - n_new - n_resumed},
                    "stopped": {"ended": n_ended, "suspended": n_suspended, "other": n - n_ended - n_suspended},
                    "changed": {"raise": n_raise, "arrears": n_arrears, "deduction": n_deduction},
                }[what])
            causes = ([c for c, on in (("raise", by_raise), ("arrears", by_arrears), ("deduction", by_deduction)) if on]
                      if what == "changed" else [status_cause])
            g["rows"].append({"line_id": line_id, "person_id": person_id, "name": name, "id_number": id_number,
                              "prev_net": prev_net, "net": net, "causes": causes})
        cursor.execute(_COMPARE["items"], params)
        items = [{"kind": kind, "item_id": item_id, "name": name, "previous": before, "current": now,
                  "delta": now - before} for kind, item_id, name, before, now in cursor.fetchall()]
    totals = [{"field": f, "previous": getattr(prev, f), "current": getattr(run, f),
               "delta": getattr(run, f) - getattr(prev, f)} for f in ("line_count", "gross", "deductions", "net")]
    months = (run.period.year - prev.period.year) * 12 + run.period.month - prev.period.month
    return {"previous": prev, "months_between": months, "groups": groups, "items": items, "totals": totals}


def payroll_missing_months(*, scheme: Scheme, period: dt.date) -> list[dt.date]:
    """The months before ``period`` since the scheme's first monthly run that have no monthly run: what
    computing ``period`` now skips. Empty for the scheme's first run (it may start at any month)."""
    first = (PayrollRun.objects.filter(scheme=scheme, kind=PayrollRun.Kind.REGULAR, period__lt=period)
             .order_by("period").values_list("period", flat=True).first())
    if first is None:
        return []
    have = set(PayrollRun.objects.filter(scheme=scheme, kind=PayrollRun.Kind.REGULAR, period__gte=first,
                                         period__lt=period).values_list("period", flat=True))
    out, month = [], _prev_month(period)
    while month > first:
        if month not in have:
            out.append(month)
        month = _prev_month(month)
    return sorted(out)


def payroll_missing_months_warning(*, scheme: Scheme, period: dt.date) -> str:
    """The warning for computing ``period`` while earlier months were never computed (empty: none
    missing): the months, how many persons each concerns, and what computing out of order means."""
    missing = payroll_missing_months(scheme=scheme, period=period)
    if not missing:
        return ""
    named = "、".join(f"{m:%Y-%m}（{payroll_beneficiaries_count(scheme=scheme, period=m)} 人在册）" for m in missing[:12])
    more = f"等 {len(missing)} 个月" if len(missing) > 12 else ""
    return (f"{scheme.name} {named}{more}尚未计算月度结算。先计算 {period:%Y-%m}：这些月份在册人员的待遇不会随之发放，"
            "须回头计算这些月份才会发放；待发的补发、扣减由先审核的批次结清，即计入 "
            f"{period:%Y-%m} 而不是更早的月份。首次结算可从任何月份开始，如确属首次，请忽略本提示。")
