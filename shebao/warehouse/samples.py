"""A small 省 dictionary (persons, deaths, pensions paid, activities) and files, written into a folder: used by
the 回流库 demo step, the bench and the tests (never imports a test module)."""

from __future__ import annotations

from pathlib import Path

TABLES = [
    ["表名", "中文名", "说明", "主键", "分区", "用途", "活动日期字段"],
    ["ac01", "人员基本信息", "省集中系统人员", "aac001", "", "", ""],
    ["ac60", "死亡登记", "", "aac002", "", "死亡", ""],
    ["ic_pay", "养老待遇发放", "其他养老金的发放明细", "aac002,aae002,aae140", "HASH 4", "待遇发放", ""],
    ["ke_act", "医保结算", "医保结算、社保卡交易", "seq", "", "活动", "act_date"],
]
COLUMNS = [
    ["表名", "字段名", "中文名", "类型", "代码类别", "说明"],
    ["ac01", "aac001", "", "", "", ""],
    ["ac01", "AAC002", "", "", "", ""],
    ["ac01", "aac003", "", "", "", ""],
    ["ac01", "aac004", "", "", "", ""],
    ["ac01", "aac006", "", "", "", ""],
    ["ac01", "bal", "余额", "NUMBER(10,2)", "", ""],
    ["ac01", "upd", "更新时间", "TIMESTAMP", "", ""],
    ["ac60", "aac002", "", "", "", ""],
    ["ac60", "aac003", "", "", "", ""],
    ["ac60", "aac060", "", "", "", ""],
    ["ic_pay", "aac002", "", "", "", ""],
    ["ic_pay", "aae002", "", "", "", ""],
    ["ic_pay", "aae140", "", "", "", ""],
    ["ic_pay", "aae019", "", "", "", ""],
    ["ke_act", "seq", "流水号", "INTEGER", "", ""],
    ["ke_act", "aac002", "", "", "", ""],
    ["ke_act", "act_date", "结算日期", "DATE", "", ""],
    ["ke_act", "kind", "类别", "VARCHAR2(10)", "ACT", ""],
]
# the same columns with the 审核 column: the built-in rules a dictionary load attaches
RULES = {("ac01", "AAC002"): "身份证号", ("ac01", "aac004"): "代码、必填", ("ac01", "aac006"): "日期",
         ("ic_pay", "aac002"): "身份证号、引用 ac01.aac002", ("ic_pay", "aae140"): "代码", ("ke_act", "kind"): "代码"}
COLUMNS_WITH_RULES = [COLUMNS[0] + ["审核"]] + [r + [RULES.get((r[0], r[1]), "")] for r in COLUMNS[1:]]

CODES = [
    ["代码类别", "代码值", "含义"],
    ["ACT", "1", "医保结算"],
    ["ACT", "2", "社保卡交易"],
    ["ACT", "3", "住院"],
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def dictionary_folder(tmp: Path, *, tables=None, columns=None, codes=None, encoding="utf-8") -> Path:
    folder = tmp / "dict"
    folder.mkdir(exist_ok=True)
    write_csv(folder / "表.csv", tables or TABLES, encoding)
    write_csv(folder / "字段.csv", columns or COLUMNS, encoding)
    write_csv(folder / "代码.csv", codes or CODES, encoding)
    return folder
