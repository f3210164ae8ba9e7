"""The data dictionary: read from csv (UTF-8, GB18030) or xlsx, types mapped, names refused when they
are not identifiers, a reload adds and changes and never drops a column with data."""

from __future__ import annotations

import io

import pytest
from django.db import connection

from shebao.accounts.tests.factories import make_user
from shebao.common.models import AuditEvent
from shebao.common.sheets import XlsxWriter
from shebao.warehouse import ddl, samples
from shebao.warehouse.ddl import DictionaryError, parse_type
from shebao.warehouse.dictionary import dictionary_load
from shebao.warehouse.models import CodeValue, Element, Source, WhColumn, WhTable

pytestmark = pytest.mark.django_db


@pytest.fixture
def it(db):
    return make_user("wh_it", roles=("it_admin",), all_regions=True)


def pg_columns(physical: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name, format_type(a.atttypid, a.atttypmod) FROM information_schema.columns c "
                       "JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || "
                       "quote_ident(c.table_name))::regclass AND a.attname = c.column_name "
                       "WHERE table_schema = 'warehouse' AND table_name = %s", [physical])
        return dict(cursor.fetchall())


@pytest.mark.parametrize("text,pg", [
    ("VARCHAR2(18)", "varchar(18)"), ("varchar(50)", "varchar(50)"), ("CHAR(1)", "varchar(1)"),
    ("NUMBER(14,2)", "numeric(14,2)"), ("NUMERIC(6)", "numeric(6,0)"), ("NUMBER", "numeric"),
    ("INTEGER", "bigint"), ("DATE", "date"), ("TIMESTAMP", "timestamp"), ("VARCHAR2(20 BYTE)", "varchar(20)"),
])
def test_types_map_to_postgresql(text, pg):
    assert parse_type(text).pg == pg


@pytest.mark.parametrize("text", ["VARCHAR2(0)", "NUMBER(40,2)", "NUMBER(4,6)", "BLOB", "DATE(3)",
                                  "VARCHAR(10); DROP TABLE x", "numeric(1,1)) --"])
def test_unknown_or_hostile_types_are_refused(text):
    with pytest.raises(DictionaryError):
        parse_type(text)


def test_seeded_sources_elements_and_codes():
    assert set(Source.objects.values_list("name", flat=True)) >= {"省", "宁波"}
    codes = {e.code for e in Element.objects.all()}
    assert {"AAC001", "AAC002", "AAC003", "AAC004", "AAC006", "AAE140", "AAC008", "AAE116", "AAE002", "AAE019",
            "AAC060"} <= codes
    assert dict(CodeValue.objects.filter(source=None, category="AAC004").values_list("value", "meaning")) == {
        "1": "男", "2": "女", "9": "未说明"}


def test_load_from_csv_folder_creates_tables_with_elements_types(it, tmp_path):
    folder = samples.dictionary_folder(tmp_path)
    result = dictionary_load(source_name="省", path=folder, user=it)
    assert sorted(result.tables_created) == ["ac01", "ac60", "ic_pay", "ke_act"]
    ac01 = WhTable.objects.get(source__name="省", name="ac01")
    assert ac01.physical == "sheng_ac01" and ac01.primary_key == ["aac001"]
    cols = {c.name: c for c in ac01.columns.all()}
    assert cols["aac002"].label == "公民身份号码" and cols["aac004"].code_category == "AAC004"
    assert pg_columns("sheng_ac01") == {"aac001": "character varying(20)", "aac002": "character varying(18)",
                                        "aac003": "character varying(50)", "aac004": "character varying(1)",
                                        "aac006": "date", "bal": "numeric(10,2)",
                                        "upd": "timestamp without time zone", "_load_id": "bigint"}
    ic = WhTable.objects.get(name="ic_pay")
    assert ic.partitions == 4 and ic.purpose == "payment"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'warehouse.sheng_ic_pay'::regclass")
        assert cursor.fetchone()[0] == 4
    assert CodeValue.objects.filter(source__name="省", category="ACT").count() == 3
    assert AuditEvent.objects.filter(action="warehouse.dictionary_load").count() == 1


