"""Periodic jobs: work the system does on its own on a schedule (the first: picking up the banks'
return files), run by the Procrastinate worker (``shebao procrastinate worker``; ``make run`` starts
one) — no cron to install.

A schedule is declared in an app's ``tasks`` module (found by Procrastinate's autodiscovery in every
process, so the web process lists what the worker runs)::

    @periodic("bank_return_pickup", cron="*/10 * * * *", title="接收银行回盘")
    def bank_return_pickup() -> str:
        ...
        return "导入 2 个"          # the run's message; raise PeriodicError("…") to record a failure

Each run is recorded (``PeriodicRun``: start, end, outcome, message) whether it succeeds or fails; a
run that finds the previous one of the same schedule still going is recorded as skipped and does
nothing (a PostgreSQL advisory lock per schedule, so two workers never run one schedule at once).
``shebao periodic list`` shows the schedules, ``shebao periodic run NAME`` runs one now by hand (the
same code, recorded the same way, trigger 手动).

Cron expressions are read by Procrastinate in UTC (``0 18 * * *`` is 02:00 in 慈溪); the schedules
page shows the next run in local time."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from shebao.common.models import PeriodicRun

log = logging.getLogger(__name__)

_LOCK_BASE = 7_302_000_000  # + crc32(name): the advisory lock of one schedule


class PeriodicError(Exception):
    """A periodic run failed for a reason worth reading; ``str()`` is the message (Chinese)."""


class Routine(str):
    """The message of a run with nothing to note (a quiet schedule returns it): such a run of a schedule
    declared ``quiet=True`` is folded into the routine run before it when that one started within
    ``FOLD`` — so an every-minute schedule keeps one row an hour, and every failure, skip or non-routine
    run (a change) its own row."""


FOLD = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str  # five fields (minute hour day month weekday), UTC
    title: str
    func: Callable[[], str | None]
    quiet: bool = False

    def next_run(self, after: dt.datetime | None = None) -> dt.datetime:
        """The next time the worker will start it (Procrastinate's own computation: UTC timestamps)."""
        import croniter

        start = (after or timezone.now()).timestamp()
        nxt = croniter.croniter(self.cron).get_next(ret_type=float, start_time=start)
        return dt.datetime.fromtimestamp(nxt, tz=dt.UTC)


_SCHEDULES: dict[str, Schedule] = {}
_discovered = False
_discover_lock = threading.Lock()


def periodic(name: str, *, cron: str, title: str, worker: bool = True, quiet: bool = False):
    """Declare ``func`` as the schedule ``name``. ``worker=False`` keeps it off the Procrastinate
    worker (runnable by hand only: tests). ``quiet=True``: its ``Routine`` runs are folded (see ``Routine``)."""

    def decorate(func: Callable[[], str | None]):
        import croniter

        if not croniter.croniter.is_valid(cron):
            raise ValueError(f"schedule {name!r}: invalid cron {cron!r}")
        existing = _SCHEDULES.get(name)
        if existing is not None and (existing.func.__module__, existing.func.__qualname__) != (
                func.__module__, func.__qualname__):
            raise RuntimeError(f"schedule {name!r} is already declared by {existing.func!r}")
        _SCHEDULES[name] = Schedule(name, cron, title, func, quiet)
        if worker and existing is None:
            _register_with_worker(name, cron)
        return func

    return decorate


def _register_with_worker(name: str, cron: str) -> None:
    from procrastinate.contrib.django import app

    def run_scheduled(timestamp: int) -> None:
        # the worker runs sync tasks in threads: fresh connections around each run (never inside a
        # caller's transaction, e.g. a test calling the task directly)
        fresh = not connection.in_atomic_block
        if fresh:
            close_old_connections()
        try:
            periodic_run(name, trigger=PeriodicRun.Trigger.SCHEDULE)
        finally:
            if fresh:
                close_old_connections()

    run_scheduled.__name__ = run_scheduled.__qualname__ = f"periodic_{name}"
    task = app.task(name=task_name(name), pass_context=False)(run_scheduled)
    app.periodic(cron=cron, periodic_id=name)(task)


def task_name(name: str) -> str:
    return f"shebao.periodic.{name}"


def schedules() -> dict[str, Schedule]:
    """Every declared schedule (each app's ``tasks`` module imported on first use), by name."""
    global _discovered
    if not _discovered:
        with _discover_lock:
            if not _discovered:
                autodiscover_modules("tasks")
                _discovered = True
    return dict(sorted(_SCHEDULES.items()))


def schedule_get(name: str) -> Schedule:
    found = schedules().get(name)
    if found is None:
        known = "、".join(schedules()) or "（无）"
        raise PeriodicError(f"没有名为“{name}”的定时任务（现有：{known}）")
    return found


def periodic_run(name: str, *, trigger: str = PeriodicRun.Trigger.MANUAL) -> PeriodicRun:
    """Run a schedule once now and record it: 成功 with the function's message, 失败 with the error's
    message (the function's own transactions decide what was kept), or 跳过 when the schedule is still
    running elsewhere."""
    spec = schedule_get(name)
    run = PeriodicRun.objects.create(name=name, trigger=trigger, started_at=timezone.now())
    key = _LOCK_BASE + zlib.crc32(name.encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        locked = cursor.fetchone()[0]
    if not locked:
        _finish(run, PeriodicRun.Outcome.SKIPPED, "上一次运行尚未结束，本次未执行")
        return run
    try:
        message = spec.func()
    except PeriodicError as exc:
        _finish(run, PeriodicRun.Outcome.FAILED, str(exc))
    except Exception as exc:
        log.exception("periodic %s failed", name)
        _finish(run, PeriodicRun.Outcome.FAILED, f"运行出错（{type(exc).__name__}）：{exc}")
    else:
        _finish(run, PeriodicRun.Outcome.OK, message or "")
        if spec.quiet and isinstance(message, Routine):
            run = _fold(run)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
    return run


def _finish(run: PeriodicRun, outcome: str, message: str) -> None:
    run.outcome = outcome
    run.message = message[:5000]
    run.finished_at = timezone.now()
    PeriodicRun.objects.filter(pk=run.pk).update(outcome=outcome, message=run.message, finished_at=run.finished_at)


def _fold(run: PeriodicRun) -> PeriodicRun:
    """A routine run of a quiet schedule: into the routine run before it when that one started within
    ``FOLD`` (its count and end time grow, its message is the latest; this run's row goes), else kept as
    the first routine run of a new stretch."""
    previous = (PeriodicRun.objects.filter(name=run.name).exclude(pk=run.pk).order_by("-started_at", "-id").first())
    if (previous is not None and previous.routine and previous.outcome == PeriodicRun.Outcome.OK
            and previous.started_at >= run.started_at - FOLD):
        PeriodicRun.objects.filter(pk=previous.pk).update(
            repeats=F("repeats") + 1, repeated_until=run.finished_at, message=run.message)
        PeriodicRun.objects.filter(pk=run.pk).delete()
        previous.refresh_from_db()
        return previous
    PeriodicRun.objects.filter(pk=run.pk).update(routine=True)
    run.routine = True
    return run


@dataclass
class ScheduleRow:
    schedule: Schedule
    last: PeriodicRun | None
    next_run: dt.datetime


def schedule_rows() -> list[ScheduleRow]:
    """Each schedule with its last run and next start (the schedules page and ``shebao periodic list``)."""
    rows = []
    now = timezone.now()
    for name, spec in schedules().items():
        last = PeriodicRun.objects.filter(name=name).order_by("-started_at", "-id").first()
        rows.append(ScheduleRow(spec, last, spec.next_run(now)))
    return rows
