"""Compute and recompute as background jobs: the confirm starts one job (a double click shows the
same job), the worker runs it (here ``job_run``, the task body), the job page shows its progress by
stage and goes on to the run with the message; a refusal shows the service's message and writes
nothing. The command line runs the same handler with its progress on stderr."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from shebao.benefits.models import Adjustment
from shebao.benefits.services import adjustment_create
from shebao.benefits.tests.factories import zg
from shebao.common.jobs import Progress, job_run_here
from shebao.common.models import AuditEvent, Job
from shebao.payroll.jobs import APPROVE_STAGES, COMPUTE_STAGES, RECOMPUTE_STAGES
from shebao.payroll.models import PayrollComponent, PayrollLine, PayrollRun
from shebao.payroll.services import payroll_run_approve, payroll_run_compute
from shebao.payroll.tests.helpers import make_user, run_queued, watched
from shebao.payroll.tests.test_views import login

pytestmark = pytest.mark.django_db

CONFIRM = {"scheme": "ZG", "period": "2026-03", "confirm": "1"}
# 张三 2150.00; 李四 2150.00 less the 多发追回 deduction at its monthly cap of 100.00
TOTALS = "2 笔，应发 4,300.00 元，扣减 100.00 元，实发 4,200.00 元"


class Shown(Progress):
    """Remembers every state shown: what a watcher of the job would have seen."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int, str]] = []

    def show(self) -> None:
        self.seen.append((self.done, self.total, self.message))


def stages_seen(progress: Shown) -> list[str]:
    out: list[str] = []
    for _, _, message in progress.seen:
        if not out or out[-1] != message:
            out.append(message)
    return out


def snapshot(run_id: int | None = None) -> tuple:
    """What a refused job must leave as it was: runs, lines, components, audit events."""
    lines = PayrollLine.objects.order_by("pk").values_list("pk", "run_id", "gross", "deductions", "net")
    runs = PayrollRun.objects.order_by("pk").values_list("pk", "state", "line_count", "gross", "deductions", "net",
                                                        "computed_at")
    return list(runs), list(lines), PayrollComponent.objects.count(), AuditEvent.objects.count()


def test_compute_job_happy_path_with_stages_and_exact_totals(client, clerk, people):
    login(client, clerk)
    started = client.post("/payroll/compute/", CONFIRM)
    job = Job.objects.get()
    assert (job.kind, job.state, job.created_by) == ("payroll_compute", "queued", clerk)
    queued = client.get(started.url).content.decode()
    assert "排队中" in queued and "every 1s" in queued and "不能逐笔显示进度" in queued
    [job] = run_queued()
    run = PayrollRun.objects.get()
    assert (job.state, job.done, job.total) == ("done", len(COMPUTE_STAGES), len(COMPUTE_STAGES))
    assert job.result == {"run_id": run.pk, "line_count": 2, "gross": "4300.00", "deductions": "100.00",
                          "net": "4200.00", "state": "computed"}
    assert job.message == f"已计算 自管人员 2026-03：{TOTALS}。请交另一位审核员审核。"
    # the page that watched it goes on to the run, with the message and a link
    page = watched(client, started.url)
    assert page.request["PATH_INFO"] == f"/payroll/{run.pk}/"
    text = page.content.decode()
    assert "已计算" in text and TOTALS in text and f"查看批次 {run.pk}" in text
    # the job page itself, opened later, shows the outcome and the link (no redirect, no polling)
    later = client.get(started.url).content.decode()
    assert "已完成" in later and TOTALS in later and f"/payroll/{run.pk}/" in later and "every 1s" not in later


def test_compute_job_shows_each_stage_in_order(clerk, people):
    shown = Shown()
    outcome = job_run_here("payroll_compute", {"scheme": "ZG", "period": "2026-03"}, user=clerk, progress=shown)
    # every stage was named, in order: the service reported each as it started
    assert stages_seen(shown) == [s.label for s in COMPUTE_STAGES] + [outcome.message]
    assert [(d, t) for d, t, _ in shown.seen[:4]] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert "不能逐人显示进度" in COMPUTE_STAGES[1].label


