"""分组汇总 end to end: the read-only role reads committed data only, so this test commits (and drops the
tables it made at the end)."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client
from python_calamine import CalamineWorkbook

from shebao.warehouse.landing import warehouse_load
from shebao.warehouse.models import SavedQuery, WhTable
from shebao.warehouse.tests.world import load_dictionary, write
from shebao.web.tests.helpers import make_user, once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def it(tmp_path):
    import importlib

    from django.apps import apps
    from django.db import connection

    importlib.import_module("shebao.warehouse.migrations.0002_seed").seed(apps, None)
    user = make_user("wh_it", roles=("it_admin",), all_regions=True)
    load_dictionary(tmp_path, user)
    yield user
    with connection.cursor() as cursor:
        for t in WhTable.objects.all():
            cursor.execute(f'DROP TABLE IF EXISTS warehouse."{t.physical}" CASCADE')


def client(user) -> Client:
    c = Client()
    c.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    return c


def sheet_text(content: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()


def test_grouping_with_chart_export_and_save(it, tmp_path):
    write(tmp_path, "p.csv", "aac002,aae002,aae140,aae019\n"
          "330282195001011236,202401,110,100.50\n330282195001011236,202402,110,100.50\n"
          "330282195101011231,202401,120,300.00\n")
    warehouse_load(source_name="省", table_name="ic_pay", user=it, path=tmp_path / "p.csv")
    from django.db import connection

    table = WhTable.objects.get(name="ic_pay")
    q = {"table": table.pk, "group": "aae140", "sum": "aae019", "run": "1"}
    from shebao.warehouse.grouping import grouping_sql, spec_from

    text, params = grouping_sql(spec_from({"table": table.pk, "group_by": ["aae140"], "sum": ["aae019"],
                                           "filters": [["aae002", "eq", "202401"]]}))
    assert text == ('SELECT "aae140", count(*) AS "记录数", sum("aae019") AS "aae019合计" FROM "warehouse"."sheng_ic_pay"'
                    ' WHERE "aae002"::text = %(f0)s GROUP BY "aae140" ORDER BY "aae140" LIMIT 5000')
    assert params == {"f0": "202401"}
    with connection.cursor() as cursor:
        cursor.execute(text, params)
        assert [(r[0], r[1], str(r[2])) for r in cursor.fetchall()] == [("110", 1, "100.50"), ("120", 1, "300.00")]
    c = client(it)
    page = c.get("/wh/grouping/", q)
    assert page.status_code == 200 and 'id="wh-chart-data"' in page.content.decode()
    assert '{"labels": ["110", "120"], "series": [{"label": "\\u8bb0\\u5f55\\u6570", "data": [2.0, 1.0]}' in \
        page.content.decode()
    export = c.get("/wh/grouping/", {**q, "export": "xlsx"})
    assert sheet_text(export.content)[0] == ["aae140", "记录数", "aae019合计"]
    spec = json.dumps({"table": table.pk, "group_by": ["aae140"], "sum": ["aae019"], "filters": []})
    c.post("/wh/grouping/", once({"spec": spec, "name": "按险种汇总"}))
    saved = SavedQuery.objects.get(name="按险种汇总")
    assert saved.grouping == {"table": table.pk, "group_by": ["aae140"], "sum": ["aae019"], "filters": []}
    bad = c.get("/wh/grouping/", {"table": table.pk, "group": "nope", "run": "1"}).content.decode()
    assert "表 ic_pay 没有字段 nope" in bad
