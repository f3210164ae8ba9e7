"""Benchmark section ``warehouse`` (``make bench BENCH_ARGS="--only warehouse"``): land 1,000,000 rows
(target ≥ 200,000 rows/s, COPY-bound) and run the audit with the cross-checks over them and 80,000
payroll lines (target ≤ 10 s).

The bench's own population, made set-based in SQL and kept between runs (like the payroll bench's):
80,000 receiving persons with VALID 身份证号 (area 339901 — not a real county, so they never meet demo or
real data; the check character by ``shebao_id_check_char``), each paid one line of last month in a
bench scheme (``BWH``; the run and its lines are made again on every run, for the current month).

The shared-back data of the source ``bench`` (made by SQL ``COPY … TO STDOUT`` from those persons, so
every figure below is known in advance):

- ``pay`` (用途 待遇发放, HASH 8, 1,000,000 rows): each person paid another pension in each of the 12
  months before last month (960,000 rows; every 250th person's name written differently); every 100th
  person (i ≡ 7) paid for last month too (重复领取) and every 100th (i ≡ 8) a 0.00 row for it (not a
  double receipt); 38,400 rows of persons not ours, among which every 96th has a wrong check character,
  an unknown 险种 code, an empty name, a month 13 (the four built-in rules' defects);
- ``death`` (用途 死亡): every 200th person (i ≡ 11) died two months before the paid month (死亡后仍发放),
  every 200th (i ≡ 12) in the paid month itself (not a finding), 1,000 persons not ours;
- ``act`` (用途 活动): every 50th person (i ≡ 5) active 30 (and 200) days ago (生存迹象), i ≡ 6 only 400 days
  ago and i ≡ 9 only in the future (neither a finding).

Steps timed: a full load into the empty table, the same rows again as a full reload (none changed), a
full reload with 1,000 changed, 500 new and 500 gone rows, 10,000 U rows incremental, then the audit
(4 built-in rules on ``pay`` + the 4 cross-checks) and each rule alone. Printed: wall seconds and CPU
seconds of the database backend and of this process, and for every rule found == expected. The bench
source's tables are dropped at the end (the persons stay)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from shebao.bench import section

ROWS = 1_000_000
PERSONS = 80_000
MONTHS = 12
AREA = "339901"  # the bench's receiving persons
OTHER = "339902"  # persons of the shared data who are not ours
SCHEME = "BWH"
SOURCE = "bench"


def _dictionary(folder: Path) -> None:
    from shebao.warehouse.samples import write_csv

    write_csv(folder / "表.csv", [["表名", "中文名", "说明", "主键", "分区", "用途", "活动日期字段"],
                                  ["pay", "养老待遇发放", "基准", "aac001,aae002", "HASH 8", "待遇发放", ""],
                                  ["death", "死亡", "基准", "aac002", "", "死亡", ""],
                                  ["act", "医保结算", "基准", "seq", "", "活动", "act_date"]])
    write_csv(folder / "字段.csv", [["表名", "字段名", "中文名", "类型", "代码类别", "说明"],
                                    ["pay", "aac001", "", "", "", ""], ["pay", "aac002", "", "", "", ""],
                                    ["pay", "aac003", "", "", "", ""], ["pay", "aae002", "", "", "", ""],
                                    ["pay", "aae140", "", "", "", ""], ["pay", "aae019", "", "", "", ""],
                                    ["pay", "aae116", "", "", "", ""],
                                    ["death", "aac002", "", "", "", ""], ["death", "aac060", "", "", "", ""],
                                    ["act", "seq", "流水号", "INTEGER", "", ""], ["act", "aac002", "", "", "", ""],
                                    ["act", "act_date", "结算日期", "DATE", "", ""]])


def _clocks():
    """() → (backend CPU seconds, this process's CPU seconds) so far; the backend's from /proc (embedded
    server), else 0."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    stat = f"/proc/{pid}/stat"
    tick = os.sysconf("SC_CLK_TCK")

    def clock() -> tuple[float, float]:
        backend = 0.0
        if os.path.exists(stat):
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            backend = (int(fields[11]) + int(fields[12])) / tick
        return backend, time.process_time()

    return clock


class Timer:
    def __init__(self, clock) -> None:
        self.clock = clock

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), self.clock()
        return self

    def __exit__(self, *exc) -> None:
        c1 = self.clock()
        self.wall = time.perf_counter() - self.t0
        self.db, self.py = c1[0] - self.c0[0], c1[1] - self.c0[1]
        self.cpu = self.db + self.py


