"""``python -m shebao.bench [--only search] [--list]`` (``make bench``).

1. Points Django at the benchmark's own embedded PostgreSQL (``var/pgbench``; never the dev database),
   runs as production does (DEBUG off).
2. Migrates it and loads the ``full`` demo once (reused on later runs).
3. Prints the machine facts, then runs the selected sections; HTTP sections get the app started with
   gunicorn on 127.0.0.1:8765 and a client logged in as the demo clerk.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import random
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m shebao.bench", description="慈溪社保本地系统 性能基准")
    p.add_argument("--only", default="", help="只运行这些部分（逗号分隔），如 --only search")
    p.add_argument("--skip", default="", help="跳过这些部分（逗号分隔）")
    p.add_argument("--list", action="store_true", help="列出所有部分后退出")
    p.add_argument("--scale", default="full", help="演示数据规模（默认 full）")
    p.add_argument("--requests", type=int, default=200, help="每类请求次数（默认 200）")
    p.add_argument("--concurrency", type=int, default=8, help="并发部分的客户端数（默认 8）")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--workers", type=int, default=0, help="gunicorn 进程数（默认 CPU 核数，最多 8）")
    p.add_argument("--threads", type=int, default=1,
                   help="gunicorn 每进程线程数（默认 1 = sync 工作进程；大于 1 用 gthread）")
    p.add_argument("--seed", type=int, default=42, help="选取查询样本的随机种子")
    p.add_argument("--pgdata", default=str(BASE_DIR / "var" / "pgbench"), help="基准测试数据库目录")
    return p.parse_args(argv)


def _choose_database(args: argparse.Namespace) -> str:
    """Set the environment BEFORE Django reads settings. Returns a description for the header."""
    bench_url = os.environ.get("SHEBAO_BENCH_DATABASE_URL", "")
    if bench_url:
        os.environ["DATABASE_URL"] = bench_url
        where = "SHEBAO_BENCH_DATABASE_URL"
    else:
        os.environ.pop("DATABASE_URL", None)  # never the dev/production database
        os.environ["SHEBAO_PGDATA"] = args.pgdata
        where = f"内嵌 PostgreSQL，{args.pgdata}"
    os.environ.pop("SHEBAO_PG_THROWAWAY", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["SHEBAO_DEBUG"] = "0"  # measured as production runs (no query log, no debug pages)
    os.environ.setdefault("SHEBAO_ALLOW_DEV_KEY", "1")
    os.environ.setdefault("SHEBAO_LOG_LEVEL", "ERROR")
    return where


def _discover() -> None:
    import shebao.bench as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_") and mod.name != "server":
            importlib.import_module(f"shebao.bench.{mod.name}")
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("bench")  # an app's own shebao/<app>/bench.py


def _machine_facts(where: str) -> list[tuple[str, str]]:
    import django
    from django.db import connection

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with connection.cursor() as c:
        c.execute("SHOW server_version")
        pg = c.fetchone()[0]
        c.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = c.fetchone()[0]
        c.execute("SHOW shared_buffers")
        shared = c.fetchone()[0]
    return [
        ("CPU", f"{cpu}，{os.cpu_count()} 核（本进程可用 {usable}）"),
        ("内存", mem),
        ("系统", f"{platform.system()} {platform.release()}"),
        ("负载", "1/5/15 分钟平均 " + " / ".join(f"{x:.1f}" for x in os.getloadavg())
         + "（高于核数时其他进程在争用 CPU，数字偏大）"),
        ("Python / Django", f"{platform.python_version()} / {django.get_version()}"),
        ("PostgreSQL", f"{pg}（shared_buffers {shared}），数据库 {size}"),
        ("数据库", where),
    ]


class Context:
    """What a section gets: the arguments, a seeded rng, HTTP clients, and output helpers."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self._server = None

    def server(self):
        if self._server is None:
            from shebao.bench.server import Server

            workers = self.args.workers or min(8, os.cpu_count() or 2)
            self._server = Server(port=self.args.port, workers=workers, base_dir=BASE_DIR, threads=self.args.threads)
            t0 = time.monotonic()
            self._server.start()
            kind = f"gthread，每进程 {self.args.threads} 个线程" if self.args.threads > 1 else "sync"
            print(f"应用已启动：gunicorn {workers} 个进程（{kind}），{self._server.url}"
                  f"（{time.monotonic() - t0:.1f} 秒）\n")
        return self._server

    def client(self, username: str = "clerk"):
        from shebao.bench.server import Client
        from shebao.demo.runner import DEMO_PASSWORD

        client = Client(self.server().url)
        client.login(username, DEMO_PASSWORD)
        return client

    def table(self, title: str, header, rows, notes: list[str] | None = None) -> None:
        from shebao.bench import render_table

        print(title)
        print(render_table(header, rows))
        for note in notes or []:
            print(f"  注：{note}")
        print(flush=True)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()


def _prepare(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    from shebao.accounts.models import User
    from shebao.accounts.services import roles_sync
    from shebao.demo.runner import demo_info, demo_load, demo_users_ensure

    t0 = time.monotonic()
    call_command("migrate", verbosity=0)
    roles_sync()
    info = demo_info()
    if info and info.get("scale") == args.scale:
        print(f"演示数据：沿用已加载的 {args.scale}（{info.get('persons', 0):,} 人，{info['loaded_at'][:16]} 加载）")
    else:
        print(f"演示数据：加载 {args.scale} …", flush=True)
        done = demo_load(scale=args.scale, progress=True, reset=info is not None)
        print(f"演示数据：{done['summary']}（{done['seconds']} 秒）")
    usernames = [u for u, _, _ in demo_users_ensure()]
    # The benchmark's own database: keep its demo logins usable whatever the date (90-day password rule).
    User.objects.filter(username__in=usernames).update(
        password_changed_at=timezone.now(), failed_logins=0, locked_until=None, must_change_password=False
    )
    print(f"准备完成（{time.monotonic() - t0:.1f} 秒）\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    where = _choose_database(args)
    import django

    django.setup()
    _discover()
    from shebao.bench import sections
    from shebao.bench.server import BenchError

    available = sections()
    if args.list:
        for s in available:
            print(f"{s.name:<16} {s.title}{'（HTTP）' if s.needs_server else ''}")
        return 0
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    unknown = (only | skip) - {s.name for s in available}
    if unknown:
        print(f"未知的部分：{', '.join(sorted(unknown))}；可选：{', '.join(s.name for s in available)}", file=sys.stderr)
        return 2
    chosen = [s for s in available if (not only or s.name in only) and s.name not in skip]

    print("慈溪社保本地系统 性能基准")
    print("=" * 40)
    _prepare(args)
    from shebao.bench import render_table

    print(render_table(["项目", "值"], _machine_facts(where)))
    print(flush=True)
    ctx = Context(args)
    try:
        for s in chosen:
            print(f"## {s.name}: {s.title}\n", flush=True)
            t0 = time.monotonic()
            s.func(ctx)
            print(f"（{s.name} 用时 {time.monotonic() - t0:.1f} 秒）\n", flush=True)
    except BenchError as exc:
        print(f"基准测试中止：{exc}", file=sys.stderr)
        return 1
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
