"""数据比对 of two database tables: an archive table against the live persons (paired key columns, codes
compared by meaning), a warehouse table; the command's ``table:`` form and the page; refusals."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from shebao.accounts.tests.factories import make_user
from shebao.archive.loading import archive_load
from shebao.archive.tests import samples
from shebao.common.models import AuditEvent
from shebao.maintenance.compare import CompareError, compare_sheets
from shebao.maintenance.tables import read_table_sheet, table_choices

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db, tmp_path):
    from shebao.web.tests.helpers import id_number, make_person

    it = make_user("ct_it", roles=("it_admin",), all_regions=True)
    archive_load(path=samples.dump_folder(tmp_path), user=it)
    make_person("张三", number=samples.ZHANG18, town_name="浒山街道")  # same name, sex M = 1 男
    make_person("李肆", number=samples.LI18, town_name="附海镇")  # name differs
    make_person("赵六", number=id_number(dt.date(1955, 5, 5)), town_name="附海镇")  # only live
    return it


def test_archive_table_against_live_persons(world):
    a = read_table_sheet("archive.ac01", label="A", limit=1000)
    b = read_table_sheet("table:live.persons", label="B", limit=1000)
    assert a.headers == ["个人编号", "公民身份号码", "姓名", "性别", "联系电话"]
    assert a.rows[0] == ["P001", samples.ZHANG18, "张三", "男", "13805741234"]
    result = compare_sheets(a, b, ["aac002=身份证号"])
    summary = result.summary()
    assert (summary["only_a"], summary["only_b"], summary["changed"], summary["same"]) == (1, 1, 1, 1)
    assert summary["keys"] == ["公民身份号码"] and summary["columns"] == ["姓名", "性别"]
    assert summary["changed_by_column"] == {"姓名": 1}
    assert [r[1] for r in result.only_a] == [samples.WANG18]
    assert [r[1] for r in result.only_b] == ["赵六"]


def test_refusals_name_the_problem(world):
    with pytest.raises(CompareError, match="没有表“archive.nope”"):
        read_table_sheet("archive.nope", label="A", limit=10)
    with pytest.raises(CompareError, match="档案表 ac01 有 3 行，超过比对上限 2 行"):
        read_table_sheet("archive.ac01", label="A", limit=2)
    a = read_table_sheet("archive.ac01", label="A", limit=100)
    b = read_table_sheet("live.persons", label="B", limit=100)
    with pytest.raises(CompareError, match="B（live.persons） 没有关键列“证件号”"):
        compare_sheets(a, b, ["公民身份号码=证件号"])
    with pytest.raises(CompareError, match="没有关键列“公民身份号码”"):
        compare_sheets(a, b, ["公民身份号码"])  # not paired: B has no such column
    assert {c.ref for c in table_choices()} >= {"live.persons", "archive.ac01", "archive.ac43", "archive.ic20"}


def test_command_compares_tables_and_keeps_the_file_contract(world, tmp_path):
    out = io.StringIO()
    call_command("compare", "table:archive.ac01", "table:live.persons", "--key", "公民身份号码=身份证号", "--json",
                 stdout=out)
    got = json.loads(out.getvalue())
    assert (got["only_a"], got["only_b"], got["changed"], got["same"], got["rows_a"], got["rows_b"]) == (1, 1, 1, 1, 3, 3)
    # a table against a file: the live persons written out, one name changed back
    f = tmp_path / "b.csv"
    f.write_text(f"身份证号,姓名\n{samples.ZHANG18[:6]}{samples.ZHANG18[8:17]},张三\n{samples.LI18},李四\n",
                 encoding="utf-8")
    out = io.StringIO()
    call_command("compare", "table:archive.ac01", str(f), "--key", "公民身份号码=身份证号", "--json", stdout=out)
    got = json.loads(out.getvalue())
    assert (got["only_a"], got["only_b"], got["changed"], got["same"]) == (1, 0, 0, 2)  # 15-digit meets 18
    with pytest.raises(CommandError, match="没有表“warehouse.nope”"):
        call_command("compare", "table:warehouse.nope", str(f), "--key", "身份证号")


def test_warehouse_table_compares(world, tmp_path):
    from shebao.warehouse.dictionary import dictionary_load
    from shebao.warehouse.landing import warehouse_load
    from shebao.warehouse.tests import samples as wh

    dictionary_load(source_name="省", path=wh.dictionary_folder(tmp_path), user=world)
    f = tmp_path / "ac01.csv"
    f.write_text(f"aac001,aac002,aac003,aac004\nP001,{samples.ZHANG18},张三,2\nP004,{samples.LI18},李四,2\n",
                 encoding="utf-8")
    warehouse_load(source_name="省", table_name="ac01", path=f, user=world)
    a = read_table_sheet("archive.ac01", label="A", limit=100)
    b = read_table_sheet("warehouse.sheng_ac01", label="B", limit=100)
    result = compare_sheets(a, b, ["aac001"])
    summary = result.summary()
    # P001: 性别 男 (archive, by meaning) vs 2 (the warehouse's raw code); P002, P003 only in A; P004 only in B
    assert (summary["only_a"], summary["only_b"], summary["changed"]) == (2, 1, 1)
    assert summary["changed_by_column"] == {"性别": 1}


def test_page_compares_masks_and_audits(world):
    clerk = make_user("ct_clerk", roles=("clerk",), all_regions=True)
    client = Client()
    client.force_login(clerk, backend="shebao.accounts.backends.LockoutModelBackend")
    url = reverse("maintenance:compare_tables")
    assert client.get(url).status_code == 200
    before = AuditEvent.objects.count()
    page = client.get(url, {"a": "archive.ac01", "b": "live.persons", "keys": "公民身份号码=身份证号"}).content.decode()
    assert 'id="n-only-a">1<' in page and 'id="n-changed">1<' in page
    assert samples.WANG18 not in page and "330282********3377" in page
    assert AuditEvent.objects.filter(action="maintenance.compare_tables").count() == 1
    assert AuditEvent.objects.count() == before + 1
    page = client.get(url, {"a": "archive.ac01", "b": "live.persons", "keys": "姓名号"}).content.decode()
    assert "没有关键列“姓名号”" in page
    assert AuditEvent.objects.count() == before + 1
    response = client.get(url, {"a": "archive.ac01", "b": "live.persons", "keys": "aac002=id_number",
                                "export": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
