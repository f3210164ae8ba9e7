"""临时数据统计: saved queries are data over whitelisted sources, run with the user's towns and schemes,
in a read-only transaction; table, chart data and xlsx."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal as D

import pytest
from python_calamine import CalamineWorkbook

from shebao.benefits.services import enrollment_create, scheme_get
from shebao.maintenance.models import SavedQuery
from shebao.maintenance.services import CorrectionError, query_save
from shebao.maintenance.statistics import StatisticsError, run_query
from shebao.web.tests.helpers import id_number, make_person, make_user, once, town

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    it = make_user("qit", roles=["it_admin"], all_regions=True)
    clerk = make_user("qclerk", roles=["clerk"], all_regions=True)
    people = [make_person(f"人{i}", number=id_number(dt.date(1950 + i, 1, 1 + i), male=i % 2 == 0),
                          town_name="浒山街道" if i < 3 else "附海镇") for i in range(5)]
    for i, p in enumerate(people[:4]):
        enrollment_create(person=p, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk, service_years=10 + i,
                          items={"basic": "2000.00"})
    return it, clerk, people


BY_TOWN = {"source": "persons", "dimensions": ["town", "sex"], "measures": ["count"], "parameters": ["town"]}


def test_a_query_groups_in_the_database_and_keeps_to_the_users_towns(world):
    it, clerk, _people = world
    result = run_query(user=clerk, values={}, **BY_TOWN)
    assert result.headers == ["镇街道", "性别", "人数"]
    assert sorted(result.rows) == sorted([["附海镇", "女", 1], ["附海镇", "男", 1], ["浒山街道", "女", 1],
                                          ["浒山街道", "男", 2]])
    town_clerk = make_user("qtown", roles=["clerk"], towns=["浒山街道"])
    assert sorted(run_query(user=town_clerk, values={}, **BY_TOWN).rows) == [["浒山街道", "女", 1], ["浒山街道", "男", 2]]
    # a parameter outside the user's towns is refused, inside it filters
    foreign = str(town("附海镇").pk)
    with pytest.raises(StatisticsError, match="镇街道“.*”不可选"):
        run_query(user=town_clerk, values={"town": foreign}, **BY_TOWN)
    assert sorted(run_query(user=clerk, values={"town": foreign}, **BY_TOWN).rows) == [["附海镇", "女", 1],
                                                                                       ["附海镇", "男", 1]]


def test_enrollments_keep_to_the_users_schemes_and_average_exactly(world):
    _it, clerk, _people = world
    q = {"source": "enrollments", "dimensions": ["scheme"], "measures": ["count", "avg_years"], "parameters": []}
    assert run_query(user=clerk, values={}, **q).rows == [["自管人员", 4, D("11.50")]]
    nb_only = make_user("qnb", roles=["clerk"], all_regions=True)
    nb_only.all_schemes, nb_only.schemes = False, ["NB"]
    nb_only.save()
    assert run_query(user=nb_only, values={}, **q).rows == []


@pytest.mark.parametrize(("definition", "message"), [
    ({"source": "sql", "dimensions": [], "measures": ["count"], "parameters": []}, "数据来源 sql 不存在"),
    ({"source": "persons", "dimensions": ["id_number"], "measures": ["count"], "parameters": []},
     "人员登记没有分组：id_number"),
    ({"source": "persons", "dimensions": [], "measures": [], "parameters": []}, "请至少选择一项统计"),
])
def test_only_whitelisted_keys_can_be_saved(world, definition, message):
    with pytest.raises(CorrectionError, match=message):
        query_save(user=world[0], name="x", **definition)
    assert SavedQuery.objects.count() == 0


def test_the_run_is_read_only(world, monkeypatch):
    from django.db import connection

    from shebao.maintenance import statistics

    seen = []
    original_aggregate = statistics.QuerySet.aggregate

    def aggregate(self, *args, **kwargs):
        with connection.cursor() as c:
            c.execute("SHOW transaction_read_only")
            seen.append(c.fetchone()[0])
        return original_aggregate(self, *args, **kwargs)

    monkeypatch.setattr(statistics.QuerySet, "aggregate", aggregate)
    assert run_query(user=world[1], source="persons", dimensions=[], measures=["count"], parameters=[],
                     values={}).rows == [[5]]
    assert seen == ["on"]


def test_the_pages_define_run_chart_and_export(world, client):
    it, clerk, _people = world
    client.force_login(it)
    response = client.post("/maint/queries/new/", once({
        "name": "各镇街道人数", "source": "persons", "dimensions": "town, sex", "measures": "count",
        "parameters": "town", "chart": "bar"}), follow=True)
    q = SavedQuery.objects.get()
    assert "已保存查询：各镇街道人数" in response.content.decode()
    client.force_login(clerk)
    html = client.get(f"/maint/queries/{q.pk}/").content.decode()
    chart = json.loads(html.split('<script id="query-data" type="application/json">')[1].split("</script>")[0])
    assert chart["type"] == "bar" and chart["datasets"][0]["label"] == "人数" and sum(chart["datasets"][0]["data"]) == 5
    response = client.get(f"/maint/queries/{q.pk}/", {"export": "xlsx"})
    rows = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
    assert rows[0] == ["镇街道", "性别", "人数"] and sum(r[2] for r in rows[1:]) == 5
    assert client.get("/maint/queries/new/").status_code == 403  # defining queries is 信息科's
