"""The legacy archive: a dump loads whole (exact rows, the person index, one audit event) or not at all
(every refusal writes nothing); a person is found in three tables by the 15-digit number; the archive
cannot be written (trigger, GET-only pages, no API route); town scope, masking and the read audit."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from shebao.accounts.tests.factories import make_user
from shebao.archive import selectors as sel
from shebao.archive.loading import ArchiveError, archive_load
from shebao.archive.models import ArchiveLoad, ArchiveTable
from shebao.archive.tests import samples
from shebao.common.models import AuditEvent
from shebao.common.safefile import read_table

pytestmark = pytest.mark.django_db


@pytest.fixture
def it(db):
    return make_user("arch_it", roles=("it_admin",), all_regions=True)


@pytest.fixture
def loaded(it, tmp_path):
    return archive_load(path=samples.dump_folder(tmp_path), user=it)


def nothing_written(events_before: int = 0) -> None:
    assert ArchiveLoad.objects.count() == 0
    assert ArchiveTable.objects.count() == 0
    assert AuditEvent.objects.filter(action__startswith="archive.").count() == events_before
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('archive.ac01'), to_regclass('archive.person_row')")
        assert cursor.fetchone() == (None, None)


def archived(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_load_lands_every_table_exactly_and_indexes_persons(loaded, it):
    assert loaded.tables == [("ac01", 3), ("ac43", 3), ("ic20", 4)]
    load = loaded.load
    assert (load.tables, load.rows, load.persons) == (3, 10, 3)
    t = {x.name: x for x in ArchiveTable.objects.all()}
    assert (t["ac01"].id_column, t["ac01"].name_column, t["ac01"].pno_column) == ("aac002", "aac003", "aac001")
    assert (t["ac43"].id_column, t["ic20"].id_column, t["ic20"].pno_column) == ("aac002", "", "aac001")
    assert {c["name"]: c["mask"] for c in t["ac01"].columns} == {
        "aac001": "", "aac002": "id_number", "aac003": "", "aac004": "", "aae005": "phone"}
    assert archived("SELECT _row, aac001, aae001, jfje::text, jfrq::text FROM archive.ic20 ORDER BY _row") == [
        (1, "P001", 1995, "120.00", "1995-06-30"), (2, "P001", 1996, "132.00", "1996-06-30"),
        (3, "P002", 1995, "96.00", None), (4, "P999", 1995, "10.00", None)]
    # P999 has no person in ac01: not linked; the 15-digit rows of ac43 meet ZHANG's 18-digit ac01 row
    assert archived("SELECT p.idkey, count(*) FROM archive.person_row r JOIN archive.person p ON p.id = r.person_id "
                    "GROUP BY 1 ORDER BY 1") == [(samples.ZHANG18[:17], 5), (samples.LI18[:17], 3),
                                                  (samples.WANG18[:17], 1)]
    events = AuditEvent.objects.filter(action="archive.load")
    assert events.count() == 1
    assert "3 张表" in events.get().summary and "共 10 行" in events.get().summary


@pytest.mark.parametrize("q", [samples.ZHANG15, samples.ZHANG18, "张三", "张"])
def test_search_finds_the_person_in_three_tables_by_either_form(loaded, it, q):
    hits = sel.person_search(user=it, q=q)
    assert len(hits) == 1
    hit = hits[0]
    assert hit.id_number == samples.ZHANG18
    assert [t.name for t in hit.tables] == ["ac01", "ac43", "ic20"]
    assert hit.rows == 5 and hit.names == ["张三"]


def test_person_records_table_by_table_masked_and_codes_explained(loaded, it):
    found = sel.person_search(user=it, q=samples.ZHANG15)[0]
    from shebao.common.masking import Masker

    records = {r.table.name: r for r in sel.person_records(person=sel.person_get(user=it, pk=found.id),
                                                             masker=Masker(can_view=False))}
    assert records["ac01"].headers == ["行号", "个人编号", "公民身份号码", "姓名", "性别", "联系电话"]
    assert records["ac01"].rows == [["1", "P001", "330282********1233", "张三", "1 男", "138****1234"]]
    assert records["ac43"].rows == [["1", "330282*****1123", "张三", "200701", "320.50", "1 正常发放"],
                                    ["2", "330282*****1123", "张三", "200702", "320.50", "2 补发"]]
    assert records["ic20"].rows == [["1", "P001", "1995", "120.00", "1995-06-30"],
                                    ["2", "P001", "1996", "132.00", "1996-06-30"]]
    full = sel.person_records(person=sel.person_get(user=it, pk=found.id), masker=Masker(can_view=True))
    assert full[0].rows[0][2] == samples.ZHANG18


def test_search_refuses_a_bad_query_and_finds_nobody_unknown(loaded, it):
    with pytest.raises(sel.SearchError, match="15 位或 18 位"):
        sel.person_search(user=it, q="3302821950")
    assert sel.person_search(user=it, q="330282199901011234") == []
    assert sel.person_search(user=it, q="赵六") == []


def _refused(tmp_path, it, match: str, **dump) -> None:
    folder = samples.dump_folder(tmp_path, **dump)
    with pytest.raises(ArchiveError, match=match):
        archive_load(path=folder, user=it)
    nothing_written()


def test_a_bad_value_refuses_the_whole_dump(it, tmp_path):
    data = dict(samples.DATA)
    data["ic20"] = [*samples.DATA["ic20"], ["P003", "1997", "12.345", "1997-02-30"]]
    _refused(tmp_path, it, "2 处错误，整个目录未装载.*ic20.csv 第 5 条记录 jfje：不是 numeric\\(12,2\\) 的数值.*"
                           "ic20.csv 第 5 条记录 jfrq：不是有效日期", data=data)


def test_a_repeated_key_refuses_the_whole_dump(it, tmp_path):
    data = dict(samples.DATA)
    data["ac01"] = [*samples.DATA["ac01"], ["P002", samples.LI18, "李四", "2", ""]]
    _refused(tmp_path, it, "ac01.csv 第 4 条记录：主键与第 2 条记录重复", data=data)


def test_a_key_repeated_as_a_number_refuses_by_name(it, tmp_path):
    # 1995 and 01995 are one year in a NUMBER(4) key: the table would refuse them, so the check names them
    data = dict(samples.DATA)
    data["ic20"] = [*samples.DATA["ic20"], ["P001", " 01995", "1.00", ""]]
    _refused(tmp_path, it, "1 处错误.*ic20.csv 第 5 条记录：主键与第 1 条记录重复", data=data)


def _keys_of(table: str) -> set[str]:
    return {row[0] for row in archived(
        f"SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'archive.{table}'::regclass "
        "AND contype IN ('p', 'u', 'f')")}


def test_keys_and_index_are_built_after_a_load_and_kept_by_a_small_one(loaded, it, tmp_path):
    # the first load filled the tables and the person index before building their keys: they are all there
    assert _keys_of("ac01") == {"PRIMARY KEY (_row)", "UNIQUE (aac001)"}
    assert _keys_of("ac43") == {"PRIMARY KEY (_row)", "UNIQUE (aac002, aae002)"}
    assert _keys_of("person_row") == {"PRIMARY KEY (person_id, table_id, \"row\")",
                                      "FOREIGN KEY (person_id) REFERENCES archive.person(id)"}
    assert archived("SELECT indexname FROM pg_indexes WHERE schemaname = 'archive' AND tablename = 'person_row' "
                    "ORDER BY 1") == [("person_row_name",), ("person_row_pkey",)]
    # a second, smaller dump (another system's 人员 table) goes into the index as it is
    tables = [["表名", "中文名", "说明", "主键"], ["nb01", "农保人员", "", "grbh"]]
    columns = [["表名", "字段名", "中文名", "类型", "代码类别", "说明"], ["nb01", "grbh", "个人编号", "VARCHAR2(20)", "", ""],
               ["nb01", "sfzh", "身份证号码", "VARCHAR2(18)", "", ""], ["nb01", "xm", "姓名", "VARCHAR2(20)", "", ""]]
    folder = samples.dump_folder(tmp_path, "nb", tables=tables, columns=columns,
                                 data={"nb01": [["grbh", "sfzh", "xm"], ["N1", samples.ZHANG15, "张三"],
                                                ["N2", "330282196501011111", "钱七"]]})
    summary = archive_load(path=folder, user=it)
    assert (summary.load.rows, summary.load.persons) == (2, 1)
    assert [t.name for t in sel.person_search(user=it, q=samples.ZHANG18)[0].tables] == ["ac01", "ac43", "ic20", "nb01"]
    assert sel.person_search(user=it, q="钱")[0].id_number == "330282196501011111"
    assert _keys_of("person_row") == {"PRIMARY KEY (person_id, table_id, \"row\")",
                                      "FOREIGN KEY (person_id) REFERENCES archive.person(id)"}


def test_missing_and_undeclared_files_refuse(it, tmp_path):
    data = {k: v for k, v in samples.DATA.items() if k != "ic20"}
    data["zz99"] = [["a"], ["1"]]
    _refused(tmp_path, it, "数据文件 zz99.csv 的表未在数据字典中声明；缺少表 ic20 的数据文件 ic20.csv", data=data)


def test_a_dictionary_error_refuses(it, tmp_path):
    columns = [*samples.COLUMNS, ["ic20", "bad", "", "BLOB", "", ""]]
    _refused(tmp_path, it, "数据字典有 1 处错误.*不支持的字段类型“BLOB”", columns=columns)


def test_unknown_column_in_a_file_refuses(it, tmp_path):
    data = dict(samples.DATA)
    data["ac43"] = [["aac002", "aae002", "extra"], [samples.LI18, "200701", "x"]]
    _refused(tmp_path, it, "ac43.csv：有数据字典中没有的字段 extra", data=data)


def test_the_same_dump_or_a_loaded_table_is_not_loaded_again(loaded, it, tmp_path):
    before = (ArchiveLoad.objects.count(), AuditEvent.objects.count(), archived("SELECT count(*) FROM archive.ac01"))
    with pytest.raises(ArchiveError, match="已于 .* 装载（批次 \\d+），未重复装载"):
        archive_load(path=tmp_path / "legacy2008", user=it)
    other = samples.dump_folder(tmp_path, "other", data={**samples.DATA, "ac01": samples.DATA["ac01"][:2]})
    with pytest.raises(ArchiveError, match="档案中已有表 ac01、ac43、ic20：档案只读"):
        archive_load(path=other, user=it)
    assert (ArchiveLoad.objects.count(), AuditEvent.objects.count(),
            archived("SELECT count(*) FROM archive.ac01")) == before


def test_gb18030_dump_loads(it, tmp_path):
    archive_load(path=samples.dump_folder(tmp_path, encoding="gb18030"), user=it)
    assert archived("SELECT aac003 FROM archive.ac01 ORDER BY _row") == [("张三",), ("李四",), ("王五",)]


@pytest.mark.parametrize("statement", [
    "UPDATE archive.ac01 SET aac003 = '改'", "DELETE FROM archive.ac43", "TRUNCATE archive.ic20",
    "INSERT INTO archive.ac01 (_row, aac001) VALUES (99, 'X')", "DELETE FROM archive.person_row",
    "UPDATE archive.person SET idkey = '1'"])
def test_no_statement_writes_the_archive(loaded, statement):
    with pytest.raises(DatabaseError, match="原遗留养老系统档案是只读的，不能修改"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(statement)
    assert archived("SELECT count(*) FROM archive.ac01") == [(3,)]
    assert archived("SELECT aac003 FROM archive.ac01 WHERE _row = 1") == [("张三",)]


def test_no_write_path_exists_in_pages_or_api(loaded, it):
    from shebao.api.api import api

    assert not [p for p in api.get_openapi_schema()["paths"] if "archive" in p]
    client = Client()
    client.force_login(it, backend="shebao.accounts.backends.LockoutModelBackend")
    person = sel.person_search(user=it, q="张三")[0].id
    table = ArchiveTable.objects.get(name="ac01").pk
    for url in (reverse("archive:search"), reverse("archive:person", args=[person]), reverse("archive:tables"),
                reverse("archive:table", args=[table])):
        for method in ("post", "put", "patch", "delete"):
            assert getattr(client, method)(url).status_code == 405, (method, url)
    assert archived("SELECT count(*) FROM archive.ac01") == [(3,)]


def test_town_scope_follows_the_registry(loaded, it):
    from shebao.web.tests.helpers import make_person

    make_person("张三", number=samples.ZHANG18, town_name="浒山街道")
    make_person("李四", number=samples.LI18, town_name="附海镇")
    town_clerk = make_user("arch_town", roles=("clerk",), towns=("浒山街道",))
    assert [h.id_number for h in sel.person_search(user=town_clerk, q=samples.ZHANG15)] == [samples.ZHANG18]
    assert sel.person_search(user=town_clerk, q=samples.LI18) == []  # another town's
    assert sel.person_search(user=town_clerk, q=samples.WANG18) == []  # not registered: county users only
    assert [h.id_number for h in sel.person_search(user=town_clerk, q="李")] == []
    li = sel.person_search(user=it, q=samples.LI18)[0]
    assert li.registry_id is not None
    client = Client()
    client.force_login(town_clerk, backend="shebao.accounts.backends.LockoutModelBackend")
    assert client.get(reverse("archive:person", args=[li.id])).status_code == 404
    assert client.get(reverse("archive:table", args=[ArchiveTable.objects.first().pk])).status_code == 403


def test_pages_mask_and_audit_who_looked(loaded, it):
    clerk = make_user("arch_clerk", roles=("clerk",), all_regions=True)
    sensitive = make_user("arch_sens", roles=("clerk",), all_regions=True, sensitive=True)
    client = Client()
    client.force_login(clerk, backend="shebao.accounts.backends.LockoutModelBackend")
    before = AuditEvent.objects.count()
    page = client.get(reverse("archive:search"), {"q": samples.ZHANG15}).content.decode()
    assert "330282********1233" in page and samples.ZHANG18 not in page
    pk = sel.person_search(user=clerk, q=samples.ZHANG15)[0].id
    page = client.get(reverse("archive:person", args=[pk])).content.decode()
    assert "138****1234" in page and "13805741234" not in page and samples.ZHANG15 not in page
    assert "2 补发" in page
    response = client.get(reverse("archive:person", args=[pk]), {"export": "xlsx"})
    rows = read_table("p.xlsx", response.content)
    assert rows[0] == ["表名", "表中文名", "行号", "字段", "值"]
    assert ["ac43", "待遇发放", "2", "发放类型", "2 补发"] in rows
    assert ["ac01", "人员基本信息", "1", "公民身份号码", "330282********1233"] in rows
    assert len(rows) == 1 + 5 + 2 * 5 + 2 * 4  # header; ac01 one row of 5; ac43 two of 5; ic20 two of 4
    events = list(AuditEvent.objects.filter(pk__gt=0).order_by("-id")[:3].values_list("action", "username"))
    assert events == [("archive.export", "arch_clerk"), ("archive.person_view", "arch_clerk"),
                      ("archive.search", "arch_clerk")]
    assert AuditEvent.objects.count() == before + 3
    client.force_login(sensitive, backend="shebao.accounts.backends.LockoutModelBackend")
    page = client.get(reverse("archive:person", args=[pk])).content.decode()
    assert samples.ZHANG18 in page and "13805741234" in page


def test_search_page_says_what_it_holds_and_found(loaded, it, tmp_path, monkeypatch):
    client = Client()
    client.force_login(it, backend="shebao.accounts.backends.LockoutModelBackend")
    page = client.get(reverse("archive:search")).content.decode()
    assert "档案中有 3 张表，共 10 行，3 人。" in page
    page = client.get(reverse("archive:search"), {"q": "张"}).content.decode()
    assert "找到 1 人。" in page and "档案中有" not in page and "只列出前" not in page
    # a second 张 in another dump: with one listed at most, the page says the list is cut
    tables = [["表名", "中文名", "说明", "主键"], ["nb01", "农保人员", "", "sfzh"]]
    columns = [["表名", "字段名", "中文名", "类型", "代码类别", "说明"], ["nb01", "sfzh", "身份证号码", "VARCHAR2(18)", "", ""],
               ["nb01", "xm", "姓名", "VARCHAR2(20)", "", ""]]
    archive_load(path=samples.dump_folder(tmp_path, "nb", tables=tables, columns=columns,
                                          data={"nb01": [["sfzh", "xm"], ["330282196501011111", "张七"]]}), user=it)
    monkeypatch.setattr(sel, "MAX_HITS", 1)
    page = client.get(reverse("archive:search"), {"q": "张"}).content.decode()
    assert "只列出前 1 人：请输入更完整的姓名，或按身份证号查询。" in page
    assert page.count('href="/archive/persons/') == 1


def test_table_page_and_export_for_county_users(loaded, it):
    client = Client()
    client.force_login(it, backend="shebao.accounts.backends.LockoutModelBackend")
    t = ArchiveTable.objects.get(name="ic20")
    page = client.get(reverse("archive:table", args=[t.pk])).content.decode()
    assert "P999" in page and 'id="tbl-archiverowstable"' in page  # the shared table component
    rows = read_table("t.xlsx", body(client.get(reverse("archive:table", args=[t.pk]), {"export": "xlsx"})))
    assert rows == [["行号", "个人编号", "年度", "缴费金额", "缴费日期"], ["1", "P001", "1995", "120.00", "1995-06-30"],
                    ["2", "P001", "1996", "132.00", "1996-06-30"], ["3", "P002", "1995", "96.00", ""],
                    ["4", "P999", "1995", "10.00", ""]]
    assert AuditEvent.objects.filter(action="archive.export", object_id=f"table:{t.pk}").count() == 1


def test_command_loads_and_refuses_without_the_right(it, tmp_path):
    clerk = make_user("arch_c", roles=("clerk",), all_regions=True)
    folder = samples.dump_folder(tmp_path)
    with pytest.raises(CommandError, match="用户 arch_c：您没有此功能的权限"):
        call_command("archive", "load", str(folder), "--as", clerk.username)
    nothing_written()
    out = io.StringIO()
    call_command("archive", "load", str(folder), "--as", it.username, stdout=out)
    assert "3 张表 ac01（3 行）、ac43（3 行）、ic20（4 行），共 10 行，新增人员 3 人" in out.getvalue()
    with pytest.raises(CommandError, match="不是目录"):
        call_command("archive", "load", str(folder / "ac01.csv"), "--as", it.username)
    assert dt.date.today()  # the dump names no date of today: nothing to compare


def body(response) -> bytes:
    """A response's bytes (the component's export is a FileResponse)."""
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


def page_rows(page: str) -> list[list[str]]:
    """The component's body rows (``<tr><td …>…</td>…</tr>``) as text (links and tags dropped)."""
    import html
    import re

    body = page[page.index("<tbody"):page.index("</tbody>")]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body)]


