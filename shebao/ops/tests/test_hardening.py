"""Hardening: login and API rate limits counted in PostgreSQL trip with a Chinese 429 and recover in the
next window (and the inspection reports the trip); 404 and 500 pages in the house style, never a
traceback with DEBUG off (and the error is counted for the inspection)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse

from shebao.common.models import AuditEvent
from shebao.ops.inspection import inspection_run
from shebao.ops.models import AppError, RateWindow

pytestmark = pytest.mark.django_db


def test_login_rate_limit_trips_and_recovers(settings):
    from shebao.accounts.tests.factories import make_user

    settings.SHEBAO_RATE_LOGIN = "3/300"
    make_user("rl_user")
    client = Client()
    url = reverse("accounts:login")
    for _ in range(3):
        r = client.post(url, {"username": "nobody", "password": "wrong-pass-1"})
        assert r.status_code == 200 and "用户名或密码错误" in r.content.decode()
    audited = AuditEvent.objects.filter(action="login_failed").count()
    assert audited == 3

    refused = client.post(url, {"username": "rl_user", "password": "whatever-1"})
    assert refused.status_code == 429
    text = refused.content.decode()
    assert "登录尝试过于频繁，请" in text and "分钟后再试" in text
    assert 1 <= int(refused["Retry-After"]) <= 300
    assert AuditEvent.objects.filter(action__startswith="login").count() == audited  # not even tried
    window = RateWindow.objects.get(scope="login")
    assert (window.count, window.max_count, window.client) == (4, 3, "127.0.0.1") and window.tripped_at
    assert client.get(url).status_code == 200  # the page itself is not limited

    items = {i["key"]: i for i in inspection_run().items}
    assert items["rate_limits"]["status"] == "警告" and "登录 127.0.0.1（4 次请求）" in items["rate_limits"]["detail"]

    RateWindow.objects.update(window_start=F("window_start") - dt.timedelta(seconds=300))  # the window passed
    again = client.post(url, {"username": "nobody", "password": "wrong-pass-1"})
    assert again.status_code == 200 and "用户名或密码错误" in again.content.decode()
    assert RateWindow.objects.filter(scope="login", count=1, tripped_at__isnull=True).count() == 1


def test_addresses_are_counted_apart(settings):
    settings.SHEBAO_RATE_LOGIN = "1/300"
    url = reverse("accounts:login")
    assert Client(REMOTE_ADDR="10.0.0.1").post(url, {"username": "a", "password": "b"}).status_code == 200
    assert Client(REMOTE_ADDR="10.0.0.1").post(url, {"username": "a", "password": "b"}).status_code == 429
    assert Client(REMOTE_ADDR="10.0.0.2").post(url, {"username": "a", "password": "b"}).status_code == 200


def test_api_rate_limit_answers_429_in_json(settings):
    settings.SHEBAO_RATE_API = "2/60"
    client = Client()
    url = "/api/v1/regions/towns"
    assert [client.get(url).status_code for _ in range(2)] == [401, 401]
    refused = client.get(url)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("请求过于频繁，请 ") and refused.json()["detail"].endswith("秒后再试")


def test_404_page_in_house_style_with_debug_off(settings):
    settings.DEBUG = False
    r = Client().get("/no-such-page/")
    assert r.status_code == 404 and "页面不存在" in r.content.decode()


def test_500_page_never_shows_a_traceback_with_debug_off(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "shebao.ops.tests.boom_urls"
    r = Client(raise_request_exception=False).get("/boom/")
    text = r.content.decode()
    assert r.status_code == 500
    assert "系统内部错误" in text and "请联系信息科" in text
    assert "Traceback" not in text and "secret-detail-xyz" not in text and "RuntimeError" not in text
    assert AppError.objects.filter(logger="django.request").count() == 1


def test_the_api_description_is_not_counted(settings):
    settings.SHEBAO_RATE_API = "1/60"
    client = Client()
    assert [client.get("/api/v1/openapi.json").status_code for _ in range(3)] == [200, 200, 200]
    assert not RateWindow.objects.exists()
