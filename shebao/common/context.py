"""Who is acting and from where, for the audit trail (set by middleware, or by a command)."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

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


def client_ip_of(request) -> str:
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:  # behind nginx: the first address is the client
        return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


class ClientIpMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with acting_from(client_ip_of(request), request.META.get("HTTP_USER_AGENT", "")[:300]):
            return self.get_response(request)
