"""The bank templates the system ships with. Each is plain data (JSON-compatible): a new bank's
layout is a new definition stored in the ``BankTemplate`` table, not new code. The keys are
documented in ``shebao/bank/formats/__init__.py``."""

from __future__ import annotations

import copy

# 标准格式 — the documented standard layout (issue 3), pipe separated, yuan with 2 decimals.
STANDARD = {
    "code": "standard",
    "name": "标准格式（竖线分隔，金额元）",
    "format": "delimited",
    "encoding": "GB18030",
    "line_ending": "CRLF",
    "delimiter": "|",
    "amount_unit": "yuan",
    "payment": {
        # H|<batch_no>|<count>|<total>|<YYYYMMDD>
        "header": [{"value": "H"}, "batch_no", "count", "total", "date"],
        # D|<seq>|<account_no>|<holder_name>|<amount>|<id_number>|<memo>
        "detail": [{"value": "D"}, "seq", "account_no", "holder_name", "amount", "id_number", "memo"],
    },
    "return": {
        # H|<batch_no>|<count>|<total>|<ok_count>|<ok_total>
        "header": [{"value": "H"}, "batch_no", "count", "total", "ok_count", "ok_total"],
        # R|<seq>|<account_no>|<holder_name>|<amount>|<processed_amount>|<status>|<reason>
        "detail": [{"value": "R"}, "seq", "account_no", "holder_name", "amount", "processed_amount",
                   "status", "reason"],
        "status": {"paid": ["0"], "failed": ["1"]},
    },
}

# 定长格式 — fixed-width GB18030 records of 120 bytes each, amounts in integer fen, zero-filled
# numbers, names cut to their byte limit on a character boundary, the summary line (T) at the end.
FIXED_FEN = {
    "code": "fixed_fen",
    "name": "定长格式（GB18030 按字节定长，金额分，汇总行在末尾）",
    "format": "fixed",
    "encoding": "GB18030",
    "line_ending": "CRLF",
    "amount_unit": "fen",
    "payment": {
        "detail": [
            {"value": "D", "width": 1},
            {"name": "seq", "width": 6},
            {"name": "account_no", "width": 32},
            {"name": "holder_name", "width": 20, "cut": True},
            {"name": "amount", "width": 12},
            {"name": "id_number", "width": 18},
            {"name": "memo", "width": 30, "cut": True},
            {"value": "", "width": 1},
        ],
        "trailer": [
            {"value": "T", "width": 1},
            {"name": "batch_no", "width": 20},
            {"name": "count", "width": 8},
            {"name": "total", "width": 15},
            {"name": "date", "width": 8},
            {"value": "", "width": 68},
        ],
    },
    "return": {
        "detail": [
            {"value": "D", "width": 1},
            {"name": "seq", "width": 6},
            {"name": "account_no", "width": 32},
            {"name": "holder_name", "width": 20, "cut": True},
            {"name": "amount", "width": 12},
            {"name": "processed_amount", "width": 12},
            {"name": "status", "width": 1},
            {"name": "reason", "width": 36, "cut": True},
        ],
        "trailer": [
            {"value": "T", "width": 1},
            {"name": "batch_no", "width": 20},
            {"name": "count", "width": 8},
            {"name": "total", "width": 15},
            {"name": "ok_count", "width": 8},
            {"name": "ok_total", "width": 15},
            {"name": "date", "width": 8},
            {"value": "", "width": 45},
        ],
        "status": {"paid": ["S"], "failed": ["F"]},
    },
}

# Excel 格式 — one sheet: a summary row (label, value pairs), the column titles, one row per payment.
# Columns are found by their title when reading, so a bank may reorder them.
XLSX = {
    "code": "xlsx",
    "name": "Excel 格式（姓名/卡号/应处理金额/备注）",
    "format": "xlsx",
    "sheet": "代发明细",
    "amount_unit": "yuan",
    "payment": {
        "header": [{"value": "批次号"}, "batch_no", {"value": "笔数"}, "count",
                   {"value": "总金额"}, "total", {"value": "日期"}, "date"],
        "detail": [
            {"name": "seq", "title": "序号"},
            {"name": "holder_name", "title": "姓名"},
            {"name": "account_no", "title": "卡号"},
            {"name": "amount", "title": "应处理金额"},
            {"name": "memo", "title": "备注"},
        ],
    },
    "return": {
        "header": [{"value": "批次号"}, "batch_no", {"value": "笔数"}, "count",
                   {"value": "总金额"}, "total", {"value": "成功笔数"}, "ok_count",
                   {"value": "成功金额"}, "ok_total"],
        "detail": [
            {"name": "seq", "title": "序号"},
            {"name": "holder_name", "title": "姓名"},
            {"name": "account_no", "title": "卡号"},
            {"name": "amount", "title": "应处理金额"},
            {"name": "processed_amount", "title": "实处理金额"},
            {"name": "status", "title": "处理标志"},
            {"name": "reason", "title": "失败原因"},
        ],
        "status": {"paid": ["成功", "0"], "failed": ["失败", "1"]},
    },
}

BUILTIN_TEMPLATES: dict[str, dict] = {t["code"]: t for t in (STANDARD, FIXED_FEN, XLSX)}


def builtin_definition(code: str) -> dict:
    """A deep copy of a shipped definition (callers may not mutate the originals)."""
    return copy.deepcopy(BUILTIN_TEMPLATES[code])
