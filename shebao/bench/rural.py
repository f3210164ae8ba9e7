"""Benchmark section ``rural``: 老农保 on the full demo (75,000 accounts, up to 30 years each).

- quote: ``rural_refund_quote`` (flows and rates read from the database, the rule in Python) for
  accounts with 30 years of contributions, p50/p95 (target p95 ≤ 20 ms);
- yearly table: ``account_yearly_table`` for the same accounts;
- recompute: ``rural_years_recompute()`` of every account's yearly table, set-based (flows summed per
  account-year, then a recursive CTE over the years for all accounts at once), seconds (target ≤ 30 s).

If the database's demo predates the 老农保 step, the step is run here first (its data is kept).
Also ``bench_rural(samples) -> dict`` for use outside ``make bench``.
"""

from __future__ import annotations

import datetime as dt
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


def bench_rural(samples: int = 300, seed: int = 42) -> dict:
    from django.db import connection
    from django.utils import timezone

    from shebao.rural_pension.models import AccountYear, Contribution, RuralAccount
    from shebao.rural_pension.selectors import account_yearly_table
    from shebao.rural_pension.services import rural_refund_quote, rural_years_recompute

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
    from shebao.rural_pension.models import CreditedRate

    today = timezone.localdate()
    last_rate = CreditedRate.objects.order_by("-year").values_list("year", flat=True).first()
    # a quote date whose year has a rate: today, or mid-December of the last year with one
    on = today if last_rate is not None and last_rate >= today.year else dt.date(last_rate or today.year, 12, 15)
    quote = Latencies("试算（30 年账户，读库 + 计算）", [])
    table = Latencies("年账户明细（30 年账户）", [])
    years = []
    for account in accounts:
        t0 = time.perf_counter()
        q = rural_refund_quote(account=account, on=on)
        quote.values.append(time.perf_counter() - t0)
        years.append(len(q.rows))
        t0 = time.perf_counter()
        account_yearly_table(account=account)
        table.values.append(time.perf_counter() - t0)
    counts = {"accounts": RuralAccount.objects.count(), "contributions": Contribution.objects.count()}
    t0 = time.perf_counter()
    written = rural_years_recompute()
    recompute_s = time.perf_counter() - t0
    counts["account_years"] = AccountYear.objects.count()
    return {"quote": quote, "table": table, "on": on,
            "years_per_quote": (min(years), max(years)) if years else (0, 0),
            "recompute_s": recompute_s, "written": written, **counts}


@section("rural", title="老农保：退款试算与全部账户年账户明细重算", order=60)
def rural_bench(ctx) -> None:
    result = bench_rural(samples=min(ctx.args.requests, 500), seed=ctx.args.seed)
    lo, hi = result["years_per_quote"]
    ctx.table("退款试算（进程内，单位毫秒）", LATENCY_HEADER, [result["quote"].row(), result["table"].row()],
              notes=[f"样本 {len(result['quote'].values)} 个有 30 年缴费的账户，试算日期 {result['on']}，每次试算 {lo}–{hi} 个年度；"
                     "目标 p95 ≤ 20 ms"])
    ctx.table("全部账户年账户明细重算（集合运算）", ["账户", "缴费记录", "写入账户年度", "秒"], [[
        f"{result['accounts']:,}", f"{result['contributions']:,}", f"{result['written']:,}",
        f"{result['recompute_s']:.1f}"]], notes=["目标 ≤ 30 秒；含清空缓存表与重新写入"])
