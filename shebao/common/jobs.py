"""Background jobs: long work run by the Procrastinate worker, with progress a page can show.

How a job runs:

1. A view or service calls ``job_start(kind=…, title=…, params=…, user=…)``: one ``Job`` row (state
   排队中) and one Procrastinate job of the generic task ``shebao.common.tasks.run_job`` are written in
   the same transaction.
2. The worker runs ``job_run(job_id)``: it claims the row (排队中 → 运行中, a conditional update, so a
   retried task never runs a job twice), looks up the handler registered for ``kind`` and runs it
   inside ONE transaction: the handler's writes are all-or-nothing.
3. While the handler works, ``JobProgress`` writes done/total/message through a separate autocommit
   connection, so other sessions (the status page) see the progress although the handler's own
   transaction is still open.
4. The row ends 已完成 (with message and result, written in the handler's transaction, so the work
   and its 已完成 commit together) or 失败 (with the message; nothing of the handler's transaction is
   written). An unexpected exception shows as "任务失败（内部错误，编号 N）…" with the detail in the
   log under the job's id (the detail is shown only with DEBUG on); a ``JobError`` shows its message.

Robustness:

- **Where from.** ``job_start`` keeps the client IP and browser of the request that started it (the
  middleware's ``shebao.common.context``); the audit rows the handler writes carry that IP.
- **Heartbeat.** While running, ``Job.heartbeat_at`` is refreshed every ``JOB_HEARTBEAT_SECONDS``
  (default 10) through the progress side-connection, by a small thread that ticks also while one long
  SQL statement runs without progress.
- **Reaping.** ``jobs_reap(stale_after=…)`` marks running jobs whose heartbeat is older than the
  threshold (``JOB_STALE_AFTER_SECONDS``, default 120) as 失败: their worker died, PostgreSQL rolled
  their transaction back, nothing was written. It runs before every ``job_start_once`` check (so a dead
  job no longer blocks the month's workflow) and from ``shebao jobs reap``. A worker that was only
  slow and comes back finds its job no longer 运行中 and rolls back (the final state is written under
  the row's lock in the handler's transaction).
- **Retry.** ``job_retry(job=…, user=…)``: a fresh job with the same kind and params, for the creator
  of a failed job (the 重新发起 button of its page).

Handlers live in each app's ``jobs.py`` (discovered on first use) and look like::

    @register_job("payroll_compute")
    def payroll_compute_job(*, params, progress, user):
        progress.start(len(people), "计算中")
        …
        return JobOutcome(message="已计算 1,234 人", result={"run_id": run.pk})

The same handler runs synchronously from a management command with ``job_run_here`` and a
``CliProgress`` (a progress line on stderr).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from shebao.common.context import acting_from, current_ip, current_user_agent
from shebao.common.models import Job
from shebao.common.policy import Rule, check

log = logging.getLogger(__name__)


class JobError(Exception):
    """A job refused or failed for a reason the user should read; ``str()`` is the message (Chinese)."""


@dataclass
class JobOutcome:
    message: str = ""
    result: dict[str, Any] | None = field(default=None)


Handler = Callable[..., "JobOutcome | str | None"]


@dataclass(frozen=True)
class JobKind:
    kind: str
    handler: Handler
    title: str
    rule: Rule | None = None  # who may run it (the policy layer), checked again when the worker runs it
    scheme_param: str | None = None  # the params key naming the scheme the job works in, if any


_HANDLERS: dict[str, JobKind] = {}
_discovered = False
_discover_lock = threading.Lock()


def register_job(kind: str, *, title: str = "", rule: Rule | None = None,
                 scheme_param: str | None = None) -> Callable[[Handler], Handler]:
    """Register ``handler(*, params, progress, user)`` for jobs of this kind. ``rule`` is the policy
    rule its user must pass (``shebao.common.policy``), checked when the job runs — in the worker too,
    so a right taken away between the click and the run stops the job. Every kind names one (the
    authorization matrix test fails for a kind without it)."""

    def decorate(handler: Handler) -> Handler:
        existing = _HANDLERS.get(kind)
        if existing is not None and existing.handler is not handler and (
            existing.handler.__module__, existing.handler.__qualname__
        ) != (handler.__module__, handler.__qualname__):
            raise RuntimeError(f"job kind {kind!r} is already registered by {existing.handler!r}")
        _HANDLERS[kind] = JobKind(kind, handler, title or kind, rule, scheme_param)
        return handler

    return decorate


def job_kind(kind: str) -> JobKind:
    """The registered handler of a kind (each app's ``jobs`` module is imported on first use)."""
    global _discovered
    if kind not in _HANDLERS and not _discovered:
        with _discover_lock:
            if not _discovered:
                autodiscover_modules("jobs")
                _discovered = True
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise JobError(f"未知的任务类型：{kind}") from None


# ---------------------------------------------------------------------------------------------------
# Progress


class Progress:
    """How far a piece of work is. This base class only remembers; subclasses show it somewhere.

    ``start(total, message)`` → ``advance(n)`` … → (the runner calls ``finish``). Showing is throttled
    to one update per ``min_interval`` seconds; ``start``, ``note`` and ``flush`` always show.
    """

    min_interval = 0.5

    def __init__(self) -> None:
        self.done = 0
        self.total = 0
        self.message = ""
        self._shown_at = 0.0

    @property
    def percent(self) -> int:
        if not self.total:
            return 0
        return min(100, int(self.done * 100 / self.total))

    def start(self, total: int, message: str | None = None) -> None:
        self.total = max(0, int(total))
        self.done = 0
        if message is not None:
            self.message = message
        self.flush()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._maybe_show()

    def set(self, done: int, total: int | None = None, message: str | None = None) -> None:
        self.done = max(0, int(done))
        if total is not None:
            self.total = max(0, int(total))
        if message is not None:
            self.message = message
        self._maybe_show()

    def note(self, message: str) -> None:
        """Change the message (a new phase of the work)."""
        self.message = message
        self.flush()

    def flush(self) -> None:
        self._shown_at = time.monotonic()
        self.show()

    def finish(self, message: str | None = None) -> None:
        if self.total:
            self.done = self.total
        if message is not None:
            self.message = message
        self.flush()

    def close(self) -> None:
        """Release what showing needed (a connection, a terminal line)."""

    def _maybe_show(self) -> None:
        if time.monotonic() - self._shown_at >= self.min_interval:
            self.flush()

    def show(self) -> None:
        """Override: put the current state where someone can see it."""


class NullProgress(Progress):
    """Progress nobody watches (tests, quiet commands)."""


class CliProgress(Progress):
    """A progress line on stderr (rewritten in place on a terminal, one line per update otherwise)."""

    def __init__(self, stream: TextIO | None = None, *, prefix: str = "") -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.prefix = prefix
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = 0.2 if self.tty else 2.0
        self._width = 0
        self._open_line = False
        self._t0 = time.monotonic()

    def line(self) -> str:
        parts = [self.prefix + self.message if self.prefix else self.message]
        if self.total:
            parts.append(f"{self.done:,}/{self.total:,} ({self.percent}%)")
        elif self.done:
            parts.append(f"{self.done:,}")
        parts.append(f"{time.monotonic() - self._t0:.1f}s")
        return "  ".join(p for p in parts if p)

    def show(self) -> None:
        text = self.line()
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
            self._open_line = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


def _side_connection():
    """A new autocommit psycopg connection to the same database as Django's default (the test
    database during tests), used only for progress writes."""
    import psycopg

    s = connection.settings_dict
    kwargs = {
        "dbname": s["NAME"],
        "user": s.get("USER") or None,
        "password": s.get("PASSWORD") or None,
        "host": s.get("HOST") or None,
        "port": s.get("PORT") or None,
        "application_name": "shebao-job-progress",
        "connect_timeout": 5,
    }
    side = psycopg.connect(**{k: v for k, v in kwargs.items() if v is not None}, autocommit=True)
    # A progress write must never wait on a lock held by the job's own transaction.
    side.execute("SET lock_timeout = '1s'")
    side.execute("SET statement_timeout = '5s'")
    return side


def heartbeat_seconds() -> float:
    return float(getattr(settings, "JOB_HEARTBEAT_SECONDS", 10))


def stale_after_default() -> dt.timedelta:
    return dt.timedelta(seconds=float(getattr(settings, "JOB_STALE_AFTER_SECONDS", 120)))


class JobProgress(Progress):
    """Progress of a ``Job`` row, written through a separate autocommit connection so it is visible
    while the handler's transaction is still open. Failures to write progress never fail the job.

    Every write also refreshes ``heartbeat_at``; between writes a small thread (``start_heartbeat``)
    beats every ``heartbeat_seconds()``, so a job busy in one long statement still shows it is alive."""

    min_interval = 0.5

    def __init__(self, job_id: int, *, side_connection: bool = True) -> None:
        super().__init__()
        self.job_id = job_id
        self._use_side = side_connection
        self._conn = None
        self._lock = threading.Lock()  # the side connection is shared by the handler and the ticker
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _execute(self, sql: str, params: list) -> None:
        with self._lock:
            if not self._use_side:
                return
            try:
                if self._conn is None:
                    self._conn = _side_connection()
                self._conn.execute(sql, params)
            except Exception:  # progress is best-effort; the job's outcome is written by job_run
                log.warning("could not write progress of job %s", self.job_id, exc_info=True)
                self._close_conn()
                self._use_side = False

    def show(self) -> None:
        self._execute(
            "UPDATE common_job SET done = %s, total = %s, message = %s, heartbeat_at = now() "
            "WHERE id = %s AND state = %s",
            [self.done, self.total, self.message[:2000], self.job_id, Job.State.RUNNING],
        )

    def beat(self) -> None:
        self._execute("UPDATE common_job SET heartbeat_at = now() WHERE id = %s AND state = %s",
                      [self.job_id, Job.State.RUNNING])

    def start_heartbeat(self, interval: float | None = None) -> None:
        if not self._use_side or self._ticker is not None:
            return
        every = heartbeat_seconds() if interval is None else interval

        def tick() -> None:
            while not self._stop.wait(every):
                self.beat()

        self._ticker = threading.Thread(target=tick, name=f"job-{self.job_id}-heartbeat", daemon=True)
        self._ticker.start()

    def _close_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        self._stop.set()
        self._use_side = False
        if self._ticker is not None:
            self._ticker.join(timeout=10)
            self._ticker = None
        with self._lock:
            self._close_conn()


# ---------------------------------------------------------------------------------------------------
# Services


def job_start(*, kind: str, title: str, params: dict[str, Any] | None, user, retry_of: Job | None = None) -> Job:
    """Queue a job: the ``Job`` row and the Procrastinate job are written in one transaction, so the
    worker never sees a job without its row (nor a row without its job). The client IP and browser of
    the request being served (if any) are kept on the job, for the audit rows it writes."""
    from shebao.common.tasks import run_job

    job_kind(kind)  # an unknown kind is refused now, not later in the worker
    with transaction.atomic():
        job = Job.objects.create(kind=kind, title=title[:200], params=params or {}, created_by=user,
                                 client_ip=current_ip()[:64], user_agent=current_user_agent()[:300],
                                 retry_of=retry_of)
        run_job.defer(job_id=job.pk)
    return job


ACTIVE = (Job.State.QUEUED, Job.State.RUNNING)


def job_active(*, kinds: Iterable[str] | None, keys: Iterable[str]) -> Job | None:
    """The first queued or running job of one of these kinds (None: any kind) holding one of these
    keys, if any. Dead jobs are reaped first (``jobs_reap``): a job whose worker died does not count."""
    jobs_reap()
    holds = Q()
    for key in keys:
        holds |= Q(params__keys__contains=[key])
    qs = Job.objects.select_related("created_by").filter(holds, state__in=ACTIVE)
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    return qs.order_by("pk").first()


def job_start_once(*, kind: str, keys: Iterable[str], title: str, params: dict, user,
                   same_as: Iterable[str] | None = (), retry_of: Job | None = None) -> tuple[Job, bool]:
    """Start a job of ``kind`` holding ``keys`` (e.g. the runs it works on) unless a job of ``kind``
    (or of the ``same_as`` kinds; ``same_as=None``: of any kind) holding one of them is still queued or
    running: → (the job, True if it was started now). The check and the start hold a transaction-level
    advisory lock per key, so two clicks at once start one job."""
    keys = sorted(set(keys))
    with transaction.atomic():
        with connection.cursor() as cursor:
            for key in keys:  # in one order, so two starts never wait on each other crosswise
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"shebao.job:{key}"])
        kinds = None if same_as is None else [kind, *same_as]
        existing = job_active(kinds=kinds, keys=keys)
        if existing is not None:
            return existing, False
        return job_start(kind=kind, title=title, params={**params, "keys": keys}, user=user, retry_of=retry_of), True


