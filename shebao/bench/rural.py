"""Benchmark section ``rural``: 老农保 on the full demo (75,000 accounts, up to 30 years each).

- quote: ``rural_refund_quote`` (the account's flows and the rate table read in one round trip, the
  rule in Python) for demo accounts with 30 years of contributions, and for synthetic accounts with a
  contribution in every month of 30 years (360 flows; made in a transaction that is rolled back),
  p50/p95 (target p95 ≤ 20 ms); floor: a ``SELECT 1`` round trip in the same run;
- yearly table: ``account_yearly_table`` for the demo accounts;
- recompute (target ≤ 30 s for every account's yearly table):
  - a rate change of the first year = every account, every year: ``rural_years_rerate()`` walks the
    stored per-year sums (``AccountYearFlow``), one recursive statement for all accounts;
  - a rate change of the last year: ``rural_years_rerate(from_year=last)``;
  - from the raw flows: ``rural_years_refresh()`` (sums rebuilt from every flow, then the walk: the
    import's and ``shebao rural recompute``'s path);
  - floor: reading every flow once (``sum(amount)`` over both tables) in the same run;
  with the CPU seconds of the database backend + this process per step (``payroll.cpu_clock``: not
  inflated by other processes competing for the cores, unlike the wall clock).
  The rates are not changed: the same work, the same rows written again (committed, as a rate change).

If the database's demo predates the 老农保 step, the step is run here first (its data is kept).
Also ``bench_rural(samples) -> dict`` for use outside ``make bench``.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time

from shebao.bench import LATENCY_HEADER, Latencies, section


def _ensure_demo() -> None:
    from django.db import transaction

    from shebao.rural_pension.models import RuralAccount

    if RuralAccount.objects.exists():
        return
    from shebao.common.jobs import CliProgress
    from shebao.demo.rural import rural_demo

    print("老农保演示数据不存在，先加载（full）…", flush=True)
    progress = CliProgress()
    t0 = time.monotonic()
    with transaction.atomic():
        line = rural_demo("full", random.Random("2026:rural"), progress)
    progress.close()
    print(f"{line}（{time.monotonic() - t0:.1f} 秒）\n", flush=True)


def _timed(func, values: list[float]) -> None:
    t0 = time.perf_counter()
    func()
    values.append(time.perf_counter() - t0)


def _synthetic_accounts(n: int) -> list:
    """``n`` accounts on persons without one, each with a personal contribution in every month of
    1996–2025 (360 flows) — inside the caller's transaction (rolled back by the caller)."""
    from django.db import connection

    from shebao.rural_pension.models import RuralAccount

    with connection.cursor() as cur:
        cur.execute("""
            INSERT INTO rural_pension_ruralaccount (person_id, town_id, community_id, enrolled_on, status, legacy_bank,
                legacy_account_number, person_created_by_import, note, created_at, updated_at)
            SELECT p.id, p.town_id, p.community_id, DATE '1996-01-01', 'paying', '', '', false, '基准测试', now(), now()
            FROM registry_person p
            WHERE p.death_date IS NULL
              AND NOT EXISTS (SELECT 1 FROM rural_pension_ruralaccount a WHERE a.person_id = p.id)
            ORDER BY p.id LIMIT %s RETURNING id""", [n])
        ids = [r[0] for r in cur.fetchall()]
        cur.execute("""
            INSERT INTO rural_pension_contribution (account_id, month, kind, amount, import_batch_id)
            SELECT a, m::date, 'personal', 20 + a %% 7 + date_part('year', m)::int %% 5, NULL
            FROM unnest(%s::bigint[]) a, generate_series(DATE '1996-01-01', DATE '2025-12-01', interval '1 month') m""",
                    [ids])
    return list(RuralAccount.objects.filter(pk__in=ids).select_related("person", "town"))


