"""The payroll engine (SPEC "Monthly payroll"): compute, approve, one-off and re-issue runs, the
calls the bank app makes (mark exported, apply return results), write-off and month-end figures.

Compute is set-based SQL (a temp table of components, then one INSERT … SELECT for lines and one for
components): no query per person. State changes are conditional updates, so a double click or two
users can never apply one change twice; every service writes its audit record in its transaction."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from operator import itemgetter

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from shebao.benefits.models import Adjustment, BenefitItem, Scheme
from shebao.benefits.months import MonthError, format_month, parse_month
from shebao.benefits.services import BenefitError, adjustments_consume
from shebao.common import policy
from shebao.common.audit import audit_record
from shebao.common.meanwhile import statement_meanwhile
from shebao.common.money import ZERO, quantize, to_decimal
from shebao.common.pgcopy import copy_rows
from shebao.payroll import schemes
from shebao.payroll.models import LineRisk, MonthEndSnapshot, PayrollComponent, PayrollLine, PayrollRun
from shebao.payroll.selectors import payroll_run_family
from shebao.payroll.sqlfiles import sql_parts as _sql_parts
from shebao.registry.models import Payee
from shebao.registry.selectors import bank_accounts_current, payees_current_of

State = PayrollRun.State
LineStatus = PayrollLine.Status


class PayrollError(Exception):
    """A refused payroll action; ``str()`` is the message for the user (Chinese)."""


def _label(run: PayrollRun) -> str:
    when = f"{run.period.year} 年" if run.kind == PayrollRun.Kind.ANNUAL else format_month(run.period)
    return f"{run.scheme.name} {when} {run.get_kind_display()}（批次 {run.pk}）"


# --------------------------------------------------------------------------------------------------
# compute

# The compute statements live in ``payroll/sql/*.sql`` with their planner notes (why nested loops are
# off, why the CTEs are shaped as they are): read compute.sql top down. Each file is read once, here.


_COMPUTE = _sql_parts("compute.sql")
_ANNUAL = _sql_parts("compute_annual.sql")
_SQL_COMPUTE_PEND, _SQL_COMPUTE_TAIL = _COMPUTE["pend"], _COMPUTE["tail"]
_SQL_COMPUTE = _COMPUTE["head"] + _SQL_COMPUTE_PEND + _COMPUTE["base"] + _SQL_COMPUTE_TAIL
_SQL_TOTALS = _sql_parts("totals.sql")["totals"]
_SQL_RISKS = _sql_parts("risks.sql")["refresh"]

# The states and kinds the statements name, bound from the TextChoices (``%(paid)s``), so a renamed
# state cannot drift from the SQL. Merged into every statement's parameters.
_STATES = {
    **{status.value: status.value for status in LineStatus},  # pending, sent, paid, failed, reissued, written_off
    **{kind.value: kind.value for kind in PayrollComponent.Kind},  # item, arrears, deduction
    "adjustment_pending": Adjustment.State.PENDING.value,
    "adjustment_arrears": Adjustment.Kind.ARREARS.value,
    "adjustment_deduction": Adjustment.Kind.DEDUCTION.value,
}


def _delete_lines(run_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM payroll_linerisk WHERE run_id = %s", [run_id])
        cursor.execute(
            "DELETE FROM payroll_payrollcomponent c USING payroll_payrollline l "
            "WHERE c.line_id = l.id AND l.run_id = %s", [run_id])
        cursor.execute("DELETE FROM payroll_payrollline WHERE run_id = %s", [run_id])


OnStage = Callable[[str], None]  # a service's ``progress``: called with a stage's key as the stage starts


def _quiet(key: str) -> None:
    """No one watching: the stages pass unseen."""


def _fill_regular(run: PayrollRun, progress: OnStage) -> None:
    items = BenefitItem.objects.filter(scheme_id=run.scheme_id, recurring=True).order_by("pk")
    params = {**_STATES, "scheme": run.scheme_id, "period": run.period, "run": run.pk, "items": _id_array(
              items.values_list("pk", flat=True)), "memo": f"{run.scheme.name}{run.period:%Y年%m月}待遇"}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")  # the aggregates, sorts and CTEs stay in memory
        cursor.execute("SET LOCAL enable_nestloop = off")  # bulk joins only: see the notes in sql/compute.sql
        progress("lines")
        cursor.execute(_SQL_COMPUTE, params)
        cursor.execute("SET LOCAL enable_nestloop = on")
        progress("totals")
        cursor.execute(_SQL_TOTALS, params)
        cursor.execute(_SQL_RISKS, {**_STATES, "run": run.pk})


# A yearly run (年度发放): payroll/sql/compute_annual.sql — the scheme's annual rule gives the amounts
# (its SELECT becomes ``amt``), then pend and tail as a monthly run.


def _fill_annual(run: PayrollRun, progress: OnStage) -> None:
    """The lines of a yearly run from the scheme's registered annual rule (``payroll.schemes``)."""
    rule = schemes.rules_for(run.scheme).annual
    if rule is None:
        raise PayrollError(f"{run.scheme.name}没有登记年度发放规则，不能进行年度发放")
    rule_sql, rule_params = rule(run)
    clash = sorted(set(rule_params or {}) & {*_STATES, "scheme", "period", "run", "memo"})
    if clash:  # a programming error of the rule: its own params would be replaced by the service's
        raise ValueError(f"annual rule of {run.scheme.code}: parameter names {clash} are the service's own")
    params = {**(rule_params or {}), **_STATES, "scheme": run.scheme_id, "period": run.period, "run": run.pk,
              "memo": f"{run.scheme.name}{run.period.year}年度发放"}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL enable_nestloop = off")
        progress("lines")
        cursor.execute(_annual_sql(rule_sql), params)
        cursor.execute("SET LOCAL enable_nestloop = on")
        progress("totals")
        cursor.execute(_SQL_TOTALS, params)
        cursor.execute(_SQL_RISKS, {**_STATES, "run": run.pk})


def _annual_sql(rule_sql: str) -> str:
    """The yearly run's statement around the scheme's annual rule (its SELECT)."""
    return _ANNUAL["annual_head"].replace("{rule}", rule_sql) + _SQL_COMPUTE_PEND + _ANNUAL["annual_base"] \
        + _SQL_COMPUTE_TAIL


