"""Benchmark section ``bz``: a 养老保障 (BZ) monthly run at 30,000 persons (target ≤ 2 s, the engine's one
set-based statement) and the 到龄转换 of the persons who reach the age — inside one transaction that is
rolled back (nothing kept). The population (身份证号 of area 659002, not used by the demo) is written by
SQL: persons, BZ members, enrollments from 2025-01 and their 生活补助 / 养老保障金."""

from __future__ import annotations

import datetime as dt
import os
import time

from shebao.bench import section

N = 30_000


class _Rollback(Exception):
    pass


def bench_bz(n: int = N) -> dict:
    from django.db import connection, transaction

    from shebao.accounts.models import User
    from shebao.bench.payroll import cpu_clock
    from shebao.benefits.models import Scheme
    from shebao.common.identity import check_char
    from shebao.payroll.services import payroll_run_compute
    from shebao.pension_security.services import bz_convert

    user = User.objects.order_by("id").first()
    ids = []
    for k in range(n):
        born = dt.date(1955, 1, 1) + dt.timedelta(days=(k // 900) * 263)  # 34 birth dates over 24 years
        first17 = f"659002{born:%Y%m%d}{k % 900 + 100:03d}"
        ids.append(first17 + check_char(first17))
    result: dict = {}
    clock = cpu_clock()
    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SELECT id FROM registry_region WHERE level = 'town' ORDER BY id LIMIT 1")
                town = cur.fetchone()[0]
                cur.execute(
                    """
                    INSERT INTO registry_person (id_number, id_number_original, name, name_initials, sex, birth_date,
                        town_id, hukou_address, residence_address, mobile, phone, notes, created_at, updated_at)
                    SELECT f.n, '', '保障' || f.k, 'bz', CASE WHEN substr(f.n, 17, 1)::int %% 2 = 1 THEN 'M' ELSE 'F' END,
                           to_date(substr(f.n, 7, 8), 'YYYYMMDD'), %s, '', '', '', '', '', now(), now()
                    FROM unnest(%s::text[]) WITH ORDINALITY AS f(n, k) ON CONFLICT DO NOTHING
                    """, [town, ids])
                bz = Scheme.objects.get(code="BZ").pk
                cur.execute(
                    """
                    WITH p AS (SELECT id FROM registry_person WHERE id_number = ANY(%(ids)s)),
                    e AS (INSERT INTO benefits_enrollment (person_id, scheme_id, payment_status, start_month,
                              service_years, note, created_at, updated_at)
                          SELECT id, %(bz)s, 'active', DATE '2025-01-01', 0, '', now(), now() FROM p
                          ON CONFLICT DO NOTHING RETURNING id, person_id),
                    a AS (INSERT INTO benefits_benefitamount (enrollment_id, item_id, amount, from_month, note, created_at)
                          SELECT e.id, i.id, 320.00, DATE '2025-01-01', '', now() FROM e
                          JOIN benefits_benefititem i ON i.scheme_id = %(bz)s AND i.code = 'living' RETURNING 1)
                    INSERT INTO pension_security_member (person_id, category_id, phase, enrollment_id, note, created_at)
                    SELECT e.person_id, (SELECT id FROM pension_security_category WHERE code = 'land'), 'subsidy',
                           e.id, '', now() FROM e
                    """, {"ids": ids, "bz": bz})
                cur.execute("ANALYZE registry_person; ANALYZE benefits_enrollment; ANALYZE benefits_benefitamount")
            from shebao.benefits.models import Scheme as S

            scheme = S.objects.get(code="BZ")
            for key, period in (("run", "2031-01"), ("run2", "2031-02")):
                c0, t0 = clock() if clock else 0, time.perf_counter()
                run = payroll_run_compute(scheme=scheme, period=period, user=user)
                result[f"{key}_seconds"] = time.perf_counter() - t0
                result[f"{key}_cpu"] = (clock() - c0) if clock else None
                result[f"{key}_lines"] = run.line_count
            c0, t0 = clock() if clock else 0, time.perf_counter()
            conv = bz_convert(month="2031-03", user=user)
            result["convert_seconds"] = time.perf_counter() - t0
            result["convert_cpu"] = (clock() - c0) if clock else None
            result["converted"] = len(conv.converted)
            raise _Rollback
    except _Rollback:
        pass
    return result


@section("bz", title="养老保障：3 万人月度结算、到龄转换", order=75)
def bz_section(ctx) -> None:
    from shebao.accounts.models import User

    if not User.objects.exists():
        print("没有用户，跳过")
        return
    r = bench_bz()

    def cpu(v):
        return f"{v:.2f}" if v is not None else "-"

    rows = [["月度结算（BZ）", f"{r['run_lines']:,}", f"{r['run_seconds']:.2f}", cpu(r["run_cpu"]), "≤ 2"],
            ["月度结算（BZ，第二个月）", f"{r['run2_lines']:,}", f"{r['run2_seconds']:.2f}", cpu(r["run2_cpu"]), "≤ 2"],
            ["到龄转换", f"{r['converted']:,}", f"{r['convert_seconds']:.2f}", cpu(r["convert_cpu"]), "-"]]
    ctx.table("养老保障", ["步骤", "笔数/人数", "墙钟秒", "CPU 秒", "目标 秒"], rows,
              [f"{N:,} 名合成人员（事务中执行后回滚）",
               "墙钟秒 = 实际经过的时间（随机器负载变化）；CPU 秒 = 本进程 + 数据库后端进程消耗的 CPU 时间"
               "（/proc，数据库不在本机时为 -），负载高时以 CPU 秒为准",
               f"负载（1/5/15 分钟平均）：{' / '.join(f'{x:.1f}' for x in os.getloadavg())}，{os.cpu_count()} 核"])
    print(f"BZ 月度结算 {r['run_lines']:,} 笔：墙钟 {r['run_seconds']:.2f} 秒，CPU {cpu(r['run_cpu'])} 秒"
          f"（第二个月：墙钟 {r['run2_seconds']:.2f} 秒，CPU {cpu(r['run2_cpu'])} 秒；目标 ≤ 2 秒）", flush=True)