def test_gb18030_folder_and_xlsx_workbook(it, tmp_path):
    folder = samples.dictionary_folder(tmp_path, encoding="gb18030")
    dictionary_load(source_name="宁波", path=folder, user=it)
    assert WhTable.objects.get(source__name="宁波", name="ac01").label == "人员基本信息"
    book = io.BytesIO()
    # one writer per sheet is what common.sheets offers; build the 3-sheet workbook with openpyxl here
    from openpyxl import Workbook

    wb = Workbook()
    for i, (name, rows) in enumerate([("表", samples.TABLES[:2]), ("字段", samples.COLUMNS[:8]),
                                      ("代码", samples.CODES)]):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = name
        for r in rows:
            ws.append(r)
    wb.save(book)
    path = tmp_path / "dict.xlsx"
    path.write_bytes(book.getvalue())
    result = dictionary_load(source_name="台州", path=path, user=it)
    assert result.tables_created == ["ac01"]
    assert Source.objects.get(name="台州").code.startswith("s")
    assert XlsxWriter  # the export side is tested in test_pages


def test_hostile_names_are_refused_and_nothing_is_created(it, tmp_path):
    tables = [samples.TABLES[0], ['x"; DROP TABLE accounts_user; --', "坏", "", "a"]]
    columns = [samples.COLUMNS[0], ['x"; DROP TABLE accounts_user; --', "a", "", "VARCHAR2(1)", "", ""]]
    folder = samples.dictionary_folder(tmp_path, tables=tables, columns=columns)
    before = WhTable.objects.count()
    with pytest.raises(DictionaryError, match="表名.*不合法"):
        dictionary_load(source_name="省", path=folder, user=it)
    assert WhTable.objects.count() == before
    columns = [samples.COLUMNS[0], ["ac01", "aac001", "", "", "", ""], ["ac01", 'a"b', "", "VARCHAR2(1)", "", ""],
               ["ac01", "c", "", "VARCHAR2(1) DEFAULT 1", "", ""], ["ac01", "_op", "", "VARCHAR2(1)", "", ""]]
    folder = samples.dictionary_folder(tmp_path, tables=samples.TABLES[:2], columns=columns)
    with pytest.raises(DictionaryError) as exc:
        dictionary_load(source_name="省", path=folder, user=it)
    assert "字段名“a\"b”不合法" in str(exc.value)
    assert "不支持的字段类型" in str(exc.value)
    assert "保留字段名" in str(exc.value)
    assert WhTable.objects.count() == before
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('accounts_user') IS NOT NULL")
        assert cursor.fetchone()[0]


def test_reload_adds_changes_and_keeps_a_column_with_data(it, tmp_path):
    dictionary_load(source_name="省", path=samples.dictionary_folder(tmp_path), user=it)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO warehouse.sheng_ac01 (aac001, bal) VALUES ('P1', 12.50)")
    columns = [r for r in samples.COLUMNS if not (r[0] == "ac01" and r[1] in ("bal", "upd"))]
    columns.append(["ac01", "aae140", "", "", "", ""])
    columns = [["ac01", "aac003", "姓名（省）", "VARCHAR2(80)", "", "改长"] if r[:2] == ["ac01", "aac003"] else r
               for r in columns]
    result = dictionary_load(source_name="省", path=samples.dictionary_folder(tmp_path, columns=columns), user=it)
    assert result.columns_added == 1 and result.columns_dropped == 1 and result.columns_changed >= 1
    assert result.columns_kept == ["ac01.bal"]
    cols = pg_columns("sheng_ac01")
    assert cols["bal"] == "numeric(10,2)" and "upd" not in cols and cols["aac003"] == "character varying(80)"
    assert cols["aae140"] == "character varying(3)"
    assert WhColumn.objects.get(table__name="ac01", name="bal").retired is True
    with connection.cursor() as cursor:
        cursor.execute("SELECT bal FROM warehouse.sheng_ac01")
        assert str(cursor.fetchone()[0]) == "12.50"


def test_a_type_change_the_data_cannot_take_changes_nothing(it, tmp_path):
    dictionary_load(source_name="省", path=samples.dictionary_folder(tmp_path), user=it)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO warehouse.sheng_ac01 (aac001, aac003) VALUES ('P1', '张三')")
    columns = [["ac01", "aac003", "", "NUMBER(6)", "", ""] if r[:2] == ["ac01", "aac003"] else r
               for r in samples.COLUMNS]
    with pytest.raises(DictionaryError, match="aac003 不能从"):
        dictionary_load(source_name="省", path=samples.dictionary_folder(tmp_path, columns=columns), user=it)
    assert pg_columns("sheng_ac01")["aac003"] == "character varying(50)"
    assert ddl.SCHEMA == "warehouse"


