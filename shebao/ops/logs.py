"""A logging handler that counts application errors for the inspection (``AppError`` rows): attached to
``django.request`` (unhandled exceptions, answered 500) and ``shebao`` (a job's internal error …) at
ERROR level in ``config/settings.py``. It never raises: a failure to record is only lost."""

from __future__ import annotations

import logging


class AppErrorHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from django.db import connection
            from django.utils import timezone

            if connection.in_atomic_block and connection.needs_rollback:
                return  # inside a broken transaction: nothing can be written now
            from shebao.ops.models import AppError

            AppError.objects.create(at=timezone.now(), logger=record.name[:100],
                                    message=record.getMessage()[:500])
        except Exception:  # noqa: BLE001 (a log handler must never break the caller)
            pass
