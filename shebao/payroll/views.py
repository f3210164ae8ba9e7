"""Payroll pages (月度结算, 零星发放, 月末数据). Thin: parse, ask a selector or call one service, render.

Who may do what (each page is ``@page(rule)`` of ``shebao.common.policy``; the permissions of
``shebao.accounts.roles``; clerks, reviewers and finance hold ``payroll.view_payrollrun``):
- see the pages: ``payroll.view_payrollrun`` (or any of the permissions below);
- compute, recompute, re-issue: ``payroll.compute_run`` (clerks) and 全市范围 (a run holds every town);
- one-off: ``payroll.compute_run``, for persons in the user's towns;
- bank export (报盘) and return import (回盘): ``payroll.export_run`` (clerks) and 全市范围;
- approve: ``accounts.review`` (reviewers; the service also refuses the maker approving their own run)
  and 全市范围; write off one line: ``accounts.review`` with the line's person in the user's towns.
Scope: runs of the user's schemes only (``User.schemes``; another scheme's run looks missing), lines
of persons in the user's towns only (another town's line looks missing); a run's totals are the
county's, labelled so for a user of some towns.

Every write is two steps: a confirm page that says what will happen with the totals, then the action
and a message saying what was done with a link to the result. Compute, recompute and approve run as
background jobs (``shebao.payroll.jobs``): the confirm starts the job (or shows the one already
running for that month or run) and the job page shows its progress, then goes on to the run with the
message; a refused job stays on its page with the service's message."""

from __future__ import annotations

import io
from decimal import Decimal
from urllib.parse import quote

from django.contrib import messages
from django.db import transaction
from django.db.models import Count
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from shebao.benefits.models import Scheme
from shebao.benefits.months import MonthError, format_month, parse_month
from shebao.common import policy
from shebao.common.masking import masker_for
from shebao.common.models import Job
from shebao.common.money import ZERO, MoneyError, format_yuan, parse_amount
from shebao.common.once import AlreadySubmitted, once_claim
from shebao.payroll import run_sections, schemes
from shebao.payroll.forms import ComputeForm, OneOffForm, RiskReleaseForm, WriteOffForm
from shebao.payroll.jobs import (
    APPROVE,
    APPROVE_RULE,
    COMPUTE,
    COMPUTE_RULE,
    RECOMPUTE,
    annual_compute_key,
    compute_key,
    job_active,
    job_start_once,
    run_key,
)
from shebao.payroll.models import LineRisk, PayrollLine, PayrollRun
from shebao.payroll.rules import (
    CLERK_PERM,
    EXPORT_PERM,
    EXPORT_RULE,
    ONEOFF_RULE,
    REISSUE_RULE,
    RELEASE_RULE,
    REVIEW_PERM,
    VIEW_RULE,
    WRITE_OFF_RULE,
)
from shebao.payroll.selectors import (
    COMPARE_LIMIT,
    month_end_figures,
    payroll_beneficiaries_count,
    payroll_failed_lines,
    payroll_line_explain,
    payroll_line_get,
    payroll_missing_months_warning,
    payroll_owed,
    payroll_person_lines,
    payroll_run_compare,
    payroll_run_family,
    payroll_run_lines,
    payroll_run_risk_counts,
    payroll_run_risks,
    payroll_runs,
    payroll_schemes,
)
from shebao.payroll.services import (
    PayrollError,
    payroll_line_risk_release,
    payroll_line_write_off,
    payroll_oneoff_create,
    payroll_reissue_create,
)
from shebao.registry.selectors import (
    bank_accounts_current,
    bank_choices,
    bank_label,
    payees_current_of,
    person_search,
    persons_visible,
)
from shebao.web.guards import page
from shebao.web.jobs import job_started_message, render_job
from shebao.web.redirects import safe_next
from shebao.web.scope import county_note
from shebao.web.tables import ChoiceFilter, Column, FilterError, Table, TextFilter, render_table
from shebao.web.xlsx import XlsxWriter

State = PayrollRun.State
LineStatus = PayrollLine.Status

STEPS = [State.COMPUTED, State.APPROVED, State.EXPORTED, State.RETURNED, State.COMPLETED]
_STEP_TIME = {State.COMPUTED: "computed_at", State.APPROVED: "approved_at", State.EXPORTED: "exported_at",
              State.RETURNED: "returned_at", State.COMPLETED: "completed_at"}
_STEP_OF = {State.PARTLY_RETURNED: State.RETURNED}  # 部分回盘 stands on the 回盘 step, not yet done


# --------------------------------------------------------------------------------------------------
# access


def is_clerk(user) -> bool:
    return policy.has_perm(user, CLERK_PERM)


