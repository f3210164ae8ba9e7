"""Slots one app fills so that another, lower or parallel, can call it without importing it.

- ``certification_recorder``: the certification app (生存认证) puts its
  ``certification_record(person, on, method="数据比对", user, source=..., note=...)`` here from its
  ``AppConfig.ready()``; the 回流库's "accept as certification" calls it when present and says plainly
  that it is not installed otherwise.
- ``certification_last_dates``: a function returning a QuerySet of ``values("person_id", "last_on")`` —
  each person's last certification date — which the 生存迹象 cross-check composes into its SQL.
- ``death_flow_starter``: the certification app's start of the death flow
  (``start(person, death_date, user, source=..., note=...)``), called when a clerk confirms a death
  finding of the 回流库.

Filling a slot twice with a different function is an error (two apps claiming one act). A provider
refuses an act with ``HookRefused`` (a Chinese message the caller shows; nothing written)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

_SLOTS: dict[str, Callable | None] = {"certification_recorder": None, "death_flow_starter": None,
                                      "certification_last_dates": None}


def provide(slot: str, func: Callable) -> None:
    if slot not in _SLOTS:
        raise KeyError(f"no hook slot {slot!r}")
    current = _SLOTS[slot]
    if current is not None and current is not func:
        raise RuntimeError(f"hook {slot!r} is already provided by {current!r}")
    _SLOTS[slot] = func


def provided(slot: str) -> Callable | None:
    return _SLOTS[slot]


def withdraw(slot: str) -> None:
    """Empty a slot (tests)."""
    _SLOTS[slot] = None


class HookRefused(Exception):
    """The provider refused the act; ``str()`` is the Chinese reason."""


@contextmanager
def swapped(slot: str, func: Callable | None) -> Iterator[None]:
    """Put ``func`` (None: nothing) in a slot for the length of a block, then what was there (tests)."""
    before = _SLOTS[slot]
    _SLOTS[slot] = func
    try:
        yield
    finally:
        _SLOTS[slot] = before

