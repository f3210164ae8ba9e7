"""Background jobs: job_start → the task (called synchronously here) → done or failed.

These tests COMMIT: the progress connection is a different session and must see the job row, exactly
as the worker and the status page do. They do not use ``transaction=True``: pytest-django's flush after
such a test empties every table, including those seeded by migrations (regions, schemes, role groups),
for all the tests that run after it. The ``committed`` fixture removes exactly what these tests made."""

from __future__ import annotations

import datetime as dt
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


def test_crashing_job_ends_failed_with_a_clear_message_and_writes_nothing(caplog, settings):
    """DEBUG off (production): the user reads a reference, not the exception; the log has the detail."""
    settings.DEBUG = False
    user = _user("clerk_d")
    job = job_start(kind="test_crash", title="测试：崩溃", params={}, user=user)
    with caplog.at_level("ERROR", logger="shebao.common.jobs"):
        run_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.message == f"任务失败（内部错误，编号 {job.pk}）；未写入任何数据，请联系信息科"
    assert not Region.objects.filter(code="TJCRASH").exists()
    logged = [r for r in caplog.records if f"job {job.pk} (test_crash) failed" in r.getMessage()]
    assert logged and logged[0].exc_info[0] is ZeroDivisionError


def test_crashing_job_shows_the_exception_with_debug_on(settings):
    settings.DEBUG = True
    job = job_start(kind="test_crash", title="测试：崩溃", params={}, user=_user("clerk_dd"))
    run_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "ZeroDivisionError" in job.message and "撤销" in job.message


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


# ------------------------------------------------------------- where from: the starting request's IP


@register_job("test_audited")
def _audited_handler(*, params, progress, user):
    from shebao.common.audit import audit_record

    # as the user's name only: these tests commit, and an audit row's user could never be removed after
    audit_record(user=None, username=user.username, action="test_job_write", object_type="test",
                 object_id=params.get("n", 0), summary="任务内写入")
    return "已写入"


def test_a_job_started_from_a_page_writes_audit_rows_with_that_pages_ip(client, settings):
    """The retry button is a page that starts a job: its request's address reaches the audit rows the
    worker writes (the worker has no request of its own)."""
    from shebao.common.models import AuditEvent

    owner = _user("ipowner")
    first = job_start(kind="test_audited", title="测试：审计地址", params={"n": 1}, user=owner)
    assert (first.client_ip, first.user_agent) == ("", "")  # not started from a request
    Job.objects.filter(pk=first.pk).update(state=Job.State.FAILED, message="x")
    client.force_login(owner)
    response = client.post(f"/jobs/{first.pk}/retry/", REMOTE_ADDR="192.0.2.7", HTTP_USER_AGENT="Mozilla/5.0 测试")
    new = Job.objects.get(retry_of=first)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{new.pk}/"
    assert (new.client_ip, new.user_agent, new.kind, new.params) == ("192.0.2.7", "Mozilla/5.0 测试", "test_audited",
                                                                     {"n": 1})
    run_job(job_id=new.pk)
    event = AuditEvent.objects.filter(action="test_job_write", username=owner.username).order_by("-id").first()
    assert event is not None and event.ip == "192.0.2.7"
    # a job started behind our proxy keeps the client's address (the address the proxy appended;
    # X-Forwarded-For is believed only from SHEBAO_TRUSTED_PROXIES)
    settings.SHEBAO_TRUSTED_PROXIES = ["127.0.0.1"]
    Job.objects.filter(pk=new.pk).update(state=Job.State.FAILED)
    client.post(f"/jobs/{new.pk}/retry/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.4")
    assert Job.objects.get(retry_of=new).client_ip == "198.51.100.4"


# ------------------------------------------------------------- heartbeat, reaping, retry

hang = {"written": None, "release": None, "pid": None}


@register_job("test_hang")
def _hanging_handler(*, params, progress, user):
    Region.objects.create(code="TJHANG", name="中断的任务不应留下", level=Region.Level.TOWN)
    hang["pid"] = connection.connection.info.backend_pid
    hang["written"].set()
    hang["release"].wait(30)
    Region.objects.filter(code="TJHANG").count()  # the worker comes back (or finds its connection gone)
    return "不应完成"


beats: list = []


@register_job("test_long_statement")
def _long_statement_handler(*, params, progress, user):
    def heartbeat():
        with connection.cursor() as cursor:  # our transaction sees the side connection's commits
            cursor.execute("SELECT heartbeat_at FROM common_job WHERE id = %s", [params["job_id"]])
            return cursor.fetchone()[0]

    beats.append(heartbeat())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(1.5)")  # one long statement, no progress call
    beats.append(heartbeat())
    return "完成"


def test_heartbeat_ticks_while_a_long_statement_runs(settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    job = job_start(kind="test_long_statement", title="测试：心跳", params={}, user=_user("beat"))
    Job.objects.filter(pk=job.pk).update(params={"job_id": job.pk})
    beats.clear()
    run_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.DONE, job.message
    assert beats[0] is not None and beats[1] - beats[0] >= dt.timedelta(seconds=1)
    assert job.heartbeat_at >= beats[1]


def _dead(job: Job, minutes: int = 10) -> None:
    """A job a worker claimed and then stopped beating for (the worker died)."""
    old = timezone.now() - dt.timedelta(minutes=minutes)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, started_at=old, heartbeat_at=old)