def is_reviewer(user) -> bool:
    return policy.has_perm(user, REVIEW_PERM)


def can_export(user) -> bool:
    return policy.has_perm(user, EXPORT_PERM)


def can_view(user) -> bool:
    return policy.allows(user, VIEW_RULE)


def check_posted_scheme(request, the_rule) -> None:
    """403 with the policy's reason when the scheme posted by a form is not one of the user's: nothing
    is computed or created for it. (An unknown code is left to the form's own check.)"""
    code = (request.POST.get("scheme") or "").strip().upper()
    if code:
        policy.check(request.user, the_rule, scheme=code)


def _confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get("confirm") == "1"


def _run_link(run: PayrollRun) -> str:
    return format_html('<a href="{}">{}</a>', reverse("payroll:run_detail", args=[run.pk]), _("查看批次 %(n)s") % {"n": run.pk})


def _totals_text(run: PayrollRun) -> str:
    return _("%(n)s 笔，应发 %(gross)s 元，扣减 %(ded)s 元，实发 %(net)s 元") % {
        "n": run.line_count, "gross": format_yuan(run.gross), "ded": format_yuan(run.deductions),
        "net": format_yuan(run.net)}


def _crumbs(*items) -> list[tuple[str, str]]:
    return [(_("月度结算"), reverse("payroll:run_list")), *items]


# --------------------------------------------------------------------------------------------------
# runs list


def _period_filter(qs, value, request):
    try:
        return qs.filter(period=parse_month(value))
    except MonthError as exc:
        raise FilterError(str(exc)) from None


def scheme_choices(request):
    return list(payroll_schemes(user=request.user).values_list("code", "name"))


class RunTable(Table):
    columns = [
        Column("id", _l("批次"), kind="num", sortable=True, link=("payroll:run_detail", "pk")),
        Column("scheme__name", _l("险种")),
        Column("period", _l("结算年月"), kind="month", sortable=True),
        Column("kind", kind="choice"),
        Column("state", kind="choice", sortable=True),
        Column("line_count", _l("笔数"), kind="num", sortable=True),
        Column("gross", _l("应发合计"), kind="money", sortable=True),
        Column("deductions", _l("扣减合计"), kind="money"),
        Column("net", _l("实发合计"), kind="money", sortable=True),
        Column("created_by__full_name", _l("经办人")),
        Column("approved_by__full_name", _l("审核人")),
        Column("computed_at", _l("计算时间"), kind="datetime", sortable=True),
    ]
    filters = [
        ChoiceFilter("scheme", _l("险种"), field="scheme__code", choices=scheme_choices),
        TextFilter("period", _l("结算年月"), method=_period_filter, placeholder="YYYY-MM"),
        ChoiceFilter("kind", _l("类型"), choices=PayrollRun.Kind.choices),
        ChoiceFilter("state", _l("状态"), choices=PayrollRun.State.choices),
    ]
    default_sort = "-id"
    export_name = _l("结算批次")

    def cell_state(self, value, row):
        return _state_tag(value)


def _state_tag(value) -> str:
    css = {State.COMPUTED: "warn", State.APPROVED: "brand", State.EXPORTED: "brand", State.PARTLY_RETURNED: "warn",
           State.RETURNED: "brand", State.COMPLETED: "ok"}.get(value, "")
    return format_html('<span class="tag {}">{}</span>', css, State(value).label if value in State.values else value)


@page(VIEW_RULE)
def run_list(request):
    table = RunTable(request, payroll_runs(user=request.user))
    return render_table(request, table, "payroll/run_list.html", {
        "can_compute": policy.allows(request.user, COMPUTE_RULE),
        "can_oneoff": policy.allows(request.user, ONEOFF_RULE),
        "county_note": _("笔数和金额为全市合计（含其他镇街道）。") if not policy.county_wide(request.user) else "",
    })


# --------------------------------------------------------------------------------------------------
# compute


