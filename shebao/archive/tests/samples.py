"""A small legacy dump: 人员 (ac01: 个人编号, 18-digit 身份证号), 发放 (ac43: written with the OLD 15-digit
身份证号), 缴费 (ic20: only 个人编号 — linked through ac01) and its dictionary, written into a folder."""

from __future__ import annotations

import csv
import io
from pathlib import Path

# two persons; ZHANG's 15-digit form is in ac43. The numbers are valid GB 11643 numbers.
ZHANG18 = "330282195001011233"
ZHANG15 = ZHANG18[:6] + ZHANG18[8:17]
LI18 = "330282195102021246"
WANG18 = "330282196003033377"

TABLES = [
    ["表名", "中文名", "说明", "主键"],
    ["ac01", "人员基本信息", "2008 年前的老系统", "aac001"],
    ["ac43", "待遇发放", "", "aac002,aae002"],
    ["ic20", "缴费记录", "", "aac001,aae001"],
]
COLUMNS = [
    ["表名", "字段名", "中文名", "类型", "代码类别", "说明"],
    ["ac01", "aac001", "个人编号", "VARCHAR2(20)", "", ""],
    ["ac01", "aac002", "", "", "", ""],
    ["ac01", "aac003", "", "", "", ""],
    ["ac01", "aac004", "", "", "", ""],
    ["ac01", "aae005", "联系电话", "VARCHAR2(20)", "", ""],
    ["ac43", "aac002", "", "", "", ""],
    ["ac43", "aac003", "", "", "", ""],
    ["ac43", "aae002", "", "", "", ""],
    ["ac43", "aae019", "", "", "", ""],
    ["ac43", "fflx", "发放类型", "CHAR(1)", "FFLX", ""],
    ["ic20", "aac001", "个人编号", "VARCHAR2(20)", "", ""],
    ["ic20", "aae001", "年度", "NUMBER(4)", "", ""],
    ["ic20", "jfje", "缴费金额", "NUMBER(12,2)", "", ""],
    ["ic20", "jfrq", "缴费日期", "DATE", "", ""],
]
CODES = [["代码类别", "代码值", "含义"], ["FFLX", "1", "正常发放"], ["FFLX", "2", "补发"]]
DATA = {
    "ac01": [["aac001", "aac002", "aac003", "aac004", "aae005"],
             ["P001", ZHANG18, "张三", "1", "13805741234"],
             ["P002", LI18, "李四", "2", ""],
             ["P003", WANG18, "王五", "1", ""]],
    "ac43": [["aac002", "aac003", "aae002", "aae019", "fflx"],
             [ZHANG15, "张三", "200701", "320.50", "1"],
             [ZHANG15, "张三", "200702", "320.50", "2"],
             [LI18, "李四", "200701", "288.00", "1"]],
    "ic20": [["aac001", "aae001", "jfje", "jfrq"],
             ["P001", "1995", "120.00", "1995-06-30"],
             ["P001", "1996", "132.00", "19960630"],
             ["P002", "1995", "96.00", ""],
             ["P999", "1995", "10.00", ""]],
}


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def dump_folder(tmp: Path, name: str = "legacy2008", *, data: dict | None = None, tables=None, columns=None,
                encoding: str = "utf-8") -> Path:
    folder = tmp / name
    folder.mkdir(exist_ok=True)
    write_csv(folder / "表.csv", tables or TABLES, encoding)
    write_csv(folder / "字段.csv", columns or COLUMNS, encoding)
    write_csv(folder / "代码.csv", CODES, encoding)
    for table, rows in (data or DATA).items():
        write_csv(folder / f"{table}.csv", rows, encoding)
    return folder
