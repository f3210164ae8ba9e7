"""Benchmark section ``tb``: the 土保补贴 yearly run (年度发放) at 50,000 persons — inside one transaction
that is rolled back (nothing kept).

The payroll section's synthetic persons (身份证号 prefix 99, a current account each; made if missing and
kept) — the first 50,000 of them are taken into 土保补贴 with set-based SQL: three categories with their
amount rules (two with an age condition on 31 December), enrollments from 2020, the subsidy records, every
50th suspended over the reference date, every 25th with a pending 扣减. Then, timed:

- compute: ``payroll_run_compute(kind="annual")`` end to end — TB's registered rule (its SELECT decides
  who is entitled and the amount), lines, components, totals, risks, audit; seconds, lines/s, CPU seconds
  (the database backend and this process: steadier than wall-clock on a shared machine), and the same
  split by the stages the service announces (``progress``: lines, totals, audit);
- roster: the yearly roster (年度发放明细) in the business's layout as xlsx (all lines, town subtotals).
Target: compute ≤ 2 s at 50,000.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time

from shebao.bench import section

N = 50_000
YEAR = 2026


class _Rollback(Exception):
    pass


def bench_tb(n: int = N) -> dict:
    from django.db import connection, transaction

    from shebao.accounts.models import User
    from shebao.bench.payroll import PREFIX, _ensure_population, cpu_clock
    from shebao.benefits.models import Scheme
    from shebao.land_subsidy.roster import write_roster
    from shebao.land_subsidy.rules import annual_rows
    from shebao.payroll.models import PayrollRun
    from shebao.payroll.services import payroll_run_compute

    _ensure_population(max(n, 80_000))  # the payroll section's population (reused)
    user = User.objects.order_by("id").first()
    tb = Scheme.objects.get(code="TB")
    result: dict = {"n": n}
    try:
        with transaction.atomic():
            PayrollRun.objects.filter(scheme=tb, kind="annual", period__year=YEAR).delete()
            with connection.cursor() as cur:
                cur.execute("""
                    INSERT INTO land_subsidy_subsidycategory (code, name, active, sort, note)
                    VALUES ('BENCH1', '基准一类', true, 91, ''), ('BENCH2', '基准二类', true, 92, ''),
                           ('BENCH3', '基准生活补助', true, 93, '')
                """)
                cur.execute("""
                    INSERT INTO land_subsidy_subsidyrule (category_id, from_year, amount, reference_month,
                        reference_day, min_age_male, min_age_female, pays_suspended, note, created_by_id,
                        created_at, updated_at)
                    SELECT c.id, 2020, v.amount, 12, 31, v.male, v.female, false, '', %s, now(), now()
                    FROM land_subsidy_subsidycategory c
                    JOIN (VALUES ('BENCH1', 1440.00, 60, 55), ('BENCH2', 960.00, 60, 55),
                                 ('BENCH3', 600.00, NULL::int, NULL::int)) v(code, amount, male, female)
                      ON v.code = c.code
                """, [user.pk])
                cur.execute("""
                    CREATE TEMP TABLE _tb_bench ON COMMIT DROP AS
                    SELECT p.id AS person_id FROM registry_person p
                    WHERE p.id_number LIKE %s
                      AND NOT EXISTS (SELECT 1 FROM benefits_enrollment e WHERE e.person_id = p.id AND e.scheme_id = %s)
                    ORDER BY p.id_number LIMIT %s
                """, [PREFIX + "%", tb.pk, n])
                cur.execute("""
                    INSERT INTO benefits_enrollment (person_id, scheme_id, payment_status, start_month, service_years,
                        note, created_at, updated_at)
                    SELECT person_id, %s, 'active', date '2020-01-01', 0, '', now(), now() FROM _tb_bench
                """, [tb.pk])
                cur.execute("""
                    INSERT INTO land_subsidy_subsidyperson (enrollment_id, person_id, category_id, land_date,
                        land_project, note, created_at, updated_at)
                    SELECT e.id, e.person_id,
                           (SELECT id FROM land_subsidy_subsidycategory
                            WHERE code = 'BENCH' || (1 + e.person_id %% 3)::text),
                           date '2019-06-01', '基准', '', now(), now()
                    FROM benefits_enrollment e JOIN _tb_bench b ON b.person_id = e.person_id
                    WHERE e.scheme_id = %s
                """, [tb.pk])
                cur.execute("""
                    INSERT INTO benefits_suspension (enrollment_id, reason_id, pays_on_resume, from_month, to_month)
                    SELECT e.id, (SELECT id FROM benefits_suspensionreason WHERE code = 'no_cert'), true,
                           date '2026-06-01', NULL
                    FROM benefits_enrollment e JOIN _tb_bench b ON b.person_id = e.person_id
                    WHERE e.scheme_id = %s AND e.id %% 50 = 0
                """, [tb.pk])
                cur.execute("""
                    INSERT INTO benefits_adjustment (enrollment_id, kind, total, remaining, monthly_cap, state, reason,
                        source, source_ref, detail, created_by_id, created_at)
                    SELECT e.id, 'deduction', 300.00, 300.00, NULL, 'pending', '扣减', '基准', '', '{}'::jsonb, %s, now()
                    FROM benefits_enrollment e JOIN _tb_bench b ON b.person_id = e.person_id
                    WHERE e.scheme_id = %s AND e.id %% 25 = 0
                """, [user.pk, tb.pk])
                cur.execute("SELECT count(*) FROM _tb_bench")
                result["persons"] = cur.fetchone()[0]
                cur.execute("ANALYZE benefits_enrollment; ANALYZE land_subsidy_subsidyperson; "
                            "ANALYZE benefits_suspension; ANALYZE benefits_adjustment")
            clock = cpu_clock()
            sql, params = annual_rows(PayrollRun(scheme=tb, period=dt.date(YEAR, 1, 1)))
            with connection.cursor() as cur:
                c0 = clock() if clock else None
                t0 = time.perf_counter()
                cur.execute(f"SELECT count(*) FROM ({sql}) r", {**params, "scheme": tb.pk})
                result["rule_rows"] = cur.fetchone()[0]
                result["rule_s"] = time.perf_counter() - t0
                result["rule_cpu"] = clock() - c0 if clock else None
            # the run's stages as the service announces them (a profile of where the time goes)
            marks: list[tuple[str, float, float | None]] = []

            def stage(key: str) -> None:
                marks.append((key, time.perf_counter(), clock() if clock else None))

            stage("start")
            run = payroll_run_compute(scheme=tb, period=str(YEAR), user=user, kind="annual", progress=stage)
            stage("end")
            t0, c0 = marks[0][1], marks[0][2]
            result["compute_s"] = marks[-1][1] - t0
            result["compute_cpu"] = marks[-1][2] - c0 if clock else None
            result["stages"] = [(a[0], b[1] - a[1], (b[2] - a[2]) if clock else None)
                                for a, b in zip(marks[:-1], marks[1:], strict=True)]
            result["lines"], result["net"] = run.line_count, run.net
            c0 = clock() if clock else None
            t0 = time.perf_counter()
            buf = io.BytesIO()
            write_roster(buf, run)
            result["roster_s"] = time.perf_counter() - t0
            result["roster_cpu"] = clock() - c0 if clock else None
            result["roster_bytes"] = buf.tell()
            raise _Rollback
    except _Rollback:
        pass
    result["load"] = os.getloadavg()
    return result


@section("tb", title="土保补贴：5 万人年度发放", order=62)
def tb_section(ctx) -> None:
    from shebao.accounts.models import User

    if not User.objects.exists():
        print("没有用户，跳过")
        return
    r = bench_tb()
    cpu = "—" if r["compute_cpu"] is None else f"{r['compute_cpu']:.2f}"
    rule_cpu = "—" if r["rule_cpu"] is None else f"{r['rule_cpu']:.2f}"
    rows = [
        ["其中：享受条件规则（仅其 SELECT）", f"{r['rule_rows']:,}", f"{r['rule_s']:.2f}",
         f"{r['rule_rows'] / r['rule_s']:,.0f}", rule_cpu, "-"],
        ["年度发放计算（规则 + 明细 + 构成 + 合计 + 审计）", f"{r['lines']:,}", f"{r['compute_s']:.2f}",
         f"{r['lines'] / r['compute_s']:,.0f}", cpu, "≤ 2"],
        ["年度发放明细导出 xlsx（按镇街道小计）", f"{r['lines']:,}", f"{r['roster_s']:.2f}",
         f"{r['lines'] / r['roster_s']:,.0f}", "—" if r["roster_cpu"] is None else f"{r['roster_cpu']:.2f}", "-"],
    ]
    names = {"start": "  准备（批次）", "lines": "  明细（规则 + 明细 + 构成，一条语句）", "totals": "  合计与风险",
             "audit": "  审计"}
    at = next(i for i, row in enumerate(rows) if row[-1] == "≤ 2") + 1
    rows[at:at] = [[names.get(key, key), "", f"{s:.2f}", "", "—" if c is None else f"{c:.2f}", "-"]
                   for key, s, c in r["stages"]]
    load = " / ".join(f"{x:.1f}" for x in r["load"])
    ctx.table("土保补贴年度发放", ["步骤", "人数", "秒", "人/秒", "CPU 秒", "目标 秒"], rows, notes=[
        f"纳入 {r['persons']:,} 名合成人员（三个类别，两类有年龄条件；每 50 人一人暂停，每 25 人一人扣减），"
        f"连同演示数据中的土保补贴人员一起计算；实发合计 {r['net']:,} 元；在事务中执行后回滚，不保留",
        f"负载（1/5/15 分钟平均）：{load}，{os.cpu_count()} 核"])
