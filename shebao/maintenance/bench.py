"""数据比对 of two 100,000-row files (target ≤ 5 s): CSV (UTF-8) against CSV (GB18030), and xlsx against
xlsx, 10 columns, keyed by 身份证号 with a tenth of file A's keys in their 15-digit form; 1% of the rows
only in A, 2% only in B and 5% changed. The time is the whole ``compare_files`` (safe reader, parse,
hash join) plus writing the xlsx report. No database: ``python -m shebao.maintenance.bench [--rows N]``
runs it alone; it is also the ``compare`` section of ``make bench`` (``--only compare``)."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import time

from shebao.bench import section

HEADERS = ["身份证号", "姓名", "性别", "出生日期", "镇街道", "待遇项目", "月金额", "开户银行", "银行账号", "备注"]
TOWNS = ["浒山街道", "古塘街道", "白沙路街道", "坎墩街道", "宗汉街道", "附海镇", "观海卫镇"]


def _ids(n: int) -> list[str]:
    from shebao.common.identity import check_char

    out = []
    start = dt.date(1930, 1, 1)
    for i in range(n):  # unique: 1,000 sequence numbers a birth date
        first17 = f"330282{start + dt.timedelta(days=i // 1000):%Y%m%d}{i % 1000:03d}"
        out.append(first17 + check_char(first17))
    return out


def make_files(n: int = 100_000) -> tuple[list[list[str]], list[list[str]]]:
    ids = _ids(int(n * 1.02))
    a, b = [HEADERS], [HEADERS]
    for i in range(n):
        number = ids[i]
        row = [number, f"姓名{i % 997}", "男" if i % 2 else "女", number[6:14], TOWNS[i % 7], "基本养老金",
               f"{1000 + i % 3000}.{i % 100:02d}", "ICBC", f"622202{i:013d}", "" if i % 5 else "备注"]
        if i % 10 == 0:
            row[0] = number[:6] + number[8:17]  # the 15-digit form in A
        if i % 100 != 7:  # 1 % only in A
            a.append(row)
        if i % 100 != 8:  # 1 % only in B (these are replaced by new persons below)
            r2 = list(row)
            r2[0] = number
            if i % 20 == 3:  # 5 % changed
                r2[6] = f"{2000 + i % 3000}.00"
            b.append(r2)
    for number in ids[n:n + n // 100]:
        b.append([number, "新人", "男", number[6:14], TOWNS[0], "基本养老金", "1000.00", "ICBC", "", ""])
    return a, b


def _csv(rows, encoding: str) -> bytes:
    return ("\r\n".join(",".join(r) for r in rows) + "\r\n").encode(encoding)


def _xlsx(rows) -> bytes:
    """As Excel saves a workbook (shared strings), by XlsxWriter (a development dependency)."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    book.close()
    return out.getvalue()


def measure(n: int = 100_000) -> list[list[str]]:
    from shebao.maintenance.compare import CLI_LIMITS, compare_files, write_report

    a, b = make_files(n)
    table = []
    for label, (fa, da), (fb, db) in [
        ("csv UTF-8 × csv GB18030", ("a.csv", _csv(a, "utf-8")), ("b.csv", _csv(b, "gb18030"))),
        ("xlsx × xlsx（共享字符串，如 Excel 保存）", ("a.xlsx", _xlsx(a)), ("b.xlsx", _xlsx(b))),
    ]:
        start, cpu = time.perf_counter(), time.process_time()
        result = compare_files(file_a=fa, data_a=da, file_b=fb, data_b=db, keys=["身份证号"], limits=CLI_LIMITS)
        compared = time.perf_counter() - start
        out = io.BytesIO()
        write_report(result, out)
        total = time.perf_counter() - start
        cpu = time.process_time() - cpu
        s = result.summary()
        table.append([label, f"{len(a) - 1:,} / {len(b) - 1:,}", f"{s['only_a']:,}", f"{s['only_b']:,}",
                      f"{s['changed']:,}", f"{compared:.2f}", f"{total:.2f}", f"{cpu:.2f}"])
    return table


HEADER = ["文件", "A / B 行数", "仅A有", "仅B有", "不同", "比对 s", "含写报告 s", "CPU s"]


@section("compare", title="数据比对：两个 100,000 行文件按身份证号比对（目标 ≤ 5 秒）", order=95)
def compare_bench(ctx):
    ctx.table("数据比对", HEADER, measure(), notes=["A 中一成身份证号为 15 位旧号，与 B 的 18 位号匹配",
                                             "CPU s：本进程的 CPU 时间（含写报告）；机器繁忙时墙钟时间远大于它"])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m shebao.maintenance.bench")
    p.add_argument("--rows", type=int, default=100_000)
    args = p.parse_args(argv)
    print(" | ".join(HEADER))
    for row in measure(args.rows):
        print(" | ".join(row))


if __name__ == "__main__":
    main()