def _fill(run: PayrollRun, progress: OnStage = _quiet) -> None:
    if run.kind == PayrollRun.Kind.ANNUAL:
        _fill_annual(run, progress)
    else:
        _fill_regular(run, progress)


def _run_period(period, kind: str):
    """A regular run's month, or a yearly run's year (``2026``, ``"2026"`` or any date in it) as 1 January."""
    if kind != PayrollRun.Kind.ANNUAL:
        return parse_month(period)
    if isinstance(period, dt.date):
        return dt.date(period.year, 1, 1)
    text = str(period).strip()
    if not (text.isdigit() and len(text) == 4):
        try:
            return dt.date(parse_month(text).year, 1, 1)
        except (ValueError, MonthError):
            raise PayrollError(f"年度 {period} 不正确，应为四位年份，例如 2026") from None
    return dt.date(int(text), 1, 1)


def _run_name(scheme: Scheme, period, kind: str) -> str:
    if kind == PayrollRun.Kind.ANNUAL:
        return f"{scheme.name} {period.year} 年的年度发放"
    return f"{scheme.name} {format_month(period)} 的月度结算"


def payroll_run_compute(*, scheme: Scheme, period, user, note: str = "", kind: str = "regular",
                        progress: OnStage | None = None) -> PayrollRun:
    """月度结算 of a scheme for period P: for each beneficiary payable in P, gross = Σ recurring items in
    effect in P + pending 补发 (whole); deductions = pending 扣减 in recorded order, each at most its
    monthly cap and its remaining, together at most the gross (the rest carries over); net = gross −
    deductions (a net-0 line is kept but goes to no bank file). One regular run per scheme and period.
    ``kind="annual"``: the yearly run (年度发放) of the year of ``period``, its amounts from the scheme's
    registered annual rule, deductions and net as above; one per scheme and year (a database constraint).
    ``progress`` (a job's stages) is called with "lines", "totals" and "audit" as each starts."""
    progress = progress or _quiet
    if kind not in (PayrollRun.Kind.REGULAR, PayrollRun.Kind.ANNUAL):
        raise PayrollError(f"结算类型 {kind} 不正确（regular 月度结算 / annual 年度发放）")
    period = _run_period(period, kind)
    if kind == PayrollRun.Kind.ANNUAL and schemes.rules_for(scheme).annual is None:
        raise PayrollError(f"{scheme.name}没有登记年度发放规则，不能进行年度发放")
    existing = PayrollRun.objects.filter(scheme=scheme, period=period, kind=kind).first()
    if existing:
        raise PayrollError(
            f"{_run_name(scheme, period, kind)}已存在（批次 {existing.pk}，{existing.get_state_display()}），"
            + ("如需重算请使用“重新计算”" if existing.state == State.COMPUTED else "不能重复结算")
        )
    try:
        with transaction.atomic():
            run = PayrollRun.objects.create(scheme=scheme, period=period, kind=kind,
                                            created_by=user, computed_at=timezone.now(), note=note)
            _fill(run, progress)
            run.refresh_from_db()
            progress("audit")
            audit_record(user=user, action="payroll_compute", obj=run, summary=f"计算 {_label(run)}",
                         after=_totals(run))
    except IntegrityError as exc:
        if "payrollrun_one_regular_per_period" in str(exc) or "payrollrun_one_annual_per_year" in str(exc):
            raise PayrollError(f"{_run_name(scheme, period, kind)}已存在，不能重复结算") from None
        raise
    return run


def payroll_run_recompute(*, run: PayrollRun, user, progress: OnStage | None = None) -> PayrollRun:
    """Recompute a regular run that is still 已计算: its lines and components are replaced in one
    transaction. Refused once approved. ``progress``: "delete", "lines", "totals", "audit" as each starts."""
    progress = progress or _quiet
    with transaction.atomic():
        run = PayrollRun.objects.select_for_update().select_related("scheme").get(pk=run.pk)
        if run.kind not in (PayrollRun.Kind.REGULAR, PayrollRun.Kind.ANNUAL):
            raise PayrollError("只有月度结算和年度发放可以重新计算")
        if run.state != State.COMPUTED:
            raise PayrollError(f"{_label(run)} {run.get_state_display()}，不能重新计算")
        before = _totals(run)
        progress("delete")
        _delete_lines(run.pk)
        _fill(run, progress)
        PayrollRun.objects.filter(pk=run.pk).update(computed_at=timezone.now(), created_by=user)
        run.refresh_from_db()
        progress("audit")
        audit_record(user=user, action="payroll_recompute", obj=run, summary=f"重新计算 {_label(run)}",
                     before=before, after=_totals(run))
    return run


def _totals(run: PayrollRun) -> dict:
    return {"state": run.state, "line_count": run.line_count, "gross": str(run.gross),
            "deductions": str(run.deductions), "net": str(run.net)}


# --------------------------------------------------------------------------------------------------
# approve


def _is_reviewer(user) -> bool:
    return policy.has_perm(user, "accounts.review")


_SQL_TAKEN = """
SELECT c.adjustment_id, sum(c.amount) AS taken
FROM payroll_payrollcomponent c JOIN payroll_payrollline l ON l.id = c.line_id
WHERE l.run_id = %s AND c.adjustment_id IS NOT NULL
GROUP BY c.adjustment_id
"""


def payroll_run_approve(*, run: PayrollRun, user, progress: OnStage | None = None) -> PayrollRun:
    """审核: by a reviewer who is not the one who computed it (maker-checker, also a DB check). The
    补发/扣减 the run takes are consumed in one set-based update (remaining reduced, settled at 0), so
    they are never taken twice; if another run consumed them first, approval is refused (recompute).
    ``progress``: "settle" and "audit" as each starts."""
    progress = progress or _quiet
    with transaction.atomic():
        run = PayrollRun.objects.select_for_update().select_related("scheme").get(pk=run.pk)
        if run.state != State.COMPUTED:
            raise PayrollError(f"{_label(run)} {run.get_state_display()}，不能再次审核")
        if run.created_by_id == user.pk:
            raise PayrollError("审核人不能与经办人为同一人")
        if not _is_reviewer(user):
            raise PayrollError("您没有审核权限")
        progress("settle")
        payroll_run_risks_refresh(run=run)  # what the reviewer saw, brought up to date (returns since compute)
        try:
            consumed = adjustments_consume(taken_sql=_SQL_TAKEN, params=[run.pk])
        except BenefitError as exc:
            raise PayrollError(str(exc)) from None
        changed = PayrollRun.objects.filter(pk=run.pk, state=State.COMPUTED).update(
            state=State.APPROVED, approved_by=user, approved_at=timezone.now())
        if not changed:  # pragma: no cover - guarded by the row lock above
            raise PayrollError(f"{_label(run)} 已被审核")
        run.refresh_from_db()
        progress("audit")
        audit_record(user=user, action="payroll_approve", obj=run, summary=f"审核 {_label(run)}",
                     before={"state": State.COMPUTED},
                     after={**_totals(run), "adjustments_consumed": consumed})
    return run


