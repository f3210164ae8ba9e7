"""/api/v1/finance (社会保险特殊业务, read only): the records with their filters and total, one record with
its reversal and attachments, the types with their subjects' confirmation, the report equal to the
command's to the cent — with Bearer tokens, masking both ways, a town's user refused (403)."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command

from shebao.accounts.tests.factories import make_user
from shebao.api.tests.world import bearer
from shebao.benefits.tests.factories import make_person
from shebao.finance.services import (
    attachment_add,
    entry_confirm_arrival,
    entry_create,
    entry_reverse,
    entry_review,
    type_by_code,
    type_confirm_subject,
)
from shebao.registry.services import payee_create

pytestmark = pytest.mark.django_db
ON = dt.date(2026, 3, 10)
ACCOUNT = "6222020000000077"


@pytest.fixture
def ledger(db):
    clerk = make_user("fa_clerk", roles=("clerk",), all_regions=True)
    fin = make_user("fa_fin", roles=("finance",), all_regions=True)
    rev = make_user("fa_rev", roles=("reviewer",), all_regions=True)
    payee = payee_create(user=clerk, name="慈溪市财政局", bank="ICBC", account_number=ACCOUNT)
    person = make_person("王五")
    sub = entry_create(user=clerk, type=type_by_code("TB_TO_SI_SUBSIDY"), amount="12345.67", occurred_on=ON,
                       payee=payee, voucher_no="记-0301", note=f"补助 {ACCOUNT}")
    attachment_add(entry=sub, user=clerk, file_name="回单.pdf", data=b"%PDF-1.4 x")
    entry_confirm_arrival(entry=sub, user=fin, arrival_on=ON, amount="12345.67")
    entry_review(entry=sub, user=rev)
    reversal = entry_reverse(entry=sub, user=fin, reason="重复录入", on=dt.date(2026, 3, 20))
    back = entry_create(user=clerk, type=type_by_code("RURAL_BENEFIT_RETURN"), amount="300.05", occurred_on=ON,
                        person=person)
    april = entry_create(user=clerk, type=type_by_code("EXTRA_FUND_RECOVERY"), amount="99.99",
                         occurred_on=dt.date(2026, 4, 1))
    type_confirm_subject(user=fin, type=type_by_code("TB_TO_SI_SUBSIDY"), subject_code="5401")
    return {"clerk": clerk, "fin": fin, "rev": rev, "payee": payee, "person": person, "sub": sub,
            "reversal": reversal, "back": back, "april": april}


def test_entries_list_filters_and_total(ledger):
    api = bearer(ledger["rev"])
    data = api.get("/api/v1/finance/entries").json()
    assert (data["count"], data["total"]) == (4, "400.04")  # 12345.67 − 12345.67 + 300.05 + 99.99
    assert [i["number"] for i in data["items"]] == [ledger[k].number for k in ("april", "reversal", "back", "sub")]
    march = api.get("/api/v1/finance/entries", {"direction": "expenditure", "date_from": "2026-03-01",
                                                "date_to": "2026-03-31"}).json()
    assert (march["count"], march["total"]) == (2, "0.00")
    rev = api.get("/api/v1/finance/entries", {"reversals": "true"}).json()["items"]
    assert [(i["number"], i["amount"], i["reversal_of"]) for i in rev] == [
        (ledger["reversal"].number, "-12345.67", {"id": ledger["sub"].pk, "number": ledger["sub"].number,
                                                  "amount": "12345.67"})]
    assert api.get("/api/v1/finance/entries", {"state": "entered"}).json()["total"] == "400.04"
    assert api.get("/api/v1/finance/entries", {"type": "rural_benefit_return"}).json()["count"] == 1
    assert api.get("/api/v1/finance/entries", {"person_id": ledger["person"].pk}).json()["count"] == 1
    assert api.get("/api/v1/finance/entries", {"payee": ledger["payee"].code}).json()["count"] == 2
    assert api.get("/api/v1/finance/entries", {"q": "记-0301"}).json()["count"] == 1
    assert api.get("/api/v1/finance/entries", {"q": "王五"}).json()["count"] == 1
    bad = api.get("/api/v1/finance/entries", {"state": "locked"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("请求数据有误")


def test_entry_detail_masks_numbers_unless_sensitive(ledger):
    sub, person = ledger["sub"], ledger["person"]
    data = bearer(ledger["rev"]).get(f"/api/v1/finance/entries/{sub.pk}").json()
    assert (data["direction"], data["state"], data["amount"], data["arrival_amount"]) == (
        "expenditure", "reviewed", "12345.67", "12345.67")
    assert data["type"] == {"code": "TB_TO_SI_SUBSIDY", "name": "土保转社保政府补助支出", "subject_code": "5401",
                            "subject_name": "转移支出—土保转社保政府补助", "subject_confirmed": True}
    assert data["payee"]["account_number"] == "6222********0077" and ACCOUNT not in json.dumps(data)
    assert data["note"] == "补助 6222********0077"
    assert data["reversed_by"] == {"id": ledger["reversal"].pk, "number": ledger["reversal"].number,
                                   "amount": "-12345.67"}
    assert [(a["file_name"], a["size"], a["content_type"]) for a in data["attachments"]] == [
        ("回单.pdf", 10, "application/pdf")]
    assert (data["created_by"], data["reviewed_by"]) == (ledger["clerk"].display_name, ledger["rev"].display_name)
    back = bearer(ledger["rev"]).get(f"/api/v1/finance/entries/{ledger['back'].pk}").json()
    assert back["person"] == {"id": person.pk, "name": "王五",
                              "id_number": person.id_number[:6] + "********" + person.id_number[-4:]}
    sensitive = make_user("fa_sens", roles=("reviewer",), all_regions=True, sensitive=True)
    full = bearer(sensitive).get(f"/api/v1/finance/entries/{sub.pk}").json()
    assert full["payee"]["account_number"] == ACCOUNT and full["note"] == f"补助 {ACCOUNT}"
    missing = bearer(ledger["rev"]).get("/api/v1/finance/entries/999999999")
    assert (missing.status_code, missing.json()["detail"]) == (404, "收支记录不存在")


def test_types_with_their_subject_confirmation(ledger):
    data = bearer(ledger["clerk"]).get("/api/v1/finance/types", {"direction": "expenditure"}).json()
    by_code = {t["code"]: t for t in data}
    assert {t["direction"] for t in data} == {"expenditure"}
    sub = by_code["TB_TO_SI_SUBSIDY"]
    assert (sub["subject_code"], sub["subject_confirmed"], sub["subject_confirmed_by"], sub["scheme"]) == (
        "5401", True, ledger["fin"].display_name, "TB")
    assert by_code["FLEX_PAYMENT"]["subject_confirmed"] is False


def test_report_is_the_commands_to_the_cent(ledger):
    api = bearer(ledger["fin"])
    data = api.get("/api/v1/finance/report", {"period": "2026-03"}).json()
    text = StringIO()
    call_command("finance", "report", "--month", "2026-03", "--json", stdout=text)
    cmd = json.loads(text.getvalue())
    assert (data["period"], data["start"], data["end"]) == ("2026-03", "2026-03-01", "2026-03-31")
    for key in ("income", "expenditure", "net", "by_type", "by_payee", "by_status", "bank", "reconciled"):
        assert data[key] == cmd[key], key
    assert data["expenditure"] == {"count": 2, "total": "0.00"} and data["income"] == {"count": 1, "total": "300.05"}
    assert data["net"] == "300.05" and data["reconciled"] is True
    year = api.get("/api/v1/finance/report", {"period": "2026"}).json()
    assert (year["income"]["total"], year["end"]) == ("400.04", "2026-12-31")
    for bad, message in [("2026-13", "月份 2026-13 无效"), ("1999", "期间 1999 无效")]:
        r = api.get("/api/v1/finance/report", {"period": bad})
        assert r.status_code == 422 and message in r.json()["detail"]


def test_a_towns_user_and_a_user_without_the_right_are_refused(ledger):
    town = make_user("fa_town", roles=("clerk",), towns=("浒山街道",))
    nobody = make_user("fa_none", roles=())
    for user in (town, nobody):
        for url in ("/api/v1/finance/entries", f"/api/v1/finance/entries/{ledger['sub'].pk}",
                    "/api/v1/finance/types", "/api/v1/finance/report?period=2026-03"):
            r = bearer(user).get(url)
            assert r.status_code == 403, (user.username, url)
            assert "12345.67" not in r.content.decode()