def test_table_page_on_the_component_same_rows_masked_sorted_filtered_and_audited(loaded, it):
    from shebao.common.masking import masker_for

    t = ArchiveTable.objects.get(name="ac01")
    client = Client()
    client.force_login(it, backend="shebao.accounts.backends.LockoutModelBackend")
    url = reverse("archive:table", args=[t.pk])
    expected = sel.table_rows(table=t, masker=masker_for(it))  # what the plain table showed, masked
    assert not it.has_perm("accounts.view_sensitive")
    shown = page_rows(client.get(url).content.decode())
    assert shown == expected
    assert (shown[0][2], shown[0][5]) == ("330282********1233", "138****1234")
    assert all(n not in c for n in (samples.ZHANG18, samples.LI18, samples.WANG18) for r in shown for c in r)
    assert page_rows(client.get(url, {"sort": "-row"}).content.decode()) == expected[::-1]
    assert page_rows(client.get(url, {"sort": "-c3"}).content.decode()) == [expected[2], expected[1], expected[0]]
    refused = client.get(url, {"sort": "-c2"}).content.decode()  # 身份证号 masked: its order is not shown
    assert "不能按“c2”排序" in refused and page_rows(refused) == expected
    assert page_rows(client.get(url, {"q": "李"}).content.decode()) == [expected[1]]
    assert page_rows(client.get(url, {"q": samples.ZHANG18}).content.decode()) == [expected[0]]
    rows = read_table("t.xlsx", body(client.get(url, {"export": "xlsx", "q": "李"})))
    assert rows == [sel.headers_of(t), expected[1]]
    assert samples.LI18 not in str(rows)
    events = list(AuditEvent.objects.filter(action__in=["archive.table_view", "archive.export"]).order_by("id")
                  .values_list("action", "object_id"))
    assert events == [("archive.table_view", f"table:{t.pk}")] * 6 + [("archive.export", f"table:{t.pk}")]


