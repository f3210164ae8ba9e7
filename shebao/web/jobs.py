"""The page of a background job started from a page (compute, approve, export, return import …):
the confirm starts the job (or finds the same work already queued or running), the job page shows
its progress (htmx polls the progress section every second), then goes on to the result. Shared by
the payroll and bank pages (and any other app's): one place, so no app's views import another's."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from shebao.common.models import Job


def job_started_message(request, job: Job, started: bool) -> None:
    """Say so when the confirm found the same work already queued or running (a double click)."""
    if not started:
        messages.info(request, _("已有任务在进行中（任务 %(n)s：%(title)s，%(who)s 于 %(when)s 提交），未重复提交。") % {
            "n": job.pk, "title": job.title, "who": job.created_by.display_name,
            "when": timezone.localtime(job.created_at).strftime("%H:%M:%S")})


def job_context(job: Job) -> dict:
    """The job's state as the job templates (``web/job.html``, ``web/_job.html``) show it."""
    elapsed = None
    if job.started_at:
        elapsed = int(((job.finished_at or timezone.now()) - job.started_at).total_seconds())
    finished = job.state in (Job.State.DONE, Job.State.FAILED)
    return {"job": job, "finished": finished, "failed": job.state == Job.State.FAILED,
            "running": job.state == Job.State.RUNNING, "queued": job.state == Job.State.QUEUED,
            "step": min(job.done + 1, job.total), "elapsed": elapsed}


def render_job(request, job: Job, *, poll_url: str, links: list, unchanged: str, breadcrumbs: list, note: str,
               done_url: str = "", announce=None, done_template: str = "", head_template: str = "",
               extra: dict | None = None):
    """The job's page, or (``?partial=1``) its progress section that htmx polls every second. When a
    polled job has ended well, the page that watched it goes on to ``done_url`` (``HX-Redirect``)
    and ``announce()`` puts the outcome in a message there — or, without ``done_url``, the section
    shows ``done_template`` (a next step to confirm). A failed job stays on the page with the
    service's message. ``note`` says how progress is counted; ``head_template`` adds the app's
    stylesheet."""
    if request.GET.get("partial"):
        if job.state == Job.State.DONE and done_url and request.headers.get("HX-Request"):
            if announce is not None:
                announce()
            response = HttpResponse()
            response["HX-Redirect"] = done_url
            return response
        template = "web/_job.html"
    else:
        template = "web/job.html"
    return render(request, template, job_context(job) | {
        "poll_url": poll_url, "links": links, "unchanged": unchanged, "note": note,
        "done_template": done_template, "head_template": head_template, "breadcrumbs": breadcrumbs,
        **(extra or {})})
