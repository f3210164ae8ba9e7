"""``common.meanwhile``: a statement run from a helper thread is part of the caller's transaction (it sees
the caller's uncommitted rows, its rows go with the caller's rollback), really runs while the caller
works, gives its rows and count back, and its error reaches the caller as Django's database error with
the connection idle again."""

from __future__ import annotations

import time

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from shebao.common.meanwhile import statement_meanwhile

pytestmark = pytest.mark.django_db(transaction=True)


def _table(cursor) -> None:
    cursor.execute("DROP TABLE IF EXISTS meanwhile_t")
    cursor.execute("CREATE TABLE meanwhile_t (n int PRIMARY KEY)")


def _count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM meanwhile_t")
        return cursor.fetchone()[0]


@pytest.fixture
def table():
    with connection.cursor() as cursor:
        _table(cursor)
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS meanwhile_t")


def test_in_the_callers_transaction_and_rolled_back_with_it(table):
    class Stop(Exception):
        pass

    with pytest.raises(Stop), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO meanwhile_t SELECT generate_series(1, 10)")  # not committed
        with statement_meanwhile("INSERT INTO meanwhile_t SELECT n + 10 FROM meanwhile_t RETURNING n",
                                 []) as done:
            finished = done()
        assert finished.rowcount == 10  # it saw the caller's 10 uncommitted rows
        assert sorted(r[0] for r in finished.rows) == list(range(11, 21))
        assert _count() == 20
        raise Stop
    assert _count() == 0  # both halves rolled back together


def test_the_statement_runs_while_the_caller_works(table):
    with transaction.atomic():
        t0 = time.perf_counter()
        with statement_meanwhile("SELECT pg_sleep(1.0), 1", []) as done:
            time.sleep(1.0)  # the caller's half
            finished = done()
        elapsed = time.perf_counter() - t0
    assert [r[1] for r in finished.rows] == [1]
    assert elapsed < 1.6  # one after the other would take 2.0 s; together ≈ 1.0 s (room for a loaded machine)


def test_a_statement_without_rows_gives_its_count(table):
    with transaction.atomic(), statement_meanwhile("INSERT INTO meanwhile_t VALUES (1), (2), (3)", []) as done:
        assert done() == (3, [])
    assert _count() == 3


def test_its_error_reaches_the_caller_and_nothing_is_written(table):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO meanwhile_t VALUES (1)")
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO meanwhile_t VALUES (2)")
        with statement_meanwhile("INSERT INTO meanwhile_t VALUES (1)", []) as done:  # duplicate key
            done()
    assert _count() == 1  # the caller's row 2 went with the failed transaction
    with connection.cursor() as cursor:  # the connection is usable again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_leaving_the_block_waits_for_the_statement(table):
    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic(), statement_meanwhile("SELECT pg_sleep(0.3)", []):
        raise Refused  # e.g. a refused file: the statement is waited for before the rollback
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_refused_outside_a_transaction():
    with pytest.raises(RuntimeError, match="transaction"), statement_meanwhile("SELECT 1", []):
        pass  # pragma: no cover


def test_a_database_error_is_djangos(table):
    with (pytest.raises(DatabaseError), transaction.atomic(),
          statement_meanwhile("SELECT * FROM no_such_table_here", []) as done):
        done()
