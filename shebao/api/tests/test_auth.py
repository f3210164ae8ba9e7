import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from shebao.accounts.models import ApiToken
from shebao.accounts.services import api_token_create, api_token_revoke
from shebao.accounts.tests.factories import logged_in, make_person, make_user

pytestmark = pytest.mark.django_db


def test_openapi_document_is_served():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["info"]["title"] == "慈溪社保本地系统 API"
    assert "/api/v1/persons/{person_id}" in doc["paths"]
    assert "/api/v1/audit/events" in doc["paths"]
    assert {"BearerTokenAuth", "SessionCsrfAuth"} <= set(doc["components"]["securitySchemes"])


def test_anonymous_gets_401_in_chinese():
    response = Client().get("/api/v1/regions/towns")
    assert response.status_code == 401
    assert response.json() == {"detail": "未登录，或 API 令牌无效、已吊销或已过期"}


def test_token_auth_works(clerk_all):
    person = make_person()
    key = api_token_create(user=clerk_all, name="夜间脚本")
    response = Client().get(f"/api/v1/persons/{person.pk}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    assert response.json()["name"] == "张三"
    assert ApiToken.objects.get(user=clerk_all).last_used_at is not None


def test_token_write_needs_no_csrf(clerk_all):
    key = api_token_create(user=clerk_all, name="脚本")
    client = Client(enforce_csrf_checks=True)
    person = make_person()
    response = client.patch(
        f"/api/v1/persons/{person.pk}", {"reason": "核对户籍", "hukou_address": "浒山街道南门"},
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200, response.content


def test_revoked_token_gets_401(clerk_all):
    key = api_token_create(user=clerk_all, name="脚本")
    api_token_revoke(token=ApiToken.objects.get(user=clerk_all), actor=clerk_all)
    response = Client().get("/api/v1/regions/towns", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 401
    assert response.json()["detail"] == "未登录，或 API 令牌无效、已吊销或已过期"


def test_expired_token_gets_401(clerk_all):
    key = api_token_create(user=clerk_all, name="脚本", days=1)
    ApiToken.objects.filter(user=clerk_all).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = Client().get("/api/v1/regions/towns", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 401


def test_wrong_token_never_falls_back_to_the_session(clerk_all):
    client = logged_in(clerk_all)
    response = client.get("/api/v1/regions/towns", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401


def test_deactivated_users_token_gets_401(clerk_all):
    key = api_token_create(user=clerk_all, name="脚本")
    type(clerk_all).objects.filter(pk=clerk_all.pk).update(is_active=False)
    response = Client().get("/api/v1/regions/towns", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 401


def test_session_unsafe_method_needs_csrf(clerk_all):
    person = make_person()
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk_all, backend="shebao.accounts.backends.LockoutModelBackend")
    body = {"reason": "更正", "notes": "x"}
    response = client.patch(f"/api/v1/persons/{person.pk}", body, content_type="application/json")
    assert response.status_code == 403
    client.get("/api/v1/regions/towns")  # a GET is fine without the token
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else None
    if token is None:  # the UI gets the cookie from any page with a form
        from django.middleware.csrf import _get_new_csrf_string

        token = _get_new_csrf_string()
        client.cookies["csrftoken"] = token
    response = client.patch(
        f"/api/v1/persons/{person.pk}", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200, response.content


def test_session_user_who_must_change_password_is_refused():
    user = make_user(all_regions=True, must_change_password=True)
    response = logged_in(user).get("/api/v1/regions/towns")
    assert response.status_code == 403
    assert "修改密码" in response.json()["detail"]


def test_regions_lists_towns_with_communities(clerk_hushan):
    client = logged_in(clerk_hushan)
    towns = client.get("/api/v1/regions/towns").json()
    assert len(towns) == 19
    hushan = next(t for t in towns if t["name"] == "浒山街道")
    assert hushan["code"] == "330282001"
    assert "虞波社区" in [c["name"] for c in hushan["communities"]]
    mine = client.get("/api/v1/regions/towns?mine=true").json()
    assert [t["name"] for t in mine] == ["浒山街道"]
