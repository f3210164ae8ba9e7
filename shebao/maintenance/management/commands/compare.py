"""shebao compare A B --key COLUMN [--key COLUMN...] [--out report.xlsx] [--json]

Two files (xlsx, xls, csv in UTF-8 or GB18030) — or two database tables, each written
``table:archive.<表名>``, ``table:warehouse.<物理表名>`` or ``table:live.persons`` (``shebao.maintenance
.tables``) — by key columns (``A列=B列`` pairs two differently named columns) → rows only in A, only in B, and rows
whose other columns differ (``shebao.maintenance.compare``). ``--json`` prints the counts
(``{"only_a": N, "only_b": N, "changed": N, …}``); ``--out`` writes every difference side by side
(.xlsx or .csv). Reads files and writes a report: no database write, the operator's (server shell)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import command_rule
from shebao.common.policy import CONSOLE
from shebao.maintenance.compare import (
    CLI_LIMITS,
    CompareError,
    compare_files,
    compare_sheets,
    read_sheet,
    write_report,
)
from shebao.maintenance.tables import PREFIX, read_table_sheet

COMPARE_RULE = command_rule("compare", CONSOLE)
SHOWN = 20


class Command(BaseCommand):
    help = "数据比对：两个文件按关键列比对，列出仅A有、仅B有和内容不同的行"

    def add_arguments(self, parser):
        parser.add_argument("file_a", metavar="A", help="文件 A（xlsx、xls 或 csv），或数据库表 table:archive.表名、"
                                                        "table:warehouse.物理表名、table:live.persons")
        parser.add_argument("file_b", metavar="B", help="文件 B（xlsx、xls 或 csv），或数据库表（同上）")
        parser.add_argument("--key", action="append", required=True, metavar="COLUMN",
                            help="关键列的列名（可多次给出；身份证号 15 位与 18 位视为相同）")
        parser.add_argument("--out", help="比对报告（扩展名 .xlsx 或 .csv），逐行列出差异，A 与 B 并列")
        parser.add_argument("--json", action="store_true", help="以 JSON 输出统计数字")

    def handle(self, *args, **opts):
        out = Path(opts["out"]) if opts.get("out") else None
        if out is not None and out.suffix.lower() not in (".xlsx", ".csv"):
            raise CommandError("报告文件的扩展名应为 .xlsx 或 .csv")
        files = []
        start = time.perf_counter()
        for label in ("file_a", "file_b"):
            if opts[label].startswith(PREFIX):
                files.append((opts[label][len(PREFIX):], None))
                continue
            path = Path(opts[label])
            try:
                files.append((path.name, path.read_bytes()))
            except OSError as exc:
                raise CommandError(f"无法读取文件 {path}：{exc.strerror or exc}") from None
        try:
            if files[0][1] is not None and files[1][1] is not None:
                result = compare_files(file_a=files[0][0], data_a=files[0][1], file_b=files[1][0], data_b=files[1][1],
                                       keys=opts["key"], limits=CLI_LIMITS)
            else:
                sheets = [read_table_sheet(ref, label=side, limit=CLI_LIMITS.max_rows) if data is None
                          else read_sheet(side, ref, data, CLI_LIMITS)
                          for (ref, data), side in zip(files, ("A", "B"), strict=True)]
                result = compare_sheets(sheets[0], sheets[1], opts["key"])
        except CompareError as exc:
            raise CommandError(str(exc)) from None
        seconds = time.perf_counter() - start
        if out is not None:
            with out.open("wb") as fh:
                write_report(result, fh, fmt=out.suffix.lower().lstrip("."))
        summary = result.summary()
        if opts["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        w = self.stdout.write
        w(f"A：{files[0][0]}，{result.rows_a:,} 行；B：{files[1][0]}，{result.rows_b:,} 行；"
          f"关键列：{'、'.join(result.keys)}（{seconds:.2f} 秒）")
        w(f"仅A有 {summary['only_a']:,} 行，仅B有 {summary['only_b']:,} 行，内容不同 {summary['changed']:,} 行，"
          f"相同 {summary['same']:,} 行")
        if result.columns_only_a or result.columns_only_b:
            w(f"未比对的列：仅A有 {'、'.join(result.columns_only_a) or '无'}；仅B有 {'、'.join(result.columns_only_b) or '无'}")
        if result.duplicates_a or result.duplicates_b:
            w(f"关键列重复（只比对第一行）：A {result.duplicates_a} 行，B {result.duplicates_b} 行")
        if result.blank_keys_a or result.blank_keys_b:
            w(f"关键列为空的行（未比对）：A {result.blank_keys_a} 行，B {result.blank_keys_b} 行")
        for column, n in summary["changed_by_column"].items():
            w(f"  {column}：{n:,} 行不同")
        for c in result.changed[:SHOWN]:
            key = "、".join(result.key_of_a(c.row_a))
            parts = [f"{f}：{c.row_a[result.col_index_a[result.columns.index(f)]]} → "
                     f"{c.row_b[result.col_index_b[result.columns.index(f)]]}" for f in c.fields]
            w(f"  不同 {key}：{'；'.join(parts)}")
        if out is not None:
            w(f"报告已写入 {out}")