# --------------------------------------------------------------------------------------------------
# one-off and re-issue runs


def _is_payee(obj) -> bool:
    """Whether a payee given to a one-off or settlement line is an organisation payee (else a person)."""
    return isinstance(obj, Payee)


def payroll_oneoff_create(*, scheme: Scheme, items: list, user, period=None, note: str = "") -> PayrollRun:
    """零星发放: a run of single payments ``items`` = [(payee, amount, memo), …], one line per payee. A
    payee is a registered person (paid to their current account) or a registered organisation payee
    (``registry.Payee``: paid to its current version's 户名/开户行/账号, which the line keeps).
    Approved like any run."""
    period = parse_month(period or timezone.localdate())
    if not items:
        raise PayrollError("没有要发放的人员")
    rows = []
    seen = set()
    for n, (who, amount, memo) in enumerate(items, start=1):
        try:
            value = to_decimal(amount)
        except ValueError as exc:
            raise PayrollError(f"第 {n} 行：{exc}") from None
        if value != quantize(value) or value <= 0:
            raise PayrollError(f"第 {n} 行：金额 {amount} 应为大于 0 的两位小数")
        if _is_payee(who):
            current = Payee.objects.filter(code=who.code, current=True).first()
            if current is None:  # pragma: no cover - every code keeps one current version
                raise PayrollError(f"第 {n} 行：收款方 {who.code} 不存在")
            who, key = current, ("payee", who.code)
        else:
            key = ("person", who.pk)
        if key in seen:
            raise PayrollError(f"第 {n} 行：{who.name} 重复（每人一笔，请合并）")
        seen.add(key)
        rows.append((who, quantize(value), (memo or "零星发放")[:100]))
    with transaction.atomic():
        run = PayrollRun.objects.create(scheme=scheme, period=period, kind=PayrollRun.Kind.ONE_OFF,
                                        created_by=user, computed_at=timezone.now(), note=note)
        lines = _oneoff_lines(run, [(who, None, value, memo) for who, value, memo in rows])
        PayrollComponent.objects.bulk_create([
            PayrollComponent(line=line, kind=PayrollComponent.Kind.ITEM, amount=line.gross, description=line.memo)
            for line in lines
        ])
        _set_totals(run)
        payroll_run_risks_refresh(run=run)
        audit_record(user=user, action="payroll_oneoff", obj=run, summary=f"零星发放 {_label(run)}",
                     after=_totals(run))
    return run


def _oneoff_lines(run: PayrollRun, rows: list) -> list[PayrollLine]:
    """The lines of a run from [(person or Payee, enrollment_id, amount, memo)], numbered by 身份证号 /
    统一社会信用代码 (persons first), written in one bulk insert."""
    accounts = bank_accounts_current(person_ids=[w.pk for w, _, _, _ in rows if not _is_payee(w)])

    def order(row):
        who = row[0]
        return (1, who.uscc or "", who.code) if _is_payee(who) else (0, who.id_number, "")

    lines = []
    for seq, (who, enrollment_id, value, memo) in enumerate(sorted(rows, key=order), start=1):
        if _is_payee(who):
            lines.append(_payee_line(run, seq, who, enrollment_id, value, memo))
        else:
            lines.append(_new_line(run, seq, who.pk, enrollment_id, who.id_number, who.name,
                                   accounts.get(who.pk), value, memo))
    PayrollLine.objects.bulk_create(lines)
    return lines


def _payee_line(run, seq, payee, enrollment_id, amount, memo) -> PayrollLine:
    """A line to an organisation payee: the payee version and its account as the snapshot (the 统一社会信用
    代码 in ``id_number``, the 户名 as name and holder)."""
    return PayrollLine(
        run=run, seq=seq, person=None, payee=payee, enrollment_id=enrollment_id, id_number=payee.uscc,
        name=payee.name[:50], bank_account=None, bank=payee.bank, branch=payee.branch,
        account_number=payee.account_number, holder_name=payee.name[:50], gross=amount, deductions=ZERO,
        net=amount, memo=memo,
    )


def payroll_oneoff_cancel(*, run: PayrollRun, user, reason: str) -> None:
    """撤销零星发放: drop a one-off run that has not gone to a bank — state 已计算 or 已审核, no line in a
    bank file, every line still 待发 — with its lines and components, under the run's row lock (the lock
    ``bank_export`` takes, so no export can slip in). Audited with what was dropped. An approved run whose
    lines consumed 补发/扣减 (a termination settlement) is refused: its approval already settled them."""
    if not (reason or "").strip():
        raise PayrollError("请填写撤销原因")
    with transaction.atomic():
        locked = PayrollRun.objects.select_for_update().select_related("scheme").filter(pk=run.pk).first()
        if locked is None:
            raise PayrollError(f"结算批次 {run.pk} 不存在")
        run = locked
        if run.kind != PayrollRun.Kind.ONE_OFF:
            raise PayrollError(f"{_label(run)} 不是零星发放，不能撤销")
        if run.state not in (State.COMPUTED, State.APPROVED):
            raise PayrollError(f"{_label(run)} {run.get_state_display()}，不能撤销")
        # a line put in a bank file is 已报盘 at once (``payroll_lines_send``): all 待发 = none has left
        if _run_has_line(run.pk, "status <> %(pending)s"):
            raise PayrollError(f"{_label(run)} 已有明细报盘，不能撤销")
        if run.state == State.APPROVED and PayrollComponent.objects.filter(
                line__run=run, adjustment__isnull=False).exists():
            raise PayrollError(f"{_label(run)} 已审核并结清了补发/扣减，不能撤销")
        before = {**_totals(run), "kind": run.kind, "lines": list(
            PayrollLine.objects.filter(run=run).order_by("seq").values_list("pk", flat=True))}
        _delete_lines(run.pk)
        deleted, _ = PayrollRun.objects.filter(pk=run.pk, state__in=[State.COMPUTED, State.APPROVED],
                                               kind=PayrollRun.Kind.ONE_OFF).delete()
        if deleted != 1:  # pragma: no cover - the row is locked above
            raise PayrollError("零星发放批次状态已变化，请重试")
        audit_record(user=user, action="payroll_oneoff_cancel", object_type="payroll.payrollrun", object_id=run.pk,
                     summary=f"撤销零星发放 {_label(run)}", before=before, after=None, reason=reason.strip())


