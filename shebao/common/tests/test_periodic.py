"""Periodic schedules: a run is recorded with its outcome and message (a failure too), two runs of one
schedule never overlap, the command lists and runs them, and the page shows them."""

import json

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from shebao.common.models import PeriodicRun
from shebao.common.periodic import PeriodicError, periodic, periodic_run, schedule_rows

pytestmark = pytest.mark.django_db
CALLS = []


@periodic("test_ok", cron="0 18 * * *", title="测试：成功", worker=False)
def _ok():
    CALLS.append("ok")
    return "处理 3 个"


@periodic("test_fails", cron="*/5 * * * *", title="测试：失败", worker=False)
def _fails():
    raise PeriodicError("通道 ICBC 无法连接")


@periodic("test_crashes", cron="*/5 * * * *", title="测试：出错", worker=False)
def _crashes():
    raise ZeroDivisionError("division by zero")


def test_a_run_is_recorded_with_its_message():
    CALLS.clear()
    run = periodic_run("test_ok")
    assert CALLS == ["ok"]
    run.refresh_from_db()
    assert (run.outcome, run.message, run.trigger) == ("ok", "处理 3 个", "manual")
    assert run.finished_at >= run.started_at and run.duration is not None


def test_a_failure_is_recorded_with_its_message():
    run = periodic_run("test_fails", trigger="schedule")
    run.refresh_from_db()
    assert (run.outcome, run.message, run.trigger) == ("failed", "通道 ICBC 无法连接", "schedule")
    crash = periodic_run("test_crashes")
    crash.refresh_from_db()
    assert (crash.outcome, crash.message) == ("failed", "运行出错（ZeroDivisionError）：division by zero")


def test_unknown_schedule():
    with pytest.raises(PeriodicError) as exc:
        periodic_run("nope")
    assert str(exc.value).startswith("没有名为“nope”的定时任务（现有：")
    assert not PeriodicRun.objects.exists()


def test_a_schedule_still_running_elsewhere_is_skipped():
    import zlib

    from shebao.common.periodic import _LOCK_BASE

    s = connection.settings_dict
    other = psycopg.connect(dbname=s["NAME"], user=s.get("USER") or None, password=s.get("PASSWORD") or None,
                            host=s.get("HOST") or None, port=s.get("PORT") or None, autocommit=True)
    key = _LOCK_BASE + zlib.crc32(b"test_ok")
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        CALLS.clear()
        run = periodic_run("test_ok")
        assert CALLS == [] and (run.outcome, run.message) == ("skipped", "上一次运行尚未结束，本次未执行")
        # released explicitly: a closed connection's backend lets its session locks go only when it
        # has finished exiting, which under load can come after the next run below asked for it
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    finally:
        other.close()
    assert periodic_run("test_ok").outcome == "ok"


def test_rows_give_last_and_next_run():
    periodic_run("test_ok")
    row = next(r for r in schedule_rows() if r.schedule.name == "test_ok")
    assert row.last.outcome == "ok"
    assert (row.next_run.hour, row.next_run.minute) == (18, 0)  # the cron is UTC


def test_command_list_and_run(capsys):
    call_command("periodic", "run", "test_ok", "--json")
    out = json.loads(capsys.readouterr().out)
    assert (out["name"], out["outcome"], out["message"]) == ("test_ok", "ok", "处理 3 个")
    with pytest.raises(CommandError) as exc:
        call_command("periodic", "run", "test_fails")
    assert str(exc.value) == "定时任务 test_fails 运行失败：通道 ICBC 无法连接"
    assert capsys.readouterr().out == "test_fails：失败（" + capsys_seconds("test_fails") + " 秒）通道 ICBC 无法连接\n"
    with pytest.raises(CommandError) as exc:
        call_command("periodic", "run", "nope")
    assert "没有名为“nope”的定时任务" in str(exc.value)
    call_command("periodic", "list", "--json")
    listed = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["test_ok"]["last_outcome"] == "ok" and listed["test_fails"]["last_outcome"] == "failed"
    assert listed["test_ok"]["cron"] == "0 18 * * *"
    assert PeriodicRun.objects.filter(name="test_fails").get().message == "通道 ICBC 无法连接"


def capsys_seconds(name: str) -> str:
    run = PeriodicRun.objects.filter(name=name).latest("id")
    return str(round(run.duration.total_seconds(), 3))


def _user(username: str, *perms: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    user = get_user_model().objects.create_user(username=username, password="Xy!23456789", all_regions=True,
                                                must_change_password=False, password_changed_at=timezone.now())
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return get_user_model().objects.get(pk=user.pk)


def test_page_lists_the_schedules(client):
    periodic_run("test_fails")
    client.force_login(_user("it1", "accounts.it_ops"))
    page = client.get("/jobs/periodic/").content.decode()
    assert 'id="schedules-table"' in page and "test_fails" in page and "通道 ICBC 无法连接" in page
    client.force_login(_user("clerk9", "payroll.view_payrollrun"))
    assert client.get("/jobs/periodic/").status_code == 403