@page(COMPUTE_RULE)
def compute(request):
    """月度结算 of a month, or 年度发放 of a year for a scheme that registered an annual rule: a confirm
    with the estimate, then the compute job (the same job, ``kind`` in its params)."""
    check_posted_scheme(request, COMPUTE_RULE)
    form = ComputeForm(request.POST or None)
    form.fields["scheme"].queryset = payroll_schemes(user=request.user)
    annual_schemes = [s for s in form.fields["scheme"].queryset if schemes.rules_for(s).annual is not None]
    if not annual_schemes:
        form.fields["kind"].choices = form.fields["kind"].choices[:1]
    context = {"form": form, "breadcrumbs": _crumbs((_("计算月度结算"), "")), "annual_schemes": annual_schemes}
    if request.method == "POST" and form.is_valid():
        scheme, period, kind = form.cleaned_data["scheme"], form.cleaned_data["period"], form.cleaned_data["kind"]
        annual = kind == PayrollRun.Kind.ANNUAL
        when = _("%(year)s 年") % {"year": period.year} if annual else format_month(period)
        existing = PayrollRun.objects.filter(scheme=scheme, period=period, kind=kind).first()
        if existing is not None:
            text = (_("%(scheme)s %(period)s的年度发放已存在（批次 %(n)s，%(state)s），不能重复发放。") if annual
                    else _("%(scheme)s %(period)s 的月度结算已存在（批次 %(n)s，%(state)s），不能重复结算。"))
            form.add_error(None, text % {"scheme": scheme.name, "period": when, "n": existing.pk,
                                         "state": existing.get_state_display()})
            context["existing"] = existing
        elif _confirmed(request):
            if annual:
                title = _("计算年度发放：%(scheme)s %(period)s") % {"scheme": scheme.name, "period": when}
                key = annual_compute_key(scheme.code, period.year)
                params = {"scheme": scheme.code, "period": str(period.year), "kind": kind}
            else:
                title = _("计算月度结算：%(scheme)s %(period)s") % {"scheme": scheme.name, "period": when}
                key = compute_key(scheme.code, period)
                params = {"scheme": scheme.code, "period": format_month(period)}
            job, started = job_start_once(kind=COMPUTE, keys=[key], user=request.user, title=title, params=params)
            job_started_message(request, job, started)
            return redirect("payroll:job", pk=job.pk)
        else:
            context.update(confirm=True, scheme=scheme, period=period, kind=kind, annual=annual, when=when,
                           beneficiaries=None if annual else payroll_beneficiaries_count(scheme=scheme, period=period),
                           missing_warning="" if annual else payroll_missing_months_warning(scheme=scheme,
                                                                                            period=period))
    return render(request, "payroll/compute.html", context)


# --------------------------------------------------------------------------------------------------
# run detail and its lines


def _status_filter_choices(request):
    return LineStatus.choices


def _all_banks(request=None):
    """Every bank of the banks table, stopped ones too (old lines name them)."""
    return bank_choices(include_inactive=True)


class LineTable(Table):
    columns = [
        Column("seq", kind="num", sortable=True),
        Column("name", sortable=True, link=lambda row: reverse("payroll:line_detail", args=[row["pk"]])),
        Column("id_number", kind="id_number"),
        Column("bank", kind="choice", choices=_all_banks),
        Column("account_number", kind="account"),
        Column("gross", kind="money", sortable=True),
        Column("deductions", kind="money", sortable=True),
        Column("net", kind="money", sortable=True),
        Column("status", kind="choice", sortable=True),
        Column("fail_reason"),
    ]
    filters = [
        TextFilter("q", _l("姓名/身份证号后几位"), lookups=["name__contains", "id_number__endswith"]),
        ChoiceFilter("status", _l("状态"), choices=_status_filter_choices),
        ChoiceFilter("bank", _l("开户银行"), choices=_all_banks),
    ]
    default_sort = "seq"
    export_name = _l("结算明细")
    dom_id = "tbl-lines"

    def cell_status(self, value, row):
        css = {LineStatus.PAID: "ok", LineStatus.FAILED: "err", LineStatus.WRITTEN_OFF: "warn"}.get(value, "")
        return format_html('<span class="tag {}">{}</span>', css, LineStatus(value).label)


def _steps(run: PayrollRun) -> list[dict]:
    step = _STEP_OF.get(run.state, run.state)
    reached = STEPS.index(step) if step in STEPS else -1
    out = []
    for i, state in enumerate(STEPS):
        when = getattr(run, _STEP_TIME[state])
        partly = state == step and step != run.state  # 部分回盘: the step shown as reached in part
        out.append({"label": State(run.state).label if partly else State(state).label,
                    "done": i < reached or (i == reached and not partly), "current": i == reached,
                    "when": timezone.localtime(when) if when else None})
    return out