REAPED_MESSAGE = "后台进程已中断，任务未完成，未写入任何数据；可重新发起"


def jobs_reap(*, stale_after: dt.timedelta | None = None) -> list[int]:
    """Mark 失败 every running job whose heartbeat (or start, before its first beat) is older than
    ``stale_after``: its worker is gone and PostgreSQL rolled its transaction back, so nothing of it was
    written. → the ids reaped (oldest first). A conditional update: a job finishing meanwhile is left alone."""
    stale_after = stale_after_default() if stale_after is None else stale_after
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE common_job SET state = %s, message = %s, finished_at = now() "
            "WHERE state = %s AND COALESCE(heartbeat_at, started_at, created_at) < now() - %s "
            "RETURNING id",
            [Job.State.FAILED, REAPED_MESSAGE, Job.State.RUNNING, stale_after],
        )
        reaped = sorted(row[0] for row in cursor.fetchall())
    for job_id in reaped:
        log.warning("job %s reaped: no heartbeat for %s", job_id, stale_after)
    return reaped


class JobRetryError(JobError):
    """A retry that cannot be made (not failed, not the creator's, another job holds the same work)."""


def job_retry(*, job: Job, user) -> Job:
    """Start a fresh job with the same kind and params as a failed one, for the user who started it.
    The new job holds the same keys, so it is refused while another job does the same work."""
    if job.state != Job.State.FAILED:
        raise JobRetryError("只有失败的任务可以重新发起")
    if job.created_by_id != getattr(user, "pk", None):
        raise JobRetryError("只有任务的发起人可以重新发起")
    params = {k: v for k, v in (job.params or {}).items() if k != "keys"}
    keys = (job.params or {}).get("keys") or []
    with transaction.atomic():
        Job.objects.select_for_update().filter(pk=job.pk).first()  # one retry at a time (a double click)
        earlier = Job.objects.filter(retry_of=job).order_by("pk").first()
        if earlier is not None:
            raise JobRetryError(f"该任务已重新发起（任务 {earlier.pk}），请查看该任务")
        if not keys:
            return job_start(kind=job.kind, title=job.title, params=params, user=user, retry_of=job)
        new, started = job_start_once(kind=job.kind, keys=keys, title=job.title, params=params, user=user,
                                      same_as=None, retry_of=job)
        if not started:
            raise JobRetryError(f"任务 {new.pk}（{new.title}）正在处理同一批数据，请等它结束后再重新发起")
        return new


