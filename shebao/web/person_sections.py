"""The person page's 参保险种 (schemes) section: a registry of providers that scheme apps fill in.

A provider is a callable ``provider(person, request)`` that returns ``None`` when the person is not in
its scheme, else a ``(title, content)`` pair where content is either

- a template name (``str`` ending in ``.html``), rendered with ``{"person": person, "request": request}``
  plus anything the provider puts in the optional third element (a dict), or
- HTML already made safe (``django.utils.html.format_html`` / ``SafeString``); other strings are
  escaped.

Register from ``AppConfig.ready()``::

    from shebao.web import person_sections

    def self_managed_section(person, request):
        enrollment = Enrollment.objects.filter(person=person, scheme="ZG").first()
        if enrollment is None:
            return None
        return (_("自管人员"), "self_managed/person_section.html", {"enrollment": enrollment})

    person_sections.register(self_managed_section)

With no provider (or none that knows the person) the page says 未参加任何险种.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

Provider = Callable[..., object]
_PROVIDERS: list[Provider] = []


@dataclass
class Section:
    title: str
    html: SafeString
    error: bool = False


def register(provider: Provider) -> Provider:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def unregister(provider: Provider) -> None:
    if provider in _PROVIDERS:
        _PROVIDERS.remove(provider)


def providers() -> list[Provider]:
    return list(_PROVIDERS)


def collect(person, request) -> list[Section]:
    sections: list[Section] = []
    for provider in _PROVIDERS:
        try:
            result = provider(person, request)
            if not result:
                continue
            title, content, *rest = result
            extra = rest[0] if rest else {}
            if isinstance(content, SafeString):
                html = content
            elif isinstance(content, str) and content.endswith(".html"):
                html = mark_safe(render_to_string(  # noqa: S308 - a rendered template is safe
                    content, {"person": person, **extra}, request=request))
            else:
                html = conditional_escape(content)
            sections.append(Section(str(title), html))
        except Exception:  # noqa: BLE001 - one broken scheme must not hide the person
            logger.exception("person section provider %r failed", provider)
            sections.append(Section(getattr(provider, "__name__", "?"), mark_safe(""), error=True))
    return sections