def paid_month() -> dt.date:
    """The month of the bench's payroll lines: last month."""
    first = dt.date.today().replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def ensure_population(user_id: int, persons: int = PERSONS) -> int:
    """The bench's receiving persons (valid 身份证号, area 339901; kept) and one payroll line each for last
    month in the scheme BWH (made again every run); → the number of lines."""
    from django.db import connection, transaction

    from shebao.benefits.models import Scheme

    month = paid_month()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM registry_person WHERE id_number LIKE %s", [AREA + "%"])
        have = cur.fetchone()[0]
        if have < persons:
            cur.execute("SELECT id FROM registry_region WHERE level = 'town' ORDER BY id LIMIT 1")
            town = cur.fetchone()[0]
            # person g: born 1940-01-01 + (g mod 7000) days, sequence g div 7000 → unique, a valid number
            cur.execute(
                """
                INSERT INTO registry_person (id_number, id_number_original, name, name_initials, sex, birth_date,
                    town_id, hukou_address, residence_address, mobile, phone, notes, created_at, updated_at)
                SELECT f17 || shebao_id_check_char(f17), '', '回流' || g, 'hl',
                       CASE WHEN substr(f17, 17, 1)::int %% 2 = 1 THEN 'M' ELSE 'F' END, born, %s, '', '', '', '', '',
                       now(), now()
                FROM (SELECT g, born, %s || to_char(born, 'YYYYMMDD') || lpad((g / 7000)::text, 3, '0') AS f17
                      FROM (SELECT g, date '1940-01-01' + (g %% 7000) AS born FROM generate_series(1, %s) g) a) b
                ON CONFLICT (id_number) DO NOTHING
                """, [town, AREA, persons])
        scheme, _ = Scheme.objects.get_or_create(code=SCHEME, defaults={"name": "基准回流比对", "sort": 99})
        cur.execute("DELETE FROM payroll_payrollline l USING payroll_payrollrun r WHERE l.run_id = r.id "
                    "AND r.scheme_id = %s", [scheme.pk])
        cur.execute("DELETE FROM payroll_payrollrun WHERE scheme_id = %s", [scheme.pk])
        cur.execute(
            "INSERT INTO payroll_payrollrun (scheme_id, period, kind, state, created_by_id, created_at, line_count,"
            " gross, deductions, net, note) VALUES (%s, %s, 'regular', 'computed', %s, now(), 0, 0, 0, 0, '基准')"
            " RETURNING id", [scheme.pk, month, user_id])
        run_id = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO payroll_payrollline (run_id, seq, person_id, id_number, name, bank, branch, account_number,
                holder_name, gross, deductions, net, status, paid_amount, fail_reason, memo, write_off_reason)
            SELECT %s, row_number() OVER (ORDER BY p.id), p.id, p.id_number, p.name, '', '', '', p.name,
                   1000 + p.id %% 500, 0, 1000 + p.id %% 500, 'pending', 0, '', '', ''
            FROM registry_person p WHERE p.id_number LIKE %s AND substr(p.name, 3)::int <= %s
            """, [run_id, AREA + "%", persons])
        lines = cur.rowcount
        cur.execute("UPDATE payroll_payrollrun SET line_count = %s WHERE id = %s", [lines, run_id])
        cur.execute("ANALYZE registry_person; ANALYZE payroll_payrollline; ANALYZE payroll_payrollrun")
    return lines


def _others(rows: int, persons: int) -> int:
    """The rows of persons not ours in the 1,000,000."""
    return rows - persons * MONTHS - sum(1 for i in range(1, persons + 1) if i % 100 in (7, 8))


GONE = 500  # the full reload with changes drops the file's last 500 rows (persons not ours)


def expected(rows: int = ROWS, persons: int = PERSONS) -> dict[str, int]:
    """What the audit must find in the bench's data after the loads (the generator's own arithmetic)."""
    kept = range(1, _others(rows, persons) - GONE + 1)
    return {
        "id_number": sum(1 for j in kept if j % 96 == 0),
        "code": sum(1 for j in kept if j % 96 == 2),
        "not_null": sum(1 for j in kept if j % 96 == 3),
        "date": sum(1 for j in kept if j % 96 == 4),
        "death": sum(1 for i in range(1, persons + 1) if i % 200 == 11),
        "double": sum(1 for i in range(1, persons + 1) if i % 100 == 7),
        "name": sum(1 for i in range(1, persons + 1) if i % 250 == 3),
        "life": sum(1 for i in range(1, persons + 1) if i % 50 == 5),
    }


_PERSONS = ("SELECT substr(p.name, 3)::int AS i, p.id_number, p.name FROM registry_person p "
            "WHERE p.id_number LIKE %(area)s AND substr(p.name, 3)::int <= %(persons)s")

PAY_SQL = f"""
WITH p AS ({_PERSONS}), m AS (SELECT %(month)s::date AS m)
SELECT 'W' || lpad(i::text, 7, '0') AS aac001, id_number AS aac002,
       CASE WHEN i %% 250 = 3 THEN name || '某' ELSE name END AS aac003,
       to_char(m.m - make_interval(months => k), 'YYYYMM') AS aae002, '110' AS aae140,
       (1000 + i %% 1000 + k / 100.0)::numeric(14, 2) AS aae019, '1' AS aae116
