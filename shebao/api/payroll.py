"""月度结算 over the API: runs (list, detail, compute, approve), a run's lines with their components, and
one line explained — "why is this amount" (``payroll_line_explain``). Thin: parse, check, call a
selector or the job handler, shape the answer.

The rules are the payroll pages' (``shebao.payroll.views``):
- read: ``payroll.view_payrollrun`` (or compute, export, review), in the run's scheme (another scheme → 403; lists hold only the
  caller's schemes); a line belongs to its person's 镇街道 (another town's line → 404, a run's line list
  holds only the caller's towns); 身份证号 and account numbers are masked without 查看敏感信息;
- compute / recompute: ``payroll.compute_run``, county-wide (a run spans every town), in the scheme;
- approve: ``accounts.review``, county-wide, in the run's scheme (the service also refuses the maker).

Compute, recompute and approve run the SAME job handlers as the pages' background jobs and as
``shebao payroll compute`` (``shebao.payroll.jobs``), synchronously in the request through
``job_run_here``: the answer is the finished run or the refusal. Measured at 80,000 lines a compute
takes about 3 s and an approval well under that; at 800,000 lines about 30 s and 14 s (README
performance section) — inside the 120 s gunicorn timeout, so a script gets one answer without
polling. A refusal (already computed, already approved, maker approving their own run, …) is a 409
with the service's Chinese message, and nothing is written (the handler's transaction rolls back).
Two calls at once cannot compute one month twice (the database keeps one regular run per scheme and
month) or approve twice (the approval is a conditional state change)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.db.models import Count
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from shebao.accounts.roles import PAYROLL_COMPUTE, PAYROLL_EXPORT, PAYROLL_VIEW, REVIEW
from shebao.api.fields import TEXT, Money, Month, bank_label, month_or_422
from shebao.api.masking import AccountNumber, IdNumber
from shebao.api.pagination import DEFAULT_PAGE_SIZE, page_of
from shebao.api.permissions import require
from shebao.benefits.months import format_month
from shebao.benefits.services import BenefitError, scheme_get
from shebao.common import policy
from shebao.common.jobs import JobError, JobOutcome, NullProgress, job_run_here
from shebao.common.policy import rule
from shebao.payroll.jobs import APPROVE as APPROVE_JOB
from shebao.payroll.jobs import COMPUTE as COMPUTE_JOB
from shebao.payroll.jobs import RECOMPUTE as RECOMPUTE_JOB
from shebao.payroll.models import PayrollComponent, PayrollLine, PayrollRun
from shebao.payroll.selectors import payroll_line_explain, payroll_runs
from shebao.payroll.services import PayrollError

router = Router(tags=["月度结算"])

# as the pages: whoever works on payroll (clerks, reviewers, finance) reads it
VIEW = rule(PAYROLL_VIEW, PAYROLL_COMPUTE, PAYROLL_EXPORT, REVIEW, note="结算批次、明细只读")
COMPUTE = rule(PAYROLL_COMPUTE, county=True, note="结算涉及全市人员")
APPROVE = rule(REVIEW, county=True, note="审核整批结算")

RUN_MISSING = "结算批次不存在"
LINE_MISSING = "结算明细不存在或不在您的管辖范围内"
_KIND_ORDER = {PayrollComponent.Kind.ITEM: 0, PayrollComponent.Kind.ARREARS: 1, PayrollComponent.Kind.DEDUCTION: 2}

RunState = Literal["computed", "approved", "exported", "partial", "returned", "completed"]  # partial: 部分回盘
RunKind = Literal["regular", "annual", "one_off", "reissue"]
LineStatus = Literal["pending", "sent", "paid", "failed", "reissued", "written_off"]


# --------------------------------------------------------------------------------------------------
# shapes


class SchemeRef(Schema):
    code: str
    name: str


class RunOut(Schema):
    id: int
    scheme: SchemeRef
    period: Month
    kind: str
    kind_label: str
    state: str
    state_label: str
    parent_run_id: int | None = None
    line_count: int
    gross: Money = Field(..., description="应发合计")
    deductions: Money = Field(..., description="扣减合计")
    net: Money = Field(..., description="实发合计")
    created_by: str
    approved_by: str | None = None
    computed_at: dt.datetime | None = None
    approved_at: dt.datetime | None = None
    exported_at: dt.datetime | None = None
    returned_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    note: str

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(obj.get_state_display())

    @staticmethod
    def resolve_created_by(obj) -> str:
        return obj.created_by.display_name

    @staticmethod
    def resolve_approved_by(obj) -> str | None:
        return obj.approved_by.display_name if obj.approved_by_id else None


class RunDetail(RunOut):
    lines_by_status: dict[str, int] = Field(..., description="各状态的明细笔数（全批次）")


class RunPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[RunOut]


class ComputeIn(Schema):
    scheme: str = Field(..., max_length=10, pattern=TEXT, description="险种代码 ZG/NB/BZ/TB")
    period: str = Field(..., max_length=20, pattern=TEXT, description="结算年月 YYYY-MM", examples=["2026-03"])
    recompute: bool = Field(False, description="重新计算该月尚未审核的月度结算（现有明细全部替换）")


class RunActionOut(Schema):
    message: str
    run: RunOut


class ComponentOut(Schema):
    kind: str = Field(..., description="item 待遇项目 / arrears 补发 / deduction 扣减")
    kind_label: str
    amount: Money
    item_code: str | None = None
    item: str
    description: str
    adjustment_id: int | None = None

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_item_code(obj) -> str | None:
        return obj.benefit_item.code if obj.benefit_item_id else None

    @staticmethod
    def resolve_item(obj) -> str:
        return obj.benefit_item.name if obj.benefit_item_id else ""


class LineBase(Schema):
    id: int
    run_id: int
    seq: int
    person_id: int | None = Field(None, description="收款人（人员）；付给单位收款方的明细为空")
    payee_id: int | None = Field(None, description="单位收款方（其 id_number 为统一社会信用代码）")
    name: str
    id_number: IdNumber
    bank: str
    bank_label: str
    branch: str
    account_number: AccountNumber
    holder_name: str
    gross: Money = Field(..., description="应发")
    deductions: Money = Field(..., description="扣减")
    net: Money = Field(..., description="实发 = 应发 − 扣减")
    status: str
    status_label: str
    paid_amount: Money = Field(..., description="银行实付金额")
    fail_reason: str
    origin_line_id: int | None = Field(None, description="二次报盘明细所重发的原失败明细")
    memo: str

    @staticmethod
    def resolve_payee_id(obj) -> int | None:
        return getattr(obj, "payee_id", None)  # lines paying an organisation (registry.Payee)

    @staticmethod
    def resolve_bank_label(obj) -> str:
        return bank_label(obj.bank)

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())


class LineOut(LineBase):
    components: list[ComponentOut] = Field(..., description="构成：待遇项目、补发、扣减（合计等于应发、扣减）")

    @staticmethod
    def resolve_components(obj) -> list:
        return sorted(obj.components.all(), key=lambda c: (_KIND_ORDER[c.kind], c.pk))


class LinePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[LineOut]


class ExplainPart(Schema):
    kind: str
    kind_label: str
    amount: Money
    item: str
    description: str
    adjustment_id: int | None = None
    adjustment_total: Money | None = Field(None, description="补发/扣减的总金额")
    adjustment_reason: str = ""
    adjustment_source: str = ""


class OriginLine(Schema):
    line_id: int
    run_id: int
    seq: int
    status: str
    account_number: AccountNumber
    fail_reason: str


class Explanation(Schema):
    components: list[ExplainPart]
    components_gross: Money = Field(..., description="待遇项目 + 补发")
    components_deductions: Money = Field(..., description="扣减合计")
    consistent: bool = Field(..., description="构成合计与明细的应发、扣减、实发一致")
    origin_chain: list[OriginLine] = Field(..., description="二次报盘：所重发的失败明细，由近及远")


class LineDetail(LineBase):
    run: RunOut
    explanation: Explanation


# --------------------------------------------------------------------------------------------------
# helpers


def run_in_scope(request, run_id: int, access=VIEW) -> PayrollRun:
    """The run, once the caller passes ``access`` in its scheme: missing → 404, another scheme → 403."""
    run = payroll_runs().filter(pk=run_id).first()
    if run is None:
        raise HttpError(404, RUN_MISSING)
    require(request, access, scheme=run.scheme.code)
    return run


def lines_in_scope(user):
    """Payroll lines of persons in the caller's towns (a line paying an organisation payee belongs to
    no town: county-wide callers only)."""
    return policy.scope_town(PayrollLine.objects.all(), user, "person__town_id")


def _run_job(kind: str, params: dict, user) -> JobOutcome:
    """The job handler, here and now; a refusal of the service (or of the handler) → 409."""
    try:
        return job_run_here(kind, params, user=user, progress=NullProgress())
    except JobError as exc:
        cause = exc.__cause__
        if cause is None or isinstance(cause, PayrollError | JobError):
            raise HttpError(409, str(exc)) from None
        raise  # not a refusal: an error of the system, logged as such


# --------------------------------------------------------------------------------------------------
# runs


@router.get("/runs", response=RunPage, summary="结算批次列表（仅本人有权的险种）")
def runs_list(
    request,
    scheme: str | None = Query(None, max_length=10, pattern=TEXT, description="险种代码"),
    period: str | None = Query(None, max_length=20, pattern=TEXT, description="结算年月 YYYY-MM"),
    state: RunState | None = None,
    kind: RunKind | None = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200),
):
    code = scheme.strip().upper() if scheme else None
    require(request, VIEW, scheme=code)
    qs = policy.scope_scheme(payroll_runs(), request.auth, "scheme__code").order_by("-period", "-id")
    if code:
        qs = qs.filter(scheme__code=code)
    if period:
        qs = qs.filter(period=month_or_422(period, label="period"))
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return page_of(qs, page=page, page_size=page_size)


@router.get("/runs/{int:run_id}", response=RunDetail, summary="结算批次详情")
def runs_detail(request, run_id: int):
    require(request, VIEW)
    run = run_in_scope(request, run_id)
    counts = dict(PayrollLine.objects.filter(run=run).order_by().values_list("status").annotate(n=Count("id")))
    run.lines_by_status = {status: counts[status] for status in sorted(counts)}
    return run


@router.post(
    "/runs/compute", response={200: RunActionOut, 201: RunActionOut},
    summary="计算（或重新计算）某险种某月的月度结算：同步完成，返回批次",
)
def runs_compute(request, payload: ComputeIn):
    """201 with the new run; with ``recompute`` 200 with the run recomputed. 409 when refused (the
    month already computed, the run already approved …), nothing written."""
    require(request, COMPUTE)
    try:
        scheme = scheme_get(payload.scheme.strip())
    except BenefitError as exc:
        raise HttpError(422, f"请求数据有误：scheme：{exc}") from None
    require(request, COMPUTE, scheme=scheme.code)
    period = month_or_422(payload.period, label="period")
    if payload.recompute:
        run = payroll_runs(scheme=scheme).filter(period=period, kind=PayrollRun.Kind.REGULAR).first()
        if run is None:
            raise HttpError(404, f"{scheme.name} {format_month(period)} 还没有月度结算，无需重新计算")
        outcome = _run_job(RECOMPUTE_JOB, {"run_id": run.pk}, request.auth)
        status = 200
    else:
        outcome = _run_job(COMPUTE_JOB, {"scheme": scheme.code, "period": format_month(period)}, request.auth)
        status = 201
    run = payroll_runs().get(pk=outcome.result["run_id"])
    return Status(status, {"message": outcome.message, "run": run})


@router.post("/runs/{int:run_id}/approve", response=RunActionOut, summary="审核结算批次（审核人不能是经办人）")
def runs_approve(request, run_id: int):
    require(request, APPROVE)
    run = run_in_scope(request, run_id, APPROVE)
    outcome = _run_job(APPROVE_JOB, {"run_id": run.pk}, request.auth)
    return {"message": outcome.message, "run": payroll_runs().get(pk=run.pk)}


# --------------------------------------------------------------------------------------------------
# lines


@router.get("/runs/{int:run_id}/lines", response=LinePage, summary="结算明细及其构成（仅本人管辖镇街道的人员）")
def run_lines(
    request,
    run_id: int,
    status: LineStatus | None = None,
    q: str = Query("", max_length=50, pattern=TEXT, description="姓名包含，或身份证号后几位"),
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200),
):
    require(request, VIEW)
    run = run_in_scope(request, run_id)
    qs = lines_in_scope(request.auth).filter(run=run)
    if status:
        qs = qs.filter(status=status)
    q = q.strip()
    if q:
        qs = qs.filter(id_number__endswith=q.upper()) if q[-1:].isdigit() or q[-1:] in "xX" else qs.filter(
            name__contains=q)
    qs = qs.prefetch_related("components__benefit_item").order_by("seq")
    return page_of(qs, page=page, page_size=page_size)


@router.get("/lines/{int:line_id}", response=LineDetail, summary="一笔结算明细：为什么是这个金额")
def line_detail(request, line_id: int):
    """The components (items in effect, 补发 taken whole, 扣减 taken) adding up to gross, deductions
    and net, and for a re-issue line the failed lines it re-pays."""
    require(request, VIEW)
    line = (lines_in_scope(request.auth).select_related("run", "run__scheme", "run__created_by", "run__approved_by")
            .filter(pk=line_id).first())
    if line is None:
        raise HttpError(404, LINE_MISSING)
    require(request, VIEW, scheme=line.run.scheme.code)
    line.explanation = payroll_line_explain(line)
    return line
