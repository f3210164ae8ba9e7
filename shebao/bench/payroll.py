"""Benchmark section ``payroll``: the monthly compute (月度结算) at 80,000 and 800,000 lines.

Synthetic population made with set-based SQL (persons with 身份证号 prefix 99 — not a real area, so
they never collide with real or demo data — a current bank account each, an enrollment in a bench
scheme per size with three item amounts; every 10th person has a 补发, every 20th a 扣减 with a
monthly cap). Kept between runs and reused. For each size it prints:

- compute: ``payroll_run_compute`` end to end (lines + components + totals + audit), seconds, lines/s;
- floor: one plain ``INSERT … SELECT`` of the same number of lines (enrollment ⨝ person ⨝ account,
  no arithmetic) and of the item components, rolled back — what the database needs at the least;
- CPU: seconds of CPU the database backend and this process spent on the compute (read from /proc,
  embedded server only): unlike the wall-clock seconds it does not grow when other processes compete
  for the two cores, so its 800k / 80k ratio is the steadier one to compare between runs.

The table: step, lines, seconds, lines/s, floor seconds, ratio to the floor, target. 80,000 by
default; ``SHEBAO_BENCH_PAYROLL_SIZES=80000,800000`` adds 800,000 (the bank section follows it too).
Also ``bench_payroll(n) -> dict`` for use outside ``make bench``.
"""

from __future__ import annotations

import datetime as dt
import os
import time

from shebao.bench import section

SIZES = (80_000, 800_000)
PERIOD = dt.date(2026, 3, 1)
PREFIX = "99"  # 身份证号 prefix of synthetic persons


def _scheme_code(n: int) -> str:
    return f"B{n // 1000:03d}"[:4] if n < 1_000_000 else "B1M"