@page(VIEW_RULE)
def run_detail(request, pk: int):
    user = request.user
    run = get_object_or_404(payroll_runs(user=user), pk=pk)
    lines = payroll_run_lines(run=run, user=user)
    table = LineTable(request, lines)
    owed = payroll_owed(run_ids=payroll_run_family(run=run), user=user)
    by_status = dict(lines.values_list("status").annotate(n=Count("id")))
    return render_table(request, table, "payroll/run_detail.html", {
        "run": run, "steps": _steps(run), "owed": owed,
        "by_status": [(LineStatus(s).label, n) for s, n in sorted(by_status.items(), key=lambda kv: kv[0])],
        "reissues": run.reissues.order_by("pk"),
        "can_recompute": policy.allows(user, COMPUTE_RULE) and run.state == State.COMPUTED
        and run.kind == PayrollRun.Kind.REGULAR,
        "can_approve": policy.allows(user, APPROVE_RULE) and run.state == State.COMPUTED,
        "can_export": policy.allows(user, EXPORT_RULE) and run.state == State.APPROVED,
        "can_reissue": policy.allows(user, REISSUE_RULE) and bool(owed["n"]),
        "can_write_off": is_reviewer(user),
        "county_note": county_note(user),
        "active_job": job_active(kinds=[RECOMPUTE, APPROVE], keys=[run_key(run.pk)]),
        "risk_counts": payroll_run_risk_counts(run=run),
        "risks": _risk_rows(request, run),
        "can_release": policy.allows(user, RELEASE_RULE),
        "sections": run_sections.collect(run, request),
        "breadcrumbs": _crumbs((str(run), "")),
    })


RISK_LIMIT = 200  # risky lines listed on a page (a run has a few; the list says when there are more)


def _risk_rows(request, run: PayrollRun) -> list[dict]:
    masker = masker_for(request.user)
    return [{"r": r, "line": r.line, "labels": r.kind_labels(), "account": masker.account(r.line.account_number),
             "id_number": masker.id_number(r.line.id_number)}
            for r in payroll_run_risks(run=run, user=request.user)[:RISK_LIMIT]]


@page(COMPUTE_RULE)
def run_recompute(request, pk: int):
    run = get_object_or_404(payroll_runs(user=request.user), pk=pk)
    if _confirmed(request):
        job, started = job_start_once(kind=RECOMPUTE, keys=[run_key(run.pk)], same_as=[APPROVE], user=request.user,
                                      title=_("重新计算 %(run)s") % {"run": run}, params={"run_id": run.pk})
        job_started_message(request, job, started)
        return redirect("payroll:job", pk=job.pk)
    return render(request, "payroll/confirm.html", {
        "run": run, "title": _("重新计算"), "action": reverse("payroll:run_recompute", args=[run.pk]),
        "what": _("将按当前的待遇、补发和扣减重新计算本批次，现有明细全部替换。"),
        "button": _("确认重新计算"), "breadcrumbs": _crumbs((str(run), reverse("payroll:run_detail", args=[pk])),
                                                        (_("重新计算"), "")),
    })


@page(APPROVE_RULE)
def run_approve(request, pk: int):
    run = get_object_or_404(payroll_runs(user=request.user), pk=pk)
    if _confirmed(request):
        job, started = job_start_once(kind=APPROVE, keys=[run_key(run.pk)], same_as=[RECOMPUTE], user=request.user,
                                      title=_("审核 %(run)s") % {"run": run}, params={"run_id": run.pk})
        job_started_message(request, job, started)
        return redirect("payroll:job", pk=job.pk)
    if request.GET.get("export") == "compare":
        return _compare_xlsx(request, run)
    same = run.created_by_id == request.user.pk
    return render(request, "payroll/confirm.html", {
        "run": run, "title": _("审核"), "action": reverse("payroll:run_approve", args=[run.pk]),
        "what": _("审核后本批次不可再修改，所含补发、扣减将结清，可以报盘。"),
        "warning": _("本批次由您计算：审核人不能与经办人为同一人，提交将被拒绝。") if same else "",
        "button": _("确认审核通过"), "breadcrumbs": _crumbs((str(run), reverse("payroll:run_detail", args=[pk])),
                                                        (_("审核"), "")),
        "approving": True, "compare": _compare_context(request, run),
        "risk_counts": payroll_run_risk_counts(run=run), "risks": _risk_rows(request, run),
        "can_release": policy.allows(request.user, RELEASE_RULE), "compare_limit": COMPARE_LIMIT,
    })


CAUSES = {"raise": _l("待遇调整（增资）"), "arrears": _l("补发"), "deduction": _l("扣减"), "new": _l("新增人员"),
          "resumed": _l("恢复发放"), "ended": _l("终止"), "suspended": _l("暂停"), "other": _l("其他（如无账户、金额为 0）")}
GROUPS = {"added": _l("新增发放"), "stopped": _l("停发"), "changed": _l("金额变化")}
_KIND_LABELS = {"item": _l("待遇项目"), "arrears": _l("补发"), "deduction": _l("扣减")}
_TOTAL_LABELS = {"line_count": _l("笔数"), "gross": _l("应发合计"), "deductions": _l("扣减合计"), "net": _l("实发合计")}