def test_a_dead_job_is_reaped_and_no_longer_blocks_a_new_one():
    from shebao.common.jobs import job_start_once

    user = _user("reap")
    dead, started = job_start_once(kind="test_ok", keys=["test:2026-01"], title="测试：月度", params={"n": 1}, user=user)
    assert started
    _dead(dead)
    alive, _ = job_start_once(kind="test_ok", keys=["test:2026-02"], title="测试：另一月", params={"n": 1}, user=user)
    Job.objects.filter(pk=alive.pk).update(state=Job.State.RUNNING, started_at=timezone.now(),
                                           heartbeat_at=timezone.now())
    again, started = job_start_once(kind="test_ok", keys=["test:2026-01"], title="测试：月度", params={"n": 1},
                                    user=user)
    assert started and again.pk != dead.pk
    dead.refresh_from_db()
    assert (dead.state, dead.message) == (Job.State.FAILED, "后台进程已中断，任务未完成，未写入任何数据；可重新发起")
    assert dead.finished_at is not None
    assert Job.objects.get(pk=alive.pk).state == Job.State.RUNNING  # beating: left alone
    blocked, started = job_start_once(kind="test_ok", keys=["test:2026-02"], title="测试：另一月", params={"n": 1},
                                      user=user)
    assert (blocked.pk, started) == (alive.pk, False)


def test_jobs_reap_command(capsys):
    from django.core.management import call_command

    user = _user("reapcmd")
    dead = job_start(kind="test_ok", title="测试：命令", params={"n": 1}, user=user)
    _dead(dead, minutes=3)
    call_command("jobs", "reap", "--stale-after", "600")
    assert "没有心跳超时的任务" in capsys.readouterr().out
    assert Job.objects.get(pk=dead.pk).state == Job.State.RUNNING
    call_command("jobs", "reap")
    out = capsys.readouterr().out
    assert f"已将 1 个任务标记为失败（{dead.pk}）" in out
    assert Job.objects.get(pk=dead.pk).state == Job.State.FAILED


@pytest.mark.parametrize("worker", ["died", "slow"])
def test_a_reaped_jobs_work_is_never_written(worker, settings):
    """The worker wrote rows and then stopped beating. ``died``: its connection ends (the process is
    gone), PostgreSQL rolls its transaction back. ``slow``: it comes back after being reaped and must
    roll back instead of committing behind the 失败. Either way nothing is written and the message stays."""
    import threading

    from shebao.common.jobs import REAPED_MESSAGE, jobs_reap

    settings.JOB_HEARTBEAT_SECONDS = 3600  # the ticker would otherwise keep a hung-but-alive worker fresh
    hang.update(written=threading.Event(), release=threading.Event(), pid=None)
    job = job_start(kind="test_hang", title="测试：中断", params={}, user=_user(f"hang_{worker}"))
    errors = []

    def worker_thread():
        try:
            run_job(job_id=job.pk)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=worker_thread)
    thread.start()
    try:
        assert hang["written"].wait(20)
        Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=10))
        if worker == "died":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [hang["pid"]])
        assert jobs_reap() == [job.pk]
    finally:
        hang["release"].set()
        thread.join(30)
    job.refresh_from_db()
    assert (job.state, job.message) == (Job.State.FAILED, REAPED_MESSAGE)
    assert not Region.objects.filter(code="TJHANG").exists()
    assert not errors  # the worker's late failure bookkeeping neither raised nor overwrote the 失败


def test_retry_for_the_creator_of_a_failed_job_only(client):
    from shebao.common.jobs import JobRetryError, job_retry

    owner = _user("retry_owner")
    other = _user("retry_other")
    job = job_start(kind="test_fail", title="测试：重试", params={"x": 1}, user=owner)
    with pytest.raises(JobRetryError, match="只有失败的任务可以重新发起"):
        job_retry(job=job, user=owner)
    run_job(job_id=job.pk)
    job.refresh_from_db()
    with pytest.raises(JobRetryError, match="只有任务的发起人可以重新发起"):
        job_retry(job=job, user=other)
    client.force_login(other)
    assert client.post(f"/jobs/{job.pk}/retry/").status_code == 404
    assert not Job.objects.filter(retry_of=job).exists()

    client.force_login(owner)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "重新发起" in page and f"/jobs/{job.pk}/retry/" in page
    assert client.get(f"/jobs/{job.pk}/retry/").status_code == 405
    response = client.post(f"/jobs/{job.pk}/retry/")
    new = Job.objects.get(retry_of=job)
    assert response["Location"] == f"/jobs/{new.pk}/"
    assert (new.kind, new.params, new.state, new.created_by_id) == ("test_fail", {"x": 1}, Job.State.QUEUED, owner.pk)
    second = client.post(f"/jobs/{job.pk}/retry/", follow=True)  # a double click
    assert f"该任务已重新发起（任务 {new.pk}），请查看该任务" in second.content.decode()
    assert Job.objects.filter(retry_of=job).count() == 1
    client.force_login(other)
    assert "重新发起" not in client.get(f"/jobs/{new.pk}/").content.decode()  # not visible to other anyway


def test_the_reap_schedule_marks_a_dead_job_failed():
    """The periodic ``jobs_reap`` (every 5 minutes in the worker) reaps a running job without a heartbeat."""
    import datetime as dt

    from django.utils import timezone

    from shebao.common.models import PeriodicRun
    from shebao.common.periodic import periodic_run, schedules

    assert "jobs_reap" in schedules()
    owner = _user("reapowner")
    job = job_start(kind="test_ok", title="测试：中断", params={}, user=owner)
    old = timezone.now() - dt.timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, started_at=old, heartbeat_at=old)
    run = periodic_run("jobs_reap")
    assert run.outcome == PeriodicRun.Outcome.OK and run.message == "已将 1 个中断的任务标为失败"
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert periodic_run("jobs_reap").message == "没有中断的任务"