def cpu_clock():
    """A function returning the CPU seconds used so far by this process plus the current database
    backend (``/proc/<pid>/stat``), or None when the backend's process cannot be read (a remote server)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    stat = f"/proc/{pid}/stat"
    if not os.path.exists(stat):
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def clock() -> float:
        with open(stat) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick + time.process_time()

    return clock


def _ensure_population(n: int) -> int:
    """Make sure n synthetic persons and a bench scheme with n enrollments exist; returns the scheme id."""
    from django.db import connection, transaction

    from shebao.benefits.models import BenefitItem, Scheme

    code = _scheme_code(n)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM registry_person WHERE id_number LIKE %s", [PREFIX + "%"])
        have = cur.fetchone()[0]
        if have < n:
            cur.execute("SELECT id FROM registry_region WHERE level = 'town' ORDER BY id LIMIT 1")
            town = cur.fetchone()[0]
            cur.execute(
                """
                INSERT INTO registry_person (id_number, id_number_original, name, name_initials, sex, birth_date,
                    town_id, hukou_address, residence_address, mobile, phone, notes, created_at, updated_at)
                SELECT %s || lpad(g::text, 15, '0') || '0', '', '基准' || g, 'jz', 'M',
                       date '1940-01-01' + (g %% 9000), %s, '', '', '', '', '', now(), now()
                FROM generate_series(%s + 1, %s) g
                """, [PREFIX, town, have, n])
            cur.execute(
                """
                INSERT INTO registry_bankaccount (person_id, bank, branch, account_number, holder_name, valid_from,
                    luhn_warning, created_at)
                SELECT p.id, 'CXRCB', '慈溪农商银行', '6230' || substr(p.id_number, 3, 16), p.name, date '2020-01-01',
                       false, now()
                FROM registry_person p
                WHERE p.id_number LIKE %s
                  AND NOT EXISTS (SELECT 1 FROM registry_bankaccount b WHERE b.person_id = p.id)
                """, [PREFIX + "%"])
        scheme, _ = Scheme.objects.get_or_create(code=code, defaults={"name": f"基准测试{n // 1000}k", "sort": 99})
        items = []
        for i, (icode, name) in enumerate([("basic", "基本养老金"), ("extra", "统筹外补贴"), ("living", "生活补贴")]):
            item, _ = BenefitItem.objects.get_or_create(
                scheme=scheme, code=icode, defaults={"name": name, "recurring": True, "is_basic": i == 0, "sort": i})
            items.append(item.pk)
        cur.execute("SELECT count(*) FROM benefits_enrollment WHERE scheme_id = %s", [scheme.pk])
        if cur.fetchone()[0] < n:
            cur.execute("SELECT id FROM accounts_user ORDER BY id LIMIT 1")
            user_id = cur.fetchone()[0]
            cur.execute(
                """
                INSERT INTO benefits_enrollment (person_id, scheme_id, payment_status, start_month, service_years,
                    note, created_at, updated_at)
                SELECT p.id, %s, 'active', date '2020-01-01', (p.id %% 40), '', now(), now()
                FROM registry_person p
                WHERE p.id_number LIKE %s AND p.id_number <= %s
                ON CONFLICT DO NOTHING
                """, [scheme.pk, PREFIX + "%", f"{PREFIX}{n:015d}0"])
            for item_id, base in zip(items, ("1500.00", "150.00", "80.00"), strict=True):
                cur.execute(
                    """
                    INSERT INTO benefits_benefitamount (enrollment_id, item_id, amount, from_month, note, created_at)
                    SELECT e.id, %s, %s::numeric + (e.id %% 1000) / 100.0, date '2020-01-01', '', now()
                    FROM benefits_enrollment e WHERE e.scheme_id = %s
                    ON CONFLICT DO NOTHING
                    """, [item_id, base, scheme.pk])
            cur.execute(
                """
                INSERT INTO benefits_adjustment (enrollment_id, kind, total, remaining, monthly_cap, state, reason,
                    source, source_ref, detail, created_by_id, created_at)
                SELECT e.id, 'arrears', 300.00, 300.00, NULL, 'pending', '补发', '基准', '', '{}'::jsonb, %s, now()
                FROM benefits_enrollment e WHERE e.scheme_id = %s AND e.id %% 10 = 0
                UNION ALL
                SELECT e.id, 'deduction', 5000.00, 5000.00, 500.00, 'pending', '扣减', '基准', '', '{}'::jsonb, %s, now()
                FROM benefits_enrollment e WHERE e.scheme_id = %s AND e.id %% 20 = 0
                """, [user_id, scheme.pk, user_id, scheme.pk])
        cur.execute("ANALYZE registry_person; ANALYZE registry_bankaccount; ANALYZE benefits_enrollment; "
                    "ANALYZE benefits_benefitamount; ANALYZE benefits_adjustment; ANALYZE benefits_suspension")
    return scheme.pk


def _drop_runs(scheme_id: int) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        for table in ("payroll_linerisk", "payroll_accountrejection"):  # the runs' risky lines and rejections
            cur.execute(f"DELETE FROM {table} t USING payroll_payrollrun r "
                        "WHERE t.run_id = r.id AND r.scheme_id = %s AND r.kind = 'regular'", [scheme_id])
        cur.execute(
            "DELETE FROM payroll_payrollcomponent c USING payroll_payrollline l, payroll_payrollrun r "
            "WHERE c.line_id = l.id AND l.run_id = r.id AND r.scheme_id = %s AND r.kind = 'regular'", [scheme_id])
        cur.execute("DELETE FROM payroll_payrollline l USING payroll_payrollrun r "
                    "WHERE l.run_id = r.id AND r.scheme_id = %s AND r.kind = 'regular'", [scheme_id])
        cur.execute("DELETE FROM payroll_payrollrun WHERE scheme_id = %s AND kind = 'regular'", [scheme_id])
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE payroll_payrollline")
        cur.execute("VACUUM ANALYZE payroll_payrollcomponent")


class _Rollback(Exception):
    pass


def _floor(scheme_id: int, user_id: int) -> tuple[float, float, int]:
    """A plain INSERT … SELECT of one line per enrollment, then of the item components; rolled back."""
    from django.db import connection, transaction

    lines_s = comps_s = 0.0
    rows = 0
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                "INSERT INTO payroll_payrollrun (scheme_id, period, kind, state, created_by_id, created_at, line_count,"
                " gross, deductions, net, note) VALUES (%s, %s, 'one_off', 'computed', %s, now(), 0, 0, 0, 0, '')"
                " RETURNING id", [scheme_id, PERIOD, user_id])
            run_id = cur.fetchone()[0]
            t0 = time.perf_counter()
            cur.execute(
                """
                INSERT INTO payroll_payrollline (run_id, seq, person_id, enrollment_id, id_number, name,
                    bank_account_id, bank, branch, account_number, holder_name, gross, deductions, net, status,
                    paid_amount, fail_reason, memo, write_off_reason)
                SELECT %s, row_number() OVER (ORDER BY e.id), e.person_id, e.id, p.id_number, p.name, b.id, b.bank,
                       b.branch, b.account_number, b.holder_name, 100, 0, 100, 'pending', 0, '', '', ''
                FROM benefits_enrollment e JOIN registry_person p ON p.id = e.person_id
                LEFT JOIN registry_bankaccount b ON b.person_id = e.person_id AND b.valid_to IS NULL
                WHERE e.scheme_id = %s
                """, [run_id, scheme_id])
            rows = cur.rowcount
            lines_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            cur.execute(
                """
                INSERT INTO payroll_payrollcomponent (line_id, kind, benefit_item_id, adjustment_id, amount, description)
                SELECT l.id, 'item', a.item_id, NULL, a.amount, ''
                FROM benefits_benefitamount a JOIN payroll_payrollline l ON l.run_id = %s AND l.enrollment_id = a.enrollment_id
                """, [run_id])
            comps_s = time.perf_counter() - t0
            raise _Rollback
    except _Rollback:
        pass
    return lines_s, comps_s, rows


def bench_payroll(n: int) -> dict:
    """Compute a regular run of n lines on a synthetic population; returns the figures (seconds)."""
    from shebao.accounts.models import User
    from shebao.benefits.models import Scheme
    from shebao.payroll.models import PayrollComponent
    from shebao.payroll.services import payroll_run_compute

    t0 = time.perf_counter()
    scheme_id = _ensure_population(n)
    setup_s = time.perf_counter() - t0
    scheme = Scheme.objects.get(pk=scheme_id)
    user = User.objects.order_by("id").first()
    _drop_runs(scheme_id)
    floor_lines, floor_comps, floor_rows = _floor(scheme_id, user.pk)
    _drop_runs(scheme_id)
    clock = cpu_clock()
    c0 = clock() if clock else 0.0
    t0 = time.perf_counter()
    run = payroll_run_compute(scheme=scheme, period=PERIOD, user=user)
    compute_s = time.perf_counter() - t0
    cpu_s = clock() - c0 if clock else None
    components = PayrollComponent.objects.filter(line__run=run).count()
    return {
        "n": n, "setup_seconds": setup_s, "lines": run.line_count, "components": components,
        "compute_seconds": compute_s, "compute_cpu_seconds": cpu_s,
        "lines_per_second": run.line_count / compute_s if compute_s else 0,
        "floor_rows": floor_rows, "floor_lines_seconds": floor_lines, "floor_components_seconds": floor_comps,
        "floor_seconds": floor_lines + floor_comps, "gross": str(run.gross), "net": str(run.net), "run": run.pk,
    }


def sizes() -> tuple[int, ...]:
    """The sizes to run: 80,000 by default; ``SHEBAO_BENCH_PAYROLL_SIZES=80000,800000`` adds 800,000
    (its synthetic population takes minutes to make the first time, then is reused)."""
    raw = os.environ.get("SHEBAO_BENCH_PAYROLL_SIZES", "")
    picked = tuple(int(x.replace("_", "")) for x in raw.split(",") if x.strip()) if raw else ()
    return picked or SIZES[:1]


LARGE_HINT = ("80 万笔：SHEBAO_BENCH_PAYROLL_SIZES=80000,800000 make bench BENCH_ARGS=\"--only payroll,bank\""
              "（首次造 80 万人需数分钟，之后沿用）")
HEADER = ["步骤", "笔数", "秒", "笔/秒", "下限 秒", "倍数", "目标 秒"]


def target(n: int, small: float, small_seconds: float) -> str:
    """The issue's target for a size: ``small`` seconds at 80,000; 12 × the measured 80,000 time above."""
    return f"≤ {small:g}" if n <= SIZES[0] else f"≤ {12 * small_seconds:.1f}（12×）"


