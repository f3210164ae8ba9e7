"""The every-minute link probe no longer crowds the 定时任务 page: routine runs of a quiet schedule fold
into one row an hour; a failure, a non-routine run (a failed probe) and the first run after either keep
their own rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F
from django.urls import reverse

from shebao.common.models import PeriodicRun
from shebao.common.periodic import PeriodicError, Routine, periodic, periodic_run

pytestmark = pytest.mark.django_db

NEXT: list = []


@periodic("test_quiet_fold", cron="* * * * *", title="测试：安静的计划", worker=False, quiet=True)
def quiet_schedule():
    outcome = NEXT.pop(0)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def runs() -> list[tuple]:
    return list(PeriodicRun.objects.filter(name="test_quiet_fold").order_by("started_at", "id")
                .values_list("outcome", "repeats", "message"))


def test_routine_runs_fold_into_one_row_an_hour_and_failures_stay():
    NEXT[:] = [Routine("探测 1 个目标，失败 0 个")] * 3 + ["探测 1 个目标，失败 1 个",
               PeriodicError("数据库连接失败"), Routine("探测 2 个目标，失败 0 个"), Routine("没有到期的目标")]
    for _ in range(7):
        periodic_run("test_quiet_fold")
    assert runs() == [
        ("ok", 2, "探测 1 个目标，失败 0 个"),         # three routine runs, one row
        ("ok", 0, "探测 1 个目标，失败 1 个"),         # a failed probe: its own row
        ("failed", 0, "数据库连接失败"),              # a failure: its own row
        ("ok", 1, "没有到期的目标"),                   # routine again: a new row, the latest message
    ]
    last = PeriodicRun.objects.filter(name="test_quiet_fold").order_by("-started_at", "-id").first()
    assert last.routine and last.repeated_until >= last.started_at
    # an hour later the next routine run starts a new row
    PeriodicRun.objects.filter(name="test_quiet_fold").update(started_at=F("started_at") - dt.timedelta(minutes=61))
    NEXT[:] = [Routine("没有到期的目标")] * 2
    periodic_run("test_quiet_fold")
    periodic_run("test_quiet_fold")
    assert [r[:2] for r in runs()][-2:] == [("ok", 1), ("ok", 1)]  # the old stretch, and a new one of two


def test_the_probe_schedule_is_quiet_and_says_when_a_probe_failed():
    from shebao.ops.models import LinkTarget
    from shebao.ops.tests.helpers import closed_port

    assert periodic_run("ops_link_probe").routine  # nothing due: routine
    LinkTarget.objects.create(name="关着的端口", owner="internal", kind="tcp", host="127.0.0.1", port=closed_port(),
                              timeout_seconds=1, interval_seconds=10)
    run = periodic_run("ops_link_probe")
    assert (run.routine, run.message) == (False, "探测 1 个目标，失败 1 个")


def test_the_periodic_page_shows_a_folded_row_with_its_count(client):
    from shebao.accounts.tests.factories import make_user

    NEXT[:] = [Routine("一切正常")] * 4
    for _ in range(4):
        periodic_run("test_quiet_fold")
    client.force_login(make_user("per_it", roles=("it_admin",)))
    page = client.get(reverse("jobs:periodic")).content.decode()
    assert page.count("一切正常") == 2 and "共 4 次" in page  # the schedule's last run and one recent row