def _outcome(value: JobOutcome | str | None) -> JobOutcome:
    if isinstance(value, JobOutcome):
        return value
    return JobOutcome(message=value or "")


def _failure_message(exc: BaseException, *, job_id: int | None = None) -> str:
    """What the user reads of a failure. A ``JobError`` is its message. Anything else is an internal
    error: with DEBUG off only its reference (the job's id; the detail is in the log under it)."""
    if isinstance(exc, JobError):
        return str(exc)
    if job_id is not None and not settings.DEBUG:
        return f"任务失败（内部错误，编号 {job_id}）；未写入任何数据，请联系信息科"
    return f"任务运行出错（{type(exc).__name__}）：{exc}。已执行的修改全部撤销，请联系信息科。"


class _NoLongerRunning(JobError):
    """The job was reaped (or otherwise ended) while its handler ran: its work is rolled back."""


def job_run(job_id: int) -> Job | None:
    """Run a queued job to its end (the worker's task body). Returns the finished job, or None when
    the job was not queued (already run, or unknown): running it twice never applies it twice."""
    claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(), message=""
    )
    if not claimed:
        log.warning("job %s is not queued; not run again", job_id)
        return None
    job = Job.objects.select_related("created_by").get(pk=job_id)
    # Inside an outer transaction (a test) the side connection would wait on our own row lock.
    progress = JobProgress(job.pk, side_connection=not connection.in_atomic_block)
    progress.start_heartbeat()
    try:
        handler = _authorized_handler(job.kind, job.params, job.created_by)
        with acting_from(job.client_ip, job.user_agent), transaction.atomic():
            outcome = _outcome(handler(params=job.params, progress=progress, user=job.created_by))
            progress.close()  # no progress write may wait on the row lock taken next
            # The outcome commits with the work, under the row's lock: a job reaped meanwhile (its
            # worker thought dead) rolls back instead of writing behind its 失败.
            if not Job.objects.select_for_update().filter(pk=job.pk, state=Job.State.RUNNING).exists():
                raise _NoLongerRunning(REAPED_MESSAGE)
            total = progress.total or progress.done
            Job.objects.filter(pk=job.pk).update(
                state=Job.State.DONE, message=outcome.message or progress.message, result=outcome.result,
                done=total, total=total, finished_at=timezone.now(), heartbeat_at=timezone.now(),
            )
    except _NoLongerRunning:
        log.warning("job %s ended while its handler ran (reaped); its work was rolled back", job.pk)
    except Exception as exc:
        if not isinstance(exc, JobError):
            log.exception("job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
            state=Job.State.FAILED, message=_failure_message(exc, job_id=job.pk), finished_at=timezone.now(),
            done=progress.done, total=progress.total,
        )
    finally:
        progress.close()
    job.refresh_from_db()
    return job