def cpu_note(seconds: list[float], what: str = "") -> str:
    """The CPU seconds of the sizes run, and their ratio when both sizes ran."""
    text = f"CPU{what}（数据库进程 + 本进程，不含等待其他进程的时间）：" + "，".join(f"{s:.2f}" for s in seconds) + " 秒"
    return text + (f"，80 万 / 8 万 = {seconds[1] / seconds[0]:.1f} 倍" if len(seconds) == 2 and seconds[0] else "")


def row(step: str, n: int, seconds: float, floor: float, target: str) -> list[str]:
    return [step, f"{n:,}", f"{seconds:.2f}", f"{n / seconds:,.0f}" if seconds else "-", f"{floor:.2f}",
            f"{seconds / floor:.1f}×" if floor else "-", target]


@section("payroll", title="月度结算计算（8 万笔；80 万笔见注）", order=50)
def payroll_section(ctx) -> None:
    from shebao.accounts.models import User

    if not User.objects.exists():
        print("没有用户，跳过")
        return
    rows, results = [], []
    for n in sizes():
        r = bench_payroll(n)
        results.append(r)
        rows.append(row(f"计算 {n // 10_000} 万", r["lines"], r["compute_seconds"], r["floor_seconds"],
                        target(n, 5.0, results[0]["compute_seconds"])))
    notes = ["构成 " + ", ".join(f"{r['components']:,}" for r in results) + " 条；造数 "
             + ", ".join(f"{r['setup_seconds']:.1f}" for r in results) + " 秒（不计入）",
             "下限：同样笔数的 INSERT … SELECT（明细 + 项目构成，不含计算），同一次运行中测、已回滚；倍数 = 秒 / 下限",
             f"负载（1 分钟平均）：{os.getloadavg()[0]:.1f}，{os.cpu_count()} 核 —— 负载高于核数时看倍数而非绝对秒数",
             "目标：8 万笔 ≤ 5 秒；80 万笔 ≤ 8 万笔用时的 12 倍"]
    if all(r["compute_cpu_seconds"] for r in results):
        notes.append(cpu_note([r["compute_cpu_seconds"] for r in results]))
    if len(results) == 2 and results[0]["compute_seconds"]:
        notes.append(f"80 万 / 8 万 = {results[1]['compute_seconds'] / results[0]['compute_seconds']:.1f} 倍")
    elif len(results) == 1:
        notes.append(LARGE_HINT)
    ctx.table("月度结算计算", HEADER, rows, notes)