def test_compute_double_submit_shows_the_same_job(client, clerk, people):
    login(client, clerk)
    first = client.post("/payroll/compute/", CONFIRM)
    second = client.post("/payroll/compute/", CONFIRM, follow=True)
    job = Job.objects.get()  # one job
    assert first.url == second.redirect_chain[-1][0] == f"/payroll/jobs/{job.pk}/"
    assert f"已有任务在进行中（任务 {job.pk}：计算月度结算：自管人员 2026-03，CLERK1 于" in second.content.decode()
    # another clerk's click shows the same job too
    other = make_user("clerk2", roles=("clerk",))
    login(client, other)
    assert client.post("/payroll/compute/", CONFIRM).url == first.url
    assert Job.objects.count() == 1
    run_queued()
    assert PayrollRun.objects.count() == 1
    # once done, the month exists: the form refuses before any job
    again = client.post("/payroll/compute/", CONFIRM).content.decode()
    assert "月度结算已存在" in again and Job.objects.count() == 1


def test_compute_job_refused_shows_the_message_and_writes_nothing(client, clerk, people):
    login(client, clerk)
    started = client.post("/payroll/compute/", CONFIRM)
    # meanwhile someone computes the month from the command line
    other = payroll_run_compute(scheme=zg(), period="2026-03", user=make_user("clerk9", roles=("clerk",)))
    before = snapshot()
    [job] = run_queued()
    assert job.state == "failed"
    assert job.message == f"自管人员 2026-03 的月度结算已存在（批次 {other.pk}，已计算），如需重算请使用“重新计算”"
    assert snapshot() == before  # nothing written
    page = watched(client, started.url)  # a failed job stays on its page
    text = page.content.decode()
    assert page.request["PATH_INFO"] == started.url
    assert "失败" in text and f"的月度结算已存在（批次 {other.pk}" in text and "没有生成结算批次，未做任何更改" in text
    assert "返回计算页" in text and "every 1s" not in text


