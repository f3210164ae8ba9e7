"""The 回流库 pages through the test client: dictionary with row counts and export (xlsx, Markdown), a load
by upload (safe twice), findings masked for a clerk without 查看敏感信息, grouping with its chart and
export, a saved parameterised query."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from python_calamine import CalamineWorkbook

from shebao.warehouse.audit import audit_run
from shebao.warehouse.landing import warehouse_load
from shebao.warehouse.models import AuditRule, Finding, Load, SavedQuery, WhTable
from shebao.warehouse.tests.world import load_dictionary, write
from shebao.web.tests.helpers import id_number, make_person, make_user, once

pytestmark = pytest.mark.django_db


@pytest.fixture
def it(db, tmp_path):
    user = make_user("wh_it", roles=("it_admin",), all_regions=True)
    load_dictionary(tmp_path, user)
    return user


def client(user) -> Client:
    c = Client()
    c.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    return c


def sheet_text(content: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()


def test_dictionary_pages_and_export(it, tmp_path):
    warehouse_load(source_name="省", table_name="ac01", user=it, path=write(tmp_path, "a.csv", "aac001\nP1\nP2\n"))
    c = client(it)
    body = c.get("/wh/").content.decode()
    assert "人员基本信息" in body and "ic_pay" in body
    table = WhTable.objects.get(name="ac01")
    body = c.get(f"/wh/t/{table.pk}/").content.decode()
    assert '<dd id="wh-rows">2</dd>' in body and "公民身份号码" in body and "未说明" in body
    rows = sheet_text(c.get("/wh/export/").content)
    assert rows[0][:6] == ["来源", "表名", "表中文名", "主键", "字段名", "字段中文名"]
    assert ["省", "ac01", "人员基本信息", "aac001", "aac004", "性别", "CHAR(1)", "varchar(1)", "AAC004",
            "1 男；2 女；9 未说明", ""] in rows
    md = c.get("/wh/export/", {"format": "md"}).content.decode()
    assert "## 省.ac01 人员基本信息" in md and "| aac002 | 公民身份号码 | VARCHAR2(18) |  |  |" in md


def test_upload_a_file_once(it):
    c = client(it)
    table = WhTable.objects.get(name="ac01")
    data = once({"table": table.pk, "mode": "full"})
    up = lambda: SimpleUploadedFile("a.csv", "aac001,aac003\nP1,张三\n".encode())  # noqa: E731
    response = c.post("/wh/loads/", {**data, "file": up()})
    load = Load.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/wh/loads/{load.pk}/"
    assert load.inserted == 1
    c.post("/wh/loads/", {**data, "file": up()})
    assert Load.objects.count() == 1
    bad = c.post("/wh/loads/", {**once({"table": table.pk, "mode": "full"}),
                                "file": SimpleUploadedFile("b.csv", b"aac001,zz\nP1,1\n")}, follow=True)
    assert "文件有数据字典中没有的字段：zz" in bad.content.decode()
    assert Load.objects.count() == 1


def test_findings_are_masked_for_a_clerk_and_link_to_the_person(it, tmp_path):
    person = make_person("审核甲", number=id_number())
    write(tmp_path, "a.csv", f"aac001,aac002,aac003\nP1,{person.id_number},审核乙\n")
    warehouse_load(source_name="省", table_name="ac01", user=it, path=tmp_path / "a.csv")
    audit_run(user=it, rules=[AuditRule.objects.get(kind="name")])
    finding = Finding.objects.get()
    clerk = make_user("wh_clerk", roles=("clerk",), all_regions=True)
    body = client(clerk).get("/wh/findings/").content.decode()
    assert person.id_number not in body and person.id_number[:6] + "********" in body
    assert f'href="/persons/{person.pk}/"' in body
    detail = client(clerk).get(f"/wh/findings/{finding.pk}/").content.decode()
    assert 'id="wh-finding-person"' in detail
    client(clerk).post(f"/wh/findings/{finding.pk}/", once({"action": "dismiss", "note": "曾用名"}))
    finding.refresh_from_db()
    assert finding.state == "dismissed" and finding.note == "曾用名" and finding.decided_by == clerk


def test_saved_query_with_a_parameter(it):
    query = SavedQuery.objects.create(name="按月", sql="SELECT %(m)s::int + 1 AS next",
                                      params=[{"name": "m", "label": "月份"}])
    body = client(it).get(f"/wh/query/{query.pk}/", {"m": "202401", "run": "1"}).content.decode()
    assert "<td>202402</td>" in body
    reviewer = make_user("wh_rev", roles=("reviewer",), all_regions=True)
    assert client(reviewer).get("/wh/console/").status_code == 403