def _compare_context(request, run: PayrollRun) -> dict | None:
    compare = payroll_run_compare(run=run)
    if compare is None:
        return None
    masker = masker_for(request.user)
    groups = []
    for key in ("added", "stopped", "changed"):
        g = compare["groups"][key]
        groups.append({
            "key": key, "label": GROUPS[key], "n": g["n"], "delta": g["delta"],
            "counts": [(CAUSES[c], n) for c, n in g["counts"].items() if n],
            "rows": [{**r, "id_number": masker.id_number(r["id_number"]), "causes": [CAUSES[c] for c in r["causes"]],
                      "diff": (r["net"] or ZERO) - (r["prev_net"] or ZERO)} for r in g["rows"]],
            "more": g["n"] > len(g["rows"]),
        })
    return {
        "previous": compare["previous"], "months_between": compare["months_between"], "groups": groups,
        "items": [{**i, "kind_label": _KIND_LABELS.get(i["kind"], i["kind"])} for i in compare["items"]],
        "totals": [{**t, "label": _TOTAL_LABELS[t["field"]]} for t in compare["totals"]],
    }


def _compare_xlsx(request, run: PayrollRun):
    """Every added, stopped and changed payee against the previous run (full 身份证号 only for users who
    see them: the masking of the page), as one sheet."""
    compare = payroll_run_compare(run=run, limit=None)
    masker = masker_for(request.user)
    buffer = io.BytesIO()
    headers = [_("类别"), _("姓名"), _("身份证号"), _("上期实发"), _("本期实发"), _("差额"), _("原因")]
    with XlsxWriter(buffer, sheet_name=_("与上期比较"), headers=[str(h) for h in headers],
                    money_columns={3, 4, 5}) as writer:
        for key in ("added", "stopped", "changed"):
            for r in (compare["groups"][key]["rows"] if compare else []):
                writer.write_row([str(GROUPS[key]), r["name"], masker.id_number(r["id_number"]), r["prev_net"], r["net"],
                                  (r["net"] or ZERO) - (r["prev_net"] or ZERO),
                                  "、".join(str(CAUSES[c]) for c in r["causes"])])
    buffer.seek(0)
    name = f"批次{run.pk}与上期比较-{timezone.localdate():%Y%m%d}.xlsx"
    response = FileResponse(buffer, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f"attachment; filename=\"compare.xlsx\"; filename*=UTF-8''{quote(name)}"
    return response


@page(RELEASE_RULE)
def line_risk_release(request, pk: int):
    """放行 one risky line (a reviewer, with a reason): its person in the user's towns, its run in the
    user's schemes (else 404). The form carries a one-time token: a second submit changes nothing."""
    line = payroll_line_get(user=request.user, pk=pk)
    risk = LineRisk.objects.select_related("released_by").filter(line=line).first()
    if risk is None:
        raise Http404(_("该笔不是风险明细"))
    form = RiskReleaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                once_claim(request, form="payroll.risk_release")
                risk = payroll_line_risk_release(risk=risk, user=request.user, reason=form.cleaned_data["reason"])
        except (PayrollError, AlreadySubmitted) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, format_html(
                "{} {} {} 元（{}）。{}", _("已放行"), line.name, format_yuan(line.net),
                _("批次 %(run)s 第 %(seq)s 笔，将进入报盘文件") % {"run": line.run_id, "seq": line.seq},
                _run_link(line.run)))
            return redirect(safe_next(request, reverse("payroll:run_detail", args=[line.run_id])))
    return render(request, "payroll/risk_release.html", {
        "form": form, "line": line, "risk": risk, "labels": risk.kind_labels(),
        "account": masker_for(request.user).account(line.account_number), "next": safe_next(request, ""),
        "breadcrumbs": _crumbs((str(line.run), reverse("payroll:run_detail", args=[line.run_id])), (_("放行"), "")),
    })


