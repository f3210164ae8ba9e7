"""Authorization matrix: the audit trail (page, its export, the API, the ``audit`` commands) and the job
pages (``jobs reap`` too). Job pages are for any signed-in user, then the object check ``job_visible_to``:
the creator (and 信息运维) see a job; anyone else gets 404, as for a missing one."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from shebao.common.models import Job
from shebao.common.policy import CONSOLE, SIGNED_IN, rule
from tests.authz.harness import (
    IDENTITIES,
    Entry,
    classify_page,
    client_for,
    expected,
    make_identities,
    run_page_row,
)

AUDIT = rule("accounts.view_audit")

ROWS = [
    Entry("audit:list", AUDIT),
    Entry("audit:list", AUDIT, query={"export": "xlsx"}, note="导出Excel"),
    Entry("jobs:detail", SIGNED_IN, args=lambda w: {"pk": w["job"].pk}, note="再按 job_visible_to：发起人与信息运维"),
    Entry("jobs:progress", SIGNED_IN, args=lambda w: {"pk": w["job"].pk}, note="同上"),
    Entry("jobs:retry", SIGNED_IN, args=lambda w: {"pk": w["job"].pk}, method="POST", note="仅失败任务的发起人"),
    Entry("api GET /api/v1/audit/events", AUDIT),
    Entry("audit verify", CONSOLE),
    Entry("audit checkpoint", CONSOLE),
    Entry("jobs reap", CONSOLE),
]

PAGE_ROWS = [r for r in ROWS if r.name == "audit:list"]
JOB_ROWS = [r for r in ROWS if r.name.startswith("jobs:")]
pytestmark = pytest.mark.django_db


@pytest.fixture
def users():
    return make_identities()


@pytest.mark.parametrize("entry", PAGE_ROWS, ids=lambda e: f"{e.id} {e.query}")
def test_audit_page_matrix(entry, users):
    assert run_page_row(entry, {}, users) == []


def _failed_job(user) -> Job:
    return Job.objects.create(kind="payroll_compute", title="测试任务", params={}, created_by=user,
                              state=Job.State.FAILED, message="x")


@pytest.mark.parametrize("entry", JOB_ROWS, ids=lambda e: e.id)
def test_job_pages_matrix(entry, users):
    """Each identity requests its own job (the rule: signed in → ok) and another user's job (the object
    check: 404 unless 信息运维, and never a retry of someone else's job)."""
    owner = users["clerk"]
    problems = []
    for ident in IDENTITIES:
        for whose in ("own", "other"):
            if ident.anonymous and whose == "own":
                continue
            creator = users[ident.name] if whose == "own" else owner
            if whose == "other" and ident.name == "clerk":
                creator = users["reviewer"]
            job = _failed_job(creator)
            url = reverse(entry.name, kwargs={"pk": job.pk})
            client = client_for(users, ident)
            response = client.get(url) if entry.method == "GET" else client.post(url)
            got = classify_page(response)
            want = expected(ident, entry)
            if want == "ok" and whose == "other":
                it_ops = users[ident.name].has_perm("accounts.it_ops")
                want = "ok" if (it_ops and entry.method == "GET") else "denied"
            if got != want:
                problems.append(f"{entry.id} ({whose} job) as {ident.name}: expected {want}, got {got} "
                                f"({response.status_code})")
            retried = Job.objects.filter(retry_of=job).exists()
            if retried != (entry.method == "POST" and want == "ok"):
                problems.append(f"{entry.id} ({whose} job) as {ident.name}: retry written = {retried}")
    assert problems == []


def test_audit_api_matrix(users):
    from shebao.accounts.services import api_token_create

    entry = next(r for r in ROWS if r.name.startswith("api "))
    problems = []
    for ident in IDENTITIES:
        headers = {}
        if not ident.anonymous:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {api_token_create(user=users[ident.name], name='matrix')}"
        response = Client().get("/api/v1/audit/events", **headers)
        got = classify_page(response)
        want = expected(ident, entry)
        if got != want:
            problems.append(f"{entry.id} as {ident.name}: expected {want}, got {got} ({response.status_code})")
    assert problems == []


def test_console_commands_run_without_as(tmp_path, capsys):
    """CONSOLE: the server's operator, no --as (the commands take none)."""
    call_command("audit", "verify")
    call_command("audit", "checkpoint", "--out", str(tmp_path / "cp.json"))
    call_command("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"))
    call_command("jobs", "reap")
    out = capsys.readouterr().out
    assert "审计链完整" in out and "已生成检查点" in out and "没有心跳超时的任务" in out
    for argv in (["audit", "verify", "--as", "x"], ["jobs", "reap", "--as", "x"]):
        with pytest.raises(Exception):  # noqa: B017 - argparse refuses the unknown option
            call_command(*argv)
