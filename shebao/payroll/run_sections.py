"""Sections other apps add to a run's page (the bank app: the run's files and their returns), so the
payroll pages need not import them. A provider is ``provider(run, request)`` returning None or HTML made
safe (``format_html`` / a rendered template); register it from the app's ``AppConfig.ready()``."""

from __future__ import annotations

from collections.abc import Callable

from django.utils.safestring import SafeString

Provider = Callable[..., SafeString | None]
_PROVIDERS: list[Provider] = []


def register(provider: Provider) -> Provider:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def collect(run, request) -> list[SafeString]:
    out = []
    for provider in _PROVIDERS:
        html = provider(run, request)
        if html:
            out.append(html)
    return out
