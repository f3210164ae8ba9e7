"""Person search, the clerk's most frequent action: by the last 4 / 6 digits of the 身份证号, the full
number, the name, and the pinyin initials of the name."""

from __future__ import annotations

import os
import threading
import time

from shebao.bench import LATENCY_HEADER, Latencies, percentile, section

KINDS = [
    ("suffix4", "身份证尾号4位"),
    ("suffix6", "身份证尾号6位"),
    ("full", "完整身份证号"),
    ("name", "姓名"),
    ("initials", "拼音首字母"),
]
WEB_PATH = "/persons/"
SUGGEST_PATH = "/persons/suggest/"
API_PATH = "/api/v1/persons/search"
# what each endpoint is, for the tables: the list page (Enter in the search box), the top bar's live
# suggestions (fired as the clerk types), the API
ENDPOINTS = [("page", WEB_PATH, {}, "网页 /persons/?q="), ("suggest", SUGGEST_PATH, {}, "顶栏联想 /persons/suggest/?q="),
             ("api", API_PATH, {"limit": 20}, "API /api/v1/persons/search?q=&limit=20")]
TARGETS = "目标（issue 17）：每类单客户端 p95 ≤ 30 ms；8 个并发客户端 ≥ 150 次/秒且 p95 ≤ 100 ms"


def _queries(ctx) -> dict[str, list[str]]:
    """``--requests`` queries of each kind, from persons picked at random (seeded)."""
    cached = getattr(ctx, "_search_queries", None)
    if cached is not None:
        return cached
    from shebao.bench.payroll import PREFIX
    from shebao.registry.models import Person

    # the queries are those of the demo's persons: the payroll bench's synthetic persons (身份证号 99…,
    # named 基准N, all with the initials "jz") stay in the table searched but are not what clerks type —
    # half of the initials queries matched 80,000 persons when they were sampled too
    ctx._search_population = Person.objects.count()
    ids = list(Person.objects.exclude(id_number__startswith=PREFIX).values_list("id", flat=True).order_by("id"))
    if not ids:
        raise RuntimeError("没有人员数据")
    n = ctx.args.requests
    picked = [ctx.rng.choice(ids) for _ in range(n * len(KINDS))]
    people = dict(Person.objects.filter(id__in=picked).values_list("id", "id_number"))
    names = dict(Person.objects.filter(id__in=picked).values_list("id", "name"))
    initials = dict(Person.objects.filter(id__in=picked).values_list("id", "name_initials"))
    out: dict[str, list[str]] = {}
    for i, (kind, _) in enumerate(KINDS):
        chunk = picked[i * n:(i + 1) * n]
        out[kind] = [
            {
                "suffix4": lambda p: people[p][-4:],
                "suffix6": lambda p: people[p][-6:],
                "full": lambda p: people[p],
                "name": lambda p: names[p],
                "initials": lambda p: initials[p],
            }[kind](p)
            for p in chunk
        ]
    ctx._search_queries = out
    return out


def _endpoint(client) -> tuple[str, dict, str]:
    """The web search page if it exists, else the API (said in the output)."""
    probe = client.get(WEB_PATH, q="1234")
    if probe.status != 404:
        return WEB_PATH, {}, f"GET {WEB_PATH}?q=…（网页查找，含页面渲染）"
    return API_PATH, {"limit": 20}, f"GET {API_PATH}?q=…（网页 {WEB_PATH} 返回 404，改测 API）"


