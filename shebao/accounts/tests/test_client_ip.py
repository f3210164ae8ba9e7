"""The address written for a login (and for every audited act of a request): X-Forwarded-For only from
our own proxies (SHEBAO_TRUSTED_PROXIES), and then the hop our proxy appended, never what the client
wrote before it."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from shebao.accounts.tests.factories import PASSWORD, make_user
from shebao.common.context import client_ip_of
from shebao.common.models import AuditEvent

pytestmark = pytest.mark.django_db

SPOOFED = "6.6.6.6"
PROXY = "10.0.0.5"
CLIENT = "203.0.113.9"


def _login(client: Client, password: str, **meta):
    return client.post("/accounts/login/", {"username": "ipuser", "password": password}, **meta)


def test_spoofed_header_without_a_trusted_proxy_is_ignored(settings):
    settings.SHEBAO_TRUSTED_PROXIES = []
    make_user("ipuser")
    _login(Client(), "wrong", REMOTE_ADDR=CLIENT, HTTP_X_FORWARDED_FOR=SPOOFED)
    _login(Client(), PASSWORD, REMOTE_ADDR=CLIENT, HTTP_X_FORWARDED_FOR=SPOOFED)
    events = list(AuditEvent.objects.filter(action__in=["login_failed", "login_ok"]).order_by("id"))
    assert [(e.action, e.ip) for e in events] == [("login_failed", CLIENT), ("login_ok", CLIENT)]


def test_from_a_trusted_proxy_the_hop_it_appended_counts(settings):
    settings.SHEBAO_TRUSTED_PROXIES = [PROXY]
    make_user("ipuser")
    # the client sent "X-Forwarded-For: 6.6.6.6"; nginx appended the address it saw
    _login(Client(), PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{SPOOFED}, {CLIENT}")
    assert AuditEvent.objects.get(action="login_ok").ip == CLIENT


@pytest.mark.parametrize(("proxies", "remote", "forwarded", "want"), [
    ([], CLIENT, SPOOFED, CLIENT),  # no proxy configured: the socket
    ([PROXY], CLIENT, SPOOFED, CLIENT),  # a header from someone who is not our proxy
    ([PROXY], PROXY, CLIENT, CLIENT),
    ([PROXY], PROXY, f"{SPOOFED},{CLIENT}", CLIENT),
    ([PROXY, "10.0.0.6"], PROXY, f"{SPOOFED}, {CLIENT}, 10.0.0.6", CLIENT),  # two of our proxies in a row
    ([PROXY], PROXY, "", PROXY),  # no header: the proxy itself
    ([PROXY], PROXY, f"{SPOOFED}, not-an-address", PROXY),  # garbage where our proxy writes: not believed
])
def test_client_ip_of(settings, proxies, remote, forwarded, want):
    settings.SHEBAO_TRUSTED_PROXIES = proxies
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip_of(RequestFactory().get("/", **meta)) == want


def test_an_audited_act_records_the_socket_address_not_the_spoofed_one(settings):
    """Every audited write of a request takes its address from ClientIpMiddleware (the same rule)."""
    from shebao.accounts.tests.factories import id_number, logged_in, town

    settings.SHEBAO_TRUSTED_PROXIES = []
    client = logged_in(make_user("ipclerk", towns=["浒山街道"]))
    number = id_number()
    response = client.post("/persons/new/", {"id_number": number, "name": "地址甲", "town": town("浒山街道").pk},
                           REMOTE_ADDR=CLIENT, HTTP_X_FORWARDED_FOR=SPOOFED)
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="create", object_type="registry.person").ip == CLIENT
