"""Background jobs: job_start → the task (called synchronously here) → done or failed.

These tests COMMIT: the progress connection is a different session and must see the job row, exactly
as the worker and the status page do. They do not use ``transaction=True``: pytest-django's flush after
such a test empties every table, including those seeded by migrations (regions, schemes, role groups),
for all the tests that run after it. The ``committed`` fixture removes exactly what these tests made."""

from __future__ import annotations

import io

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from shebao.accounts.models import User
from shebao.common.jobs import (
    CliProgress,
    JobError,
    JobOutcome,
    job_run_here,
    job_start,
    register_job,
)
from shebao.common.models import Job
from shebao.common.tasks import run_job
from shebao.registry.models import Region

PREFIX = "jobtest_"


@pytest.fixture(autouse=True)
def committed(request, django_db_setup, django_db_blocker):
    if request.node.get_closest_marker("django_db"):  # an ordinary test in a rolled-back transaction
        yield
        return
    with django_db_blocker.unblock():
        yield
        jobs = list(Job.objects.filter(created_by__username__startswith=PREFIX).values_list("id", flat=True))
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM procrastinate_jobs WHERE task_name = 'shebao.run_job' AND (args->>'job_id')::bigint = ANY(%s)",
                [jobs],
            )
        Job.objects.filter(id__in=jobs).delete()
        User.objects.filter(username__startswith=PREFIX).delete()
        Region.objects.filter(code__startswith="TJ").delete()

seen_from_outside: list[tuple[str, int, int, str]] = []


def _read_from_another_session(job_id: int) -> tuple[str, int, int, str]:
    s = connection.settings_dict
    params = {"dbname": s["NAME"], "user": s["USER"] or None, "host": s["HOST"] or None, "port": s["PORT"] or None}
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as other:
        return other.execute("SELECT state, done, total, message FROM common_job WHERE id = %s", [job_id]).fetchone()


@register_job("test_ok", title="测试任务")
def _ok_handler(*, params, progress, user):
    progress.start(params["n"], "正在处理")
    for i in range(params["n"]):
        Region.objects.create(code=f"TJ{i:04d}", name=f"测试镇{i}", level=Region.Level.TOWN)
        progress.advance()
        if i == params["n"] // 2 - 1:
            progress.flush()
            seen_from_outside.append(_read_from_another_session(params["job_id"]))
    return JobOutcome(message=f"已处理 {params['n']} 条", result={"n": params["n"], "by": user.username})


@register_job("test_fail")
def _failing_handler(*, params, progress, user):
    progress.start(3, "正在导入")
    Region.objects.create(code="TJFAIL", name="不应留下", level=Region.Level.TOWN)
    progress.advance()
    raise JobError("第 2 行：身份证号校验位错误")


@register_job("test_crash")
def _crashing_handler(*, params, progress, user):
    Region.objects.create(code="TJCRASH", name="也不应留下", level=Region.Level.TOWN)
    return 1 / 0


def _user(username: str, **extra) -> User:
    return User.objects.create_user(
        username=PREFIX + username, password="Pw-123456x", must_change_password=False,
        password_changed_at=timezone.now(), **extra,
    )


def test_job_runs_to_done_with_progress_visible_meanwhile():
    user = _user("clerk_a")
    job = job_start(kind="test_ok", title="测试：处理 10 条", params={"n": 10}, user=user)
    # params are the handler's input; the handler reads its own id to look at itself from outside
    Job.objects.filter(pk=job.pk).update(params={"n": 10, "job_id": job.pk})
    assert job.state == Job.State.QUEUED
    queued = ProcrastinateJob.objects.get(task_name="shebao.run_job", args={"job_id": job.pk})
    assert queued.status == "todo"

    seen_from_outside.clear()
    run_job(job_id=job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.DONE
    assert (job.done, job.total, job.percent) == (10, 10, 100)
    assert job.message == "已处理 10 条"
    assert job.result == {"n": 10, "by": "jobtest_clerk_a"}
    assert job.started_at and job.finished_at
    assert Region.objects.filter(code__startswith="TJ").count() == 10
    # halfway, another session saw the job running at 5/10 although the handler's rows were uncommitted
    assert seen_from_outside == [("running", 5, 10, "正在处理")]


def test_job_runs_once_only():
    user = _user("clerk_b")
    job = job_start(kind="test_ok", title="测试", params={"n": 2, "job_id": 0}, user=user)
    run_job(job_id=job.pk)
    run_job(job_id=job.pk)  # a retried task: the job is no longer queued
    assert Region.objects.filter(code__startswith="TJ").count() == 2


def test_failing_job_ends_failed_and_writes_nothing():
    user = _user("clerk_c")
    job = job_start(kind="test_fail", title="测试：导入", params={}, user=user)
    run_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.message == "第 2 行：身份证号校验位错误"
    assert job.finished_at is not None
    assert job.percent < 100
    assert not Region.objects.filter(code="TJFAIL").exists()


def test_crashing_job_ends_failed_with_a_message_and_writes_nothing():
    user = _user("clerk_d")
    job = job_start(kind="test_crash", title="测试：崩溃", params={}, user=user)
    run_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "ZeroDivisionError" in job.message and "撤销" in job.message
    assert not Region.objects.filter(code="TJCRASH").exists()


@pytest.mark.django_db  # (also makes pytest-django set up the test database for this module)
def test_unknown_kind_is_refused_before_anything_is_queued():
    user = _user("clerk_e")
    queued_before = ProcrastinateJob.objects.count()  # procrastinate's tables are not emptied between tests
    with pytest.raises(JobError, match="未知的任务类型"):
        job_start(kind="no_such_kind", title="x", params={}, user=user)
    assert not Job.objects.filter(created_by=user).exists()
    assert ProcrastinateJob.objects.count() == queued_before


def test_same_handler_runs_from_the_command_line_with_a_progress_line():
    out = io.StringIO()
    outcome = job_run_here("test_ok", {"n": 0, "job_id": 0}, user=_user("cli"), progress=CliProgress(out))
    assert outcome.message == "已处理 0 条"
    out2 = io.StringIO()
    with pytest.raises(JobError, match="第 2 行"):
        job_run_here("test_fail", {}, progress=CliProgress(out2))
    assert "正在导入" in out2.getvalue()
    assert not Region.objects.filter(code="TJFAIL").exists()


def test_status_page_for_creator_and_it_staff_only(client):
    from django.contrib.auth.models import Permission

    owner = _user("owner")
    other = _user("other")
    it = _user("it")
    it.user_permissions.add(Permission.objects.get(codename="it_ops", content_type__app_label="accounts"))
    job = job_start(kind="test_ok", title="测试：状态页", params={"n": 4, "job_id": 0}, user=owner)

    client.force_login(owner)
    page = client.get(f"/jobs/{job.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "测试：状态页" in html and "排队中" in html and 'hx-trigger="every 1s"' in html

    run_job(job_id=job.pk)
    part = client.get(f"/jobs/{job.pk}/progress/")
    html = part.content.decode()
    assert part.status_code == 200
    assert "已完成" in html and "100%" in html and "已处理 4 条" in html
    assert "hx-trigger" not in html  # finished: polling stops

    client.force_login(other)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/progress/").status_code == 404
    client.force_login(it)
    assert client.get(f"/jobs/{job.pk}/").status_code == 200
    client.logout()
    assert client.get(f"/jobs/{job.pk}/").status_code == 302
