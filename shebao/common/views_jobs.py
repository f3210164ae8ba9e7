"""The job status page: a progress bar polled with htmx, then the result message."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from shebao.common.jobs import job_get
from shebao.common.models import Job

FINISHED = {Job.State.DONE, Job.State.FAILED}


def _job_or_404(request, pk: int) -> Job:
    job = job_get(user=request.user, pk=pk)
    if job is None:  # someone else's job looks the same as a missing one
        raise Http404("任务不存在或您无权查看")
    return job


def _context(job: Job) -> dict:
    return {"job": job, "finished": job.state in FINISHED, "failed": job.state == Job.State.FAILED}


@login_required
def job_detail(request, pk: int):
    job = _job_or_404(request, pk)
    breadcrumbs = [("后台任务", ""), (f"任务 {job.pk}", "")]
    return render(request, "common/job_detail.html", _context(job) | {"breadcrumbs": breadcrumbs})


@login_required
def job_progress(request, pk: int):
    """The progress partial; while the job runs it asks to be polled again (hx-trigger every 1s)."""
    job = _job_or_404(request, pk)
    return render(request, "common/job_progress.html", _context(job))