def _new_line(run, seq, person_id, enrollment_id, id_number, name, account, amount, memo) -> PayrollLine:
    return PayrollLine(
        run=run, seq=seq, person_id=person_id, enrollment_id=enrollment_id, id_number=id_number, name=name,
        bank_account=account, bank=account.bank if account else "", branch=account.branch if account else "",
        account_number=account.account_number if account else "", holder_name=account.holder_name if account else "",
        gross=amount, deductions=ZERO, net=amount, memo=memo,
    )


def _set_totals(run: PayrollRun) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_SQL_TOTALS, {"run": run.pk})
    run.refresh_from_db()


def payroll_reissue_create(*, run: PayrollRun, user, note: str = "") -> PayrollRun:
    """二次报盘: a new re-issue run with the failed lines (not written off, not already re-issued) of the
    run and of its earlier re-issues, each sent to the person's CURRENT account (an organisation payee's
    current version); the failed line is marked 已重发 and linked (origin_line), so a payment is never
    made twice. Repeat until paid."""
    with transaction.atomic():
        run = PayrollRun.objects.select_for_update().select_related("scheme").get(pk=run.pk)
        family = payroll_run_family(run=run)
        failed = list(PayrollLine.objects.select_for_update().filter(run_id__in=family, status=LineStatus.FAILED)
                      .order_by("id_number", "id"))
        if not failed:
            raise PayrollError(f"{_label(run)} 没有待重新发放的失败明细")
        payee_codes = dict(Payee.objects.filter(pk__in=[ln.payee_id for ln in failed if ln.payee_id])
                           .values_list("pk", "code"))
        if len({(ln.person_id, payee_codes.get(ln.payee_id)) for ln in failed}) != len(failed):
            raise PayrollError("同一人有多笔失败明细，请先核销或分别处理")
        current_payees = payees_current_of(payee_ids=list(payee_codes))
        reissue = PayrollRun.objects.create(
            scheme=run.scheme, period=run.period, kind=PayrollRun.Kind.REISSUE, parent_run=run, created_by=user,
            computed_at=timezone.now(), note=note or f"批次 {run.pk} 的二次报盘",
        )
        accounts = bank_accounts_current(person_ids=[line.person_id for line in failed if line.person_id])
        lines = []
        for seq, old in enumerate(failed, start=1):
            if old.payee_id:  # an organisation payee: its current version (the corrected account)
                line = _payee_line(reissue, seq, current_payees[old.payee_id], old.enrollment_id,
                                   old.net, old.memo)
            else:
                line = _new_line(reissue, seq, old.person_id, old.enrollment_id, old.id_number, old.name,
                                 accounts.get(old.person_id), old.net, old.memo)
            line.origin_line = old
            lines.append(line)
        PayrollLine.objects.bulk_create(lines)
        PayrollComponent.objects.bulk_create([
            PayrollComponent(line=line, kind=PayrollComponent.Kind.ITEM, amount=line.gross,
                             description=f"重发批次 {line.origin_line.run_id} 第 {line.origin_line.seq} 笔")
            for line in lines
        ])
        changed = PayrollLine.objects.filter(pk__in=[line.pk for line in failed], status=LineStatus.FAILED).update(
            status=LineStatus.REISSUED)
        if changed != len(failed):  # pragma: no cover - rows are locked above
            raise PayrollError("失败明细已被处理，请刷新后重试")
        _set_totals(reissue)
        payroll_run_risks_refresh(run=reissue)
        audit_record(user=user, action="payroll_reissue", obj=reissue, summary=f"二次报盘 {_label(reissue)}",
                     after={**_totals(reissue), "origin_lines": [line.pk for line in failed]})
        for run_id in {line.run_id for line in failed}:
            _maybe_complete(PayrollRun.objects.get(pk=run_id), user)
    return reissue


def payroll_line_write_off(*, line: PayrollLine, user, reason: str) -> PayrollLine:
    """核销: a reviewer closes a failed line that cannot be paid, with a reason."""
    if not _is_reviewer(user):
        raise PayrollError("只有审核员可以核销")
    if not (reason or "").strip():
        raise PayrollError("请填写核销原因")
    with transaction.atomic():
        changed = PayrollLine.objects.filter(pk=line.pk, status=LineStatus.FAILED).update(
            status=LineStatus.WRITTEN_OFF, written_off_by=user, written_off_at=timezone.now(),
            write_off_reason=reason.strip()[:200])
        if not changed:
            raise PayrollError("只有失败且未重发的明细可以核销")
        line.refresh_from_db()
        audit_record(user=user, action="payroll_write_off", obj=line, person_id=line.person_id,
                     summary=f"核销 {line.name} {line.net}（批次 {line.run_id} 第 {line.seq} 笔）",
                     before={"status": LineStatus.FAILED}, after={"status": LineStatus.WRITTEN_OFF},
                     reason=reason)
        _maybe_complete(line.run, user)
    return line


# --------------------------------------------------------------------------------------------------
# risky lines (风险明细): found set-based, held out of the bank file unless a reviewer releases them


def payroll_run_risks_refresh(*, run: PayrollRun) -> int:
    """Find the run's risky lines (``models.LineRisk``: an account the bank rejected before and not
    changed or paid since, a 户名 not the person's name, an account with a check warning) among its
    lines still 待发 with net > 0, in one statement (``payroll/sql/risks.sql``): new ones are added, the
    kinds of unreleased ones brought up to date, unreleased ones no longer risky removed; released and
    held-out ones stay as they are. Called when a run is computed or made, approved and exported, in
    the caller's transaction. Writes no audit event (nothing about a person or money changes: a risk
    row only says what the export will do). Returns how many are held (unreleased)."""
    with connection.cursor() as cursor:
        cursor.execute(_SQL_RISKS, {**_STATES, "run": run.pk})
    return LineRisk.objects.filter(run_id=run.pk, released_at__isnull=True, held_out_at__isnull=True).count()


