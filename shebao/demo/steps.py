"""The registry of demo steps: each subsystem adds the demo data it owns.

A step is ``func(scale, rng, progress) -> str | None`` (the optional string is a line for the load's
summary) plus an optional ``reset()`` that removes what the step made. Steps run in ``order`` (the
registry's people come first, at order 10); resets run in reverse order. A subsystem registers its
step in ``shebao/<app>/demo.py``, which the runner imports on first use::

    from shebao.demo.steps import demo_step

    @demo_step("payroll", order=50, reset=_payroll_demo_reset)
    def payroll_demo(scale, rng, progress):
        progress.start(…, "生成月度结算")
        …
        return "月度结算 12 期"

``rng`` is a ``random.Random`` seeded from the load's seed and the step's name, so adding a step
never changes what the other steps make.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.module_loading import autodiscover_modules

from shebao.common.jobs import Progress

StepFunc = Callable[[str, random.Random, Progress], "str | None"]

# How big each scale is; steps read their own key (with a default of their own choosing).
SCALES: dict[str, dict[str, int]] = {
    "small": {"persons": 3_000},
    "full": {"persons": 80_000},
}


def scale_size(scale: str, key: str, default: int | None = None) -> int:
    sizes = SCALES[scale]
    if key in sizes:
        return sizes[key]
    if default is None:
        raise KeyError(f"demo scale {scale!r} has no size for {key!r}")
    return default


@dataclass(frozen=True)
class DemoStep:
    name: str
    func: StepFunc
    order: int
    reset: Callable[[], None] | None


_STEPS: dict[str, DemoStep] = {}
_discovered = False


def demo_step(name: str, *, order: int = 100, reset: Callable[[], None] | None = None):
    """Register a demo step (decorator)."""

    def decorate(func: StepFunc) -> StepFunc:
        _STEPS[name] = DemoStep(name, func, order, reset)
        return func

    return decorate


def demo_steps() -> list[DemoStep]:
    """Every registered step, in order (each app's ``demo`` module is imported once)."""
    global _discovered
    if not _discovered:
        import shebao.demo.people  # noqa: F401 — the registry's people, the first step

        autodiscover_modules("demo")
        _discovered = True
    return sorted(_STEPS.values(), key=lambda s: (s.order, s.name))
