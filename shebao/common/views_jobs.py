"""The job status page: a progress bar polled with htmx, then the result message; a failed job's
creator can start it again (重新发起)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shebao.common.jobs import JobRetryError, job_get, job_retry
from shebao.common.models import Job
from shebao.common.policy import SIGNED_IN
from shebao.web.guards import page

FINISHED = {Job.State.DONE, Job.State.FAILED}


def _job_or_404(request, pk: int) -> Job:
    job = job_get(user=request.user, pk=pk)  # the object check: job_visible_to
    if job is None:  # someone else's job looks the same as a missing one
        raise Http404("任务不存在或您无权查看")
    return job


def _context(request, job: Job) -> dict:
    failed = job.state == Job.State.FAILED
    return {"job": job, "finished": job.state in FINISHED, "failed": failed,
            "can_retry": failed and job.created_by_id == request.user.pk}


@page(SIGNED_IN)
def job_detail(request, pk: int):
    job = _job_or_404(request, pk)
    breadcrumbs = [("后台任务", ""), (f"任务 {job.pk}", "")]
    return render(request, "common/job_detail.html", _context(request, job) | {"breadcrumbs": breadcrumbs})


@page(SIGNED_IN)
def job_progress(request, pk: int):
    """The progress partial; while the job runs it asks to be polled again (hx-trigger every 1s)."""
    job = _job_or_404(request, pk)
    return render(request, "common/job_progress.html", _context(request, job))


@page(SIGNED_IN)
@require_POST
def job_retry_view(request, pk: int):
    """重新发起: a fresh job with the same kind and params, for the creator of a failed job (others: 404)."""
    job = _job_or_404(request, pk)
    if job.created_by_id != request.user.pk:
        raise Http404("任务不存在或您无权查看")
    try:
        new = job_retry(job=job, user=request.user)
    except JobRetryError as exc:
        messages.error(request, str(exc))
        return redirect("jobs:detail", pk=job.pk)
    messages.success(request, f"已重新发起任务 {new.pk}")
    return redirect("jobs:detail", pk=new.pk)