FROM p, m, generate_series(1, {MONTHS}) k
UNION ALL
SELECT 'W' || lpad(i::text, 7, '0'), id_number, CASE WHEN i %% 250 = 3 THEN name || '某' ELSE name END,
       to_char(m.m, 'YYYYMM'), '110', CASE WHEN i %% 100 = 7 THEN 900.00 ELSE 0.00 END, '1'
FROM p, m WHERE i %% 100 IN (7, 8)
UNION ALL
SELECT 'X' || lpad(j::text, 7, '0'),
       CASE j %% 96 WHEN 0 THEN f17 || substr('10X98765432', strpos('10X98765432', c) %% 11 + 1, 1)
                   WHEN 1 THEN f17 || lower(c) ELSE f17 || c END,
       CASE WHEN j %% 96 = 3 THEN '' ELSE '外' || j END,
       CASE WHEN j %% 96 = 4 THEN to_char(m.m, 'YYYY') || '13' ELSE to_char(m.m - interval '1 month', 'YYYYMM') END,
       CASE WHEN j %% 96 = 2 THEN '999' ELSE '120' END, 500.00, '1'
FROM m, (SELECT j, f17, shebao_id_check_char(f17) AS c FROM
         (SELECT j, %(other)s || to_char(date '1950-01-01' + j %% 9000, 'YYYYMMDD') || lpad((j / 9000)::text, 3, '0') AS f17
          FROM generate_series(1, %(others)s) j) o) o
"""

DEATH_SQL = f"""
WITH p AS ({_PERSONS}), m AS (SELECT %(month)s::date AS m)
SELECT id_number AS aac002, to_char(CASE WHEN i %% 200 = 11 THEN m.m - interval '2 months' + interval '9 days'
                                   ELSE m.m + interval '19 days' END, 'YYYY-MM-DD') AS aac060
FROM p, m WHERE i %% 200 IN (11, 12)
UNION ALL
SELECT f17 || shebao_id_check_char(f17), '2020-01-01'
FROM (SELECT '339903' || to_char(date '1930-01-01' + j, 'YYYYMMDD') || '001' AS f17 FROM generate_series(1, 1000) j) o
"""

ACT_SQL = f"""
WITH p AS ({_PERSONS})
SELECT row_number() OVER (ORDER BY id_number, d) AS seq, id_number AS aac002, to_char(d, 'YYYY-MM-DD') AS act_date
FROM (SELECT id_number, current_date - 30 AS d FROM p WHERE i %% 50 = 5
      UNION ALL SELECT id_number, current_date - 200 FROM p WHERE i %% 50 = 5
      UNION ALL SELECT id_number, current_date - 400 FROM p WHERE i %% 50 = 6
      UNION ALL SELECT id_number, current_date + 10 FROM p WHERE i %% 50 = 9) a
"""


def _write(path: Path, query: str, params: dict) -> None:
    """The rows of ``query`` as a csv file with a header, written by PostgreSQL's COPY."""
    from django.db import connection

    with connection.cursor() as cur, path.open("wb") as fh:
        raw = cur.cursor if hasattr(cur, "cursor") else cur
        with raw.copy(f"COPY ({raw.mogrify(query, params)}) TO STDOUT (FORMAT csv, HEADER)") as copy:
            for data in copy:
                fh.write(data)


def _found(run, rules) -> dict[str, int]:
    from django.db.models import Q

    from shebao.warehouse.models import AuditRule, Finding

    out = {}
    for rule in rules:
        qs = Finding.objects.filter(run=run, rule=rule)
        if rule.kind in AuditRule.CROSS:  # over every declared table: count the bench's persons only
            qs = qs.filter(Q(id_number__startswith=AREA))
        out[rule.kind] = qs.count()
    return out


