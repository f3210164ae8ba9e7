"""The project's benchmark: ``make bench`` (``python -m shebao.bench [--only a,b] [--list]``).

It runs on its OWN embedded database (``var/pgbench``), loads the ``full`` demo there once, and prints
figures; nothing here is a test and nothing asserts a time.

Sections are registered, so each subsystem adds its own: put a module in this package (or a
``bench.py`` in an app) with::

    from shebao.bench import section

    @section("payroll", title="月度结算计算", order=50)
    def payroll_bench(ctx):
        …                                 # ctx.rng, ctx.args, ctx.timer(), ctx.client() (HTTP, logged in)
        ctx.table("月度结算", ["步骤", "秒"], rows)

This module imports nothing from Django: ``__main__`` must choose the database before Django starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    func: Callable[[Any], None]
    order: int
    needs_server: bool


_SECTIONS: dict[str, Section] = {}


def section(name: str, *, title: str, order: int = 100, needs_server: bool = False):
    """Register a benchmark section (decorator). ``needs_server``: the app is started over HTTP first."""

    def decorate(func: Callable[[Any], None]) -> Callable[[Any], None]:
        _SECTIONS[name] = Section(name, title, func, order, needs_server)
        return func

    return decorate


def sections() -> list[Section]:
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.name))


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list (p in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Latencies:
    """Wall-clock durations in seconds of one kind of operation."""

    label: str
    values: list[float]
    errors: int = 0

    def row(self) -> list[str]:
        v = sorted(self.values)
        ms = [f"{x * 1000:.1f}" for x in (percentile(v, 50), percentile(v, 95), v[-1] if v else math.nan)]
        mean = sum(v) / len(v) * 1000 if v else math.nan
        return [self.label, str(len(v)), *ms[:2], f"{mean:.1f}", ms[2], str(self.errors)]


LATENCY_HEADER = ["类别", "次数", "p50 ms", "p95 ms", "平均 ms", "最大 ms", "出错"]


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table; CJK characters count as two columns."""

    def width(s: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)

    cols = [max(width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            cell = str(cell)
            pad = " " * (cols[i] - width(cell))
            out.append(cell + pad if i == 0 else pad + cell)
        return "  ".join(out).rstrip()

    rule = "-" * (sum(cols) + 2 * (len(cols) - 1))
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


@contextmanager
def stopwatch():
    """``with stopwatch() as t: …`` then ``t()`` is the elapsed seconds."""
    t0 = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - t0
    end.append(time.perf_counter())
