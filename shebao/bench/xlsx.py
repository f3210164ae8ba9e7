"""The xlsx writer: our hand-written streaming writer (``shebao.common.sheets``) against XlsxWriter
(``constant_memory``, ``strings_to_formulas`` off) on the same rows: 80,000 rows × 12 columns of what a
list export holds (身份证号, names, towns, dates, amounts, a formula-like 备注 now and then).

Each writer runs in its own child process, so its peak RSS (``ru_maxrss``) is its own; the time is the
child's wall clock of writing only (the rows are generated before the clock starts).
No database: ``python -m shebao.bench.xlsx [--rows 80000] [--repeat 3]`` runs it alone; it is also the
``xlsx`` section of ``make bench`` (``--only xlsx``)."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import subprocess
import sys
import time
from decimal import Decimal

from shebao.bench import section

COLUMNS = 12
HEADERS = ["身份证号", "姓名", "镇街道", "村社区", "待遇项目", "月金额", "补发", "扣减", "实发", "开始年月",
           "登记日期", "备注"]
MONEY = {5, 6, 7, 8}
WRITERS = ("hand", "xlsxwriter")


def _rows(n: int) -> list[list]:
    towns = ["浒山街道", "古塘街道", "白沙路街道", "坎墩街道", "宗汉街道", "附海镇", "观海卫镇"]
    names = ["张三丰", "欧阳娜娜", "李四", "王五", "赵六", "阿卜杜热合曼"]
    out = []
    for i in range(n):
        amount = Decimal(1000 + i % 5000) + Decimal(i % 100) / 100
        out.append([
            f"33028219{40 + i % 50:02d}0101{i % 10000:04d}"[:18], names[i % len(names)], towns[i % len(towns)],
            f"第{i % 40}村", "基本养老金", amount, Decimal("12.30"), Decimal("0.00"), amount + Decimal("12.30"),
            f"2026-{1 + i % 12:02d}", dt.date(2020, 1, 1) + dt.timedelta(days=i % 2000),
            "=HYPERLINK(\"http://x\",\"点我\")" if i % 1000 == 0 else ("备注" if i % 3 else ""),
        ])
    return out


def _write_hand(rows, out) -> None:
    from shebao.common.sheets import XlsxWriter

    with XlsxWriter(out, sheet_name="人员", headers=HEADERS, money_columns=MONEY) as w:
        for r in rows:
            w.write_row(r)


def _write_xlsxwriter(rows, out) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(out, {"strings_to_formulas": False, "strings_to_numbers": False,
                                     "strings_to_urls": False, "constant_memory": True, "in_memory": False})
    sheet = book.add_worksheet("人员")
    bold = book.add_format({"bold": True, "bg_color": "#E8EDF3"})
    money = book.add_format({"num_format": "#,##0.00"})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    quoted = book.add_format({"quote_prefix": True})
    sheet.write_row(0, 0, HEADERS, bold)
    sheet.freeze_panes(1, 0)
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            if v is None or v == "":
                continue
            if isinstance(v, Decimal):
                sheet.write_number(r, c, float(v), money)  # XlsxWriter takes floats only
            elif isinstance(v, dt.date):
                sheet.write_datetime(r, c, v, date)
            elif v[:1] in ("=", "+", "-", "@"):
                sheet.write_string(r, c, v, quoted)
            else:
                sheet.write_string(r, c, v)
    sheet.autofilter(0, 0, len(rows), COLUMNS - 1)
    book.close()


def _child(writer: str, n: int) -> None:
    rows = _rows(n)
    out = io.BytesIO()
    start = time.perf_counter()
    {"hand": _write_hand, "xlsxwriter": _write_xlsxwriter}[writer](rows, out)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "bytes": len(out.getvalue())}))


def _baseline(n: int) -> int:
    """Peak RSS (KiB) of a child that only builds the rows: what both writers start from."""
    proc = subprocess.Popen([sys.executable, "-c", f"from shebao.bench.xlsx import _rows; _rows({n})"],
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss


def measure(n: int = 80_000, repeat: int = 3) -> list[list[str]]:
    base = _baseline(n)
    table = []
    for writer in WRITERS:
        times, peaks, size = [], [], 0
        for _ in range(repeat):
            proc = subprocess.Popen([sys.executable, "-m", "shebao.bench.xlsx", "--child", writer, "--rows", str(n)],
                                    stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()})
            out = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            if status:
                raise RuntimeError(f"{writer} failed")
            result = json.loads(out)
            times.append(result["seconds"])
            peaks.append(usage.ru_maxrss)
            size = result["bytes"]
        table.append([writer, f"{n:,} × {COLUMNS}", f"{min(times):.2f}", f"{sorted(times)[len(times) // 2]:.2f}",
                      f"{max(peaks) / 1024:.0f}", f"{(max(peaks) - base) / 1024:.0f}", f"{size / 1e6:.1f}"])
    return table


HEADER = ["写入器", "行 × 列", "最快 s", "中位 s", "峰值 RSS MiB", "超出造数 MiB", "文件 MB"]


@section("xlsx", title="xlsx 写入器：手写流式 vs XlsxWriter（80,000 行 × 12 列）", order=90)
def xlsx_bench(ctx):
    ctx.table("xlsx 写入", HEADER, measure())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m shebao.bench.xlsx")
    p.add_argument("--rows", type=int, default=80_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--child", choices=WRITERS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child, args.rows)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU, "
          f"rlimit {resource.getrlimit(resource.RLIMIT_AS)[0]}")
    print(" | ".join(HEADER))
    for row in measure(args.rows, args.repeat):
        print(" | ".join(row))


if __name__ == "__main__":
    main()
