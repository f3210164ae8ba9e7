"""Procrastinate tasks of the common app (discovered by procrastinate.contrib.django: ``tasks`` modules).

One generic task runs every ``Job``; what it does is the handler registered for the job's kind
(``shebao.common.jobs.register_job``). Start the worker with ``manage.py procrastinate worker``
(``make worker``; ``make run`` starts one).
"""

from __future__ import annotations

from django.db import close_old_connections, connection
from procrastinate.contrib.django import app

from shebao.common.jobs import job_run, jobs_reap
from shebao.common.periodic import periodic


@app.task(name="shebao.run_job")
def run_job(job_id: int) -> None:
    # The worker runs sync tasks in threads: drop stale connections around each job (never inside a
    # caller's transaction, e.g. a test calling the task directly).
    fresh = not connection.in_atomic_block
    if fresh:
        close_old_connections()
    try:
        job_run(job_id)
    finally:
        if fresh:
            close_old_connections()


@periodic("jobs_reap", cron="*/5 * * * *", title="清理中断的后台任务（心跳超时标为失败）")
def jobs_reap_schedule() -> str:
    """Every 5 minutes: running jobs whose worker died (no heartbeat for ``JOB_STALE_AFTER_SECONDS``)
    are marked 失败 — nothing of them was written — so their month's workflow is not blocked until
    someone opens a page (``job_start_once``/``job_active`` reap too)."""
    reaped = jobs_reap()
    return f"已将 {len(reaped)} 个中断的任务标为失败" if reaped else "没有中断的任务"
