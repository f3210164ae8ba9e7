"""The home page's 待办 (work items) panel: a registry of providers that later apps fill in.

A provider is a callable ``provider(request) -> list[tuple[label, count, url]]`` (an empty list when
the user has nothing to do there). Register it from your ``AppConfig.ready()``::

    from shebao.web import work

    def payroll_to_review(request):
        if not request.user.has_perm("accounts.review"):
            return []
        n = PayrollRun.objects.filter(state="computed").exclude(created_by=request.user).count()
        return [(_("待审核的月度结算"), n, reverse("payroll:run_list") + "?state=computed")] if n else []

    work.register(payroll_to_review)

A provider that raises is logged and skipped: one broken app does not take the home page down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Provider = Callable[..., list[tuple[str, int, str]]]
_PROVIDERS: list[Provider] = []


@dataclass
class WorkItem:
    label: str
    count: int
    url: str


def register(provider: Provider) -> Provider:
    """Add a provider (usable as a decorator). Registering the same callable twice is a no-op."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def unregister(provider: Provider) -> None:
    if provider in _PROVIDERS:
        _PROVIDERS.remove(provider)


def providers() -> list[Provider]:
    return list(_PROVIDERS)


def collect(request) -> list[WorkItem]:
    """Every item of every provider, in registration order; items with count 0 are left out."""
    items: list[WorkItem] = []
    for provider in _PROVIDERS:
        try:
            for label, count, url in provider(request) or []:
                if count:
                    items.append(WorkItem(str(label), int(count), url))
        except Exception:  # noqa: BLE001 - a broken provider must not break the home page
            logger.exception("work provider %r failed", provider)
    return items
