"""Benchmark section ``certification``: the 生存认证 sweep over 80,000 receiving persons and the import of
a 50,000-row file — inside one transaction that is rolled back (nothing kept).

- sweep (target ≤ 5 s, one set-based statement): the payroll section's synthetic population (80,000
  persons with an active enrollment in bench scheme B080, made if missing and kept); each gets a
  certification history (95 % certified within the year, 5 % more than 13 months ago: overdue), then
  ``certification_sweep`` on today suspends the overdue ones (their suspensions, status changes and
  audit events included); a second sweep the same day (suspends nobody) is timed too;
- import (target ≤ 10 s): 50,000 persons with valid 身份证号 (area 659001, not used by the demo) are
  made, and a csv of 身份证号, 姓名, 认证日期 for them is imported by ``certification_import`` (the file
  read and checked through ``common.safefile``, one INSERT, one audit event per row).
"""

from __future__ import annotations

import datetime as dt
import os
import time

from shebao.bench import section

SWEEP_N = 80_000
IMPORT_N = 50_000


class _Rollback(Exception):
    pass


def _valid_ids(n: int) -> list[str]:
    from shebao.common.identity import check_char

    out = []
    base = dt.date(1935, 1, 1)
    for k in range(n):
        born = base + dt.timedelta(days=k // 900)
        first17 = f"659001{born:%Y%m%d}{k % 900 + 100:03d}"
        out.append(first17 + check_char(first17))
    return out


def bench_certification(sweep_n: int = SWEEP_N, import_n: int = IMPORT_N) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from shebao.accounts.models import User
    from shebao.bench.payroll import _ensure_population, _scheme_code
    from shebao.certification.services import certification_import, certification_sweep

    _ensure_population(sweep_n)
    user = User.objects.order_by("id").first()
    today = timezone.localdate()
    result: dict = {}
    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SELECT id FROM benefits_scheme WHERE code = %s", [_scheme_code(sweep_n)])
                scheme_id = cur.fetchone()[0]
                cur.execute("DELETE FROM payroll_payrollcomponent WHERE line_id IN (SELECT l.id FROM payroll_payrollline l "
                            "JOIN payroll_payrollrun r ON r.id = l.run_id WHERE r.scheme_id = %s)", [scheme_id])
                cur.execute("DELETE FROM payroll_payrollline WHERE run_id IN (SELECT id FROM payroll_payrollrun "
                            "WHERE scheme_id = %s)", [scheme_id])
                cur.execute("DELETE FROM payroll_monthendsnapshot WHERE scheme_id = %s", [scheme_id])
                cur.execute("DELETE FROM payroll_payrollrun WHERE scheme_id = %s", [scheme_id])
                cur.execute(
                    """
                    INSERT INTO certification_certification (person_id, certified_on, method, place, note, source,
                        attachment, operator_id, created_at)
                    SELECT e.person_id,
                           CASE WHEN e.person_id %% 20 = 0 THEN %(today)s::date - (420 + e.person_id %% 60)::int
                                ELSE %(today)s::date - (5 + e.person_id %% 300)::int END,
                           'bank', '', '', '基准', '', %(user)s, now()
                    FROM benefits_enrollment e WHERE e.scheme_id = %(scheme)s
                    ON CONFLICT DO NOTHING
                    """, {"today": today, "user": user.pk, "scheme": scheme_id})
                cur.execute("ANALYZE certification_certification")
            t0 = time.perf_counter()
            swept = certification_sweep(on=today, user=user)
            result["sweep_seconds"] = time.perf_counter() - t0
            result["suspended"] = swept.suspended
            t0 = time.perf_counter()
            again = certification_sweep(on=today, user=user)
            result["sweep_again_seconds"] = time.perf_counter() - t0
            result["suspended_again"] = again.suspended
            ids = _valid_ids(import_n)
            with connection.cursor() as cur:
                cur.execute("SELECT id FROM registry_region WHERE level = 'town' ORDER BY id LIMIT 1")
                town = cur.fetchone()[0]
                cur.execute(
                    """
                    INSERT INTO registry_person (id_number, id_number_original, name, name_initials, sex, birth_date,
                        town_id, hukou_address, residence_address, mobile, phone, notes, created_at, updated_at)
                    SELECT f.n, '', '认证' || f.k, 'rz', 'M', to_date(substr(f.n, 7, 8), 'YYYYMMDD'), %s,
                           '', '', '', '', '', now(), now()
                    FROM unnest(%s::text[]) WITH ORDINALITY AS f(n, k)
                    ON CONFLICT DO NOTHING
                    """, [town, ids])
                cur.execute("ANALYZE registry_person")
            on = (today - dt.timedelta(days=1)).isoformat()
            text = "身份证号,姓名,认证日期\n" + "".join(f"{n},认证{k},{on}\n" for k, n in enumerate(ids, start=1))
            data = text.encode("utf-8")
            t0 = time.perf_counter()
            imported = certification_import(file_name="bench.csv", data=data, method="银行", user=user)
            result["import_seconds"] = time.perf_counter() - t0
            result["imported"] = imported.created
            result["import_rejected"] = len(imported.bad)
            raise _Rollback
    except _Rollback:
        pass
    return result


@section("certification", title="生存认证：到期清理 8 万人、导入 5 万行", order=70)
def certification_section(ctx) -> None:
    from shebao.accounts.models import User

    if not User.objects.exists():
        print("没有用户，跳过")
        return
    r = bench_certification()
    rows = [
        ["到期清理（8 万名领取人员，暂停逾期者）", f"{SWEEP_N:,}", f"{r['sweep_seconds']:.2f}", f"暂停 {r['suspended']:,}", "≤ 5"],
        ["同日再次清理", f"{SWEEP_N:,}", f"{r['sweep_again_seconds']:.2f}", f"暂停 {r['suspended_again']:,}", "-"],
        ["认证记录导入（csv）", f"{IMPORT_N:,}", f"{r['import_seconds']:.2f}",
         f"新增 {r['imported']:,}，错误 {r['import_rejected']:,}", "≤ 10"],
    ]
    notes = ["清理为一条语句（暂停、暂停期间、状态变更），另加每人一条审计；在事务中执行后回滚，不保留",
             f"负载（1 分钟平均）：{os.getloadavg()[0]:.1f}，{os.cpu_count()} 核"]
    ctx.table("生存认证", ["步骤", "人数/行数", "秒", "结果", "目标 秒"], rows, notes)