def payroll_line_risk_release(*, risk: LineRisk, user, reason: str) -> LineRisk:
    """放行: a reviewer (not the run's maker) lets one risky line go into the bank file as it is, with a
    reason. Only a line still 待发 whose risk was not held out yet; audited in the same transaction.
    A second release of the same line is refused with who released it and when (nothing changes)."""
    if not _is_reviewer(user):
        raise PayrollError("只有审核员可以放行风险明细")
    reason = (reason or "").strip()
    if not reason:
        raise PayrollError("请填写放行原因")
    with transaction.atomic():
        locked = (LineRisk.objects.select_for_update(of=("self",)).select_related("line", "run", "run__scheme",
                                                                                  "released_by")
                  .filter(pk=risk.pk).first())
        if locked is None:
            raise PayrollError("风险明细不存在（可能已随重新计算消失），请刷新后重试")
        risk = locked
        line = risk.line
        if risk.released_at is not None:
            when = timezone.localtime(risk.released_at)
            raise PayrollError(f"第 {line.seq} 笔 {line.name} 已于 {when:%Y-%m-%d %H:%M} 由 "
                               f"{risk.released_by.display_name} 放行，无需再次放行")
        if risk.held_out_at is not None or line.status != LineStatus.PENDING:
            raise PayrollError(f"第 {line.seq} 笔 {line.name} 已{line.get_status_display()}"
                               "（报盘时已暂缓），请通过二次报盘或核销处理")
        if risk.run.created_by_id == user.pk:
            raise PayrollError("放行人不能与经办人为同一人")
        changed = LineRisk.objects.filter(pk=risk.pk, released_at__isnull=True, held_out_at__isnull=True).update(
            released_by=user, released_at=timezone.now(), release_reason=reason[:200])
        if not changed:  # pragma: no cover - the row is locked above
            raise PayrollError("风险明细已被处理，请刷新后重试")
        risk.refresh_from_db()
        audit_record(user=user, action="payroll_risk_release", obj=line, person_id=line.person_id,
                     summary=f"放行风险明细 {line.name} {line.net}（{_label(risk.run)} 第 {line.seq} 笔）"[:300],
                     before={"held": True, "kinds": risk.kinds, "detail": risk.detail},
                     after={"held": False, "released": True}, reason=reason)
    return risk


# The run's unreleased risky lines still 待发 (of one bank, or all) are kept out of the file: the risk
# row is stamped held out and its line becomes 失败 with the risk as its reason — owed like a bank
# failure, paid by 二次报盘 or written off. One UPDATE each, joined on the risk rows (few).
_SQL_HOLD_OUT = """
WITH h AS (
    UPDATE payroll_linerisk r SET held_out_at = now()
    FROM payroll_payrollline l
    WHERE r.run_id = %(run)s AND r.released_at IS NULL AND r.held_out_at IS NULL AND l.id = r.line_id
      AND l.run_id = %(run)s AND l.status = %(pending)s AND l.net > 0
      AND (%(bank)s::text IS NULL OR l.bank = %(bank)s::text)
    RETURNING r.line_id, r.detail
)
UPDATE payroll_payrollline l SET status = %(failed)s, paid_amount = 0,
       fail_reason = left('风险暂缓，未报盘：' || h.detail, 200)
FROM h WHERE l.id = h.line_id AND l.run_id = %(run)s
RETURNING l.id, l.net
"""


def payroll_lines_hold_out(*, run: PayrollRun, user, bank: str | None = None, username: str = "") -> dict:
    """报盘 of an approved run (or one bank of it): its risky lines not released are held out of the
    file — each becomes 失败 (reason ``风险暂缓，未报盘：`` + the risk) and stays on the run, owed like a
    bank failure: 二次报盘 pays it to the person's then current account (held again if still risky
    and not released), or a reviewer writes it off. Call under the run's row lock (the export's), after
    ``payroll_run_risks_refresh``. One audit event for the lines held. → {"count", "total"}."""
    with connection.cursor() as cursor:
        cursor.execute(_SQL_HOLD_OUT, {**_STATES, "run": run.pk, "bank": bank or None})
        rows = cursor.fetchall()
    if not rows:
        return {"count": 0, "total": ZERO}
    total = sum((r[1] for r in rows), ZERO)
    audit_record(user=user, username=username, action="payroll_hold_out", obj=run,
                 summary=f"报盘暂缓风险明细 {_label(run)}：{len(rows)} 笔 {total}"[:300],
                 after={"lines": sorted(r[0] for r in rows), "count": len(rows), "total": total,
                        "bank": bank or ""})
    return {"count": len(rows), "total": total}


# --------------------------------------------------------------------------------------------------
# calls from the bank app


def _run_has_line(run_id: int, condition: str) -> bool:
    """Whether a line of the run meets ``condition`` (SQL on payroll_payrollline; its only parameters are
    the states of ``_STATES``, e.g. ``status <> %(pending)s``).
    Read in sequence order, so through the run's own (run, seq) index, stopping at the first match.
    A plain ``EXISTS`` is planned as a scan of the whole table expecting an early match — which, when
    no line of the run matches (the usual answer right after a run is exported), reads every line of
    every run: 1.3 s beside 1.76M lines, growing with the table rather than with the run."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM payroll_payrollline WHERE run_id = %(run)s AND ({condition}) "
                       "ORDER BY seq LIMIT 1", {**_STATES, "run": run_id})
        return cursor.fetchone() is not None


# After lines were marked 已报盘, one pass over the lines of the runs, per run: (any net > 0 line still
# 待发, any net-0 line 待发, any net > 0 line already returned — a line held out of the file is not —,
# any line still 已报盘 waiting for its return). One aggregate instead of two ``_run_has_line`` checks
# that find nothing (each reads every line of the run) and an UPDATE of the net-0 lines that, for a run
# of half the table, was planned as a scan of all of it (1.0 s → 0.35 s at 800k lines).
_SQL_LINE_SUMMARY = """
SELECT l.run_id, COALESCE(bool_or(l.status = %(pending)s AND l.net > 0), false),
       COALESCE(bool_or(l.status = %(pending)s AND l.net = 0), false),
       COALESCE(bool_or(l.net > 0 AND l.status NOT IN (%(pending)s, %(sent)s) AND h.id IS NULL), false),
       COALESCE(bool_or(l.status = %(sent)s), false)
