"""数据转换: a file mapped to a saved layout (rename, reorder, codes, dates, amounts, fixed values)."""

from __future__ import annotations

import io

import pytest
from python_calamine import CalamineWorkbook

from shebao.maintenance.compare import sheet_from_rows
from shebao.maintenance.convert import ConvertError, convert_sheet, parse_layout
from shebao.maintenance.models import ConvertLayout
from shebao.maintenance.services import CorrectionError, layout_save
from shebao.web.tests.helpers import make_user, once

LAYOUT = """身份证号 = 公民身份号码
性别 = 性别 | 代码 1=男, 2=女
出生年月 = 出生日期 | 日期 YYYYMM
月金额(分) = 发放金额 | 金额 分
金额 = 发放金额 | 金额 #,##0.00
险种 = | 固定 自管
"""
SOURCE = [["姓名", "公民身份号码", "性别", "出生日期", "发放金额"],
          ["张三", "330282195003011234", "1", "1950-03-01", "1234.5"],
          ["李四", "330282195104021234", "2", "19510402", "2000"]]


def test_a_layout_renames_reorders_translates_and_formats():
    result = convert_sheet(sheet_from_rows("源", SOURCE), parse_layout(LAYOUT))
    assert result.headers == ["身份证号", "性别", "出生年月", "月金额(分)", "金额", "险种"]
    assert result.rows == [["330282195003011234", "男", "195003", "123450", "1,234.50", "自管"],
                           ["330282195104021234", "女", "195104", "200000", "2,000.00", "自管"]]
    assert result.error_count == 0


def test_bad_values_are_listed_by_line_and_column():
    rows = [*SOURCE, ["王五", "330282195205031234", "9", "1952-13-40", "1.234"]]
    result = convert_sheet(sheet_from_rows("源", rows), parse_layout(LAYOUT))
    assert result.error_count == 4  # 性别, 出生日期 and the amount in both its columns
    assert result.errors[:3] == ["第 4 行 性别：代码“9”不在对照表中", "第 4 行 出生日期：“1952-13-40”不是日期",
                                 "第 4 行 发放金额：金额 1.234 最多两位小数"]


@pytest.mark.parametrize(("text", "message"), [
    ("身份证号", "第 1 行应为“目标列 = 源列”"),
    ("a = b | 日期 DD/MM", "第 1 行的日期格式 DD/MM 不支持"),
    ("a = b | 颜色 红", "第 1 行的选项“颜色”不认识"),
    ("a = b\na = c", "第 2 行的目标列“a”重复"),
    ("a = ", "第 1 行没有源列"),
    ("", "格式没有定义任何列"),
])
def test_a_bad_layout_names_its_line(text, message):
    with pytest.raises(ConvertError, match=message):
        parse_layout(text)


def test_a_missing_source_column_is_named():
    with pytest.raises(ConvertError, match="文件没有列：公民身份号码"):
        convert_sheet(sheet_from_rows("源", [["姓名"], ["x"]]), parse_layout(LAYOUT))


@pytest.mark.django_db
def test_the_page_saves_a_layout_and_converts_a_file(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    user = make_user("conv", roles=["clerk"], all_regions=True)
    client.force_login(user)
    response = client.post("/maint/convert/", once({"action": "save", "name": "银行代发", "spec": LAYOUT}),
                           follow=True)
    assert "已保存格式：银行代发" in response.content.decode()
    layout = ConvertLayout.objects.get()
    assert [c["target"] for c in layout.columns][:2] == ["身份证号", "性别"]
    with pytest.raises(CorrectionError, match="格式名称“银行代发”已存在"):
        layout_save(user=user, name="银行代发", spec="a = b")
    data = "\r\n".join(",".join(r) for r in SOURCE).encode("gb18030")
    response = client.post("/maint/convert/", {"action": "run", "layout": layout.pk, "fmt": "xlsx",
                                               "file": SimpleUploadedFile("src.csv", data)})
    rows = CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()
    assert rows[1] == ["330282195003011234", "男", "195003", "123450", "1,234.50", "自管"]
    bad = data + "\r\n王五,330282195205031234,9,1952-01-01,1".encode()
    response = client.post("/maint/convert/", {"action": "run", "layout": layout.pk, "fmt": "csv",
                                               "file": SimpleUploadedFile("src.csv", bad)})
    assert "第 4 行 性别：代码“9”不在对照表中" in response.content.decode()
