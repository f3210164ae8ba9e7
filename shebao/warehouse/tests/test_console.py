"""The query service's engine: a read-only role that sees the warehouse schema only."""

from __future__ import annotations

import pytest

from shebao.accounts.tests.factories import make_user
from shebao.common.models import AuditEvent
from shebao.warehouse.console import ConsoleError, run_sql
from shebao.warehouse.models import ConsoleRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def it(db):
    return make_user("wh_it", roles=("it_admin",), all_regions=True)


def test_a_select_runs_with_a_row_limit_and_is_recorded(it):
    result = run_sql(query="SELECT g AS n, 'x%' AS t FROM generate_series(1, 30) g", user=it, limit=10)
    assert result.columns == ["n", "t"] and len(result.rows) == 10 and result.truncated
    assert result.rows[0] == (1, "x%")
    run = ConsoleRun.objects.get()
    assert run.rows == 10 and run.error == ""
    assert AuditEvent.objects.filter(action="warehouse.query").count() == 1


@pytest.mark.parametrize("query,message", [
    ("CREATE TABLE warehouse.evil (x int)", "只能查询，不能修改数据"),
    ("SELECT 1; DELETE FROM accounts_user", "查询出错"),
    ("WITH d AS (DELETE FROM accounts_user RETURNING 1) SELECT * FROM d", "无权读取|只能查询"),
])
def test_writes_are_refused(it, query, message):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.count()
    with pytest.raises(ConsoleError, match=message):
        run_sql(query=query, user=it)
    assert get_user_model().objects.count() == users
    assert ConsoleRun.objects.get().error


def test_a_large_object_is_never_left_behind(it):
    """``lo_create`` writes outside any schema: PostgreSQL 16 refuses it in a READ ONLY transaction, 15 lets
    it through — the console never commits, so either way nothing is left."""
    from django.db import connection

    def objects() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_largeobject_metadata")
            return cursor.fetchone()[0]

    before = objects()
    try:
        run_sql(query="SELECT lo_create(0)", user=it)
    except ConsoleError as exc:
        assert "只能查询，不能修改数据" in str(exc)
    assert objects() == before


@pytest.mark.parametrize("query", [
    "SELECT * FROM accounts_user",
    "SELECT * FROM public.django_session",
    "SELECT set_config('role', current_setting('is_superuser'), false), (SELECT count(*) FROM accounts_user)",
])
def test_cannot_read_the_applications_tables(it, query):
    with pytest.raises(ConsoleError, match="无权读取|查询出错"):
        run_sql(query=query, user=it)


def test_cannot_become_another_role(it):
    from django.db import connection

    owner = connection.settings_dict["USER"]
    with pytest.raises(ConsoleError):
        run_sql(query=f"SELECT set_config('role', '{owner}', false)", user=it)
    with pytest.raises(ConsoleError):
        run_sql(query=f"SET ROLE {owner}", user=it)
    assert run_sql(query="SELECT current_user, session_user", user=it).rows == [("shebao_wh_reader",) * 2]


def test_a_long_query_is_stopped(it):
    with pytest.raises(ConsoleError, match="查询超时，已被终止"):
        run_sql(query="SELECT pg_sleep(5)", user=it, timeout_ms=300)
    assert ConsoleRun.objects.get().seconds < 3
