"""银行专线接口 reads: templates, files sent, their lines, returns, and the failed-and-owed list.

With ``user=`` (the pages): files and returns of runs in the user's schemes (a file holding runs of
several schemes shows to a user of any of them), lines of persons in the user's towns and runs of the
user's schemes. File and return totals are the file's own (the whole county's)."""

from __future__ import annotations

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from shebao.bank.models import BankFile, BankFileLine, BankTemplate, ReturnFile, ReturnLine
from shebao.common import policy


class UnknownTemplate(LookupError):
    pass


def bank_template_list(*, active_only: bool = True) -> QuerySet[BankTemplate]:
    qs = BankTemplate.objects.all()
    return qs.filter(active=True) if active_only else qs


def bank_template_get(code: str) -> BankTemplate:
    template = BankTemplate.objects.filter(code=code).first()
    if template is None:
        known = ", ".join(bank_template_list().values_list("code", flat=True))
        raise UnknownTemplate(f"没有银行模板“{code}”（可用：{known}）")
    return template


def bank_file_scheme_codes(bank_file: BankFile) -> set[str]:
    """The schemes of the runs a file pays."""
    return set(BankFile.runs.through.objects.filter(bankfile_id=bank_file.pk)
               .values_list("payrollrun__scheme__code", flat=True))


def _of_user_schemes(qs: QuerySet, user, file_field: str) -> QuerySet:
    """``qs`` limited to files (through ``file_field``) holding a run of one of the user's schemes."""
    codes = policy.schemes_of(user)
    if codes is None:
        return qs
    runs = BankFile.runs.through.objects.filter(bankfile_id=OuterRef(file_field), payrollrun__scheme__code__in=codes)
    return qs.filter(Exists(runs))


def bank_file_list(*, bank: str | None = None, run=None, date_from=None, date_to=None, user=None) -> QuerySet[BankFile]:
    """Files sent, newest first, with what their returns have said so far (no content loaded)."""
    qs = BankFile.objects.defer("content", "definition").select_related("template", "created_by")
    if user is not None:
        qs = _of_user_schemes(qs, user, "pk")
    if bank:
        qs = qs.filter(bank=bank)
    if run is not None:
        qs = qs.filter(runs=run)
    if date_from:
        qs = qs.filter(file_date__gte=date_from)
    if date_to:
        qs = qs.filter(file_date__lte=date_to)
    returns = ReturnFile.objects.filter(bank_file=OuterRef("pk")).values("bank_file")
    return qs.annotate(
        return_count=Coalesce(Subquery(returns.annotate(n=Count("pk")).values("n")), Value(0)),
        ok_count=Coalesce(Subquery(returns.annotate(n=Sum("ok_count")).values("n")), Value(0)),
        ok_total=Subquery(returns.annotate(n=Sum("ok_total")).values("n")),
        failed_count=Coalesce(Subquery(returns.annotate(n=Sum("failed_count")).values("n")), Value(0)),
        failed_total=Subquery(returns.annotate(n=Sum("failed_total")).values("n")),
    ).order_by("-created_at", "-id")


def bank_file_lines(*, bank_file: BankFile, outcome: str | None = None, user=None) -> QuerySet[BankFileLine]:
    """A file's lines in sequence order with the bank's outcome: ``outcome`` filters on
    ``paid`` / ``failed`` / ``waiting`` (not yet returned); with ``user``, only the lines of persons in
    the user's towns and of runs in the user's schemes."""
    qs = (BankFileLine.objects.filter(bank_file=bank_file).select_related("return_line")
          .annotate(run_id=F("payroll_line__run_id"), line_status=F("payroll_line__status"))
          .order_by("seq"))
    if user is not None:
        qs = policy.scope_scheme(qs, user, "payroll_line__run__scheme__code")
        qs = policy.scope_town(qs, user, "payroll_line__person__town_id")
    if outcome == "paid":
        qs = qs.filter(return_line__ok=True)
    elif outcome == "failed":
        qs = qs.filter(return_line__ok=False)
    elif outcome == "waiting":
        qs = qs.filter(return_line__isnull=True)
    return qs