def _rules() -> list[tuple]:
    from shebao.warehouse.models import AuditRule

    return sorted((r.table.name if r.table else "", r.column, r.kind, r.ref_table.name if r.ref_table else "",
                   r.active, r.from_dictionary) for r in AuditRule.objects.select_related("table", "ref_table"))


def test_a_dictionary_attaches_the_rules_it_names_and_switches_on_the_cross_checks(it, tmp_path):
    from shebao.warehouse.models import AuditRule

    AuditRule.objects.filter(kind__in=["death", "double", "life", "name"]).update(active=False)
    result = dictionary_load(source_name="省", path=samples.dictionary_folder(tmp_path, columns=samples.COLUMNS_WITH_RULES),
                             user=it)
    built_in = [r for r in _rules() if r[0]]
    assert built_in == [
        ("ac01", "aac002", "id_number", "", True, True), ("ac01", "aac004", "code", "", True, True),
        ("ac01", "aac004", "not_null", "", True, True), ("ac01", "aac006", "date", "", True, True),
        ("ic_pay", "aac002", "id_number", "", True, True), ("ic_pay", "aac002", "reference", "ac01", True, True),
        ("ic_pay", "aae140", "code", "", True, True), ("ke_act", "kind", "code", "", True, True)]
    assert set(AuditRule.objects.filter(table=None).values_list("kind", "active")) == {
        ("death", True), ("double", True), ("life", True), ("name", True)}
    assert len(result.rules_attached) == 8 and len(result.rules_enabled) == 4
    assert "挂接审核规则 8 条" in AuditEvent.objects.filter(action="warehouse.dictionary_load").last().summary
    # a reload that no longer names two of them: switched off (kept, with their findings); the rest untouched
    columns = [r[:] for r in samples.COLUMNS_WITH_RULES]
    for r in columns:
        if r[0] == "ac01" and r[1] == "aac004":
            r[6] = "必填"
        if r[0] == "ic_pay" and r[1] == "aac002":
            r[6] = ""
    folder = tmp_path / "again"
    folder.mkdir()
    again = dictionary_load(source_name="省", path=samples.dictionary_folder(folder, columns=columns), user=it)
    assert again.rules_attached == [] and sorted(again.rules_disabled) == [
        "代码值在代码表中：ac01.aac004", "引用存在：ic_pay.aac002 → ac01.aac002", "身份证号有效：ic_pay.aac002"]
    assert AuditRule.objects.filter(active=False, from_dictionary=True).count() == 3
    # named again: switched back on, not made twice
    third = tmp_path / "third"
    third.mkdir()
    back = dictionary_load(source_name="省", path=samples.dictionary_folder(third, columns=samples.COLUMNS_WITH_RULES),
                           user=it)
    assert back.rules_attached == [] and len(back.rules_enabled) == 3
    assert AuditRule.objects.filter(from_dictionary=True).count() == 8 and not AuditRule.objects.filter(active=False)


def test_an_unknown_rule_or_a_reference_to_an_undeclared_column_changes_nothing(it, tmp_path):
    from shebao.warehouse.models import AuditRule

    before = _rules()
    columns = [r[:] for r in samples.COLUMNS_WITH_RULES]
    columns[1][6] = "身份证号、好看"
    columns[2][6] = "引用 ac99.aac002"
    with pytest.raises(DictionaryError) as exc:
        dictionary_load(source_name="省", path=samples.dictionary_folder(tmp_path, columns=columns), user=it)
    assert "字段 第 2 行：审核“好看”不认识（可写：身份证号、代码、日期、必填、唯一、引用 表.字段）" in str(exc.value)
    assert "表 ac01 字段 aac002 的审核“引用 ac99.aac002”：该表或字段未在本字典中声明" in str(exc.value)
    assert _rules() == before and not WhTable.objects.exists() and AuditRule.objects.filter(table__isnull=False).count() == 0
