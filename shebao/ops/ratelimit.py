"""Rate limits on login and on the API, counted in PostgreSQL (``RateWindow``: one row per scope, client
address and fixed window), so every web process and every gunicorn worker shares the one count.

``SHEBAO_RATE_LOGIN`` (default ``30/300``: 30 login attempts per client address per 5 minutes) and
``SHEBAO_RATE_API`` (default ``600/60``) are ``COUNT/SECONDS``. Past the limit the answer is 429 with a
Chinese message and ``Retry-After`` (JSON ``{"detail": …}`` under /api/); the window's ``tripped_at`` is
what the inspection reports. A new window starts the count again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from shebao.common.context import client_ip_of

SCOPE_LABELS = {"login": "登录", "api": "API"}
# the API's own description (OpenAPI document, docs page): static, no data, not counted
UNCOUNTED = ("/openapi.json", "/docs", "/docs/")


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        count, _sep, seconds = text.partition("/")
        return cls(int(count), int(seconds or 60))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window ends


def rate_hit(*, scope: str, client: str, limit: Limit, now: dt.datetime | None = None) -> Decision:
    """Count one request of ``client`` in ``scope``; refused once the window's count passes the limit."""
    now = now or timezone.now()
    epoch = int(now.timestamp())
    start_ts = epoch - epoch % limit.seconds
    start = dt.datetime.fromtimestamp(start_ts, tz=dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ops_ratewindow (scope, client, window_start, count, max_count, tripped_at) "
            "VALUES (%s, %s, %s, 1, %s, CASE WHEN 1 > %s THEN %s END) "
            "ON CONFLICT (scope, client, window_start) DO UPDATE SET count = ops_ratewindow.count + 1, "
            "max_count = EXCLUDED.max_count, tripped_at = COALESCE(ops_ratewindow.tripped_at, "
            "CASE WHEN ops_ratewindow.count + 1 > EXCLUDED.max_count THEN %s END) RETURNING count",
            [scope, client[:100], start, limit.count, limit.count, now, now])
        count = cursor.fetchone()[0]
    return Decision(count <= limit.count, count, max(1, start_ts + limit.seconds - epoch))


def rate_windows_prune(*, older_than_days: int = 7) -> int:
    """Drop counting windows older than a week (the inspection looks at the last 24 hours)."""
    from shebao.ops.models import RateWindow

    deleted, _ = RateWindow.objects.filter(
        window_start__lt=timezone.now() - dt.timedelta(days=older_than_days)).delete()
    return deleted


class RateLimitMiddleware:
    """Counts login POSTs and every /api/ request per client address (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._login_path = None

    def __call__(self, request):
        if self._login_path is None:
            self._login_path = reverse("accounts:login")
        scope = None
        if request.path.startswith("/api/") and not request.path.endswith(UNCOUNTED):
            scope, limit = "api", Limit.parse(settings.SHEBAO_RATE_API)
        elif request.method == "POST" and request.path == self._login_path:
            scope, limit = "login", Limit.parse(settings.SHEBAO_RATE_LOGIN)
        if scope is not None:
            decision = rate_hit(scope=scope, client=client_ip_of(request) or "?", limit=limit)
            if not decision.allowed:
                return refused(request, scope, decision)
        return self.get_response(request)


def refused(request, scope: str, decision: Decision):
    minutes = (decision.retry_after + 59) // 60
    if scope == "api":
        message = f"请求过于频繁，请 {decision.retry_after} 秒后再试"
        response = JsonResponse({"detail": message}, status=429, json_dumps_params={"ensure_ascii": False})
    else:
        message = f"登录尝试过于频繁，请 {minutes} 分钟后再试"
        response = render(request, "ops/429.html", {"message": message}, status=429)
    response["Retry-After"] = str(decision.retry_after)
    return response