FROM payroll_payrollline l
LEFT JOIN payroll_linerisk h ON h.line_id = l.id AND h.run_id = l.run_id AND h.held_out_at IS NOT NULL
WHERE l.run_id = ANY(%(runs)s::bigint[])
GROUP BY l.run_id
"""
_NO_LINES = (False, False, False, False)


def _line_summary(run_id: int) -> tuple[bool, bool, bool, bool]:
    """``_SQL_LINE_SUMMARY`` of one run."""
    with connection.cursor() as cursor:
        cursor.execute(_SQL_LINE_SUMMARY, {**_STATES, "runs": _id_array([run_id])})
        row = cursor.fetchone()
    return tuple(row[1:]) if row else _NO_LINES


def _id_array(ids) -> str:
    """A bigint[] literal for one parameter (``= ANY(%s::bigint[])``): one value on the wire however
    many ids, and far cheaper to build than psycopg's per-element list adaptation."""
    return "{" + ",".join(map(str, ids)) + "}"


def _returned_state(waiting_return: bool) -> str:
    """A run some of whose lines the bank returned: 已回盘 once no line waits for its return, else 部分回盘."""
    return State.PARTLY_RETURNED if waiting_return else State.RETURNED


def _finish_export(run: PayrollRun, user, *, zero_pending: bool, returned: bool,
                   waiting_return: bool = True) -> PayrollRun:
    """Every net > 0 line of an approved run is in a file or held out (``_line_summary`` said so, and
    whether a net-0 line is 待发, a line already returned and a line still waiting for its return): the
    run becomes 已报盘 — or 部分回盘/已回盘 when a bank's return was imported before the last bank's
    file was made; net-0 lines (nothing to send) are settled as paid 0.00."""
    if zero_pending:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE payroll_payrollline SET status = %(paid)s WHERE run_id = %(run)s "
                           "AND status = %(pending)s AND net = 0", {**_STATES, "run": run.pk})
    now = timezone.now()
    state = _returned_state(waiting_return) if returned else State.EXPORTED
    PayrollRun.objects.filter(pk=run.pk, state=State.APPROVED).update(
        state=state, exported_at=now, returned_at=now if state == State.RETURNED else None)
    run.refresh_from_db()
    audit_record(user=user, action="payroll_export", obj=run, summary=f"报盘 {_label(run)}",
                 before={"state": State.APPROVED}, after=_totals(run))
    _maybe_complete(run, user)
    return run


def payroll_run_mark_exported(*, run: PayrollRun, user) -> PayrollRun:
    """报盘: the run's files were written. Lines with net > 0 become 已报盘; net-0 lines (nothing to send)
    are settled as paid 0.00. Idempotent: a run already exported (or later) is returned unchanged."""
    with transaction.atomic():
        run = PayrollRun.objects.select_for_update().select_related("scheme").get(pk=run.pk)
        if run.state in (State.EXPORTED, State.PARTLY_RETURNED, State.RETURNED, State.COMPLETED):
            return run
        if run.state != State.APPROVED:
            raise PayrollError(f"{_label(run)} 尚未审核，不能报盘")
        PayrollLine.objects.filter(run=run, status=LineStatus.PENDING, net__gt=0).update(status=LineStatus.SENT)
        _, zero_pending, returned, waiting_return = _line_summary(run.pk)
        run = _finish_export(run, user, zero_pending=zero_pending, returned=returned, waiting_return=waiting_return)
    return run


# 报盘 of approved runs: the lines going into bank files become 已报盘 and are read back in ONE
# statement — instead of reading them, then marking them by an array of 80,000 ids (two statements over
# the run's lines, the second planned around a 80,000-element array; now one). Straight from the
# UPDATE (no CTE, join, sort or window over its rows: those cost a third of the statement); the caller
# puts them in file order (``payroll_lines_send``).
_SQL_SEND = """
UPDATE payroll_payrollline l SET status = %(sent)s
WHERE l.run_id = ANY(%(runs)s::bigint[]) AND l.status = %(pending)s AND l.net > 0
  AND (%(bank)s::text IS NULL OR l.bank = %(bank)s::text)
RETURNING l.bank, l.account_number, l.holder_name, l.net, l.id_number,
          COALESCE(NULLIF(l.memo, ''), (%(labels)s::text[])[array_position(%(runs)s::bigint[], l.run_id)], ''),
          l.name, l.id, l.run_id, l.seq
"""

# The columns of each row ``payroll_lines_send`` returns, in order.
SENT_COLUMNS = ("bank", "account_number", "holder_name", "net", "id_number", "memo", "name", "id", "run_id", "seq")