def _cleanup(rules_made) -> None:
    from django.db import connection

    from shebao.warehouse import ddl
    from shebao.warehouse.models import DictionaryLoad, Finding, Load, Source, WhTable

    with connection.cursor() as cursor:
        for t in WhTable.objects.filter(source__name=SOURCE):
            cursor.execute(f'DROP TABLE IF EXISTS {ddl.SCHEMA}."{t.physical}" CASCADE')
    Finding.objects.filter(id_number__startswith=AREA).delete()
    for r in rules_made:
        Finding.objects.filter(rule=r).delete()
        r.delete()
    from shebao.warehouse.models import AuditRule

    for r in AuditRule.objects.filter(table__source__name=SOURCE):
        Finding.objects.filter(rule=r).delete()
        r.delete()
    Load.objects.filter(table__source__name=SOURCE).delete()
    DictionaryLoad.objects.filter(source__name=SOURCE).delete()
    WhTable.objects.filter(source__name=SOURCE).delete()
    Source.objects.filter(name=SOURCE).delete()


def bench_warehouse(rows: int = ROWS, persons: int = PERSONS) -> dict:
    from django.db import connection

    from shebao.accounts.models import User
    from shebao.payroll.models import PayrollLine
    from shebao.warehouse.audit import audit_run
    from shebao.warehouse.dictionary import dictionary_load
    from shebao.warehouse.landing import warehouse_load
    from shebao.warehouse.models import AuditRule, Finding, WhTable
    from shebao.warehouse.services import rule_create

    user, _ = User.objects.get_or_create(username="bench_wh", defaults={"is_superuser": True, "all_regions": True,
                                                                         "full_name": "基准"})
    _cleanup([])  # a run stopped half-way left its tables
    with connection.cursor() as cursor:  # parallel workers' CPU is not this backend's: measure it all in one
        cursor.execute("SET max_parallel_workers_per_gather = 0")
    clock = _clocks()
    out: dict = {"rows": rows, "persons": persons, "steps": [], "expected": expected(rows, persons)}
    t0 = time.perf_counter()
    out["bench_lines"] = ensure_population(user.pk, persons)
    out["lines"] = PayrollLine.objects.count()
    month = paid_month()
    others = _others(rows, persons)
    params = {"area": AREA + "%", "other": OTHER, "persons": persons, "month": month, "others": others}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _dictionary(folder)
        dictionary_load(source_name=SOURCE, path=folder, user=user)
        pay = folder / "pay.csv"
        _write(pay, PAY_SQL + " ORDER BY 1, 4", params)
        _write(folder / "death.csv", DEATH_SQL, params)
        _write(folder / "act.csv", ACT_SQL, params)
        out["setup_s"] = time.perf_counter() - t0
        print(f"  造数 {out['setup_s']:.1f} 秒：{persons:,} 人、本地结算 {out['bench_lines']:,} 笔（{month:%Y-%m}），"
              f"回流 {rows:,} 行", flush=True)

        def step(label: str, path: Path, table: str = "pay", mode: str = "full") -> dict:
            with Timer(clock) as t:
                counts = warehouse_load(source_name=SOURCE, table_name=table, path=path, mode=mode, user=user).counts()
            entry = {"label": label, "wall": t.wall, "db": t.db, "py": t.py, "cpu": t.cpu, "counts": counts}
            out["steps"].append(entry)
            print(f"  {label}：{t.wall:.2f} 秒，CPU {t.cpu:.2f}（库 {t.db:.2f} + 进程 {t.py:.2f}）{counts}", flush=True)
            return entry

        step("全量装载（空表）", pay)
        again = folder / "pay2.csv"
        again.write_bytes(pay.read_bytes().replace(b"\n", b"\r\n", 1))  # another file (sha), the same rows
        step("全量重载（无变化）", again)
        # 1,000 rows changed (an amount paid, + 1), the last 500 gone (persons not ours), 500 new (valid numbers)
        from shebao.common.identity import check_char

        changed = folder / "pay3.csv"
        lines = again.read_bytes().split(b"\n")
        head, body = lines[0], [x for x in lines[1:] if x][:-GONE]
        for n in range(1000):
            at = n * 900
            while body[at].split(b",")[5] == b"0.00":
                at += 1
            parts = body[at].split(b",")
            parts[5] = f"{float(parts[5]) + 1:.2f}".encode()
            body[at] = b",".join(parts)
        new = [OTHER + f"19491231{n:03d}" for n in range(GONE)]
        body += [f"N{n:07d},{f17}{check_char(f17)},新,{month:%Y%m},120,1.00,1".encode() for n, f17 in enumerate(new)]
        changed.write_bytes(b"\n".join([head, *body]) + b"\n")
        del lines, body
        step(f"全量重载（改 1,000、增 {GONE}、删 {GONE}）", changed)
        inc = folder / "inc.csv"
        prev = (month - dt.timedelta(days=1)).strftime("%Y%m")
        inc.write_text("_op,aac001,aae002,aae019\n" + "".join(f"U,W{i:07d},{prev},1.00\n" for i in range(1, 10_001)))
        step("增量 1 万行 U", inc, mode="incremental")
        warehouse_load(source_name=SOURCE, table_name="death", path=folder / "death.csv", user=user)
        warehouse_load(source_name=SOURCE, table_name="act", path=folder / "act.csv", user=user)
        table = WhTable.objects.get(source__name=SOURCE, name="pay")
        made = [rule_create(user=user, name="基准身份证号", kind="id_number", table=table, column="aac002"),
                rule_create(user=user, name="基准险种代码", kind="code", table=table, column="aae140"),
                rule_create(user=user, name="基准发放年月", kind="date", table=table, column="aae002"),
                rule_create(user=user, name="基准姓名必填", kind="not_null", table=table, column="aac003")]
        rules = made + [AuditRule.objects.filter(kind=k).order_by("pk").first() for k in AuditRule.CROSS]
        rules = [r for r in rules if r is not None]
        with connection.cursor() as cursor:
            for t in WhTable.objects.filter(source__name=SOURCE):
                cursor.execute(f'ANALYZE warehouse."{t.physical}"')
        with Timer(clock) as t:
            run = audit_run(user=user, rules=rules)
        out["audit"] = {"wall": t.wall, "db": t.db, "py": t.py, "cpu": t.cpu}
        out["found"] = _found(run, rules)
        out["audit_findings"] = sum(run.summary.values())
        print(f"  审核：{t.wall:.2f} 秒，CPU {t.cpu:.2f}（库 {t.db:.2f} + 进程 {t.py:.2f}），结果 {out['found']}", flush=True)
        out["per_rule"] = []
        for rule in rules:  # each alone, for where the time goes
            with Timer(clock) as t1:
                one = audit_run(user=user, rules=[rule])
            out["per_rule"].append((rule.get_kind_display(), rule.kind, t1.wall, t1.db, t1.py))
            Finding.objects.filter(run=one).delete()
        _cleanup(made)
    with connection.cursor() as cursor:
        cursor.execute("RESET max_parallel_workers_per_gather")
    return out