def bench_rural(samples: int = 300, seed: int = 42) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from shebao.rural_pension.models import (
        AccountYear,
        AccountYearFlow,
        Contribution,
        CreditedRate,
        Payout,
        RuralAccount,
    )
    from shebao.rural_pension.selectors import account_yearly_table
    from shebao.rural_pension.services import rural_refund_quote, rural_years_refresh, rural_years_rerate

    _ensure_demo()
    with connection.cursor() as cur:
        cur.execute("""
            SELECT c.account_id FROM rural_pension_contribution c
            JOIN rural_pension_ruralaccount a ON a.id = c.account_id AND a.status IN ('paying', 'suspended')
            GROUP BY c.account_id
            HAVING count(DISTINCT extract(year FROM c.month)) >= 30
            ORDER BY c.account_id LIMIT 5000""")
        ids = [r[0] for r in cur.fetchall()]
    rng = random.Random(seed)
    chosen = rng.sample(ids, min(samples, len(ids)))
    accounts = list(RuralAccount.objects.filter(pk__in=chosen).select_related("person", "town"))

    today = timezone.localdate()
    last_rate = CreditedRate.objects.order_by("-year").values_list("year", flat=True).first()
    # a quote date whose year has a rate: today, or mid-December of the last year with one
    on = today if last_rate is not None and last_rate >= today.year else dt.date(last_rate or today.year, 12, 15)
    floor = Latencies("下限：一次往返 SELECT 1", [])
    quote = Latencies("试算（演示 30 年账户，读库 + 计算）", [])
    table = Latencies("年账户明细（演示 30 年账户）", [])
    monthly = Latencies("试算（合成账户，30 年按月缴费 360 笔）", [])
    years = []
    with connection.cursor() as cur:
        for _ in range(max(len(accounts), 100)):
            _timed(lambda: (cur.execute("SELECT 1"), cur.fetchall()), floor.values)
    for account in accounts:
        t0 = time.perf_counter()
        q = rural_refund_quote(account=account, on=on)
        quote.values.append(time.perf_counter() - t0)
        years.append(len(q.rows))
        _timed(lambda a=account: account_yearly_table(account=a), table.values)
    with transaction.atomic():
        synthetic = _synthetic_accounts(min(samples, 100))
        for _ in range(3):
            for account in synthetic:
                _timed(lambda a=account: rural_refund_quote(account=a, on=on), monthly.values)
        transaction.set_rollback(True)

    counts = {"accounts": RuralAccount.objects.count(), "contributions": Contribution.objects.count(),
              "payouts": Payout.objects.count()}
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT (SELECT sum(amount) FROM rural_pension_contribution), "
                    "(SELECT sum(amount) FROM rural_pension_payout)")
        cur.fetchall()
    scan_s = time.perf_counter() - t0
    from shebao.bench.payroll import cpu_clock

    clock = cpu_clock()
    steps = []
    for label, func in (("利率变更（首年）：全部账户全部年度，按年合计重算", rural_years_rerate),
                        (f"利率变更（末年 {last_rate}）：全部账户该年度起", lambda: rural_years_rerate(from_year=last_rate)),
                        ("由原始流水全部重算（年合计 + 年账户明细）", rural_years_refresh)):
        t0, c0 = time.perf_counter(), clock() if clock else None
        written = func()
        steps.append((label, written, time.perf_counter() - t0, clock() - c0 if clock else None))
    counts["account_years"] = AccountYear.objects.count()
    counts["year_sums"] = AccountYearFlow.objects.count()
    return {"floor": floor, "quote": quote, "table": table, "monthly": monthly, "on": on,
            "years_per_quote": (min(years), max(years)) if years else (0, 0), "synthetic": len(synthetic),
            "scan_s": scan_s, "steps": steps, "load": os.getloadavg(), **counts}


@section("rural", title="老农保：退款试算与全部账户年账户明细重算", order=60)
def rural_bench(ctx) -> None:
    result = bench_rural(samples=min(ctx.args.requests, 500), seed=ctx.args.seed)
    lo, hi = result["years_per_quote"]
    ctx.table("退款试算（进程内，单位毫秒）", LATENCY_HEADER,
              [result["floor"].row(), result["quote"].row(), result["table"].row(), result["monthly"].row()],
              notes=[f"样本 {len(result['quote'].values)} 个有 30 年缴费的演示账户（每次试算 {lo}–{hi} 个年度）"
                     f"及 {result['synthetic']} 个合成账户（各试算 3 次，事务回滚），试算日期 {result['on']}；"
                     "目标 p95 ≤ 20 ms"])
    rows = [[label, f"{written:,}", f"{seconds:.1f}", "—" if cpu is None else f"{cpu:.1f}"]
            for label, written, seconds, cpu in result["steps"]]
    rows.append(["下限：读一遍全部流水（sum）", "—", f"{result['scan_s']:.1f}", ""])
    load = " / ".join(f"{x:.1f}" for x in result["load"])
    ctx.table("全部账户年账户明细重算（集合运算）", ["步骤", "写入账户年度", "秒", "CPU 秒"], rows, notes=[
        f"账户 {result['accounts']:,}，缴费记录 {result['contributions']:,}，支付记录 {result['payouts']:,}，"
        f"年合计 {result['year_sums']:,} 行，账户年度 {result['account_years']:,} 行；负载 {load}",
        "目标 ≤ 30 秒（全部账户全部年度）；含清空缓存表、重新写入与重建唯一索引",
        "CPU 秒：数据库后端进程 + 本进程所用 CPU（不受其他进程争用影响；WAL 写入进程等不计）"])