def payroll_lines_send(*, runs: list[PayrollRun], user, write: Callable[[list[tuple]], None],
                       bank: str | None = None, labels: dict[int, str] | None = None) -> list[tuple]:
    """报盘 of approved runs (of one bank's lines, or all): every line still 待发 with net > 0 becomes
    已报盘 in one statement, which also gives them back for the bank files, as tuples of
    ``SENT_COLUMNS`` in file order — by bank (as Python orders the codes), run and sequence; ``memo``
    is the line's 摘要, or ``labels[run]`` when it has none — and hands them to
    ``write`` (the bank app writes its files from them; it must not change the lines' states), then,
    per run, writes one audit event for its
    lines and, when no net > 0 line is left 待发, makes the run 已报盘 (see ``_finish_export``). A line
    sent is never sent again (it is no longer 待发). One transaction: an exception from ``write`` (a
    refused file) rolls the marks back with everything else. Call under the runs' row locks (the
    export's). Refused for a run not approved (nothing written). Returns the rows."""
    with transaction.atomic():
        locked = list(PayrollRun.objects.select_for_update().select_related("scheme")
                      .filter(pk__in=[r.pk for r in runs]).order_by("pk"))
        for run in locked:
            if run.state != State.APPROVED:
                raise PayrollError(f"{_label(run)} " + ("尚未审核，不能报盘" if run.state == State.COMPUTED
                                                        else f"{run.get_state_display()}，不能再报盘"))
        labels = labels or {}
        run_ids = _id_array(r.pk for r in locked)
        with connection.cursor() as cursor:
            cursor.execute(_SQL_SEND, {**_STATES, "runs": run_ids, "bank": bank or None,
                                       "labels": [labels.get(r.pk, "") for r in locked]})
            # what is left on the runs is read by PostgreSQL while this process converts and sorts the
            # rows just sent (``write`` does not change the lines' states: the summary holds after it)
            with statement_meanwhile(_SQL_LINE_SUMMARY, {**_STATES, "runs": run_ids}) as left:
                rows = cursor.fetchall()
                rows.sort(key=itemgetter(0, 8, 9))  # file order: bank, run, sequence (nearly sorted already)
                summaries = {r[0]: tuple(r[1:]) for r in left().rows}
        write(rows)
        counts = Counter(map(itemgetter(8), rows))
        for run in locked:
            if counts.get(run.pk):
                audit_record(user=user, action="payroll_export_lines", obj=run,
                             summary=f"报盘 {_label(run)} {counts[run.pk]} 笔", after={"lines": counts[run.pk]})
            waiting, zero_pending, returned, waiting_return = summaries.get(run.pk, _NO_LINES)
            if not waiting:
                _finish_export(run, user, zero_pending=zero_pending, returned=returned, waiting_return=waiting_return)
    return rows


# The first result (in the order given) that cannot be applied, with what is needed to say why.
_SQL_RESULTS_BAD = """
SELECT t.ord, t.id, l.id IS NOT NULL, l.status, l.net, l.paid_amount, l.seq, t.paid, t.ok
FROM payroll_results t LEFT JOIN payroll_payrollline l ON l.id = t.id AND l.run_id = %(run)s
WHERE l.id IS NULL OR (t.ok AND t.paid <> l.net) OR (NOT t.ok AND t.paid <> 0)
   OR NOT (l.status = %(sent)s OR (l.status = %(paid)s AND t.ok AND l.paid_amount = t.paid)
           OR (l.status IN (%(failed)s, %(reissued)s, %(written_off)s) AND NOT t.ok))
ORDER BY t.ord LIMIT 1
"""

# Apply them: only lines still 已报盘 change (the same outcome again is skipped by the check above). The
# lines the bank rejected are recorded by account (models.AccountRejection: the risk check's lookup).
_SQL_RESULTS_APPLY = """
WITH u AS (
    UPDATE payroll_payrollline l
    SET status = CASE WHEN t.ok THEN %(paid)s ELSE %(failed)s END, paid_amount = t.paid,
        fail_reason = CASE WHEN t.ok THEN '' ELSE t.reason END
    FROM payroll_results t
    WHERE l.id = t.id AND l.run_id = %(run)s AND l.status = %(sent)s
    RETURNING t.ok, l.id, l.run_id, l.seq, l.person_id, l.payee_id, l.account_number, t.reason
), rejected AS (
    INSERT INTO payroll_accountrejection (line_id, run_id, seq, person_id, payee_id, account_number, reason,
                                          created_at)
    SELECT id, run_id, seq, person_id, payee_id, account_number, left(reason, 200), now()
    FROM u WHERE NOT ok AND account_number <> ''
    ON CONFLICT (line_id) DO NOTHING
)
SELECT count(*), count(*) FILTER (WHERE ok) FROM u
"""


def _stage_results(cursor, rows) -> None:
    """The results into a temporary table (dropped at commit) with one COPY."""
    cursor.execute("DROP TABLE IF EXISTS pg_temp.payroll_results")
    cursor.execute("CREATE TEMP TABLE payroll_results (ord integer, id bigint, paid numeric(14, 2), ok boolean, "
                   "reason text) ON COMMIT DROP")
    copy_rows(cursor, "payroll_results", ("ord", "id", "paid", "ok", "reason"),
              ((n, *row) for n, row in enumerate(rows)), types=("int4", "int8", "numeric", "bool", "text"))
    cursor.execute("ANALYZE payroll_results")


def payroll_lines_apply_results(*, run: PayrollRun, results: list, user) -> dict:
    """回盘: apply the bank's outcome per line: results = [(line_id, paid_amount, ok, reason), …]. A paid
    line must have paid exactly its net; a failed one 0.00. The results are staged with one COPY and
    applied with one UPDATE … FROM (no query per line, no id list in the SQL). Lines already given
    the same outcome are skipped (the same return twice changes nothing); a different outcome for a
    processed line, a line not yet sent or a line not of this run refuses the whole batch. An
    exported run moves to 部分回盘 while a line still waits for its return (another bank's file not
    returned yet), to 已回盘 when none does, and to 已完成 when no line is pending or failed. When lines became 已支付,
    the scheme's registered ``lines_paid`` hook runs in this transaction (``payroll.schemes``). A run still being
    exported bank by bank (审核 with some lines 已报盘) takes the results of the lines sent so far."""
    rows = []
    seen = set()
    for line_id, amount, ok, reason in results:
        line_id = int(line_id)
        seen.add(line_id)
        rows.append((line_id, quantize(amount), bool(ok), str(reason or "")[:200]))
    if len(seen) != len(rows):
        raise PayrollError("回盘结果中有重复的明细")
    with transaction.atomic():
        run = PayrollRun.objects.select_for_update().select_related("scheme").get(pk=run.pk)
        if run.state == State.COMPUTED:
            raise PayrollError(f"{_label(run)} 尚未报盘，不能回盘")
        updated = ok_count = 0
        if rows:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '64MB'")
                _stage_results(cursor, rows)
                cursor.execute(_SQL_RESULTS_BAD, {**_STATES, "run": run.pk})
                bad = cursor.fetchone()
                if bad:
                    _, line_id, found, status, net, paid_amount, seq, amount, ok = bad
                    if not found:
                        raise PayrollError(f"明细 {line_id} 不属于{_label(run)}")
                    if ok and amount != net:
                        raise PayrollError(f"第 {seq} 笔实处理金额 {amount} 与应付 {net} 不符")
                    if not ok and amount != 0:
                        raise PayrollError(f"第 {seq} 笔处理失败但实处理金额为 {amount}")
                    if status == LineStatus.PENDING:
                        raise PayrollError(f"第 {seq} 笔尚未报盘，不能回盘")
                    raise PayrollError(f"第 {seq} 笔已是“{LineStatus(status).label}”，与本次回盘结果不符")
                # Lines just marked 已报盘 in this or a recent transaction have no statistics yet: the
                # planner then guesses one 'sent' row and nests a scan of the staged results inside a
                # scan of every line (80k × 80k; minutes at bench scale). A hash join is always right here.
                cursor.execute("SET LOCAL enable_nestloop = off")
                cursor.execute(_SQL_RESULTS_APPLY, {**_STATES, "run": run.pk})
                updated, ok_count = cursor.fetchone()
                cursor.execute("SET LOCAL enable_nestloop = on")
        if ok_count:
            hook = schemes.rules_for(run.scheme).lines_paid
            if hook is not None:  # e.g. NB: the paid pensions into the 老农保 accounts, in this transaction
                hook(run=run, user=user)
        if updated:
            schemes.results_applied(run=run, user=user)  # e.g. the ledger's expenditures paid by bank
        if run.state in (State.EXPORTED, State.PARTLY_RETURNED):
            # 已回盘 only when every line sent has its return (every file of the run came back), else 部分回盘
            state = _returned_state(_run_has_line(run.pk, "status = %(sent)s"))
            if state != run.state:
                PayrollRun.objects.filter(pk=run.pk, state=run.state).update(
                    state=state, returned_at=timezone.now() if state == State.RETURNED else None)
        run.refresh_from_db()
        audit_record(user=user, action="payroll_return", obj=run, summary=f"回盘 {_label(run)}：成功 {ok_count} 笔，"
                     f"失败 {updated - ok_count} 笔", after={"updated": updated, "state": run.state})
        _maybe_complete(run, user)
        run.refresh_from_db()
    return {"updated": updated, "paid": ok_count, "failed": updated - ok_count, "state": run.state}


