"""Background jobs of payroll (run by the worker; started from the pages with ``job_start_once``, run
in-process by ``shebao payroll compute`` with ``job_run_here``):

- ``payroll_compute``: params {"scheme": code, "period": "YYYY-MM"} → ``payroll_run_compute``;
- ``payroll_recompute``: params {"run_id": id} → ``payroll_run_recompute``;
- ``payroll_approve``: params {"run_id": id} → ``payroll_run_approve`` (measured 13.6 s at 800,000
  lines: too long for a request).

The handlers call the services: the services stay the one place of the rules. A service does its
work in a few large SQL statements (compute is ONE statement for every person), so progress is by
stage, not by person: the service calls its ``progress`` with a stage's key as the stage starts
("lines", "totals", "audit" …) and the job's ``Stages`` (``shebao.common.jobs``) names it for the
person watching ("计算明细", "汇总批次合计", "写审计日志" …). A service refusal
(``PayrollError``) becomes a ``JobError`` with the same Chinese message; the job's transaction rolls
back, so nothing is written.

Who may (checked when the job runs, in the worker too): compute and recompute need
``payroll.compute_run``, approve ``accounts.review``; all three act on a whole run of the county
(全市范围) and in the run's scheme (``User.schemes``: compute names it in its params, recompute and
approve check the run's own).

``job_start_once`` starts a job unless one of the same kind holding the same key (the run, or the
scheme and month) is still queued or running — a double click shows the job already there.
"""

from __future__ import annotations

from shebao.benefits.models import Scheme
from shebao.benefits.months import format_month, parse_month
from shebao.common.jobs import (  # noqa: F401 - job_active, job_start_once: used from here by the views
    JobError,
    JobOutcome,
    Stage,
    Stages,
    job_active,
    job_start_once,
    register_job,
)
from shebao.common.models import Job
from shebao.common.money import format_yuan
from shebao.common.policy import Rule, denial, rule
from shebao.payroll.models import PayrollRun
from shebao.payroll.services import (
    PayrollError,
    payroll_run_approve,
    payroll_run_compute,
    payroll_run_recompute,
)

COMPUTE = "payroll_compute"
RECOMPUTE = "payroll_recompute"
APPROVE = "payroll_approve"
ACTIVE = (Job.State.QUEUED, Job.State.RUNNING)

COMPUTE_RULE = rule("payroll.compute_run", county=True, note="经办（结算），全市范围，须有该险种")
APPROVE_RULE = rule("accounts.review", county=True, note="审核员，全市范围，须有该批次的险种")


def check_scheme(user, the_rule: Rule, scheme_code: str) -> None:
    """JobError (the policy's Chinese reason) unless ``user`` passes ``the_rule`` in this scheme; a
    command without --as (user None) is the console operator."""
    if user is None:
        return
    reason = denial(user, the_rule, scheme=scheme_code)
    if reason is not None:
        raise JobError(reason)


# --------------------------------------------------------------------------------------------------
# progress by stage: the keys the services report (their docstrings list them), named for the person watching

AUDIT = Stage("写审计日志", "audit")
COMPUTE_NOTE = "一条 SQL 语句算出全部人员的明细和构成，在数据库内一次完成，不能逐人显示进度"
COMPUTE_STAGES = (
    Stage("检查并登记结算批次"),
    Stage(f"计算明细（{COMPUTE_NOTE}）", "lines"),
    Stage("汇总批次合计", "totals"),
    AUDIT,
)
RECOMPUTE_STAGES = (
    Stage("锁定结算批次"),
    Stage("删除原明细", "delete"),
    Stage(f"重新计算明细（{COMPUTE_NOTE}）", "lines"),
    Stage("汇总批次合计", "totals"),
    AUDIT,
)
APPROVE_STAGES = (
    Stage("锁定结算批次，核对所含补发和扣减"),
    Stage("结清补发和扣减", "settle"),
    AUDIT,
)


# --------------------------------------------------------------------------------------------------
# starting a job once: ``job_start_once`` and ``job_active`` (shebao.common.jobs, where dead jobs are
# reaped before the check), with the keys below


def compute_key(scheme_code: str, period) -> str:
    return f"payroll:{scheme_code}:{format_month(parse_month(period))}"


def annual_compute_key(scheme_code: str, year: int) -> str:
    return f"payroll:{scheme_code}:annual:{year}"


def run_key(run_id: int) -> str:
    return f"payroll:run:{run_id}"


# --------------------------------------------------------------------------------------------------
# handlers


def totals_text(run: PayrollRun) -> str:
    return (f"{run.line_count} 笔，应发 {format_yuan(run.gross)} 元，扣减 {format_yuan(run.deductions)} 元，"
            f"实发 {format_yuan(run.net)} 元")


def run_result(run: PayrollRun) -> dict:
    return {"run_id": run.pk, "line_count": run.line_count, "gross": str(run.gross),
            "deductions": str(run.deductions), "net": str(run.net), "state": run.state}


@register_job(COMPUTE, title="计算月度结算", rule=COMPUTE_RULE, scheme_param="scheme")
def payroll_compute_job(*, params, progress, user) -> JobOutcome:
    scheme = Scheme.objects.filter(code=params["scheme"]).first()
    if scheme is None:
        raise JobError(f"险种 {params['scheme']} 不存在")
    kind = params.get("kind") or PayrollRun.Kind.REGULAR  # "annual": 年度发放, its period a year (2026)
    period = params["period"] if kind == PayrollRun.Kind.ANNUAL else parse_month(params["period"])
    try:
        run = payroll_run_compute(scheme=scheme, period=period, user=user, kind=kind,
                                  progress=Stages(progress, COMPUTE_STAGES))
    except PayrollError as exc:
        raise JobError(str(exc)) from exc
    when = f"{run.period.year} 年度发放" if kind == PayrollRun.Kind.ANNUAL else format_month(period)
    return JobOutcome(message=f"已计算 {scheme.name} {when}：{totals_text(run)}。请交另一位审核员审核。",
                      result=run_result(run))


@register_job(RECOMPUTE, title="重新计算月度结算", rule=COMPUTE_RULE)
def payroll_recompute_job(*, params, progress, user) -> JobOutcome:
    run = PayrollRun.objects.select_related("scheme").filter(pk=params["run_id"]).first()
    if run is None:
        raise JobError(f"结算批次 {params['run_id']} 不存在")
    check_scheme(user, COMPUTE_RULE, run.scheme.code)
    before = totals_text(run)
    try:
        run = payroll_run_recompute(run=run, user=user, progress=Stages(progress, RECOMPUTE_STAGES))
    except PayrollError as exc:
        raise JobError(str(exc)) from exc
    return JobOutcome(message=f"已重新计算 {run}：{before} → {totals_text(run)}",
                      result={**run_result(run), "before": before})


@register_job(APPROVE, title="审核月度结算", rule=APPROVE_RULE)
def payroll_approve_job(*, params, progress, user) -> JobOutcome:
    run = PayrollRun.objects.select_related("scheme").filter(pk=params["run_id"]).first()
    if run is None:
        raise JobError(f"结算批次 {params['run_id']} 不存在")
    check_scheme(user, APPROVE_RULE, run.scheme.code)
    try:
        run = payroll_run_approve(run=run, user=user, progress=Stages(progress, APPROVE_STAGES))
    except PayrollError as exc:
        raise JobError(f"审核被拒绝：{exc}") from exc
    return JobOutcome(message=f"已审核 {run}：{totals_text(run)}。可以生成报盘文件了。", result=run_result(run))
