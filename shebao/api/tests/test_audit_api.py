import datetime as dt

import pytest

from shebao.accounts.tests.factories import logged_in, make_person, make_user
from shebao.registry.services import person_update

pytestmark = pytest.mark.django_db

FULL_ID = "33028219500104123X"


def test_audit_events_need_view_audit(clerk_all):
    response = logged_in(clerk_all).get("/api/v1/audit/events")
    assert response.status_code == 403
    assert response.json() == {"detail": "您没有查看审计日志的权限"}


def test_audit_events_filters_and_masks():
    it = make_user("it1", roles=["it_admin"], all_regions=True)
    person = make_person(FULL_ID, mobile="13812341234")
    person_update(user=it, person=person, reason="更正", mobile="13900001111")
    client = logged_in(it)
    data = client.get(f"/api/v1/audit/events?person_id={person.pk}").json()
    assert data["count"] == 2
    assert [e["action"] for e in data["items"]] == ["update", "create"]
    created = data["items"][1]
    assert created["after"]["id_number"] == "330282********123X"
    assert created["after"]["mobile"] == "138****1234"
    assert data["items"][0]["before"] == {"mobile": "138****1234"}
    assert FULL_ID not in client.get("/api/v1/audit/events").content.decode()
    by_user = client.get("/api/v1/audit/events?username=it1&action=update").json()
    assert by_user["count"] == 1
    today = dt.date.today()
    assert client.get(f"/api/v1/audit/events?date_from={today + dt.timedelta(days=1)}").json()["count"] == 0
    assert client.get(f"/api/v1/audit/events?date_from={today - dt.timedelta(days=1)}&date_to={today}"
                      ).json()["count"] >= 2
    page = client.get("/api/v1/audit/events?page_size=1&page=2").json()
    assert page["page_size"] == 1 and len(page["items"]) == 1


def test_audit_events_unmasked_with_view_sensitive():
    it = make_user("it2", roles=["it_admin"], all_regions=True, sensitive=True)
    person = make_person(FULL_ID)
    data = logged_in(it).get(f"/api/v1/audit/events?person_id={person.pk}").json()
    assert data["items"][0]["after"]["id_number"] == FULL_ID


def test_town_scoped_auditor_sees_only_own_towns_persons():
    it = make_user("it3", roles=["it_admin"], towns=["浒山街道"])
    mine = make_person(town_name="浒山街道")
    other = make_person(town_name="古塘街道")
    client = logged_in(it)
    person_ids = {e["person_id"] for e in client.get("/api/v1/audit/events?page_size=200").json()["items"]}
    assert mine.pk in person_ids and other.pk not in person_ids