def _maybe_complete(run: PayrollRun, user) -> None:
    """已回盘 → 已完成 when no line is pending, sent or failed; then the month-end figures are kept."""
    if run.state not in (State.EXPORTED, State.PARTLY_RETURNED, State.RETURNED):
        return
    if _run_has_line(run.pk, "status IN (%(pending)s, %(sent)s, %(failed)s)"):
        return
    changed = PayrollRun.objects.filter(pk=run.pk, state__in=[State.EXPORTED, State.PARTLY_RETURNED,
                                                              State.RETURNED]).update(
        state=State.COMPLETED, completed_at=timezone.now())
    if changed:
        run.refresh_from_db()
        audit_record(user=user, action="payroll_complete", obj=run, summary=f"{_label(run)} 已完成",
                     after={"state": State.COMPLETED})
        payroll_month_end_snapshot(scheme=run.scheme, period=run.period)


# --------------------------------------------------------------------------------------------------
# month-end figures

_SQL_PERSONS_BY_STATUS = """
SELECT
  count(*) FILTER (WHERE e.start_month <= %(p)s AND (e.end_month IS NULL OR e.end_month >= %(p)s)
                   AND NOT EXISTS (SELECT 1 FROM benefits_suspension s WHERE s.enrollment_id = e.id
                                   AND s.from_month <= %(p)s AND (s.to_month IS NULL OR s.to_month >= %(p)s))),
  count(*) FILTER (WHERE e.start_month <= %(p)s AND (e.end_month IS NULL OR e.end_month >= %(p)s)
                   AND EXISTS (SELECT 1 FROM benefits_suspension s WHERE s.enrollment_id = e.id
                               AND s.from_month <= %(p)s AND (s.to_month IS NULL OR s.to_month >= %(p)s))),
  count(*) FILTER (WHERE e.end_month < %(p)s)
FROM benefits_enrollment e WHERE e.scheme_id = %(scheme)s
"""


def payroll_month_end_snapshot(*, scheme: Scheme, period) -> MonthEndSnapshot:
    """月末数据 of a scheme and month: persons 正常/暂停/终止 for the month; amounts by item, arrears and
    deductions of the month's regular run; payable (Σ net of regular and one-off runs), paid (Σ paid of
    all runs of the month incl. re-issues), failed (Σ net of lines that failed, incl. re-issued and
    written off) and owed (Σ net of lines failed and not yet re-issued or written off)."""
    period = parse_month(period)
    with connection.cursor() as cursor:
        cursor.execute(_SQL_PERSONS_BY_STATUS, {"p": period, "scheme": scheme.pk})
        active, suspended, terminated = cursor.fetchone()
    lines = PayrollLine.objects.filter(run__scheme=scheme, run__period=period).exclude(run__state=State.COMPUTED)
    sums = lines.aggregate(
        payable=Sum("net", filter=~Q(run__kind=PayrollRun.Kind.REISSUE)),
        paid=Sum("paid_amount"),
        failed=Sum("net", filter=Q(status__in=[LineStatus.FAILED, LineStatus.REISSUED, LineStatus.WRITTEN_OFF])),
        owed=Sum("net", filter=Q(status=LineStatus.FAILED)),
        written_off=Sum("net", filter=Q(status=LineStatus.WRITTEN_OFF)),
    )
    by_item = (
        PayrollComponent.objects.filter(line__run__scheme=scheme, line__run__period=period,
                                        line__run__kind=PayrollRun.Kind.REGULAR)
        .exclude(line__run__state=State.COMPUTED)
        .values("kind", "benefit_item__code", "benefit_item__name").annotate(total=Sum("amount"), n=Count("id"))
        .order_by("kind", "benefit_item__code")
    )
    data = {
        "persons": {"active": active, "suspended": suspended, "terminated": terminated},
        "items": [{"kind": r["kind"], "code": r["benefit_item__code"] or "", "name": r["benefit_item__name"] or "",
                   "total": str(r["total"]), "count": r["n"]} for r in by_item],
        "written_off": str(sums["written_off"] or ZERO),
    }
    snap, _ = MonthEndSnapshot.objects.update_or_create(
        scheme=scheme, period=period,
        defaults={"persons_active": active, "persons_suspended": suspended, "persons_terminated": terminated,
                  "payable": sums["payable"] or ZERO, "paid": sums["paid"] or ZERO,
                  "failed": sums["failed"] or ZERO, "owed": sums["owed"] or ZERO, "data": data},
    )
    return snap