def test_recompute_job_replaces_the_lines_and_says_before_and_after(client, clerk, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    old_lines = set(PayrollLine.objects.filter(run=run).values_list("pk", flat=True))
    adjustment_create(enrollment=people[0].enrollments.get(), kind="arrears", total="50.00", reason="补发调资",
                      user=clerk)
    login(client, clerk)
    started = client.post(f"/payroll/{run.pk}/recompute/", {"confirm": "1"})
    # while it waits the run page points at it
    assert f"/payroll/jobs/{Job.objects.get().pk}/" in client.get(f"/payroll/{run.pk}/").content.decode()
    [job] = run_queued()
    assert job.state == "done" and job.result["run_id"] == run.pk
    assert (job.result["line_count"], job.result["gross"], job.result["deductions"], job.result["net"]) == (
        2, "4350.00", "100.00", "4250.00")
    run.refresh_from_db()
    assert (run.gross, run.net) == (4350, 4250)
    assert not old_lines & set(PayrollLine.objects.filter(run=run).values_list("pk", flat=True))
    text = watched(client, started.url).content.decode()
    assert f"{TOTALS} → 2 笔，应发 4,350.00 元，扣减 100.00 元，实发 4,250.00 元" in text
    assert "id=\"active-job\"" not in text


def test_recompute_job_shows_each_stage_in_order(clerk, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    shown = Shown()
    outcome = job_run_here("payroll_recompute", {"run_id": run.pk}, user=clerk, progress=shown)
    assert stages_seen(shown) == [s.label for s in RECOMPUTE_STAGES] + [outcome.message]


def test_recompute_double_submit_shows_the_same_job(client, clerk, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    login(client, clerk)
    first = client.post(f"/payroll/{run.pk}/recompute/", {"confirm": "1"})
    second = client.post(f"/payroll/{run.pk}/recompute/", {"confirm": "1"})
    assert first.url == second.url and Job.objects.count() == 1
    run_queued()
    third = client.post(f"/payroll/{run.pk}/recompute/", {"confirm": "1"})  # the first one has ended
    assert third.url != first.url and Job.objects.count() == 2


def test_recompute_of_an_approved_run_refused_and_nothing_written(client, clerk, reviewer, people):
    run = payroll_run_approve(run=payroll_run_compute(scheme=zg(), period="2026-03", user=clerk), user=reviewer)
    before = snapshot()
    login(client, clerk)
    started = client.post(f"/payroll/{run.pk}/recompute/", {"confirm": "1"})
    [job] = run_queued()
    assert job.state == "failed"
    assert job.message == f"自管人员 2026-03 月度结算（批次 {run.pk}） 已审核，不能重新计算"
    assert snapshot() == before
    text = watched(client, started.url).content.decode()
    assert "已审核，不能重新计算" in text
    assert f"结算批次未做任何更改（已审核，{TOTALS}）" in text and f"/payroll/{run.pk}/" in text


def test_approve_job_settles_the_deduction_once_and_stages(client, clerk, reviewer, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    login(client, reviewer)
    first = client.post(f"/payroll/{run.pk}/approve/", {"confirm": "1"})
    second = client.post(f"/payroll/{run.pk}/approve/", {"confirm": "1"})  # a double click
    login(client, clerk)
    recompute = client.post(f"/payroll/{run.pk}/recompute/", {"confirm": "1"})  # meanwhile: shows the approve
    assert first.url == second.url == recompute.url and Job.objects.count() == 1
    [job] = run_queued()
    assert (job.kind, job.state, job.done, job.total) == ("payroll_approve", "done", 3, 3)
    assert job.result == {"run_id": run.pk, "line_count": 2, "gross": "4300.00", "deductions": "100.00",
                          "net": "4200.00", "state": "approved"}
    deduction = Adjustment.objects.get(kind="deduction")
    assert (deduction.remaining, deduction.state) == (200, "pending")  # 300.00 less this month's 100.00, once
    run.refresh_from_db()
    assert (run.state, run.approved_by) == ("approved", reviewer)


def test_approve_job_shows_each_stage_in_order(clerk, reviewer, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    shown = Shown()
    outcome = job_run_here("payroll_approve", {"run_id": run.pk}, user=reviewer, progress=shown)
    assert stages_seen(shown) == [s.label for s in APPROVE_STAGES] + [outcome.message]


def test_job_page_access(client, clerk, people):
    login(client, clerk)
    started = client.post("/payroll/compute/", CONFIRM)
    login(client, make_user("nobody"))
    assert client.get(started.url).status_code == 403
    login(client, make_user("fin1", roles=("finance",)))  # readers of payroll see its jobs
    assert client.get(started.url).status_code == 200
    other = Job.objects.create(kind="rural_recompute", title="x", params={}, created_by=clerk)
    assert client.get(f"/payroll/jobs/{other.pk}/").status_code == 404


def test_cli_compute_prints_the_same_and_shows_progress_on_stderr(capsys, clerk, people):
    call_command("payroll", "compute", "--scheme", "ZG", "--period", "2026-03", "--as", "clerk1", "--json")
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out | {"run": 0} == {"run": 0, "scheme": "ZG", "period": "2026-03", "kind": "regular", "state": "computed",
                                "line_count": 2, "gross": "4300.00", "deductions": "100.00", "net": "4200.00"}
    assert "计算明细" in captured.err and "汇总批次合计" in captured.err and "4/4 (100%)" in captured.err
    call_command("payroll", "compute", "--scheme", "ZG", "--period", "2026-03", "--as", "clerk1", "--recompute")
    captured = capsys.readouterr()
    assert captured.out.strip() == (f"已计算 自管人员 2026-03：批次 {out['run']}，2 笔，应发 4300.00，扣减 100.00，"
                                    "实发 4200.00")
    assert "删除原明细" in captured.err