@section("search", title="人员查找（HTTP，登录为演示经办员 clerk，全市范围）", order=10, needs_server=True)
def search_http(ctx) -> None:
    queries = _queries(ctx)
    client = ctx.client("clerk")
    path, extra, described = _endpoint(client)
    for q in ("1234", "陈", "cjg"):  # warm the workers (imports, connections, caches)
        for _ in range(10):
            client.get(path, q=q, **extra)
    rows, overall, redirected = [], Latencies("全部", []), 0
    for kind, label in KINDS:
        lat = Latencies(label, [])
        for q in queries[kind]:
            resp = client.get(path, q=q, **extra)
            if resp.status != 200:
                lat.errors += 1
            if resp.url.split("?")[0].rstrip("/") != (client.base_url + path).rstrip("/"):
                redirected += 1
            lat.values.append(resp.seconds)
        overall.values += lat.values
        overall.errors += lat.errors
        rows.append(lat.row())
    rows.append(overall.row())
    notes = [described, f"人员表 {ctx._search_population:,} 人；顺序请求，每类 {ctx.args.requests} 次；"
             "时间为客户端测得的整个请求（含登录会话读写）"]
    if redirected:
        notes.append(f"{redirected} 次请求被重定向（如唯一结果直接打开人员页），计入总时间")
    ctx.table("单客户端", LATENCY_HEADER, rows, notes)
    for key, other, params, label in ENDPOINTS:
        if key == "page":
            continue
        for q in ("1234", "陈", "cjg"):
            for _ in range(5):
                client.get(other, q=q, **params)
        rows, overall = [], Latencies("全部", [])
        for kind, kind_label in KINDS:
            lat = Latencies(kind_label, [])
            for q in queries[kind]:
                resp = client.get(other, q=q, **params)
                lat.errors += resp.status != 200
                lat.values.append(resp.seconds)
            overall.values += lat.values
            overall.errors += lat.errors
            rows.append(lat.row())
        rows.append(overall.row())
        ctx.table(f"单客户端：{label}", LATENCY_HEADER, rows, [f"顺序请求，每类 {ctx.args.requests} 次", TARGETS])

    # Several clerks at once: each its own session, all kinds mixed.
    conc = ctx.args.concurrency
    if conc > 1:
        mixed = [q for kind, _ in KINDS for q in queries[kind]]
        ctx.rng.shuffle(mixed)
        clients = [ctx.client("clerk") for _ in range(conc)]
        for title, target, params in (("并发", path, extra), ("并发：顶栏联想 /persons/suggest/?q=", SUGGEST_PATH, {})):
            total, wall = _concurrent(clients, mixed, target, params)
            ctx.table(title, LATENCY_HEADER, [total.row()],
                      [f"{len(mixed)} 次请求（各类混合），用时 {wall:.1f} 秒，吞吐 {len(mixed) / wall:.0f} 次/秒", TARGETS,
                       "客户端与服务器在同一台机器上，客户端本身也占用 CPU"])