@page(REISSUE_RULE)
def run_reissue(request, pk: int):
    """二次报盘 of a run's failed lines, each to the person's current account. The confirm carries a
    one-time token: a second submit of the page creates nothing."""
    run = get_object_or_404(payroll_runs(user=request.user), pk=pk)
    if _confirmed(request):
        try:
            with transaction.atomic():
                once_claim(request, form="payroll.reissue")
                new = payroll_reissue_create(run=run, user=request.user)
        except (PayrollError, AlreadySubmitted) as exc:
            messages.error(request, str(exc))
            return redirect("payroll:run_detail", pk=run.pk)
        same_account = [ln.name for ln in PayrollLine.objects.filter(run=new).select_related("origin_line")
                        if ln.origin_line and ln.origin_line.account_number == ln.account_number]
        messages.success(request, format_html("{}：{}。{} {}", _("已生成二次报盘批次 %(n)s") % {"n": new.pk},
                                              _totals_text(new), _("请交审核员审核。"), _run_link(new)))
        if same_account:
            names = "、".join(same_account)
            messages.warning(request, _("以下人员仍发往原失败账户，如账户有误请先变更账户并核销或再次重发：%(names)s")
                             % {"names": names})
        return redirect("payroll:run_detail", pk=new.pk)
    lines = list(payroll_failed_lines(run_ids=payroll_run_family(run=run)).select_related("person")
                 .order_by("id_number"))
    accounts = bank_accounts_current(person_ids=[ln.person_id for ln in lines if ln.person_id])
    payees = payees_current_of(payee_ids=[ln.payee_id for ln in lines if ln.payee_id])
    masker = masker_for(request.user)
    rows = []
    for ln in lines:
        acct = accounts.get(ln.person_id) if ln.person_id else payees.get(ln.payee_id)
        rows.append({"line": ln, "old": masker.account(ln.account_number),
                     "new": masker.account(acct.account_number) if acct else "",
                     "new_bank": bank_label(acct.bank) if acct else "",
                     "same": acct is None or acct.account_number == ln.account_number})
    total = sum((ln.net for ln in lines), ZERO)
    return render(request, "payroll/reissue_confirm.html", {
        "run": run, "rows": rows, "total": total, "count": len(lines),
        "breadcrumbs": _crumbs((str(run), reverse("payroll:run_detail", args=[pk])), (_("二次报盘"), "")),
    })


# --------------------------------------------------------------------------------------------------
# background jobs: compute, recompute, approve (the bank pages use the same page and helpers)

JOB_NOTE = _l("进度按步骤显示：每一步是数据库里的一条或几条语句（计算明细是一条语句算出全部人员），"
              "不能逐笔显示进度。8 万笔约需数秒，80 万笔约需一两分钟。")


@page(VIEW_RULE)
def job_page(request, pk: int):
    job = Job.objects.select_related("created_by").filter(pk=pk, kind__in=(COMPUTE, RECOMPUTE, APPROVE)).first()
    if job is None or not _job_in_scope(job, request.user):
        raise Http404(_("任务不存在"))
    result = job.result or {}
    run = payroll_runs(user=request.user).filter(pk=result.get("run_id") or job.params.get("run_id") or 0).first()
    links = [(_("查看批次 %(n)s") % {"n": run.pk}, reverse("payroll:run_detail", args=[run.pk]))] if run else []
    if job.kind == COMPUTE:
        unchanged = _("没有生成结算批次，未做任何更改。")
        if job.state == Job.State.FAILED:
            links.append((_("返回计算页"), reverse("payroll:compute")))
    else:
        unchanged = _("结算批次未做任何更改（%(state)s，%(totals)s）。") % {
            "state": run.get_state_display(), "totals": _totals_text(run)} if run else ""
    links.append((_("结算批次列表"), reverse("payroll:run_list")))

    def announce():
        messages.success(request, format_html("{} {}", job.message, _run_link(run)))

    return render_job(request, job, poll_url=reverse("payroll:job", args=[job.pk]), links=links,
                      unchanged=unchanged, done_url=reverse("payroll:run_detail", args=[run.pk]) if run else "",
                      announce=announce, note=JOB_NOTE, head_template="payroll/_head.html",
                      breadcrumbs=_crumbs((job.title, "")))


def _job_in_scope(job: Job, user) -> bool:
    """A payroll job is seen by users of its scheme (named in its params, or its run's)."""
    code = job.params.get("scheme")
    if not code and job.params.get("run_id"):
        code = PayrollRun.objects.filter(pk=job.params["run_id"]).values_list("scheme__code", flat=True).first()
    return policy.scheme_allowed(user, code) if code else policy.county_wide(user)


# --------------------------------------------------------------------------------------------------
# a line: why this amount; write-off


@page(VIEW_RULE)
def line_detail(request, pk: int):
    line = payroll_line_get(user=request.user, pk=pk)
    explain = payroll_line_explain(line)
    masker = masker_for(request.user)
    return render(request, "payroll/line_detail.html", {
        "line": line, "run": line.run, "explain": explain,
        "id_number": masker.id_number(line.id_number), "account": masker.account(line.account_number),
        "bank_label": bank_label(line.bank),
        "origin_chain": [{**c, "account_number": masker.account(c["account_number"]),
                          "status_label": LineStatus(c["status"]).label} for c in explain["origin_chain"]],
        "reissue_lines": PayrollLine.objects.filter(origin_line=line).select_related("run"),
        "can_write_off": is_reviewer(request.user) and line.status == LineStatus.FAILED,
        "breadcrumbs": _crumbs((str(line.run), reverse("payroll:run_detail", args=[line.run_id])),
                               (_("第 %(seq)s 笔 %(name)s") % {"seq": line.seq, "name": line.name}, "")),
    })


