"""Who is acting and from where, for the audit trail (set by middleware, or by a command)."""

from __future__ import annotations

import contextvars
import ipaddress
from contextlib import contextmanager

from django.conf import settings

_client_ip: contextvars.ContextVar[str] = contextvars.ContextVar("client_ip", default="")
_user_agent: contextvars.ContextVar[str] = contextvars.ContextVar("user_agent", default="")


def current_ip() -> str:
    return _client_ip.get()


def current_user_agent() -> str:
    """The browser of the request being served ("" outside a request); kept on the jobs it starts."""
    return _user_agent.get()


@contextmanager
def acting_from(ip: str, user_agent: str | None = None):
    token = _client_ip.set(ip)
    ua_token = _user_agent.set(user_agent) if user_agent is not None else None
    try:
        yield
    finally:
        if ua_token is not None:
            _user_agent.reset(ua_token)
        _client_ip.reset(token)


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def trusted_proxies() -> frozenset[str]:
    """``SHEBAO_TRUSTED_PROXIES``: the addresses of our own reverse proxies (nginx)."""
    return frozenset(filter(None, (_ip(p) for p in getattr(settings, "SHEBAO_TRUSTED_PROXIES", ()))))


def client_ip_of(request) -> str:
    """The client's address for the login check and the audit trail.

    ``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
    request comes from one of our proxies (``SHEBAO_TRUSTED_PROXIES``; none by default → the socket's
    ``REMOTE_ADDR``), and then only the part our proxies wrote: walking from the right, the first
    address that is not one of them is the one the outermost proxy saw (``$proxy_add_x_forwarded_for``
    appends it); whatever the client put before it is ignored."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = trusted_proxies()
    if not proxies or _ip(remote) not in proxies:
        return remote
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:  # not an address: our proxy did not write it
            return remote
        if address not in proxies:
            return address
    return remote


class ClientIpMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with acting_from(client_ip_of(request), request.META.get("HTTP_USER_AGENT", "")[:300]):
            return self.get_response(request)
