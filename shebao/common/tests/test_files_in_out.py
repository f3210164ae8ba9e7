"""The one writer (text rule, numbers) and the one reader (sizes, zip bombs, encodings, NUL) and the
one number parser. No database."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal as D

import pytest

from shebao.common.money import MoneyError, parse_amount, to_decimal
from shebao.common.safefile import FileRefused, Limits, MiB, check_zip, decode_text, read_table
from shebao.common.sheets import XlsxWriter, csv_text, number_text, write_csv

EVIL = ["=HYPERLINK(\"http://evil\",\"点我\")", "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx",
        "＝1+1", "＋1", "－1", "＠A1"]


def _sheet_xml(data: bytes) -> str:
    return zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()


def test_xlsx_text_is_never_a_formula_and_keeps_its_value():
    buf = io.BytesIO()
    with XlsxWriter(buf, headers=["备注", "金额"], money_columns={1}) as w:
        for text in EVIL:
            w.write_row([text, D("707.81")])
    xml = _sheet_xml(buf.getvalue())
    assert "<f>" not in xml and "<f " not in xml
    assert xml.count(' s="5" t="inlineStr"') == len(EVIL)  # the quote-prefix style on every one
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(buf.getvalue())).active
    values = [r[0].value for r in ws.iter_rows(min_row=2)]
    assert [r[0].data_type for r in ws.iter_rows(min_row=2)] == ["s"] * len(EVIL)
    assert [r[0].quotePrefix for r in ws.iter_rows(min_row=2)] == [True] * len(EVIL)
    assert values == EVIL


def test_amounts_are_two_decimal_numbers_never_float_noise():
    buf = io.BytesIO()
    with XlsxWriter(buf, headers=["a", "b", "c"], money_columns={0, 1}) as w:
        w.write_row([D("707.81"), 707.8099999999999, D("1E+1")])
        w.write_row([D(707.81), 5, D("0.10")])
    xml = _sheet_xml(buf.getvalue())
    assert "<v>707.81</v><" in xml and "707.80999" not in xml and "<v>10</v>" in xml
    assert "<v>5.00</v>" in xml and "<v>0.10</v>" in xml
    assert number_text(D("1234.5"), money=True) == "1234.50"
    for bad in (float("nan"), float("inf"), D("NaN")):
        with pytest.raises(ValueError):
            number_text(bad)


def test_csv_neutralises_formula_leading_text():
    buf = io.BytesIO()
    write_csv(buf, headers=["备注", "金额"], rows=[[t, D("1.5")] for t in EVIL], money_columns={1})
    text = buf.getvalue().decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[1].startswith("\"'=HYPERLINK(") and lines[1].endswith(",1.50")
    for t in EVIL:
        assert csv_text(t) == "'" + t
    assert "'=cmd|' /C calc'!A0" in text and "\n=cmd" not in text and ",=" not in text
    assert csv_text("张三") == "张三" and csv_text("'已有引号") == "'已有引号"


# ---- the number parser -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["2e3", "1e309", "NaN", "nan", "Infinity", "-inf", "sNaN", "1.2.3", "+5", "12a",
                                 "1\x00", "", " ", "9" * 40, "1" * 10_000_000, "0x10", "1_000"])
def test_to_decimal_refuses(raw):
    with pytest.raises(MoneyError) as exc:
        to_decimal(raw)
    assert "数字" in str(exc.value)


def test_exponent_message_and_full_width_digits():
    with pytest.raises(MoneyError, match="不接受科学计数法"):
        to_decimal("2e3")
    assert to_decimal("１２３．４５") == D("123.45")
    assert to_decimal("－１，２３４．５") == D("-1234.5")
    assert to_decimal(" 1,234.50 ") == D("1234.50")
    with pytest.raises(MoneyError):
        to_decimal(1.5)
    with pytest.raises(MoneyError):
        to_decimal(D("NaN"))
    with pytest.raises(MoneyError, match="超出范围"):
        to_decimal(D("1E+309"))


def test_parse_amount_rules():
    assert parse_amount("12.3") == D("12.30")
    assert str(parse_amount("12.3")) == "12.30"
    with pytest.raises(MoneyError, match="最多两位小数"):
        parse_amount("1.005")
    with pytest.raises(MoneyError, match="不能为负数"):
        parse_amount("-1")
    assert parse_amount("-1", negative=True) == D("-1.00")
    with pytest.raises(MoneyError, match="必须大于 0"):
        parse_amount("0", positive=True)
    with pytest.raises(MoneyError, match="超出上限"):
        parse_amount("1000000000000")


# ---- the safe reader ---------------------------------------------------------------------------


def _bomb(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            chunk = b"<c/>" * (MiB // 4)
            for _ in range(size // MiB):
                f.write(chunk)
    return buf.getvalue()


def test_zip_bomb_refused_from_the_central_directory():
    data = _bomb(300 * MiB)
    assert len(data) < 2 * MiB
    with pytest.raises(FileRefused, match="压缩比异常|解压后超过"):
        check_zip(data)
    with pytest.raises(FileRefused):
        read_table("roster.xlsx", data)


def test_zip_that_lies_about_its_size_refused_while_inflating():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"<c/>" * (2 * MiB))  # 8 MiB inflated
    data = bytearray(buf.getvalue())
    name = b"xl/worksheets/sheet1.xml"
    entry = data.rfind(b"PK\x01\x02")  # the one central-directory entry
    assert data[entry + 46:entry + 46 + len(name)] == name
    data[entry + 24:entry + 28] = (100).to_bytes(4, "little")  # the central directory says 100 bytes
    with pytest.raises(FileRefused, match="大于其声明的大小"):
        check_zip(bytes(data))


def test_too_many_members_and_too_large():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(300):
            z.writestr(f"x{i}.xml", "")
    with pytest.raises(FileRefused, match="300 个部件"):
        check_zip(buf.getvalue())
    with pytest.raises(FileRefused, match="超过上限"):
        read_table("a.csv", b"x" * 100, Limits(max_bytes=10))


def test_encodings_and_nul():
    assert decode_text("姓名".encode()) == "姓名"
    assert decode_text(b"\xef\xbb\xbf" + "姓名".encode()) == "姓名"
    assert decode_text("姓名".encode("gb18030")) == "姓名"
    with pytest.raises(FileRefused, match="第 2 行含有空字符"):
        decode_text(b"a\nb\x00c")
    with pytest.raises(FileRefused, match="不是有效的 UTF-8"):
        decode_text(b"\xef\xbb\xbf\xff\xfe")
    with pytest.raises(FileRefused, match="编码应为 UTF-8"):
        decode_text("姓名".encode("gb18030"), gb18030=False)


def test_rows_cells_and_quote_round_trip():
    big = ("a,b\r\n" + "x," + "y" * 2000 + "\r\n").encode()
    with pytest.raises(FileRefused, match="第 2 行有一个单元格长 2,000 个字符"):
        read_table("a.csv", big)
    with pytest.raises(FileRefused, match="超过 2 行"):
        read_table("a.csv", b"a\n1\n2\n3\n", Limits(max_rows=2))
    buf = io.BytesIO()
    write_csv(buf, headers=["备注"], rows=[["=HYPERLINK(1)"], ["'普通"]])
    assert read_table("a.csv", buf.getvalue()) == [["备注"], ["=HYPERLINK(1)"], ["'普通"]]


def test_text_upload_size_encoding_and_json_nul():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from shebao.common.safefile import read_text_upload

    assert read_text_upload(SimpleUploadedFile("r.json", "\ufeff{\"name\": \"调待\"}".encode())) == '{"name": "调待"}'
    with pytest.raises(FileRefused, match="超过上限"):
        read_text_upload(SimpleUploadedFile("r.json", b" " * (2 * MiB)))
    with pytest.raises(FileRefused, match="NUL"):
        read_text_upload(SimpleUploadedFile("r.json", b'{"name": "a\\u0000b"}'))
    with pytest.raises(FileRefused, match="编码应为 UTF-8"):
        read_text_upload(SimpleUploadedFile("r.json", "调待".encode("gb18030")))