def job_run_here(
    kind: str, params: dict[str, Any] | None = None, *, user=None, progress: Progress | None = None
) -> JobOutcome:
    """Run a job's handler synchronously in this process (management commands, cron): the same
    transaction rule, progress on stderr by default. Raises ``JobError`` with the message on failure."""
    handler = _authorized_handler(kind, params or {}, user)
    progress = progress if progress is not None else CliProgress()
    try:
        with transaction.atomic():
            outcome = _outcome(handler(params=params or {}, progress=progress, user=user))
        progress.finish(outcome.message or None)
    except JobError:
        raise
    except Exception as exc:
        raise JobError(_failure_message(exc)) from exc
    finally:
        progress.close()
    return outcome


def _authorized_handler(kind: str, params: dict[str, Any], user) -> Handler:
    """The kind's handler once ``user`` passes its rule; ``JobError`` with the policy's reason otherwise.
    A command run without ``--as`` (user None) is the operator at the console: kinds that allow it
    take no user; every web job has one."""
    spec = job_kind(kind)
    if spec.rule is not None and user is not None:
        scheme = params.get(spec.scheme_param) if spec.scheme_param else None
        try:
            check(user, spec.rule, scheme=scheme)
        except PermissionDenied as exc:
            raise JobError(str(exc)) from None
    return spec.handler