@page(WRITE_OFF_RULE)
def line_write_off(request, pk: int):
    """核销 one failed line: its person in the user's towns, its run in the user's schemes (else 404)."""
    line = payroll_line_get(user=request.user, pk=pk)
    form = WriteOffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                once_claim(request, form="payroll.write_off")
                line = payroll_line_write_off(line=line, user=request.user, reason=form.cleaned_data["reason"])
        except (PayrollError, AlreadySubmitted) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, format_html(
                "{} {} {} 元（{}）。{}", _("已核销"), line.name, format_yuan(line.net),
                _("批次 %(run)s 第 %(seq)s 笔") % {"run": line.run_id, "seq": line.seq}, _run_link(line.run)))
            return redirect(safe_next(request, reverse("payroll:line_detail", args=[line.pk])))
    return render(request, "payroll/write_off.html", {
        "form": form, "line": line, "account": masker_for(request.user).account(line.account_number),
        "next": safe_next(request, ""),
        "breadcrumbs": _crumbs((str(line.run), reverse("payroll:run_detail", args=[line.run_id])),
                               (_("核销"), "")),
    })


# --------------------------------------------------------------------------------------------------
# one-off runs (零星发放)


def _oneoff_rows(request):
    """The persons and amounts posted as repeated fields, with their errors."""
    ids = request.POST.getlist("person")
    amounts = request.POST.getlist("amount")
    memos = request.POST.getlist("memo")
    ids = [i if i.isascii() and i.isdigit() and len(i) < 19 else "" for i in ids]
    persons = {p.pk: p for p in persons_visible(request.user).filter(pk__in=[i for i in ids if i])}
    rows, errors = [], []
    for n, (pid, amount, memo) in enumerate(zip(ids, amounts, memos, strict=False), start=1):
        person = persons.get(int(pid)) if pid else None
        if person is None:
            errors.append(_("第 %(n)s 行：人员不存在或不在您的管辖范围内") % {"n": n})
            continue
        try:
            value = parse_amount(amount, positive=True)
        except MoneyError:
            value = None
        if value is None:
            errors.append(_("第 %(n)s 行 %(name)s：金额“%(amount)s”应为大于 0 的两位小数")
                          % {"n": n, "name": person.name, "amount": amount})
        rows.append({"person": person, "amount": amount.strip(), "value": value, "memo": memo.strip()[:100]})
    if not rows and not errors:
        errors.append(_("请先查询并添加要发放的人员"))
    return rows, errors


@page(ONEOFF_RULE)
def oneoff_create(request):
    """零星发放: persons of the user's towns (``persons_visible``), a scheme of the user's. The confirm
    carries a one-time token: a second submit of the page creates nothing."""
    check_posted_scheme(request, ONEOFF_RULE)
    form = OneOffForm(request.POST or None)
    form.fields["scheme"].queryset = payroll_schemes(user=request.user)
    rows, errors = ([], [])
    masker = masker_for(request.user)
    context = {"form": form, "breadcrumbs": _crumbs((_("零星发放"), ""))}
    if request.method == "POST":
        rows, errors = _oneoff_rows(request)
        if form.is_valid() and not errors:
            if _confirmed(request):
                try:
                    with transaction.atomic():
                        once_claim(request, form="payroll.oneoff")
                        run = payroll_oneoff_create(
                            scheme=form.cleaned_data["scheme"], period=form.cleaned_data["period"],
                            items=[(r["person"], r["amount"], r["memo"]) for r in rows], user=request.user,
                            note=form.cleaned_data["note"])
                except (PayrollError, AlreadySubmitted) as exc:
                    errors.append(str(exc))
                else:
                    messages.success(request, format_html("{}：{}。{}", _("已生成零星发放批次 %(n)s") % {"n": run.pk},
                                                          _totals_text(run), _("请交审核员审核。")))
                    return redirect("payroll:run_detail", pk=run.pk)
            else:
                context.update(confirm=True, total=sum((r["value"] for r in rows), ZERO))
    context.update(rows=[{**r, "id_masked": masker.id_number(r["person"].id_number)} for r in rows], errors=errors)
    return render(request, "payroll/oneoff.html", context)


@page(ONEOFF_RULE)
def oneoff_search(request):
    """htmx: persons matching the query, each with an 添加 button."""
    q = (request.GET.get("q") or "").strip()
    persons = list(person_search(user=request.user, q=q, limit=20)) if q else []
    masker = masker_for(request.user)
    return render(request, "payroll/oneoff_search.html", {
        "q": q, "persons": [{"p": p, "id_masked": masker.id_number(p.id_number)} for p in persons]})


