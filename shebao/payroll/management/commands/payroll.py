"""shebao payroll compute --scheme ZG --period 2026-03 --as USER [--recompute] [--json]
shebao payroll compute --scheme TB --period 2026 --kind annual --as USER [--recompute] [--json]
shebao payroll approve RUN --as USER [--json]

Compute runs the same job handler as the page (``shebao.payroll.jobs``) in this process, with its
progress by stage on stderr (and, for a month computed while earlier months never were, a warning naming them);
stdout (the message or --json) and the exit code are unchanged.

Who may (``--as``, checked before anything is read or written): compute and recompute need
``payroll.compute_run``, approve needs ``accounts.review``; both act on a whole run of the county
(全市范围) and in the run's scheme (``User.schemes``)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.benefits.months import MonthError, format_month, parse_month
from shebao.benefits.services import BenefitError, scheme_get
from shebao.common.jobs import JobError, job_run_here
from shebao.payroll.jobs import APPROVE_RULE, COMPUTE, COMPUTE_RULE, RECOMPUTE
from shebao.payroll.models import PayrollRun
from shebao.payroll.selectors import payroll_missing_months_warning
from shebao.payroll.services import PayrollError, payroll_run_approve

command_rule("payroll compute", COMPUTE_RULE)
command_rule("payroll approve", APPROVE_RULE)


def run_summary(run: PayrollRun) -> dict:
    return {"run": run.pk, "scheme": run.scheme.code, "period": format_month(run.period), "kind": run.kind,
            "state": run.state, "line_count": run.line_count, "gross": str(run.gross),
            "deductions": str(run.deductions), "net": str(run.net)}


def _annual(scheme, opts, user) -> tuple[PayrollRun, str]:
    """年度发放 (``--kind annual``): computed (or recomputed) in this process by the payroll service."""
    from shebao.payroll.services import _run_period, payroll_run_compute, payroll_run_recompute

    period = _run_period(opts["period"], "annual")
    if opts["recompute"]:
        run = PayrollRun.objects.filter(scheme=scheme, period=period, kind="annual").first()
        if run is None:
            raise CommandError(f"{scheme.name} {period.year} 年还没有年度发放，无需重新计算")
        run = payroll_run_recompute(run=run, user=user)
    else:
        run = payroll_run_compute(scheme=scheme, period=period, user=user, kind="annual")
    return run, (f"已计算 {scheme.name} {period.year} 年度发放：批次 {run.pk}，{run.line_count} 笔，"
                 f"应发 {run.gross}，扣减 {run.deductions}，实发 {run.net}")


class Command(BaseCommand):
    help = "月度结算：计算、重新计算、审核"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        compute = sub.add_parser("compute", help="计算某险种某月的月度结算")
        compute.add_argument("--scheme", required=True, help="险种代码 ZG/NB/BZ/TB")
        compute.add_argument("--period", required=True, help="结算年月 YYYY-MM")
        compute.add_argument("--as", dest="as_user", required=True, help="经办人用户名")
        compute.add_argument("--recompute", action="store_true", help="重新计算尚未审核的结算")
        compute.add_argument("--kind", choices=["regular", "annual"], default="regular",
                             help="regular 月度结算（默认）/ annual 年度发放（--period 为年份，如 2026）")
        compute.add_argument("--json", action="store_true")
        approve = sub.add_parser("approve", help="审核结算批次")
        approve.add_argument("run", type=int, help="批次号")
        approve.add_argument("--as", dest="as_user", required=True, help="审核人用户名")
        approve.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        try:
            if opts["action"] == "compute" and opts["kind"] == "annual":
                scheme = scheme_get(opts["scheme"])
                user = acting_user(opts["as_user"], COMPUTE_RULE, scheme=scheme.code)
                run, message = _annual(scheme, opts, user)
            elif opts["action"] == "compute":
                scheme = scheme_get(opts["scheme"])
                user = acting_user(opts["as_user"], COMPUTE_RULE, scheme=scheme.code)
                period = parse_month(opts["period"])
                if opts["recompute"]:
                    run = PayrollRun.objects.filter(scheme=scheme, period=period, kind="regular").first()
                    if run is None:
                        raise CommandError(f"{scheme.name} {format_month(period)} 还没有月度结算，无需重新计算")
                    outcome = job_run_here(RECOMPUTE, {"run_id": run.pk}, user=user)
                else:
                    # months before this one never computed: a warning on stderr, never a refusal (stdout,
                    # --json and the exit code are the same as without it)
                    missing = payroll_missing_months_warning(scheme=scheme, period=period)
                    if missing:
                        self.stderr.write(f"警告：{missing}")
                    outcome = job_run_here(COMPUTE, {"scheme": scheme.code, "period": format_month(period)}, user=user)
                run = PayrollRun.objects.select_related("scheme").get(pk=outcome.result["run_id"])
                message = (f"已计算 {scheme.name} {format_month(period)}：批次 {run.pk}，{run.line_count} 笔，"
                           f"应发 {run.gross}，扣减 {run.deductions}，实发 {run.net}")
            else:
                run = PayrollRun.objects.select_related("scheme").filter(pk=opts["run"]).first()
                if run is None:
                    raise CommandError(f"批次 {opts['run']} 不存在")
                user = acting_user(opts["as_user"], APPROVE_RULE, scheme=run.scheme.code)
                run = payroll_run_approve(run=run, user=user)
                message = f"已审核批次 {run.pk}：{run.line_count} 笔，实发 {run.net}"
        except (PayrollError, BenefitError, MonthError, JobError) as exc:
            raise CommandError(str(exc)) from None
        if opts["json"]:
            self.stdout.write(json.dumps(run_summary(run), ensure_ascii=False))
        else:
            self.stdout.write(message)
