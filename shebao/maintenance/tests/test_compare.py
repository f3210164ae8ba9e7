"""数据比对: the engine, ``shebao compare`` (its JSON keys are a contract) and the page."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from python_calamine import CalamineWorkbook

from shebao.common.sheets import XlsxWriter
from shebao.maintenance.compare import CompareError, compare_files, normalize_id
from shebao.registry.tests.factories import id_number

ID1 = id_number(dt.date(1950, 3, 1))
ID2 = id_number(dt.date(1951, 4, 2))
ID3 = id_number(dt.date(1952, 5, 3))
ID4 = id_number(dt.date(1953, 6, 4))
ID5 = id_number(dt.date(1954, 7, 5))


def to15(number18: str) -> str:
    return number18[:6] + number18[8:17]


def csv_bytes(rows, encoding="utf-8") -> bytes:
    return "\r\n".join(",".join(r) for r in rows).encode(encoding)


def xlsx_bytes(rows) -> bytes:
    out = io.BytesIO()
    with XlsxWriter(out, headers=rows[0]) as w:
        for r in rows[1:]:
            w.write_row(r)
    return out.getvalue()


A = [["身份证号", "姓名", "月金额", "开户银行"],
     [ID1, "张三", "2000.00", "ICBC"],
     [ID2, "李四", "1500.00", "ABC"],       # changed: 月金额
     [ID3, "王五", "1800.00", "CCB"],       # only in A
     [ID4, "赵六", "1234.5", "BOC"]]        # same (1234.5 = 1234.50)
B = [["身份证号", "姓名", "月金额", "开户银行", "备注"],
     [to15(ID1), "张三", "2000.00", "ICBC", "x"],   # the 15-digit form of ID1: the same person, same values
     [ID2, "李四", "1600.00", "ABC", ""],
     [ID4, "赵六", "1234.50", "BOC", ""],
     [ID5, "钱七", "900.00", "ICBC", ""]]   # only in B


def test_compare_finds_exactly_the_added_removed_and_changed_rows_across_15_and_18_digits():
    assert normalize_id(to15(ID1)) == ID1
    result = compare_files(file_a="a.csv", data_a=csv_bytes(A), file_b="b.xlsx", data_b=xlsx_bytes(B),
                           keys=["身份证号"])
    s = result.summary()
    assert (s["only_a"], s["only_b"], s["changed"], s["same"]) == (1, 1, 1, 2)
    assert [r[0] for r in result.only_a] == [ID3]
    assert [r[0] for r in result.only_b] == [ID5]
    assert [(c.row_a[0], c.fields, c.row_a[2], c.row_b[2]) for c in result.changed] == [
        (ID2, ["月金额"], "1500.00", "1600.00")]
    assert s["columns"] == ["姓名", "月金额", "开户银行"] and s["columns_only_b"] == ["备注"]
    assert s["changed_by_column"] == {"月金额": 1}


def test_a_15_digit_key_in_file_a_meets_its_18_digit_form_in_b_gbk_csv():
    a = [["证件号码", "金额"], [to15(ID2), "10"], [to15(ID3), "20"]]
    b = [["证件号码", "金额"], [ID2, "10"], [ID3, "21"]]
    result = compare_files(file_a="a.csv", data_a=csv_bytes(a, "gb18030"), file_b="b.csv", data_b=csv_bytes(b),
                           keys=["证件号码"])
    assert (len(result.only_a), len(result.only_b), len(result.changed)) == (0, 0, 1)


def test_several_keys_duplicates_and_blank_keys_are_counted():
    a = [["身份证号", "项目", "金额"], [ID1, "基本", "100"], [ID1, "补贴", "20"], [ID1, "补贴", "25"], ["", "", "9"]]
    b = [["身份证号", "项目", "金额"], [ID1, "基本", "100"], [ID1, "补贴", "30"], [ID2, "基本", "100"]]
    result = compare_files(file_a="a.csv", data_a=csv_bytes(a), file_b="b.csv", data_b=csv_bytes(b),
                           keys=["身份证号", "项目"])
    s = result.summary()
    assert (s["only_a"], s["only_b"], s["changed"], s["same"]) == (0, 1, 1, 1)
    assert (s["duplicates_a"], s["blank_keys_a"]) == (1, 1)


@pytest.mark.parametrize(("keys", "message"), [
    (["账号"], "文件A（a.csv） 没有关键列“账号”"),
    ([], "请指定至少一个关键列"),
])
def test_a_key_that_is_not_there_is_a_chinese_message(keys, message):
    with pytest.raises(CompareError, match=message):
        compare_files(file_a="a.csv", data_a=csv_bytes(A), file_b="b.csv", data_b=csv_bytes(B), keys=keys)


def test_a_file_that_is_not_a_table_is_refused_by_the_safe_reader():
    with pytest.raises(CompareError, match="文件B（b.txt）：不支持的文件类型"):
        compare_files(file_a="a.csv", data_a=csv_bytes(A), file_b="b.txt", data_b=b"x", keys=["身份证号"])
    with pytest.raises(CompareError, match="空字符"):
        compare_files(file_a="a.csv", data_a=b"a,b\x00", file_b="b.csv", data_b=csv_bytes(B), keys=["身份证号"])


def test_the_command_prints_the_contract_json_and_writes_the_report(tmp_path):
    (tmp_path / "a.csv").write_bytes(csv_bytes(A))
    (tmp_path / "b.xlsx").write_bytes(xlsx_bytes(B))
    out = io.StringIO()
    report = tmp_path / "report.xlsx"
    call_command("compare", str(tmp_path / "a.csv"), str(tmp_path / "b.xlsx"), "--key", "身份证号",
                 "--out", str(report), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert {k: data[k] for k in ("only_a", "only_b", "changed")} == {"only_a": 1, "only_b": 1, "changed": 1}
    rows = CalamineWorkbook.from_path(str(report)).get_sheet_by_index(0).to_python()
    assert rows[0] == ["差异类型", "身份证号", "姓名（A）", "姓名（B）", "月金额（A）", "月金额（B）", "开户银行（A）",
                       "开户银行（B）", "不同的列"]
    assert [r[0] for r in rows[1:]] == ["内容不同", "仅A有", "仅B有"]
    assert rows[1][1:6] == [ID2, "李四", "李四", "1500.00", "1600.00"] and rows[1][-1] == "月金额"
    assert rows[3][1] == ID5 and rows[3][2] == "" and rows[3][3] == "钱七"
    # text output
    out = io.StringIO()
    call_command("compare", str(tmp_path / "a.csv"), str(tmp_path / "b.xlsx"), "--key", "身份证号", stdout=out)
    assert "仅A有 1 行，仅B有 1 行，内容不同 1 行，相同 2 行" in out.getvalue()


def test_the_command_refuses_in_chinese(tmp_path):
    (tmp_path / "a.csv").write_bytes(csv_bytes(A))
    with pytest.raises(CommandError, match="无法读取文件"):
        call_command("compare", str(tmp_path / "a.csv"), str(tmp_path / "none.csv"), "--key", "身份证号")
    with pytest.raises(CommandError, match="扩展名应为 .xlsx 或 .csv"):
        call_command("compare", str(tmp_path / "a.csv"), str(tmp_path / "a.csv"), "--key", "身份证号",
                     "--out", str(tmp_path / "r.pdf"))
    assert not (tmp_path / "r.pdf").exists()


# --------------------------------------------------------------------------------------------------
# the page


@pytest.fixture
def files():
    from django.core.files.uploadedfile import SimpleUploadedFile

    def make():
        return {"file_a": SimpleUploadedFile("a.csv", csv_bytes(A)),
                "file_b": SimpleUploadedFile("b.xlsx", xlsx_bytes(B)), "keys": "身份证号"}
    return make


def test_the_page_shows_counts_and_masks_id_numbers_without_the_sensitive_right(db, client, files):
    from shebao.web.tests.helpers import make_user

    client.force_login(make_user("cmp1", roles=["clerk"], all_regions=True))
    response = client.post("/maint/compare/", files())
    html = response.content.decode()
    assert response.status_code == 200
    assert '<td class="num" id="n-only-a">1</td>' in html and '<td class="num" id="n-changed">1</td>' in html
    assert ID2 not in html and ID2[:3] in html
    response = client.post("/maint/compare/", {**files(), "export": "xlsx"})
    rows = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
    assert len(rows) == 4 and ID2 not in str(rows)


def test_account_number_columns_are_masked_too(db, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from shebao.web.tests.helpers import make_user

    a = [["身份证号", "银行账号"], [ID1, "6222021234567890128"]]
    b = [["身份证号", "银行账号"], [ID1, "6222021234567890136"]]
    client.force_login(make_user("cmp3", roles=["clerk"], all_regions=True))
    html = client.post("/maint/compare/", {"file_a": SimpleUploadedFile("a.csv", csv_bytes(a)),
                                           "file_b": SimpleUploadedFile("b.csv", csv_bytes(b)),
                                           "keys": "身份证号"}).content.decode()
    assert '<td class="num" id="n-changed">1</td>' in html
    assert "6222021234567890128" not in html and "0128" in html


def test_the_page_shows_full_numbers_to_a_sensitive_user_and_a_bad_key_as_an_error(db, client, files):
    from shebao.web.tests.helpers import make_user

    client.force_login(make_user("cmp2", roles=["clerk"], all_regions=True, sensitive=True))
    assert ID2 in client.post("/maint/compare/", files()).content.decode()
    response = client.post("/maint/compare/", {**files(), "keys": "账号"})
    assert "没有关键列“账号”" in response.content.decode()
