import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from shebao.accounts.models import User
from shebao.accounts.services import user_authenticate
from shebao.accounts.tests.factories import PASSWORD, make_user
from shebao.common.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_session_settings():
    assert settings.SESSION_COOKIE_AGE == 1800
    # renewed by SessionRenewMiddleware at most once a minute, not written on every request
    assert settings.SESSION_SAVE_EVERY_REQUEST is False
    assert "shebao.accounts.middleware.SessionRenewMiddleware" in settings.MIDDLEWARE
    assert settings.SESSION_COOKIE_HTTPONLY is True


def test_lockout_after_five_failures_then_release_after_fifteen_minutes():
    user = make_user("zhang")
    for i in range(1, 5):
        result = user_authenticate(username="zhang", password="wrong")
        assert result.user is None and result.error == "用户名或密码错误"
        user.refresh_from_db()
        assert user.failed_logins == i and user.locked_until is None
    result = user_authenticate(username="zhang", password="wrong")
    assert result.user is None
    assert result.error == "连续 5 次密码错误，账号已锁定 15 分钟"
    user.refresh_from_db()
    assert user.locked_until is not None
    assert dt.timedelta(minutes=14) < user.locked_until - timezone.now() <= dt.timedelta(minutes=15)

    # the right password is refused while locked
    result = user_authenticate(username="zhang", password=PASSWORD)
    assert result.user is None
    assert result.error.startswith("连续登录失败次数过多，账号已锁定，请 ")
    assert result.error.endswith(" 分钟后再试")

    failures = AuditEvent.objects.filter(username="zhang", action="login_failed")
    assert failures.count() == 5
    assert list(failures.order_by("id").values_list("summary", flat=True))[-1] == "登录失败：密码错误（第 5 次），账号锁定"
    assert AuditEvent.objects.filter(username="zhang", action="login_locked").count() == 1

    # 15 minutes later
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    result = user_authenticate(username="zhang", password=PASSWORD)
    assert result.user == user
    user.refresh_from_db()
    assert user.failed_logins == 0 and user.locked_until is None
    assert AuditEvent.objects.filter(username="zhang", action="login_ok").count() == 1


def test_lockout_released_by_clock(monkeypatch):
    make_user("li")
    for _ in range(5):
        user_authenticate(username="li", password="wrong")
    later = timezone.now() + dt.timedelta(minutes=15, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert user_authenticate(username="li", password=PASSWORD).user is not None


def test_unknown_user_is_audited_with_generic_message():
    result = user_authenticate(username="nobody", password="x")
    assert result.error == "用户名或密码错误"
    assert AuditEvent.objects.get(username="nobody").action == "login_failed"


def test_login_page_shows_lockout_message_and_honours_next():
    make_user("wang")
    client = Client()
    page = client.get("/accounts/login/?next=/some/page/")
    assert page.status_code == 200
    assert "登录" in page.content.decode()
    for _ in range(5):
        response = client.post("/accounts/login/?next=/some/page/", {"username": "wang", "password": "bad"})
    assert "连续 5 次密码错误，账号已锁定 15 分钟" in response.content.decode()
    response = client.post("/accounts/login/", {"username": "wang", "password": PASSWORD})
    assert response.status_code == 200
    assert "账号已锁定" in response.content.decode()
    User.objects.filter(username="wang").update(locked_until=timezone.now() - dt.timedelta(minutes=1))
    response = client.post("/accounts/login/", {"username": "wang", "password": PASSWORD, "next": "/some/page/"})
    assert response.status_code == 302
    assert response["Location"] == "/some/page/"


def test_login_refuses_offsite_next():
    make_user("zhao")
    response = Client().post("/accounts/login/", {"username": "zhao", "password": PASSWORD,
                                                  "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_logout_is_post_only():
    user = make_user("qian")
    client = Client()
    client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session
