"""One SQL statement run on the current transaction's connection while the caller goes on in Python.

A bulk step often has two halves that do not need each other: PostgreSQL writing rows (an INSERT …
SELECT of 80,000 file lines, ~0.3 s of the server's CPU) and Python formatting the same rows into a file
(~0.15 s of this process's CPU). One after the other they take the sum; with the statement sent first
and its result collected after the Python half, the two run on the machine's two cores and take the
longer of the two.

``statement_meanwhile(sql, params)`` sends the statement from a helper thread through the psycopg
connection under Django's (the same session, so the same transaction: it sees the caller's uncommitted
rows and is committed or rolled back with them) and yields ``done()``, which waits for it and returns
its row count and rows (``Finished``), or raises its error as Django's database error. The helper spends its time waiting on
the socket (psycopg releases the GIL there), so it does not slow the Python half. While it runs the
caller must not send anything to the database (psycopg's connection lock would only make it wait for
the statement, but nothing should rely on that); reading the rows of a statement it ran before is fine
— they are already in this process, and psycopg connections may be shared between threads, cursors
not (each thread here has its own). On leaving the block the statement is always waited for,
whatever happened inside it: the connection is idle again before anything else (a rollback) uses it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from django.db import connection


class Finished(NamedTuple):
    rowcount: int
    rows: list  # the statement's rows (empty when it returns none)


@contextmanager
def statement_meanwhile(sql: str, params: Sequence | dict) -> Iterator[Callable[[], Finished]]:
    """Run ``sql`` with ``params`` in the current transaction while the block runs (see the module
    docstring). Yields ``done() -> Finished``. Must be called inside ``transaction.atomic()``."""
    if not connection.in_atomic_block:
        raise RuntimeError("statement_meanwhile needs the caller's transaction (transaction.atomic)")
    connection.ensure_connection()
    raw = connection.connection
    outcome: dict = {}

    def run() -> None:
        try:
            with raw.cursor() as cursor:
                cursor.execute(sql, params)
                outcome["done"] = Finished(cursor.rowcount, cursor.fetchall() if cursor.description else [])
        except BaseException as exc:  # handed to the caller's thread by done()
            outcome["error"] = exc

    helper = threading.Thread(target=run, name="statement-meanwhile", daemon=True)
    helper.start()

    def done() -> Finished:
        helper.join()
        if "error" in outcome:
            with connection.wrap_database_errors:
                raise outcome.pop("error")
        return outcome["done"]

    try:
        yield done
    finally:
        helper.join()
