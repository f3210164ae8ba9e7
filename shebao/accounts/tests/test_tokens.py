import pytest
from django.test import Client

from shebao.accounts.models import ApiToken
from shebao.accounts.tests.factories import logged_in, make_user
from shebao.common.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_token_page_creates_shows_once_and_revokes(clerk_all):
    client = logged_in(clerk_all)
    response = client.post("/accounts/tokens/new/", {"name": "核对脚本", "days": "90"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = response.context["new_key"]
    assert key and key in response.content.decode()
    token = ApiToken.objects.get(user=clerk_all)
    assert token.key_hash == ApiToken.hash_key(key) and token.prefix == key[:8]
    assert Client().get("/api/v1/regions/towns", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200

    listing = client.get("/accounts/tokens/").content.decode()
    assert "核对脚本" in listing and key not in listing

    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked
    assert AuditEvent.objects.filter(action="revoke", object_type="accounts.apitoken").count() == 1
    assert Client().get("/api/v1/regions/towns", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_cannot_revoke_someone_elses_token(clerk_all):
    other = make_user("other")
    client = logged_in(other)
    client.post("/accounts/tokens/new/", {"name": "x", "days": "30"})
    token = ApiToken.objects.get(user=other)
    assert logged_in(clerk_all).post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert not token.revoked
