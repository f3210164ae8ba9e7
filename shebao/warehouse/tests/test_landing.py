"""Landing: full and incremental loads land exactly; a bad file leaves the table as it was and names
every bad row; csv (UTF-8, GB18030), tsv and JSON lines; the command's --json counts."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from shebao.accounts.tests.factories import make_user
from shebao.warehouse import samples
from shebao.warehouse.dictionary import dictionary_load
from shebao.warehouse.landing import LandingError, warehouse_load
from shebao.warehouse.models import Load, LoadError

pytestmark = pytest.mark.django_db

ID1 = "330282195001011236"
ID2 = "33028219510202124X"


@pytest.fixture
def it(db, tmp_path):
    user = make_user("wh_it", roles=("it_admin",), all_regions=True)
    dictionary_load(source_name="省", path=samples.dictionary_folder(tmp_path), user=user)
    return user


def rows(table: str, order: str = "aac001") -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT aac001, aac002, aac003, aac004, aac006::text, bal::text, upd::text "
                       f"FROM warehouse.sheng_{table} ORDER BY {order}")
        return cursor.fetchall()


def put(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


HEADER = "aac001,aac002,aac003,aac004,aac006,bal,upd\n"


def test_full_load_then_full_reload_counts_exactly(it, tmp_path):
    f1 = put(tmp_path, "a.csv", HEADER + f"P1,{ID1},张三,1,1950-01-01,12.5,2024-03-01 08:30:00\n"
                                      f"P2,{ID2},李四,2,19510202,,\n"
                                      "P3,,王五,9,,-0.25,20240301\n")
    load = warehouse_load(source_name="省", table_name="ac01", path=f1, user=it).load
    assert load.counts() == {"read": 3, "inserted": 3, "updated": 0, "deleted": 0, "rejected": 0}
    assert rows("ac01") == [
        ("P1", ID1, "张三", "1", "1950-01-01", "12.50", "2024-03-01 08:30:00"),
        ("P2", ID2, "李四", "2", "1951-02-02", None, None),
        ("P3", None, "王五", "9", None, "-0.25", "2024-03-01 00:00:00"),
    ]
    f2 = put(tmp_path, "b.csv", HEADER + f"P1,{ID1},张三,1,1950-01-01,12.5,2024-03-01 08:30:00\n"
                                      f"P2,{ID2},李四娘,2,19510202,,\n"
                                      "P4,,赵六,1,,,\n")
    load = warehouse_load(source_name="省", table_name="ac01", path=f2, user=it).load
    assert load.counts() == {"read": 3, "inserted": 1, "updated": 1, "deleted": 1, "rejected": 0}
    assert [r[:3] for r in rows("ac01")] == [("P1", ID1, "张三"), ("P2", ID2, "李四娘"), ("P4", None, "赵六")]


def test_incremental_inserts_updates_and_deletes_land_exactly(it, tmp_path):
    warehouse_load(source_name="省", table_name="ac01", user=it, path=put(
        tmp_path, "a.csv", HEADER + f"P1,{ID1},张三,1,1950-01-01,1,\nP2,{ID2},李四,2,,2,\nP3,,王五,1,,3,\n"))
    inc = put(tmp_path, "inc.tsv", "_op\taac001\taac003\tbal\n"
                                   "I\tP9\t新人\t9.99\n"
                                   "u\tP1\t张三丰\t\n"
                                   "D\tP3\t\t\n")
    load = warehouse_load(source_name="省", table_name="ac01", path=inc, mode="incremental", user=it).load
    assert load.counts() == {"read": 3, "inserted": 1, "updated": 1, "deleted": 1, "rejected": 0}
    assert rows("ac01") == [
        ("P1", ID1, "张三丰", "1", "1950-01-01", None, None),  # U sets the columns the file has (bal empty)
        ("P2", ID2, "李四", "2", None, "2.00", None),
        ("P9", None, "新人", None, None, "9.99", None),
    ]


def test_a_bad_file_leaves_the_table_unchanged_and_names_every_bad_row(it, tmp_path):
    warehouse_load(source_name="省", table_name="ac01", user=it, path=put(tmp_path, "a.csv", HEADER + "P1,,张三,1,,1,\n"))
    before = rows("ac01")
    bad = put(tmp_path, "bad.csv", HEADER +
              "P2,,李四,1,1950-02-30,1,\n"          # 1: no 30 February
              "P3,,王五,1,,123456789.1,\n"          # 2: too many digits for NUMBER(10,2)
              "P4,3302821950010112361,赵六,1,,,\n"  # 3: 19 characters in VARCHAR2(18)
              "P5,,钱七,1,,1.234,\n"                # 4: three decimals
              ",,孙八,1,,,\n"                       # 5: no key
              "P6,,周九,1,,,2024-01-01 25:00\n"     # 6: hour 25
              "P2,,吴十,1,,,\n"                     # 7: key of record 1 again
              "P7,,郑一,1,,abc,\n")                 # 8
    result = warehouse_load(source_name="省", table_name="ac01", path=bad, user=it)
    load = result.load
    assert load.state == Load.State.REJECTED
    assert load.counts() == {"read": 8, "inserted": 0, "updated": 0, "deleted": 0, "rejected": 8}
    assert load.message == "8 条记录有错误，整个文件未装载，表中数据未变"
    got = list(LoadError.objects.filter(load=load).values_list("line", "column", "reason"))
    assert got == [
        (1, "aac006", "不是有效日期（应为 YYYY-MM-DD 或 YYYYMMDD）"),
        (2, "bal", "不是 numeric(10,2) 的数值（整数部分最多 8 位，小数最多 2 位）"),
        (3, "aac002", "超过 18 个字符"),
        (4, "bal", "不是 numeric(10,2) 的数值（整数部分最多 8 位，小数最多 2 位）"),
        (5, "aac001", "主键字段不能为空"),
        (6, "upd", "不是有效时间（应为 YYYY-MM-DD HH:MM:SS 或 YYYYMMDDHHMMSS）"),
        (7, "", "主键与第 1 条记录重复"),
        (8, "bal", "不是 numeric(10,2) 的数值（整数部分最多 8 位，小数最多 2 位）"),
    ]
    assert rows("ac01") == before


def test_incremental_refuses_insert_of_an_existing_key_and_update_of_a_missing_one(it, tmp_path):
    warehouse_load(source_name="省", table_name="ac01", user=it, path=put(tmp_path, "a.csv", HEADER + "P1,,张三,1,,1,\n"))
    before = rows("ac01")
    inc = put(tmp_path, "inc.csv", "_op,aac001,aac003\nI,P1,重复\nU,P8,没有\nD,P9,\nX,P2,\nI,P3,好的\n")
    load = warehouse_load(source_name="省", table_name="ac01", path=inc, mode="incremental", user=it).load
    assert load.state == "rejected" and load.rejected == 4 and load.inserted == 0
    assert list(LoadError.objects.filter(load=load).values_list("line", "reason")) == [
        (1, "新增（I）的主键已存在"), (2, "修改或删除（U）的主键不存在"), (3, "修改或删除（D）的主键不存在"),
        (4, "_op 应为 I、U 或 D")]
    assert rows("ac01") == before


def test_json_lines_gb18030_and_wrong_field_counts(it, tmp_path):
    jl = put(tmp_path, "a.jsonl", json.dumps({"aac001": "P1", "aac003": "张三", "bal": 3.5}, ensure_ascii=False) + "\n"
             + json.dumps({"aac001": "P2", "aac003": None}) + "\n")
    assert warehouse_load(source_name="省", table_name="ac01", path=jl, user=it).load.inserted == 2
    assert [r[:3] for r in rows("ac01")] == [("P1", None, "张三"), ("P2", None, None)]
    assert rows("ac01")[0][5] == "3.50"
    gb = put(tmp_path, "gb.csv", "aac001,aac003\nP1,张三\nP2,李四\nP3,王五\n", encoding="gb18030")
    load = warehouse_load(source_name="省", table_name="ac01", path=gb, user=it).load
    # a full file is the whole table: P1's bal, not in the file, becomes empty (updated), P2 gets its name
    assert load.counts() == {"read": 3, "inserted": 1, "updated": 2, "deleted": 0, "rejected": 0}
    assert [r[2] for r in rows("ac01")] == ["张三", "李四", "王五"]
    assert rows("ac01")[0][5] is None
    ragged = put(tmp_path, "r.csv", "aac001,aac003\nP1,a\nP2,b,c\nP3\n")
    load = warehouse_load(source_name="省", table_name="ac01", path=ragged, user=it).load
    assert load.state == "rejected" and load.read == 3
    assert list(LoadError.objects.filter(load=load).values_list("line", "reason")) == [
        (2, "有 3 个字段，第一行有 2 个"), (3, "有 1 个字段，第一行有 2 个")]
    bad_json = put(tmp_path, "b.jsonl", '{"aac001": "P5"}\nnot json\n{"zzz": 1}\n')
    load = warehouse_load(source_name="省", table_name="ac01", path=bad_json, user=it).load
    assert load.state == "rejected"
    assert list(LoadError.objects.filter(load=load).values_list("line", "reason")) == [
        (2, "不是有效的 JSON"), (3, "主键字段不能为空"), (3, "数据字典中没有此字段")]
    assert [r[2] for r in rows("ac01")] == ["张三", "李四", "王五"]


@pytest.mark.parametrize("text,mode,message", [
    ("aac001,nope\nP1,x\n", "full", "文件有数据字典中没有的字段：nope"),
    ("aac003\nx\n", "full", "文件缺少主键字段：aac001"),
    ("_op,aac001\nI,P1\n", "full", "全量文件不能有 _op 列"),
    ("aac001\nP1\n", "incremental", "增量文件须有 _op 列"),
    ("aac001,aac001\nP1,P1\n", "full", "字段名 aac001 在第一行重复"),
])
def test_files_refused_whole(it, tmp_path, text, mode, message):
    with pytest.raises(LandingError, match=message):
        warehouse_load(source_name="省", table_name="ac01", path=put(tmp_path, "x.csv", text), mode=mode, user=it)
    assert Load.objects.count() == 0


def test_the_same_file_is_not_landed_twice_and_nul_is_refused(it, tmp_path):
    f = put(tmp_path, "a.csv", "aac001\nP1\n")
    warehouse_load(source_name="省", table_name="ac01", path=f, user=it)
    with pytest.raises(LandingError, match="此文件已于 .* 装载到表 ac01（批次"):
        warehouse_load(source_name="省", table_name="ac01", path=f, user=it)
    nul = tmp_path / "n.csv"
    nul.write_bytes(b"aac001\nP\x001\n")
    with pytest.raises(LandingError, match="空字符"):
        warehouse_load(source_name="省", table_name="ac01", path=nul, user=it)


def test_partitioned_table_merges(it, tmp_path):
    f = put(tmp_path, "p.csv", "aac002,aae002,aae140,aae019\n" + "".join(
        f"3302821950010112{i:02d},2024{m:02d},110,{1000 + i}.00\n" for i in range(20) for m in (1, 2)))
    load = warehouse_load(source_name="省", table_name="ic_pay", path=f, user=it).load
    assert load.inserted == 40
    f2 = put(tmp_path, "p2.csv", "_op,aac002,aae002,aae140,aae019\nU,330282195001011200,202401,110,1.00\n"
             "D,330282195001011201,202401,110,\n")
    load = warehouse_load(source_name="省", table_name="ic_pay", path=f2, mode="incremental", user=it).load
    assert (load.updated, load.deleted) == (1, 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(aae019) FROM warehouse.sheng_ic_pay")
        assert cursor.fetchone() == (39, sum(1000 + i for i in range(20)) * 2 - 1000 + 1 - 1001)


def test_command_json_counts_and_refusal(it, tmp_path, capsys):
    f = put(tmp_path, "a.csv", "aac001,aac003\nP1,张三\nP2,李四\n")
    call_command("warehouse", "load", "省", "ac01", str(f), "--as", "wh_it", "--json")
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("read", "inserted", "updated", "deleted", "rejected")} == {
        "read": 2, "inserted": 2, "updated": 0, "deleted": 0, "rejected": 0}
    bad = put(tmp_path, "b.csv", "_op,aac001,aac003\nI,P1,x\n")
    with pytest.raises(CommandError, match="1 条记录有错误"):
        call_command("warehouse", "load", "省", "ac01", str(bad), "--mode", "incremental", "--as", "wh_it", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["rejected"] == 1 and out["errors"] == [{"record": 1, "column": "_op", "reason": "新增（I）的主键已存在"}]
    clerk = make_user("wh_clerk", roles=("clerk",), all_regions=True)
    with pytest.raises(CommandError, match="您没有此功能的权限"):
        call_command("warehouse", "load", "省", "ac01", str(f), "--as", clerk.username)


def test_the_drop_folder_lands_each_file_and_parks_the_bad_ones(it, tmp_path):
    from shebao.warehouse.drop import warehouse_drop_pick_up

    folder = tmp_path / "drop" / "省" / "ac01"
    folder.mkdir(parents=True)
    (folder / "001.csv").write_text("aac001,aac003\nP1,张三\nP2,李四\n", encoding="utf-8")
    (folder / "002.csv").write_text("_op,aac001,aac003\nU,P1,张三丰\nI,P3,王五\n", encoding="utf-8")
    (folder / "003.csv").write_text("_op,aac001,aac003\nI,P1,重复\n", encoding="utf-8")
    (tmp_path / "drop" / "省" / "nosuch").mkdir()
    (tmp_path / "drop" / "省" / "nosuch" / "x.csv").write_text("a\n1\n", encoding="utf-8")
    result = warehouse_drop_pick_up(tmp_path / "drop", min_age=0)
    assert result.landed == ["省/ac01/001.csv", "省/ac01/002.csv"]
    assert len(result.failed) == 2 and "1 条记录有错误" in result.failed[0] and "没有表“nosuch”" in result.failed[1]
    assert [r[:3] for r in rows("ac01")] == [("P1", None, "张三丰"), ("P2", None, "李四"), ("P3", None, "王五")]
    assert sorted(p.name[15:] for p in (folder / "done").iterdir()) == ["001.csv", "002.csv"]
    assert any(p.name.endswith("003.csv.reason.txt") for p in (folder / "failed").iterdir())
    assert not list(folder.glob("*.csv"))


def _has_primary_key(physical: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                       [f"warehouse.{physical}"])
        return cursor.fetchone()[0] == 1


def test_a_full_file_lands_on_the_fast_path_with_numbers_read_by_postgresql(it, tmp_path):
    # quoted empty values are empty, an exponent is a number; the primary key is built again after
    f = put(tmp_path, "a.csv", HEADER + 'P1,"",张三,1,19500101,"",\n'
                                      "P2,,李四,2,,1.5e2, 2024-03-01 08:30 \n"
                                      "P3,, 王五 ,9,,  -0.25  ,\n")
    load = warehouse_load(source_name="省", table_name="ac01", path=f, user=it).load
    assert load.counts() == {"read": 3, "inserted": 3, "updated": 0, "deleted": 0, "rejected": 0}
    assert rows("ac01") == [("P1", None, "张三", "1", "1950-01-01", None, None),
                            ("P2", None, "李四", "2", None, "150.00", "2024-03-01 08:30:00"),
                            ("P3", None, "王五", "9", None, "-0.25", None)]
    assert _has_primary_key("sheng_ac01") and Load.objects.count() == 1


def test_a_repeated_key_into_an_empty_table_is_named_and_the_table_stays_empty(it, tmp_path):
    f = put(tmp_path, "d.csv", HEADER + "P1,,甲,1,,,\nP2,,乙,1,,,\nP1,,丙,1,,,\n")
    load = warehouse_load(source_name="省", table_name="ac01", path=f, user=it).load
    assert load.state == Load.State.REJECTED and Load.objects.count() == 1  # the fast attempt left nothing
    assert list(LoadError.objects.filter(load=load).values_list("line", "column", "reason")) == [
        (3, "", "主键与第 1 条记录重复")]
    assert rows("ac01") == [] and _has_primary_key("sheng_ac01")


@pytest.mark.parametrize("value,reason", [
    ("NaN", "不是 numeric(10,2) 的数值（整数部分最多 8 位，小数最多 2 位）"),
    ("Infinity", "不是 numeric(10,2) 的数值（整数部分最多 8 位，小数最多 2 位）"),
    ("1e8", "不是 numeric(10,2) 的数值（整数部分最多 8 位，小数最多 2 位）"),
    ("1.005", "不是 numeric(10,2) 的数值（整数部分最多 8 位，小数最多 2 位）"),
    ("12,5", None),  # a comma inside a quoted value: not a number
])
def test_the_checking_path_reads_numbers_as_the_fast_path_does(it, tmp_path, value, reason):
    warehouse_load(source_name="省", table_name="ac01", user=it, path=put(tmp_path, "a.csv", HEADER + "P0,,甲,1,,1,\n"))
    before = rows("ac01")
    # the same value with a bad date in another record (the checking path) and alone (the fast path)
    for name, extra in (("both.csv", "P8,,乙,1,19500230,,\n"), ("alone.csv", "")):
        f = put(tmp_path, name, HEADER + f'P9,,丙,1,,"{value}",\n' + extra)
        load = warehouse_load(source_name="省", table_name="ac01", path=f, user=it).load
        got = list(LoadError.objects.filter(load=load, line=1).values_list("column", "reason"))
        assert got == [("bal", reason or "不是 numeric(10,2) 的数值（整数部分最多 8 位，小数最多 2 位）")]
        assert load.state == Load.State.REJECTED and rows("ac01") == before
    ok = put(tmp_path, "ok.csv", HEADER + "P0,,甲,1,,1,\nP9,,丙,1,,99999999.99,\n")
    warehouse_load(source_name="省", table_name="ac01", path=ok, user=it)
    assert rows("ac01")[-1][5] == "99999999.99"


def test_the_drop_folder_reads_the_header_as_a_load_does(it, tmp_path):
    from shebao.warehouse.drop import _incremental

    quoted = put(tmp_path, "q.tsv", '"_OP"\t"aac001"\nI\tP1\n')
    gb = put(tmp_path, "g.csv", "\ufeff_op,aac001,aac003\nI,P1,张三\n", encoding="utf-8")
    chinese = put(tmp_path, "c.csv", "aac001,aac003\nP1,张三\n", encoding="gb18030")
    json_inc = put(tmp_path, "j.jsonl", '{"_op": "I", "aac001": "P1"}\n')
    json_full = put(tmp_path, "k.jsonl", '{"aac001": "P1"}\n')
    assert [_incremental(p) for p in (quoted, gb, chinese, json_inc, json_full)] == [True, True, False, True, False]


def _pay_rows() -> dict[tuple, tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT aac002, aae002::text, aae140, aae019::text, _load_id FROM warehouse.sheng_ic_pay")
        return {r[:3]: r[3:] for r in cursor.fetchall()}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])  # the fast path (csv) and the checking path (JSON lines)
def test_a_full_reload_writes_only_the_rows_that_changed(it, tmp_path, suffix):
    """A full reload into a partitioned table with rows: exactly the changed rows are updated, the new
    inserted, the missing deleted; an unchanged row is not written (it keeps the load that wrote it)."""
    def write(name: str, data: list[tuple]) -> object:
        if suffix == ".csv":
            text = "aac002,aae002,aae140,aae019\n" + "".join(f"{a},{m},{c},{v}\n" for a, m, c, v in data)
        else:
            text = "".join(json.dumps({"aac002": a, "aae002": m, "aae140": c, "aae019": v}) + "\n" for a, m, c, v in data)
        return put(tmp_path, name + suffix, text)

    first = [(f"3302821950010112{i:02d}", f"2024{m:02d}", "110", f"{1000 + i}.00") for i in range(30) for m in (1, 2)]
    one = warehouse_load(source_name="省", table_name="ic_pay", path=write("a", first), user=it).load
    assert one.counts() == {"read": 60, "inserted": 60, "updated": 0, "deleted": 0, "rejected": 0}
    second = [r for r in first if not (r[0].endswith(("05", "06")) and r[1] == "202402")]  # 2 gone
    second = [(a, m, c, "1.00" if a.endswith(("10", "11", "12")) and m == "202401" else v) for a, m, c, v in second]
    second += [(f"3302821950010112{i:02d}", "202403", "110", "7.00") for i in range(4)]  # 4 new
    second = [(a, m, c, "1010.000" if v == "1010.00" else v) for a, m, c, v in second]  # the same number: unchanged
    two = warehouse_load(source_name="省", table_name="ic_pay", path=write("b", second), user=it).load
    assert two.counts() == {"read": 62, "inserted": 4, "updated": 3, "deleted": 2, "rejected": 0}
    got = _pay_rows()
    assert len(got) == 62
    changed = {(f"3302821950010112{i}", "202401", "110") for i in (10, 11, 12)}
    new = {(f"3302821950010112{i:02d}", "202403", "110") for i in range(4)}
    for key, (amount, load_id) in got.items():
        if key in changed:
            assert (amount, load_id) == ("1.00", two.pk)
        elif key in new:
            assert (amount, load_id) == ("7.00", two.pk)
        else:
            assert load_id == one.pk, key  # not written again
    assert ("330282195001011205", "202402", "110") not in got
    # the same file again (another name, the same rows): nothing to write
    again = write("c", second[::-1])
    three = warehouse_load(source_name="省", table_name="ic_pay", path=again, user=it).load
    assert three.counts() == {"read": 62, "inserted": 0, "updated": 0, "deleted": 0, "rejected": 0}
    assert _pay_rows() == got


def test_a_full_reload_with_a_repeated_key_names_it_and_changes_nothing(it, tmp_path):
    warehouse_load(source_name="省", table_name="ac01", user=it,
                   path=put(tmp_path, "a.csv", HEADER + "P1,,甲,1,,1,\nP2,,乙,1,,2,\n"))
    before = rows("ac01")
    f = put(tmp_path, "b.csv", HEADER + "P1,,甲,1,,1,\nP2,,乙,1,,3,\nP3,,丙,1,,,\nP2,,丁,1,,4,\n")
    load = warehouse_load(source_name="省", table_name="ac01", path=f, user=it).load
    assert load.state == Load.State.REJECTED and load.counts()["inserted"] == 0
    assert list(LoadError.objects.filter(load=load).values_list("line", "column", "reason")) == [
        (4, "", "主键与第 2 条记录重复")]
    assert rows("ac01") == before and _has_primary_key("sheng_ac01")


def test_a_full_reload_empties_the_declared_columns_the_file_leaves_out(it, tmp_path):
    warehouse_load(source_name="省", table_name="ac01", user=it, path=put(
        tmp_path, "a.csv", HEADER + f"P1,{ID1},甲,1,1950-01-01,1.5,20240301\nP2,,乙,2,,,\n"))
    load = warehouse_load(source_name="省", table_name="ac01", user=it,
                          path=put(tmp_path, "b.csv", "aac001,aac003,aac004\nP1,甲,1\nP2,乙,2\n")).load
    assert load.counts() == {"read": 2, "inserted": 0, "updated": 1, "deleted": 0, "rejected": 0}  # P2 had none
    assert rows("ac01") == [("P1", None, "甲", "1", None, None, None), ("P2", None, "乙", "2", None, None, None)]
