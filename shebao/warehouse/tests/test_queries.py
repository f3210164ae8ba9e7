"""Saved SQL queries made from a form (IT): checked as the read-only role before they are saved (EXPLAIN,
never run), audited, once; the roles that may run one see it, the others find nothing (404).

The read-only role works on a connection of its own, which does not see what a test's transaction made:
the queries read generated rows, or the application's committed tables (to be refused)."""

from __future__ import annotations

import pytest
from django.test import Client

from shebao.common.models import AuditEvent
from shebao.warehouse.models import ConsoleRun, SavedQuery
from shebao.web.tests.helpers import make_user, once

pytestmark = pytest.mark.django_db

SQL = "SELECT g AS n, (ARRAY['张三', '李四'])[g] AS name FROM generate_series(1, 2) g WHERE g = %(code)s::int"
PEOPLE = "(VALUES ('张三'), ('李四')) v(name)"


@pytest.fixture
def it(db):
    return make_user("wh_it", roles=("it_admin",), all_regions=True)


def client(user) -> Client:
    c = Client()
    c.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    return c


def written() -> tuple:
    return SavedQuery.objects.count(), AuditEvent.objects.count(), ConsoleRun.objects.count()


def test_it_saves_a_checked_query_once_and_the_named_role_runs_it(it):
    c = client(it)
    data = once({"name": "按编号查人", "description": "省人员", "sql": SQL + ";", "labels": "code=个人编号",
                 "roles": ["reviewer"]})
    response = c.post("/wh/query/new/", data)
    query = SavedQuery.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/wh/query/{query.pk}/"
    assert (query.sql, query.params, query.roles, query.created_by) == (
        SQL, [{"name": "code", "label": "个人编号"}], ["reviewer"], it)
    event = AuditEvent.objects.filter(action="warehouse.query_define").get()
    assert event.summary == "新增保存的查询：按编号查人" and event.after["sql"] == SQL
    assert ConsoleRun.objects.count() == 0  # checked by EXPLAIN, not run
    again = c.post("/wh/query/new/", data, follow=True)  # the same form twice
    assert "已经提交过" in again.content.decode() and SavedQuery.objects.count() == 1
    reviewer = make_user("wh_rev", roles=("reviewer",), all_regions=True)
    body = client(reviewer).get(f"/wh/query/{query.pk}/", {"run": "1", "code": "2"}).content.decode()
    assert "李四" in body and "张三" not in body and "个人编号" in body
    clerk = make_user("wh_clerk", roles=("clerk",), all_regions=True)
    assert client(clerk).get(f"/wh/query/{query.pk}/", {"run": "1", "code": "2"}).status_code == 404
    assert "按编号查人" not in client(clerk).get("/wh/query/").content.decode()
    assert "按编号查人" in client(reviewer).get("/wh/query/").content.decode()


@pytest.mark.parametrize("sql,message", [
    ("SELEC 1", "SQL 语法有误"),
    ("DELETE FROM accounts_user", "无权读取"),
    ("WITH d AS (DELETE FROM accounts_user RETURNING 1) SELECT * FROM d", "无权读取"),
    ("SELECT username FROM accounts_user", "无权读取：控制台只能读取回流库（warehouse）的表"),
    ("SELECT 1; SELECT 2", "SQL 语法有误"),
    ("SELECT nope FROM generate_series(1, 2) g", "查询出错"),
    ("", "这个字段是必填项"),
])
def test_a_query_the_read_only_role_cannot_run_is_not_saved(it, sql, message):
    before = written()
    body = client(it).post("/wh/query/new/", once({"name": "坏的", "sql": sql})).content.decode()
    assert message in body
    assert written() == before


def test_editing_a_query_is_audited_with_what_it_was_and_names_stay_unique(it):
    c = client(it)
    c.post("/wh/query/new/", once({"name": "人数", "sql": f"SELECT count(*) AS n FROM {PEOPLE}"}))
    c.post("/wh/query/new/", once({"name": "编号", "sql": "SELECT 1 AS n"}))
    first = SavedQuery.objects.get(name="人数")
    before = written()
    body = c.post(f"/wh/query/{first.pk}/edit/", once({"name": "编号", "sql": "SELECT 1 AS n"})).content.decode()
    assert "查询名称“编号”已存在" in body and written() == before
    page = c.get(f"/wh/query/{first.pk}/edit/").content.decode()
    assert "SELECT count(*) AS n FROM (VALUES (&#x27;张三&#x27;)" in page
    c.post(f"/wh/query/{first.pk}/edit/", once({"name": "人数", "description": "全部",
                                                "sql": f"SELECT count(*) AS n FROM {PEOPLE} WHERE name LIKE %(name)s"}))
    first.refresh_from_db()
    assert first.params == [{"name": "name", "label": "name"}] and first.description == "全部"
    event = AuditEvent.objects.filter(action="warehouse.query_define").order_by("-id").first()
    assert event.summary == "修改保存的查询：人数" and event.before["sql"].endswith("v(name)")
    body = c.get(f"/wh/query/{first.pk}/", {"run": "1", "name": "张%"}).content.decode()
    assert "<td>1</td>" in body
