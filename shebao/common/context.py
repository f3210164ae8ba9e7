"""Who is acting and from where, for the audit trail (set by middleware, or by a command)."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

_client_ip: contextvars.ContextVar[str] = contextvars.ContextVar("client_ip", default="")


def current_ip() -> str:
    return _client_ip.get()


@contextmanager
def acting_from(ip: str):
    token = _client_ip.set(ip)
    try:
        yield
    finally:
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
        with acting_from(client_ip_of(request)):
            return self.get_response(request)
