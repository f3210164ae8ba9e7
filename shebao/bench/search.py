"""Person search, the clerk's most frequent action: by the last 4 / 6 digits of the 身份证号, the full
number, the name, and the pinyin initials of the name."""

from __future__ import annotations

import threading
import time

from shebao.bench import LATENCY_HEADER, Latencies, section

KINDS = [
    ("suffix4", "身份证尾号4位"),
    ("suffix6", "身份证尾号6位"),
    ("full", "完整身份证号"),
    ("name", "姓名"),
    ("initials", "拼音首字母"),
]
WEB_PATH = "/persons/"
API_PATH = "/api/v1/persons/search"


def _queries(ctx) -> dict[str, list[str]]:
    """``--requests`` queries of each kind, from persons picked at random (seeded)."""
    cached = getattr(ctx, "_search_queries", None)
    if cached is not None:
        return cached
    from shebao.registry.models import Person

    ids = list(Person.objects.values_list("id", flat=True).order_by("id"))
    if not ids:
        raise RuntimeError("没有人员数据")
    ctx._search_population = len(ids)
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

    # Several clerks at once: each its own session, all kinds mixed.
    conc = ctx.args.concurrency
    if conc > 1:
        mixed = [q for kind, _ in KINDS for q in queries[kind]]
        ctx.rng.shuffle(mixed)
        clients = [ctx.client("clerk") for _ in range(conc)]
        results: list[Latencies] = [Latencies(f"客户端{i}", []) for i in range(conc)]

        def work(i: int) -> None:
            for q in mixed[i::conc]:
                resp = clients[i].get(path, q=q, **extra)
                results[i].values.append(resp.seconds)
                results[i].errors += resp.status != 200

        threads = [threading.Thread(target=work, args=(i,)) for i in range(conc)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        total = Latencies(f"{conc} 个并发客户端", [v for r in results for v in r.values],
                          sum(r.errors for r in results))
        ctx.table("并发", LATENCY_HEADER, [total.row()],
                  [f"{len(mixed)} 次请求（各类混合），用时 {wall:.1f} 秒，吞吐 {len(mixed) / wall:.0f} 次/秒"])


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
