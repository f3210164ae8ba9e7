"""Benchmark section ``warehouse`` (``make bench BENCH_ARGS="--only warehouse"``): land 1,000,000 rows
(target ≥ 200,000 rows/s, COPY-bound) and run the audit with the cross-checks over them and the
payroll lines of the database (target ≤ 10 s with 80,000 lines).

The rows are a synthetic 待遇发放 table of the source ``bench`` (身份证号 of the demo's persons, so the
cross-checks join): a full load into the empty table, then the same file again as a full reload (every
row compared, none changed), then an incremental file of 10,000 U rows. The bench source's tables are
dropped at the end."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from shebao.bench import section

ROWS = 1_000_000


def _dictionary(folder: Path) -> None:
    from shebao.warehouse.samples import write_csv

    write_csv(folder / "表.csv", [["表名", "中文名", "说明", "主键", "分区", "用途"],
                                  ["pay", "养老待遇发放", "基准", "aac001,aae002", "HASH 8", "待遇发放"],
                                  ["death", "死亡", "基准", "aac002", "", "死亡"]])
    write_csv(folder / "字段.csv", [["表名", "字段名", "中文名", "类型", "代码类别", "说明"],
                                    ["pay", "aac001", "", "", "", ""], ["pay", "aac002", "", "", "", ""],
                                    ["pay", "aac003", "", "", "", ""], ["pay", "aae002", "", "", "", ""],
                                    ["pay", "aae140", "", "", "", ""], ["pay", "aae019", "", "", "", ""],
                                    ["pay", "aae116", "", "", "", ""],
                                    ["death", "aac002", "", "", "", ""], ["death", "aac060", "", "", "", ""]])


def bench_warehouse(rows: int = ROWS, seed: int = 42) -> dict:
    from django.db import connection

    from shebao.accounts.models import User
    from shebao.payroll.models import PayrollLine
    from shebao.registry.models import Person
    from shebao.warehouse import ddl
    from shebao.warehouse.audit import audit_run
    from shebao.warehouse.dictionary import dictionary_load
    from shebao.warehouse.landing import warehouse_load
    from shebao.warehouse.models import AuditRule, Source, WhTable
    from shebao.warehouse.services import rule_create

    print(f"生成 {rows:,} 行并装载……", flush=True)
    from shebao.bench.payroll import cpu_clock

    rng = random.Random(seed)
    clock = cpu_clock() or time.process_time
    user, _ = User.objects.get_or_create(username="bench_wh", defaults={"is_superuser": True, "all_regions": True,
                                                                         "full_name": "基准"})
    persons = list(Person.objects.values_list("id_number", "name")[:200_000]) or [("330282195001011236", "甲")]
    out: dict = {"rows": rows, "lines": PayrollLine.objects.count()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _dictionary(folder)
        dictionary_load(source_name="bench", path=folder, user=user)
        months = [f"2025{m:02d}" for m in range(1, 13)] + [f"2026{m:02d}" for m in range(1, 13)]
        per = rows // len(months) + 1
        path = folder / "pay.csv"
        with path.open("w", encoding="utf-8") as fh:
            fh.write("aac001,aac002,aac003,aae002,aae140,aae019,aae116\n")
            n = 0
            for i in range(per):
                idn, name = persons[i % len(persons)]
                for month in months:
                    if n >= rows:
                        break
                    fh.write(f"B{i:08d},{idn},{name},{month},{rng.choice(('110', '120', '170'))},"
                             f"{rng.randint(100000, 500000) / 100:.2f},1\n")
                    n += 1
        t0, c0 = time.perf_counter(), clock()
        first = warehouse_load(source_name="bench", table_name="pay", path=path, user=user).load
        out["full_s"], out["full_cpu"] = time.perf_counter() - t0, clock() - c0
        print(f"  全量装载 {out['full_s']:.2f} 秒（{rows / out['full_s']:,.0f} 行/秒）", flush=True)
        out["full"] = first.counts()
        again = folder / "pay2.csv"
        again.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 1))  # another file (sha), the same rows
        t0, c0 = time.perf_counter(), clock()
        out["reload"] = warehouse_load(source_name="bench", table_name="pay", path=again, user=user).load.counts()
        out["reload_s"], out["reload_cpu"] = time.perf_counter() - t0, clock() - c0
        inc = folder / "inc.csv"
        with inc.open("w", encoding="utf-8") as fh:
            fh.write("_op,aac001,aae002,aae019\n")
            for i in range(10_000):
                fh.write(f"U,B{i:08d},202501,1.00\n")
        t0, c0 = time.perf_counter(), clock()
        out["incremental"] = warehouse_load(source_name="bench", table_name="pay", path=inc, mode="incremental",
                                            user=user).load.counts()
        out["incremental_s"], out["incremental_cpu"] = time.perf_counter() - t0, clock() - c0
        deaths = folder / "death.csv"
        with deaths.open("w", encoding="utf-8") as fh:
            fh.write("aac002,aac060\n")
            for idn, _name in persons[:2000]:
                fh.write(f"{idn},2025-06-15\n")
        warehouse_load(source_name="bench", table_name="death", path=deaths, user=user)
        pay = WhTable.objects.get(source__name="bench", name="pay")
        rules = [rule_create(user=user, name="基准身份证号", kind="id_number", table=pay, column="aac002"),
                 rule_create(user=user, name="基准险种代码", kind="code", table=pay, column="aae140"),
                 rule_create(user=user, name="基准发放年月", kind="date", table=pay, column="aae002"),
                 rule_create(user=user, name="基准姓名必填", kind="not_null", table=pay, column="aac003"),
                 *AuditRule.objects.filter(kind__in=["death", "double", "name"])]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE warehouse.bench_pay")
        t0, c0 = time.perf_counter(), clock()
        run = audit_run(user=user, rules=rules)
        out["audit_s"], out["audit_cpu"] = time.perf_counter() - t0, clock() - c0
        out["per_rule"] = []
        for rule in rules:  # each alone, for where the time goes
            t1, c1 = time.perf_counter(), clock()
            one = audit_run(user=user, rules=[rule])
            out["per_rule"].append((rule.name, time.perf_counter() - t1, clock() - c1))
            from shebao.warehouse.models import Finding as _F

            _F.objects.filter(run=one).delete()
        print(f"  审核 {out['audit_s']:.2f} 秒（结算明细 {out['lines']:,} 笔）", flush=True)
        out["findings"] = run.summary
        # clean up: the bench source's tables and metadata
        with connection.cursor() as cursor:
            for t in WhTable.objects.filter(source__name="bench"):
                cursor.execute(f'DROP TABLE IF EXISTS {ddl.SCHEMA}."{t.physical}" CASCADE')
        for r in rules[:4]:
            r.delete()
        from shebao.warehouse.models import DictionaryLoad, Finding, Load

        Finding.objects.filter(run=run).delete()
        Load.objects.filter(table__source__name="bench").delete()
        DictionaryLoad.objects.filter(source__name="bench").delete()
        WhTable.objects.filter(source__name="bench").delete()
        Source.objects.filter(name="bench").delete()
    return out


@section("warehouse", title="回流库：装载 100 万行与审核", order=80)
def warehouse_section(ctx) -> None:
    r = bench_warehouse(seed=ctx.args.seed)
    rows = [
        ["全量装载（空表）", f"{r['full_s']:.2f}", f"{r['full_cpu']:.2f}", f"{r['rows'] / r['full_s']:,.0f}",
         str(r["full"])],
        ["全量重载（逐行比较，无变化）", f"{r['reload_s']:.2f}", f"{r['reload_cpu']:.2f}",
         f"{r['rows'] / r['reload_s']:,.0f}", str(r["reload"])],
        ["增量 1 万行 U", f"{r['incremental_s']:.2f}", f"{r['incremental_cpu']:.2f}", "", str(r["incremental"])],
        [f"审核（4 条内置规则 + 死亡/重复领取/姓名比对，{r['lines']:,} 笔结算明细）", f"{r['audit_s']:.2f}",
         f"{r['audit_cpu']:.2f}", "", str(r["findings"])],
    ]
    rows += [[f"  其中 {name}", f"{w:.2f}", f"{c:.2f}", "", ""] for name, w, c in r["per_rule"]]
    ctx.table("回流库", ["步骤", "秒", "CPU 秒（本进程 + 数据库后端）", "行/秒", "计数"], rows,
              notes=["CPU 秒不受其他进程争用 CPU 的影响；机器繁忙时以它为准"])