def test_person_page_on_the_component_same_rows_for_it_and_a_town_clerk_masked(loaded, it):
    from shebao.common.masking import masker_for
    from shebao.web.tests.helpers import make_person

    make_person("张三", number=samples.ZHANG18, town_name="浒山街道")
    town_clerk = make_user("arch_town2", roles=("clerk",), towns=("浒山街道",))
    pk = sel.person_search(user=it, q=samples.ZHANG18)[0].id
    for user in (it, town_clerk):
        client = Client()
        client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
        page = client.get(reverse("archive:person", args=[pk])).content.decode()
        found = sel.person_get(user=user, pk=pk)
        records = sel.person_records(person=found, masker=masker_for(user))
        shown = []
        for part in page.split('class="table-scroll archive-records"')[1:]:
            shown.append(page_rows(part))
        expected = [[[sel.month_shown(c) if r.table.name == "ac43" and i == 3 else c for i, c in enumerate(row)]
                     for row in r.rows] for r in records]
        assert shown == expected
        assert samples.ZHANG18 not in page and samples.ZHANG15 not in page and "330282********1233" in page
        # one table's export through the component: masked, stored month text, audited as an export
        ac43 = ArchiveTable.objects.get(name="ac43")
        before = AuditEvent.objects.filter(action="archive.export").count()
        rows = read_table("p.xlsx", body(client.get(reverse("archive:person", args=[pk]),
                                                    {f"t{ac43.pk}_export": "xlsx"})))
        assert rows[0] == sel.headers_of(ac43)
        assert [r[3] for r in rows[1:]] == ["200701", "200702"]
        assert samples.ZHANG15 not in str(rows)
        assert AuditEvent.objects.filter(action="archive.export", username=user.username).count() == 1
        assert AuditEvent.objects.filter(action="archive.export").count() == before + 1