@section("warehouse", title="回流库：装载 100 万行与审核（8 万人结算比对）", order=80)
def warehouse_section(ctx) -> None:
    r = bench_warehouse()
    rows = []
    for s in r["steps"]:
        rows.append([s["label"], f"{s['wall']:.2f}", f"{s['cpu']:.2f}", f"{s['db']:.2f}", f"{s['py']:.2f}",
                     f"{r['rows'] / s['cpu']:,.0f}" if s["cpu"] and "1 万" not in s["label"] else "",
                     " ".join(f"{k}={v}" for k, v in s["counts"].items() if k in ("read", "inserted", "updated",
                                                                                  "deleted", "rejected"))])
    a = r["audit"]
    rows.append([f"审核（4 条内置规则 + 4 项比对；结算明细 {r['lines']:,} 笔）", f"{a['wall']:.2f}", f"{a['cpu']:.2f}",
                 f"{a['db']:.2f}", f"{a['py']:.2f}", "", f"结果 {r['audit_findings']:,} 条"])
    for label, kind, wall, db, py in r["per_rule"]:
        exp, got = r["expected"].get(kind), r["found"].get(kind)
        rows.append([f"  其中 {label}", f"{wall:.2f}", f"{db + py:.2f}", f"{db:.2f}", f"{py:.2f}", "",
                     f"发现 {got:,} == 应有 {exp:,}" + ("" if got == exp else " ✗ 不符")])
    ok = all(r["found"].get(k) == v for k, v in r["expected"].items())
    ctx.table("回流库", ["步骤", "秒", "CPU 秒", "其中库", "其中进程", "行/CPU 秒", "计数"], rows, notes=[
        "CPU 秒 = 数据库后端 + 本进程（/proc），不受其他进程争用 CPU 的影响；机器繁忙时以它为准（本部分关闭并行查询，"
        "工作进程的 CPU 不会漏算）",
        f"负载（1/5/15 分钟平均）：{' / '.join(f'{x:.1f}' for x in os.getloadavg())}，{os.cpu_count()} 核",
        "目标：装载 ≥ 200,000 行/秒；审核 ≤ 10 秒",
        "比对结果（本基准 8 万人的身份证号；内置规则为 pay 表全部）" + ("全部与应有数一致" if ok else "与应有数不一致 ✗"),
        f"造数 {r['setup_s']:.1f} 秒（不计入）"])