def return_file_list(*, bank_file: BankFile | None = None, user=None) -> QuerySet[ReturnFile]:
    qs = ReturnFile.objects.defer("content").select_related("bank_file", "imported_by")
    if user is not None:
        qs = _of_user_schemes(qs, user, "bank_file_id")
    if bank_file is not None:
        qs = qs.filter(bank_file=bank_file)
    return qs.order_by("-imported_at", "-id")


def return_lines_visible(*, user, return_file: ReturnFile | None = None) -> QuerySet[ReturnLine]:
    """Return lines the user may see: of persons in the user's towns, of runs in the user's schemes."""
    qs = ReturnLine.objects.all() if return_file is None else ReturnLine.objects.filter(return_file=return_file)
    qs = policy.scope_scheme(qs, user, "bank_file_line__payroll_line__run__scheme__code")
    return policy.scope_town(qs, user, "bank_file_line__payroll_line__person__town_id")


def failed_owed_lines(*, scheme=None, run=None, user=None):
    """失败待发: payroll lines the bank failed that are still owed — not re-issued, not written off —
    with the bank's reason and the file they failed in (with ``user``: of the user's towns and
    schemes). (Reads the payroll app's lines.)"""
    from shebao.payroll.models import PayrollLine

    qs = PayrollLine.objects.filter(status=PayrollLine.Status.FAILED).select_related("run", "run__scheme")
    if user is not None:
        qs = policy.scope_scheme(qs, user, "run__scheme__code")
        qs = policy.scope_town(qs, user, "person__town_id")
    if scheme is not None:
        qs = qs.filter(run__scheme=scheme)
    if run is not None:
        qs = qs.filter(Q(run=run) | Q(run__parent_run=run))
    sent = BankFileLine.plain.filter(payroll_line=OuterRef("pk"))
    return qs.annotate(
        batch_no=Subquery(sent.values("bank_file__batch_no")[:1]),
        file_seq=Subquery(sent.values("seq")[:1]),
        bank_reason=Subquery(sent.values("return_line__reason")[:1]),
    ).order_by("run__period", "run_id", "seq")


def bank_export_pending(*, user) -> QuerySet:
    """报盘 to do: approved runs' lines still to send (net > 0, 待发, in no file), counted per run and
    bank (``run_id``, ``bank``, ``n``, ``total``), runs of the user's schemes. (Reads the payroll app's
    lines.)"""
    from shebao.payroll.models import PayrollLine, PayrollRun

    sent = BankFileLine.plain.filter(payroll_line_id=OuterRef("pk"))
    qs = PayrollLine.objects.filter(run__state=PayrollRun.State.APPROVED, status=PayrollLine.Status.PENDING, net__gt=0)
    return (policy.scope_scheme(qs, user, "run__scheme__code")
            .filter(~Exists(sent)).values("run_id", "bank").annotate(n=Count("id"), total=Sum("net"))
            .order_by("run_id", "bank"))


FILE_WAITING, FILE_PARTLY, FILE_RETURNED = "waiting", "partial", "returned"


def bank_run_files(*, run, user=None) -> list[dict]:
    """The files holding a run's lines, each with its return state: ``waiting`` (未回盘: no line returned),
    ``partial`` (部分回盘: some lines returned) or ``returned`` (已回盘: every line), how many lines
    were returned and their totals. The file's figures are the county's (the file's own)."""
    out = []
    for f in bank_file_list(run=run, user=user).order_by("batch_no"):
        returned = f.ok_count + f.failed_count
        state = FILE_WAITING if returned == 0 else FILE_RETURNED if returned >= f.line_count else FILE_PARTLY
        out.append({"file": f, "returned": returned, "state": state, "waiting": f.line_count - returned})
    return out


def bank_run_unsent(*, run) -> QuerySet:
    """A run's lines still to send (net > 0, 待发, in no file), counted per bank (``bank``, ``n``, ``total``)."""
    from shebao.payroll.models import PayrollLine

    sent = BankFileLine.plain.filter(payroll_line_id=OuterRef("pk"))
    return (PayrollLine.objects.filter(run=run, status=PayrollLine.Status.PENDING, net__gt=0).filter(~Exists(sent))
            .values("bank").annotate(n=Count("id"), total=Sum("net")).order_by("bank"))