def test_month_columns_show_as_year_month_on_pages_only(loaded, it):
    ac43 = ArchiveTable.objects.get(name="ac43")
    by_name = {c["name"]: c for c in ac43.columns}
    assert sel.is_month_column(by_name["aae002"]) and not sel.is_month_column(by_name["aae019"])
    assert sel.is_month_column({"name": "x", "label": "开始年月"})
    assert sel.month_shown("200701") == "2007-01"
    assert sel.month_shown("200713") == "200713" and sel.month_shown("2007") == "2007"
    client = Client()
    client.force_login(it, backend="shebao.accounts.backends.LockoutModelBackend")
    url = reverse("archive:table", args=[ac43.pk])
    shown = page_rows(client.get(url).content.decode())
    assert [r[3] for r in shown] == ["2007-01", "2007-02", "2007-01"]
    rows = read_table("t.xlsx", body(client.get(url, {"export": "xlsx"})))
    assert [r[3] for r in rows[1:]] == ["200701", "200702", "200701"]


def test_search_results_on_the_component_scoped_masked_sorted_and_export_audited(loaded, it):
    from shebao.web.tests.helpers import make_person

    make_person("张三", number=samples.ZHANG18, town_name="浒山街道")
    make_person("李四", number=samples.LI18, town_name="附海镇")
    town_clerk = make_user("arch_town3", roles=("clerk",), towns=("浒山街道",))
    url = reverse("archive:search")
    client = Client()
    client.force_login(it, backend="shebao.accounts.backends.LockoutModelBackend")
    page = client.get(url, {"q": "张"}).content.decode()
    assert 'id="archive-hits"' in page
    assert page_rows(page) == [["330282********1233", "张三", "人员基本信息、待遇发放、缴费记录", "5", "人员信息"]]
    assert page_rows(client.get(url, {"q": "张", "sort": "-records"}).content.decode()) == page_rows(page)
    # the town clerk: the same row for 张三 (their town), nothing for 李四 (another town)
    client.force_login(town_clerk, backend="shebao.accounts.backends.LockoutModelBackend")
    assert page_rows(client.get(url, {"q": samples.ZHANG15}).content.decode()) == [
        ["330282********1233", "张三", "人员基本信息、待遇发放、缴费记录", "5", "人员信息"]]
    page = client.get(url, {"q": "李"}).content.decode()
    assert page_rows(page) == [] and "档案中没有找到（或不在您的管辖范围内）" in page and "330282" not in page
    before = AuditEvent.objects.filter(action="archive.export").count()
    rows = read_table("s.xlsx", body(client.get(url, {"q": samples.ZHANG15, "export": "xlsx"})))
    assert rows == [["身份证号", "姓名", "档案表", "记录数"], ["330282********1233", "张三", "人员基本信息、待遇发放、缴费记录", "5"]]
    assert AuditEvent.objects.filter(action="archive.export", username="arch_town3").count() == before + 1


