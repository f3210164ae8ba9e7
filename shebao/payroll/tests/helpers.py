"""Helpers of the payroll and bank page tests: users, and running background jobs as the worker and the
job page's htmx poll do."""

from __future__ import annotations

from shebao.accounts.models import User
from shebao.accounts.tests import factories
from shebao.common.jobs import job_run
from shebao.common.models import Job

ACCOUNT = "6222021234567890"  # the first person's account in the page and job tests


def make_user(username: str, *perms: str, roles: tuple[str, ...] = ()) -> User:
    """A user of every town with roles (their permissions as ``shebao.accounts.roles`` gives them) and extra
    permissions; the display name is the username in capitals. Read back so no permission is cached."""
    user = factories.make_user(username, full_name=username.upper(), roles=roles, all_regions=True, perms=perms)
    return User.objects.get(pk=user.pk)


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


def once() -> dict:
    """The one-time token a form that creates money or a record carries (``{% once_field %}``): what
    the page would have rendered into it."""
    from shebao.common.once import FIELD, new_token

    return {FIELD: new_token()}