def job_visible_to(job: Job, user) -> bool:
    """The creator sees a job; so do IT staff (信息运维)."""
    if not user.is_authenticated:
        return False
    return job.created_by_id == user.pk or user.has_perm("accounts.it_ops")


def job_get(*, user, pk: int) -> Job | None:
    job = Job.objects.select_related("created_by").filter(pk=pk).first()
    if job is None or not job_visible_to(job, user):
        return None
    return job


# --------------------------------------------------------------------------------------------------
# progress by stage: a service reports each stage as it starts (its ``progress`` callback, called with
# the stage's key); the job names the stages for the person watching


@dataclass(frozen=True)
class Stage:
    """A step of a service's work as its job shows it: ``label`` from the moment the service reports
    ``key`` (the first stage, shown before the service is called, has none). A key ending in ":" is
    started by every key it begins ("file:" by "file:ICBC")."""

    label: str
    key: str = ""

    def starts(self, key: str) -> bool:
        return bool(self.key) and (key == self.key or (self.key.endswith(":") and key.startswith(self.key)))


class Stages:
    """The callback a job hands to a service as its ``progress``: done = the stage's index, total = the
    number of stages, message = its label. Made at the first stage (shown at once). Forward only: a key
    of a LATER stage moves there; any other key (an earlier stage, one the job does not name) changes
    nothing — at worst a label shows late, never a different result."""

    def __init__(self, progress: Progress, stages: Iterable[Stage]) -> None:
        self.progress = progress
        self.stages = list(stages)
        self.current = 0
        self._enter(0)

    def _enter(self, index: int) -> None:
        self.current = index
        self.progress.done, self.progress.total = index, len(self.stages)
        self.progress.note(self.stages[index].label)  # shown at once (one write)

    def __call__(self, key: str) -> None:
        for index in range(self.current + 1, len(self.stages)):
            if self.stages[index].starts(key):
                self._enter(index)
                return