def test_tables_page_on_the_component_links_only_for_county_users(loaded, it):
    client = Client()
    client.force_login(it, backend="shebao.accounts.backends.LockoutModelBackend")
    url = reverse("archive:tables")
    page = client.get(url).content.decode()
    rows = page_rows(page)
    assert [r[:6] for r in rows] == [["ac01", "人员基本信息", "aac001", "5", "3", "身份证号 aac002"],
                                     ["ac43", "待遇发放", "aac002, aae002", "5", "3", "身份证号 aac002"],
                                     ["ic20", "缴费记录", "aac001, aae001", "4", "4", "个人编号 aac001"]]
    assert all(f'href="/archive/tables/{t.pk}/"' in page for t in ArchiveTable.objects.all())
    assert [r[0] for r in page_rows(client.get(url, {"sort": "-rows"}).content.decode())][0] == "ic20"
    assert [r[0] for r in page_rows(client.get(url, {"q": "待遇"}).content.decode())] == ["ac43"]
    town_clerk = make_user("arch_town4", roles=("clerk",), towns=("浒山街道",))
    client.force_login(town_clerk, backend="shebao.accounts.backends.LockoutModelBackend")
    page = client.get(url).content.decode()
    assert [r[0] for r in page_rows(page)] == ["ac01", "ac43", "ic20"]
    assert not any(f'href="/archive/tables/{t.pk}/"' in page for t in ArchiveTable.objects.all())
    rows = read_table("t.xlsx", body(client.get(url, {"export": "xlsx"})))
    assert rows[0][:5] == ["表名", "中文名", "主键", "字段数", "行数"] and len(rows) == 4
    assert AuditEvent.objects.filter(action="archive.export", object_id="tables", username="arch_town4").count() == 1


def test_an_unfiltered_table_is_counted_from_the_load_not_scanned(loaded, it):
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    t = ArchiveTable.objects.get(name="ic20")
    client = Client()
    client.force_login(it, backend="shebao.accounts.backends.LockoutModelBackend")
    with CaptureQueriesContext(conn) as queries:
        page = client.get(reverse("archive:table", args=[t.pk]), {"page": "2"}).content.decode()  # counted
    assert len(page_rows(page)) == 4
    assert not [q for q in queries if 'COUNT(*)' in q["sql"].upper() and '"ic20"' in q["sql"]]
    assert sel.row_model(t).objects.count() == 4 and sel.row_model(t).objects.filter(c1="P001").count() == 2