# --------------------------------------------------------------------------------------------------
# month-end figures (月末数据)


def _stats_rows(scheme: Scheme):
    snaps = list(month_end_figures(scheme=scheme, limit=120))
    items = {}
    for s in snaps:
        for it in s.data.get("items", []):
            key = (it["kind"], it["code"])
            items.setdefault(key, it["name"] or {"arrears": _("补发"), "deduction": _("扣减")}.get(it["kind"], it["kind"]))
    order = {"item": 0, "arrears": 1, "deduction": 2}
    item_keys = sorted(items, key=lambda k: (order.get(k[0], 9), k[1]))
    rows = []
    for s in snaps:
        by_key = {(it["kind"], it["code"]): Decimal(it["total"]) for it in s.data.get("items", [])}
        rows.append({"snap": s, "items": [by_key.get(k) for k in item_keys]})
    return rows, [items[k] for k in item_keys]


@page(VIEW_RULE)
def stats(request):
    """月末数据 of one of the user's schemes (county figures: no person in them)."""
    code = request.GET.get("scheme") or ""
    if code:
        policy.check(request.user, VIEW_RULE, scheme=code)
    schemes = list(payroll_schemes(user=request.user))
    code = code or (schemes[0].code if schemes else "")
    scheme = next((s for s in schemes if s.code == code), None)
    if scheme is None:
        raise Http404(_("没有这个险种"))
    rows, item_names = _stats_rows(scheme)
    if request.GET.get("export") == "xlsx":
        return _stats_xlsx(scheme, rows, item_names)
    chrono = list(reversed(rows))
    chart = {  # drawn by web/charts.js
        "labels": [format_month(r["snap"].period) for r in chrono],
        "datasets": [
            {"type": "bar", "label": str(_("实付（元）")), "color": "#2d6aa3",
             "data": [float(r["snap"].paid) for r in chrono]},
            {"type": "bar", "label": str(_("欠付（元）")), "color": "#c8102e",
             "data": [float(r["snap"].owed) for r in chrono]},
            {"type": "line", "label": str(_("正常人数")), "color": "#217a3c", "axis": "y1",
             "data": [r["snap"].persons_active for r in chrono]},
        ],
        "axes": {"y": str(_("元")), "y1": str(_("人"))},
    }
    return render(request, "payroll/stats.html", {
        "schemes": schemes, "scheme": scheme, "rows": rows, "item_names": item_names, "chart": chart,
        "breadcrumbs": [(_("统计"), ""), (_("月末数据"), "")],
    })


def _stats_xlsx(scheme: Scheme, rows, item_names):
    buffer = io.BytesIO()
    headers = [_("年月"), _("正常人数"), _("暂停人数"), _("终止人数"), *item_names,
               _("应付"), _("实付"), _("失败"), _("欠付")]
    money = set(range(4, len(headers)))
    with XlsxWriter(buffer, sheet_name=f"{scheme.name}月末数据", headers=[str(h) for h in headers],
                    money_columns=money) as writer:
        for r in rows:
            s = r["snap"]
            writer.write_row([format_month(s.period), s.persons_active, s.persons_suspended, s.persons_terminated,
                              *r["items"], s.payable, s.paid, s.failed, s.owed])
    buffer.seek(0)
    name = f"{scheme.name}月末数据-{timezone.localdate():%Y%m%d}.xlsx"
    response = FileResponse(buffer, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f"attachment; filename=\"stats.xlsx\"; filename*=UTF-8''{quote(name)}"
    return response


# --------------------------------------------------------------------------------------------------
# home-page work items and the person page section (registered in PayrollConfig.ready)


def work_runs_to_approve(request):
    user = request.user
    if not policy.allows(user, APPROVE_RULE):
        return []
    n = payroll_runs(user=user).filter(state=State.COMPUTED).exclude(created_by=user).count()
    return [(_("待审核的结算批次"), n, reverse("payroll:run_list") + "?state=computed")]


def work_runs_to_export(request):
    if not policy.allows(request.user, EXPORT_RULE):
        return []
    n = payroll_runs(user=request.user).filter(state=State.APPROVED).count()
    return [(_("已审核待报盘的结算批次"), n, reverse("bank:export"))]


def person_payments_section(person, request):
    if not can_view(request.user):
        return None
    lines = list(payroll_person_lines(person_id=person.pk, user=request.user)[:24])
    if not lines:
        return None
    masker = masker_for(request.user)
    return (_("发放记录"), "payroll/person_section.html",
            {"lines": [{"l": ln, "account": masker.account(ln.account_number)} for ln in lines]})
