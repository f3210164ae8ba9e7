"""Running background jobs in view tests: what the worker and the job page's htmx poll do."""

from __future__ import annotations

from shebao.common.jobs import job_run
from shebao.common.models import Job


def run_queued() -> list[Job]:
    """What the worker does: run every queued job, oldest first (here inside the test's transaction;
    the task body ``job_run`` is the worker's)."""
    return [job_run(pk) for pk in Job.objects.filter(state=Job.State.QUEUED).order_by("pk").values_list("pk", flat=True)]


def watched(client, job_url: str):
    """What the job page does: one htmx poll of its progress section. A job that ended well answers
    with ``HX-Redirect`` to its result; that page (with the message) is returned. Otherwise the
    polled section is returned (still running, or failed with the message)."""
    poll = client.get(job_url, {"partial": "1"}, HTTP_HX_REQUEST="true")
    assert poll.status_code == 200
    if "HX-Redirect" in poll:
        return client.get(poll["HX-Redirect"])
    return poll
