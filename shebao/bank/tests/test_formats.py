"""The template engine alone (no database): exact bytes of the standard layout, round trips of all
three shipped layouts, byte widths and character-boundary cuts, fen arithmetic, refusals."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shebao.bank.formats import (
    BUILTIN_TEMPLATES,
    BankFileError,
    PaymentLine,
    ReturnRecord,
    Template,
    TemplateError,
    builtin_definition,
    builtin_template,
    cut_to_bytes,
)

D = Decimal
DAY = dt.date(2026, 3, 15)
LINES = [
    PaymentLine(1, "6222021234567890123", "张三丰", D("1234.56"), "330282195001011234", "2026-03养老金"),
    PaymentLine(2, "6228480000000000017", "欧阳娜娜娜", D("0.01"), "33028219520202123X", ""),
    PaymentLine(3, "101", "李四", D("100000.00"), "330282194003031236", "补发"),
]


def _results(lines, failed: dict[int, str] | None = None):
    failed = failed or {}
    return [ReturnRecord(seq=ln.seq, account_no=ln.account_no, holder_name=ln.holder_name, amount=ln.amount,
                         processed_amount=D("0.00") if ln.seq in failed else ln.amount,
                         ok=ln.seq not in failed, reason=failed.get(ln.seq, "")) for ln in lines]


def test_standard_payment_file_exact_bytes():
    data = builtin_template("standard").render_payment(batch_no="20260315ICBC001", date=DAY, lines=LINES)
    expected = (
        "H|20260315ICBC001|3|101234.57|20260315\r\n"
        "D|1|6222021234567890123|张三丰|1234.56|330282195001011234|2026-03养老金\r\n"
        "D|2|6228480000000000017|欧阳娜娜娜|0.01|33028219520202123X|\r\n"
        "D|3|101|李四|100000.00|330282194003031236|补发\r\n"
    ).encode("gb18030")
    assert data == expected


def test_standard_return_file_exact_bytes_and_parse():
    t = builtin_template("standard")
    data = t.render_return(batch_no="B1", date=DAY, records=_results(LINES, {2: "户名不符"}))
    assert data == (
        "H|B1|3|101234.57|2|101234.56\r\n"
        "R|1|6222021234567890123|张三丰|1234.56|1234.56|0|\r\n"
        "R|2|6228480000000000017|欧阳娜娜娜|0.01|0.00|1|户名不符\r\n"
        "R|3|101|李四|100000.00|100000.00|0|\r\n"
    ).encode("gb18030")
    parsed = t.parse_return(data)
    assert parsed.batch_no == "B1"
    assert [(r.seq, r.ok, r.processed_amount, r.reason, r.line_no) for r in parsed.lines] == [
        (1, True, D("1234.56"), "", 2), (2, False, D("0.00"), "户名不符", 3), (3, True, D("100000.00"), "", 4)]


@pytest.mark.parametrize("code", sorted(BUILTIN_TEMPLATES))
def test_round_trip_every_builtin(code):
    t = builtin_template(code)
    data = t.render_payment(batch_no="20260315CXRCB001", date=DAY, lines=LINES)
    assert data == t.render_payment(batch_no="20260315CXRCB001", date=DAY, lines=LINES)  # deterministic
    parsed = t.parse_payment(data)
    assert parsed.batch_no == "20260315CXRCB001"
    assert parsed.summary["count"] == 3 and parsed.summary["total"] == D("101234.57")
    for sent, back in zip(LINES, parsed.lines, strict=True):
        assert (back.seq, back.account_no, back.amount) == (sent.seq, sent.account_no, sent.amount)
    ret = t.render_return(batch_no="20260315CXRCB001", date=DAY, records=_results(LINES, {3: "账号不存在"}))
    back = t.parse_return(ret)
    assert back.summary["ok_count"] == 2 and back.summary["ok_total"] == D("1234.57")
    assert [(r.seq, r.ok, r.amount, r.processed_amount) for r in back.lines] == [
        (1, True, D("1234.56"), D("1234.56")), (2, True, D("0.01"), D("0.01")),
        (3, False, D("100000.00"), D("0.00"))]
    assert back.lines[2].reason == "账号不存在"


def test_fixed_width_all_lines_same_byte_length_and_names_cut_on_character_boundary():
    t = builtin_template("fixed_fen")
    long_name = PaymentLine(4, "6222", "阿卜杜热合曼买买提江吐尔逊", D("1.00"), "330282195001011234",
                            "二〇二六年三月份基本养老金及统筹外补贴合计")
    data = t.render_payment(batch_no="B2", date=DAY, lines=[*LINES, long_name])
    raw_lines = data.split(b"\r\n")
    assert raw_lines[-1] == b""
    lengths = {len(x) for x in raw_lines[:-1]}
    assert lengths == {120} == {t.record_length}
    # holder_name field: bytes 39..58 (20 bytes): 13 characters cut to 10 whole ones
    name_field = raw_lines[3][39:59]
    assert name_field.decode("gb18030") == "阿卜杜热合曼买买提江"
    # the whole line still decodes: no half character anywhere
    for raw in raw_lines[:-1]:
        raw.decode("gb18030")
    assert t.parse_payment(data).lines[3].holder_name == "阿卜杜热合曼买买提江"
    # amounts in integer fen, zero-filled to 12 bytes
    assert raw_lines[0][59:71] == b"000000123456"
    assert raw_lines[1][59:71] == b"000000000001"


def test_four_character_name_in_six_byte_field():
    definition = builtin_definition("fixed_fen")
    for part in ("payment", "return"):
        detail = definition[part]["detail"]
        for f in detail:
            if f.get("name") == "holder_name":
                f["width"] = 6
        detail.append({"value": "", "width": 14})  # keep the record length at 120
    t = Template(definition)
    data = t.render_payment(batch_no="B", date=DAY, lines=[
        PaymentLine(1, "62", "张三丰四", D("5.00")), PaymentLine(2, "62", "王五", D("5.00")),
        PaymentLine(3, "62", "A张三丰", D("5.00"))])
    rows = data.split(b"\r\n")[:-1]
    assert {len(r) for r in rows} == {120}
    assert rows[0][39:45] == "张三丰".encode("gb18030")
    assert rows[1][39:45] == "王五".encode("gb18030") + b"  "
    assert rows[2][39:45] == "A张三".encode("gb18030") + b" "  # 5 bytes used, never half of 丰
    assert [ln.holder_name for ln in t.parse_payment(data).lines] == ["张三丰", "王五", "A张三"]


def test_cut_to_bytes():
    assert cut_to_bytes("张三丰四", 6) == "张三丰".encode("gb18030")
    assert cut_to_bytes("张三丰四", 5) == "张三".encode("gb18030")
    assert cut_to_bytes("ab张", 3) == b"ab"
    assert cut_to_bytes("𠀀张", 4) == "𠀀".encode("gb18030")  # a 4-byte GB18030 character


@given(st.integers(min_value=1, max_value=999_999_999_999))
def test_fen_conversion_exact(fen):
    amount = D(fen).scaleb(-2)
    t = builtin_template("fixed_fen")
    line = PaymentLine(1, "6222", "张三", amount)
    data = t.render_payment(batch_no="B", date=DAY, lines=[line])
    assert data[59:71] == str(fen).rjust(12, "0").encode()
    assert t.parse_payment(data).lines[0].amount == amount
    std = builtin_template("standard")
    assert std.parse_payment(std.render_payment(batch_no="B", date=DAY, lines=[line])).lines[0].amount == amount


def test_amount_with_fractions_of_a_cent_refused():
    with pytest.raises(BankFileError, match="不是整分金额"):
        builtin_template("standard").render_payment(
            batch_no="B", date=DAY, lines=[PaymentLine(1, "62", "张三", D("1.005"))])


def test_value_too_wide_refused_unless_cut():
    with pytest.raises(BankFileError, match="账号.*超过宽度 32 字节"):
        builtin_template("fixed_fen").render_payment(
            batch_no="B", date=DAY, lines=[PaymentLine(1, "6" * 33, "张三", D("1.00"))])


def test_delimiter_inside_a_value_refused():
    with pytest.raises(BankFileError, match="户名“张|三”含分隔符"):
        builtin_template("standard").render_payment(
            batch_no="B", date=DAY, lines=[PaymentLine(1, "62", "张|三", D("1.00"))])


def test_undecodable_bytes_refused_naming_the_line():
    good = "H|B1|1|1.00|1|1.00\r\nR|1|62|张三|1.00|1.00|0|\r\n".encode("gb18030")
    bad = good.replace("张三".encode("gb18030"), b"\xff\xfe")
    with pytest.raises(BankFileError) as exc:
        builtin_template("standard").parse_return(bad)
    assert exc.value.errors == [(2, "第 8 字节起无法按 GB18030 解码（字节 FF FE 7C 31）")]
    assert "第2行" in str(exc.value)


def test_utf8_file_refused_when_gb18030_expected():
    data = "H|B1|1|1.00|1|1.00\r\nR|1|62|张三|1.00|1.00|0|\r\n".encode()
    with pytest.raises(BankFileError, match="UTF-8 编码，不是模板规定的 GB18030"):
        builtin_template("standard").parse_return(data)


def test_fixed_field_boundary_through_a_character_refused():
    t = builtin_template("fixed_fen")
    data = t.render_return(batch_no="B", date=DAY, records=_results(LINES[:1]))
    rows = data.split(b"\r\n")
    # shift the name one byte left: the name field now ends in half a character
    rows[0] = rows[0][:38] + rows[0][39:59] + b" " + rows[0][59:]
    with pytest.raises(BankFileError, match="第1行：户名（第 40–59 字节）截断了汉字"):
        t.parse_return(b"\r\n".join(rows))


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s.replace("H|B1|3|101234.57|2|", "H|B1|3|101234.58|2|"),
     "第1行：汇总行总金额 101234.58 与明细合计 101234.57 不符"),
    (lambda s: s.replace("H|B1|3|", "H|B1|4|"), "第1行：汇总行笔数 4 与明细合计 3 不符"),
    (lambda s: s.replace("|2|101234.56", "|3|101234.56"), "第1行：汇总行成功笔数 3 与明细合计 2 不符"),
    (lambda s: s.replace("1234.56|1234.56|0|", "1234.56|1234.50|0|"),
     "第2行：处理成功但实处理金额 1234.50 与应处理金额 1234.56 不符"),
    (lambda s: s.replace("0.01|0.00|1|", "0.01|0.01|1|"), "第3行：处理失败但实处理金额为 0.01（应为 0.00）"),
    (lambda s: s.replace("|0.00|1|户名不符", "|0.00|9|户名不符"), "第3行：处理标志“9”无法识别"),
    (lambda s: s.replace("R|3|", "R|2|"), "第4行：序号 2 与第3行重复"),
    (lambda s: s.replace("R|3|101|", "R|3|"), "第4行：有 7 个字段，应为 8 个"),
    (lambda s: s.replace("R|3|", "X|3|"), "第4行：记录标识应为“R”，实为“X”"),
    (lambda s: s.replace("1234.56|1234.56", "12a4.56|1234.56"), "第2行：金额“12a4.56”不是有效金额"),
    (lambda s: s.replace("R|3|", "\r\nR|3|"), "第4行：空行"),
])
def test_return_refused_whole(mutate, message):
    t = builtin_template("standard")
    text = t.render_return(batch_no="B1", date=DAY, records=_results(LINES, {2: "户名不符"})).decode("gb18030")
    with pytest.raises(BankFileError) as exc:
        t.parse_return(mutate(text).encode("gb18030"))
    assert message in str(exc.value)


def test_empty_file_refused():
    with pytest.raises(BankFileError, match="文件为空"):
        builtin_template("standard").parse_return(b"")


def test_xlsx_round_trip_with_calamine_and_reordered_columns():
    from openpyxl import Workbook

    t = builtin_template("xlsx")
    data = t.render_payment(batch_no="B9", date=DAY, lines=LINES)
    assert data[:2] == b"PK"
    # the bank answers with its own column order and account numbers as text
    wb = Workbook()
    ws = wb.active
    ws.title = "代发明细"
    ws.append(["批次号", "B9", "笔数", 3, "总金额", 101234.57, "成功笔数", 2, "成功金额", 1234.57])
    ws.append(["卡号", "姓名", "序号", "应处理金额", "实处理金额", "处理标志", "失败原因"])
    ws.append(["6222021234567890123", "张三丰", 1, 1234.56, 1234.56, "成功", None])
    ws.append(["6228480000000000017", "欧阳娜娜娜", 2, 0.01, 0.01, "成功", None])
    ws.append(["101", "李四", 3, 100000, 0, "失败", "已销户"])
    buf = io.BytesIO()
    wb.save(buf)
    parsed = t.parse_return(buf.getvalue())
    assert parsed.batch_no == "B9"
    assert [(r.seq, r.account_no, r.amount, r.processed_amount, r.ok, r.reason) for r in parsed.lines] == [
        (1, "6222021234567890123", D("1234.56"), D("1234.56"), True, ""),
        (2, "6228480000000000017", D("0.01"), D("0.01"), True, ""),
        (3, "101", D("100000.00"), D("0.00"), False, "已销户")]


def test_xlsx_long_account_number_stored_as_number_refused():
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["批次号", "B9", "笔数", 1, "总金额", 1, "成功笔数", 1, "成功金额", 1])
    ws.append(["序号", "姓名", "卡号", "应处理金额", "实处理金额", "处理标志", "失败原因"])
    ws.append([1, "张三", 6222021234567890123, 1, 1, "成功", None])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(BankFileError, match="第3行：账号以数值格式保存"):
        builtin_template("xlsx").parse_return(buf.getvalue())


def test_xlsx_missing_column_and_not_a_workbook_refused():
    t = builtin_template("xlsx")
    with pytest.raises(BankFileError, match="不是有效的 Excel"):
        t.parse_return(b"PK\x03\x04 this is not a workbook")
    payment = t.render_payment(batch_no="B9", date=DAY, lines=LINES)  # has no 实处理金额/处理标志 columns
    with pytest.raises(BankFileError, match="第2行：缺少列“实处理金额”"):
        t.parse_return(payment)


def test_template_definition_checked():
    bad = builtin_definition("fixed_fen")
    bad["payment"]["trailer"][-1]["width"] = 10
    with pytest.raises(TemplateError, match="字节长度须相同"):
        Template(bad)
    bad = builtin_definition("standard")
    bad["return"]["status"] = {"paid": ["0"]}
    with pytest.raises(TemplateError, match="成功与失败的处理标志"):
        Template(bad)
    bad = builtin_definition("standard")
    bad["return"]["header"] = [{"value": "H"}, "count"]
    with pytest.raises(TemplateError, match="批次号"):
        Template(bad)
    with pytest.raises(TemplateError, match="未知字段"):
        Template({**builtin_definition("standard"), "payment": {"detail": ["account_no", "amount", "colour"]}})


def test_a_new_bank_is_data_comma_separated_fen_trailer():
    definition = {
        "code": "comma_fen", "name": "逗号分隔分", "format": "delimited", "delimiter": ",",
        "amount_unit": "fen", "line_ending": "LF",
        "payment": {"detail": ["account_no", "holder_name", "amount"],
                    "trailer": [{"value": "TOTAL"}, "batch_no", "count", "total"]},
        "return": {"detail": ["account_no", "holder_name", "amount", "status", "reason"],
                   "trailer": [{"value": "TOTAL"}, "batch_no", "count", "total"],
                   "status": {"paid": ["00"], "failed": ["99"]}},
    }
    t = Template(definition)
    data = t.render_payment(batch_no="X1", date=DAY, lines=LINES[:2])
    assert data == ("6222021234567890123,张三丰,123456\n6228480000000000017,欧阳娜娜娜,1\n"
                    "TOTAL,X1,2,123457\n").encode("gb18030")
    back = t.parse_return(t.render_return(batch_no="X1", date=DAY, records=_results(LINES[:2], {2: "冻结"})))
    assert [(r.seq, r.ok, r.processed_amount) for r in back.lines] == [(1, True, D("1234.56")), (2, False, D("0"))]


@pytest.mark.parametrize("code", sorted(BUILTIN_TEMPLATES))
def test_sample_files_match_the_templates(code):
    """The sample files in shebao/bank/fixtures are what the templates write and read."""
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "fixtures"
    t = builtin_template(code)
    payment = t.parse_payment((here / f"{code}_payment{t.extension}").read_bytes())
    assert (payment.batch_no, payment.count, payment.total) == ("20260320ICBC001", 3, D("3384.57"))
    ret = t.parse_return((here / f"{code}_return{t.extension}").read_bytes())
    assert [(r.seq, r.ok, r.processed_amount, r.reason) for r in ret.lines] == [
        (1, True, D("2150.00"), ""), (2, False, D("0.00"), "户名不符"), (3, True, D("0.01"), "")]
    again = t.render_payment(batch_no="20260320ICBC001", date=dt.date(2026, 3, 20), lines=[
        PaymentLine(ln.seq, ln.account_no, ln.holder_name, ln.amount, ln.id_number, ln.memo) for ln in payment.lines])
    assert again == (here / f"{code}_payment{t.extension}").read_bytes()  # byte for byte


# ---- the column-wise fast paths give exactly what the generic code gives ---------------------------------

TRICKY = [
    PaymentLine(1, "6222021234567890123", "张三丰", D("1234.56"), "330282195001011234", "2026-03养老金"),
    PaymentLine(2, "6228480000000000017", "阿卜杜热合曼买买提江吐尔逊", D("0.01"), "33028219520202123X", ""),
    PaymentLine(3, "101", "A张三丰", D("100000.00"), "330282194003031236", "补发" * 20),
    PaymentLine(4, "102", "李四", D("5.5"), "330282194003031236", "一位小数"),  # not yet two places
    PaymentLine(5, "103", "王五", D("0E-2") + D("7.00"), "", "零"),
]


@pytest.mark.parametrize("code", ["standard", "fixed_fen", "xlsx"])
def test_fast_render_same_bytes_as_generic(code, monkeypatch):
    tpl = builtin_template(code)
    fast = tpl.render_payment(batch_no="B1", date=DAY, lines=TRICKY)
    columns = ("seq", "account_no", "holder_name", "amount", "id_number", "memo")
    as_rows = tpl.render_payment(batch_no="B1", date=DAY, columns=columns,
                                 lines=[(ln.seq, ln.account_no, ln.holder_name, ln.amount, ln.id_number, ln.memo)
                                        for ln in TRICKY])
    records = [ReturnRecord(ln.seq, ln.account_no, ln.holder_name, ln.amount.quantize(D("0.01")),
                            D("0.00") if ln.seq % 2 else ln.amount.quantize(D("0.01")), ok=not ln.seq % 2,
                            reason="户名不符" if ln.seq % 2 else "") for ln in TRICKY]
    answer = tpl.render_return(batch_no="B1", date=DAY, records=records)
    parsed = tpl.parse_return(answer)
    monkeypatch.setattr(Template, "_render_fast", lambda *a, **k: None)
    monkeypatch.setattr(Template, "_fast_records", lambda *a, **k: None)
    assert fast == as_rows == tpl.render_payment(batch_no="B1", date=DAY, lines=TRICKY)
    assert answer == tpl.render_return(batch_no="B1", date=DAY, records=records)
    assert tpl.parse_return(answer) == parsed


def test_fast_paths_leave_errors_to_the_generic_code():
    tpl = builtin_template("standard")
    columns = ("seq", "account_no", "holder_name", "amount")
    with pytest.raises(BankFileError, match="含分隔符或换行"):
        tpl.render_payment(batch_no="B", date=DAY, columns=columns, lines=[(1, "62", "张|三", D("1.00"))])
    with pytest.raises(BankFileError, match="不是整分金额"):
        tpl.render_payment(batch_no="B", date=DAY, columns=columns, lines=[(1, "62", "张三", D("1.005"))])
    good = tpl.render_return(batch_no="B", date=DAY, records=[
        ReturnRecord(1, "62", "张三", D("1.00"), D("1.00"), True), ReturnRecord(2, "63", "李四", D("2.00"), D("2.00"), True)])
    with pytest.raises(BankFileError, match="第3行"):
        tpl.parse_return(good.replace(b"R|2|63|", b"R|x|63|"))