def _concurrent(clients, mixed: list[str], path: str, params: dict) -> tuple[Latencies, float]:
    """Every query of ``mixed`` once, spread over the clients, all at once: (latencies, wall seconds)."""
    conc = len(clients)
    results: list[Latencies] = [Latencies(f"客户端{i}", []) for i in range(conc)]

    def work(i: int) -> None:
        for q in mixed[i::conc]:
            resp = clients[i].get(path, q=q, **params)
            results[i].values.append(resp.seconds)
            results[i].errors += resp.status != 200

    threads = [threading.Thread(target=work, args=(i,)) for i in range(conc)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return Latencies(f"{conc} 个并发客户端", [v for r in results for v in r.values],
                     sum(r.errors for r in results)), wall


@section("search_db", title="人员查找（进程内调用 selectors.person_search，不含 HTTP）", order=11)
def search_selector(ctx) -> None:
    from shebao.accounts.models import User
    from shebao.registry.selectors import person_search

    queries = _queries(ctx)
    user = User.objects.get(username="clerk")
    for q in ("1234", "陈", "cjg"):
        list(person_search(user=user, q=q, limit=50))
    rows, overall = [], Latencies("全部", [])
    found: list[str] = []
    for kind, label in KINDS:
        lat = Latencies(label, [])
        hits = 0
        for q in queries[kind]:
            t0 = time.perf_counter()
            hits += len(list(person_search(user=user, q=q, limit=50)))
            lat.values.append(time.perf_counter() - t0)
        overall.values += lat.values
        rows.append(lat.row())
        found.append(f"{label} 平均 {hits / len(queries[kind]):.1f} 条")
    rows.append(overall.row())
    ctx.table("person_search(limit=50)", LATENCY_HEADER, rows,
              [f"人员表 {ctx._search_population:,} 人", "平均命中：" + "，".join(found)])
    search_cpu(ctx)  # the whole request, in-process: Django's and PostgreSQL's CPU per request


CPU_HEADER = ["接口", "类别", "次数", "Django CPU p50 ms", "Django CPU 平均 ms", "PostgreSQL CPU 平均 ms", "查询数（首个样本）", "出错"]


def _backend_stat():
    """A function giving the CPU seconds used so far by this thread's PostgreSQL backend (``/proc``), and
    its pid; (None, pid) when the server is not on this machine."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    stat = f"/proc/{pid}/stat"
    if not os.path.exists(stat):
        return None, pid
    tick = os.sysconf("SC_CLK_TCK")

    def clock() -> float:
        with open(stat) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    return clock, pid


def search_cpu(ctx) -> None:
    """The whole request — middleware, session, sign-in, permission check, the query, the page — run in
    this process, one at a time: CPU seconds of this process (Django) and of its PostgreSQL backend per
    request. Unlike wall-clock times these do not grow with other processes' load (a little: caches)."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from shebao.bench.server import BENCH_RATE_API, InProcessClient

    queries = _queries(ctx)
    client = InProcessClient("clerk")
    saved = settings.SHEBAO_RATE_API
    settings.SHEBAO_RATE_API = BENCH_RATE_API  # the API part is ~1,000 requests a minute from one address
    rows, budget = [], []
    try:
        for _key, path, params, label in ENDPOINTS:
            for q in ("1234", "陈", "cjg"):
                for _ in range(5):
                    client.get(path, q=q, **params)
            all_cpu, all_pg, all_n = [], 0.0, 0
            for kind, kind_label in KINDS:
                with CaptureQueriesContext(connection) as captured:
                    client.get(path, q=queries[kind][0], **params)
                n_queries = len(captured.captured_queries)
                pg_clock, pid = _backend_stat()
                pg0 = pg_clock() if pg_clock else 0.0
                cpu, errors = [], 0
                for q in queries[kind]:
                    t0 = time.process_time()
                    status, _body = client.get(path, q=q, **params)
                    cpu.append(time.process_time() - t0)
                    errors += status != 200
                pg_clock_after, pid_after = _backend_stat()
                pg = (pg_clock() - pg0) / len(cpu) * 1000 if pg_clock and pid_after == pid else None
                all_cpu += cpu
                if pg is not None:
                    all_pg += pg * len(cpu)
                    all_n += len(cpu)
                cpu.sort()
                rows.append([label.split(" ")[0], kind_label, str(len(cpu)), f"{percentile(cpu, 50) * 1000:.1f}",
                             f"{sum(cpu) / len(cpu) * 1000:.1f}", "—" if pg is None else f"{pg:.1f}", str(n_queries),
                             str(errors)])
            all_cpu.sort()
            mean = sum(all_cpu) / len(all_cpu) * 1000
            pg_mean = all_pg / all_n if all_n else None
            rows.append([label.split(" ")[0], "全部", str(len(all_cpu)), f"{percentile(all_cpu, 50) * 1000:.1f}",
                         f"{mean:.1f}", "—" if pg_mean is None else f"{pg_mean:.1f}", "", ""])
            total = mean + (pg_mean or 0.0)
            budget.append(f"{label}：Django + PostgreSQL 平均 {total:.1f} ms CPU/请求 → 两个核最多约 "
                          f"{2000 / total:.0f} 次/秒（未计 gunicorn、HTTP 与客户端本身）")
    finally:
        settings.SHEBAO_RATE_API = saved
    ctx.table("每请求 CPU（整个请求，进程内经 Django 的 WSGI 处理器，不含 HTTP 与 gunicorn；顺序）", CPU_HEADER, rows, [
        f"人员表 {ctx._search_population:,} 人；每类 {ctx.args.requests} 次；以演示经办员 clerk 登录（全市范围）",
        "Django CPU = 本进程 time.process_time()（中间件、会话、登录、权限、查询的构建与结果、页面渲染）；"
        "PostgreSQL CPU = 本进程所连后端进程的 /proc 用户+系统时间（10 ms 精度，按次平均）",
        "查询数 = 该类第一个查询的请求发出的 SQL 语句数（结果多于一页时另有计数；另有每个请求一次的连接检查"
        " SELECT 1，CONN_HEALTH_CHECKS）",
        *budget,
    ])
