"""/api/v1/zg (自管人员) and /api/v1/nb (老农保): lists, details, the yearly table and the refund quote —
with Bearer tokens, exact amounts, masking both ways, another town 404, another scheme 403."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from shebao.accounts.tests.factories import make_user
from shebao.api.tests.world import LI_ACCOUNT, LI_ID, WANG_ACCOUNT, WANG_ID, ZHANG_ID, bearer, build_world
from shebao.common.models import AuditEvent
from shebao.rural_pension.models import Payout, RuralAccount, RuralDocument

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def clerk(db):
    return make_user("api_clerk", roles=("clerk",), all_regions=True)


def masked_id(number: str) -> str:
    return number[:6] + "********" + number[-4:]


def masked_account(number: str) -> str:
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# --------------------------------------------------------------------------------------------------
# 自管人员


def test_zg_persons_with_status_items_and_masked_numbers(world, clerk):
    data = bearer(clerk).get("/api/v1/zg/persons").json()
    assert data["count"] == 2 and data["month"] == timezone.localdate().strftime("%Y-%m")
    by_name = {p["name"]: p for p in data["items"]}
    li = by_name["李四"]
    assert (li["person_id"], li["town"], li["payment_status"], li["payment_status_label"]) == (
        world.li.pk, "附海镇", "active", "正常")
    assert (li["start_month"], li["end_month"], li["monthly_total"]) == ("2025-01", None, "2150.00")
    assert [(i["code"], i["name"], i["amount"], i["from_month"]) for i in li["items"]] == [
        ("basic", "基本养老金", "2000.00", "2025-01"), ("extra", "统筹外补贴", "150.00", "2025-01")]
    assert (li["id_number"], li["account_number"], li["bank"]) == (masked_id(LI_ID), masked_account(LI_ACCOUNT),
                                                                   "ICBC")
    assert LI_ID not in str(data) and LI_ACCOUNT not in str(data)
    assert [p["name"] for p in bearer(clerk).get("/api/v1/zg/persons?q=李四").json()["items"]] == ["李四"]
    assert bearer(clerk).get("/api/v1/zg/persons?status=suspended").json()["count"] == 0


def test_zg_persons_in_full_for_the_sensitive_right(world):
    sensitive = bearer(make_user("api_sens", roles=("clerk",), all_regions=True, sensitive=True))
    li = next(p for p in sensitive.get("/api/v1/zg/persons").json()["items"] if p["name"] == "李四")
    assert (li["id_number"], li["account_number"]) == (LI_ID, LI_ACCOUNT)
    detail = sensitive.get(f"/api/v1/zg/persons/{world.li.pk}").json()
    assert (detail["id_number"], detail["account_number"]) == (LI_ID, LI_ACCOUNT)


def test_zg_person_detail_has_items_adjustments_and_payments(world, clerk):
    data = bearer(clerk).get(f"/api/v1/zg/persons/{world.li.pk}").json()
    assert data["monthly_total"] == "2150.00" and data["id_number"] == masked_id(LI_ID)
    [deduction] = data["adjustments"]
    # 300.00 to recover, 100.00 taken by the approved 2026-02 run
    assert (deduction["kind"], deduction["total"], deduction["remaining"], deduction["monthly_cap"],
            deduction["reason"]) == ("deduction", "300.00", "200.00", "100.00", "多发追回")
    assert [(p["period"], p["gross"], p["deductions"], p["net"], p["status"]) for p in data["payments"]] == [
        ("2026-03", "2150.00", "100.00", "2050.00", "pending"), ("2026-02", "2150.00", "100.00", "2050.00", "sent")]
    assert [(a["code"], a["amount"]) for a in data["amounts_history"]] == [("basic", "2000.00"), ("extra", "150.00")]


def test_zg_town_scope_scheme_scope_and_rights(world):
    town_clerk = bearer(make_user("api_town", roles=("clerk",), towns=["浒山街道"]))
    assert [p["name"] for p in town_clerk.get("/api/v1/zg/persons").json()["items"]] == ["张三"]
    foreign = town_clerk.get(f"/api/v1/zg/persons/{world.li.pk}")
    assert foreign.status_code == 404 and foreign.json() == {"detail": "人员不存在或不在您的管辖范围内"}
    home = town_clerk.get(f"/api/v1/zg/persons/{world.zhang.pk}").json()
    assert home["id_number"] == masked_id(ZHANG_ID)
    nb_clerk = bearer(make_user("api_nb", roles=("clerk",), all_regions=True, schemes=["NB"]))
    for path in ("/api/v1/zg/persons", f"/api/v1/zg/persons/{world.li.pk}"):
        refused = nb_clerk.get(path)
        assert refused.status_code == 403 and refused.json() == {"detail": "您没有ZG险种的权限"}
        assert Client().get(path).status_code == 401
    sysadmin = bearer(make_user("api_sys", roles=("sys_admin",), all_regions=True))
    refused = sysadmin.get("/api/v1/zg/persons")
    assert refused.status_code == 403 and refused.json() == {"detail": "您没有查看自管人员的权限"}


def test_zg_person_who_is_not_zg_is_404(world, clerk):
    response = bearer(clerk).get(f"/api/v1/zg/persons/{world.wang.pk}")
    assert response.status_code == 404 and response.json() == {"detail": "该人员不是自管人员"}


# --------------------------------------------------------------------------------------------------
# 老农保


def test_nb_accounts_list_and_detail(world, clerk):
    client = bearer(clerk)
    data = client.get("/api/v1/nb/accounts").json()
    assert data["count"] == 1
    [item] = data["items"]
    years = client.get(f"/api/v1/nb/accounts/{world.nb_account.pk}/years").json()
    assert (item["id"], item["name"], item["town"], item["status"], item["status_label"]) == (
        world.nb_account.pk, "王阿大", "附海镇", "paying", "缴费")
    assert item["id_number"] == masked_id(WANG_ID) and WANG_ID not in str(data)
    assert (item["balance"], item["balance_year"]) == (years["balance"], years["years"][-1]["year"])
    assert item["contribution_years"] == 4  # 2020, 2021, 2022, 2024
    detail = client.get(f"/api/v1/nb/accounts/{world.nb_account.pk}").json()
    # 1200 + 600 + 300 + 500 + 240 + 100 contributed; 100 paid out
    assert (detail["contribution_total"], detail["payout_total"]) == ("2940.00", "100.00")
    assert (detail["first_year"], detail["last_year"], detail["balance"]) == (2020, 2024, years["balance"])
    assert detail["bank_account"] == {"bank": "ABC", "bank_label": "中国农业银行",
                                      "account_number": masked_account(WANG_ACCOUNT), "holder_name": "王阿大"}
    assert detail["benefit"]["receiving"] is False and detail["benefit"]["amount_paid"] == "0.00"
    assert client.get("/api/v1/nb/accounts?status=refunded").json()["count"] == 0
    assert client.get("/api/v1/nb/accounts?q=王").json()["count"] == 1


def test_nb_yearly_table_is_the_hand_computed_one(world, clerk):
    data = bearer(clerk).get(f"/api/v1/nb/accounts/{world.nb_account.pk}/years").json()
    rows = {r["year"]: r for r in data["years"]}
    assert [(y, rows[y]["opening"], rows[y]["interest"], rows[y]["closing"]) for y in (2020, 2021, 2022, 2023)] == [
        (2020, "0.00", "37.50", "1837.50"), (2021, "1837.50", "50.94", "2088.44"),
        (2022, "2088.44", "0.00", "2588.44"), (2023, "2588.44", "51.77", "2640.21")]
    assert (rows[2020]["personal"], rows[2020]["collective"], rows[2020]["rate"], rows[2020]["months"]) == (
        "1200.00", "600.00", "0.0300", 12)
    assert rows[2021]["payouts"] == "100.00"
    assert data["balance"] == data["years"][-1]["closing"]


def test_nb_refund_quote_on_a_date_writes_nothing(world, clerk):
    before = (RuralDocument.objects.count(), Payout.objects.count(), AuditEvent.objects.count())
    client = bearer(clerk)
    data = client.get(f"/api/v1/nb/accounts/{world.nb_account.pk}/refund-quote?on=2024-06-15").json()
    assert (data["on"], data["amount"]) == ("2024-06-15", "3001.45")
    assert [r["closing"] for r in data["years"][:4]] == ["1837.50", "2088.44", "2588.44", "2640.21"]
    last = data["years"][-1]
    assert (last["year"], last["months"], last["opening"], last["interest"]) == (2024, 5, "2640.21", "21.24")
    today = client.get(f"/api/v1/nb/accounts/{world.nb_account.pk}/refund-quote").json()
    assert today["on"] == timezone.localdate().isoformat()
    future = client.get(f"/api/v1/nb/accounts/{world.nb_account.pk}/refund-quote?on="
                        f"{timezone.localdate() + dt.timedelta(days=1)}")
    assert future.status_code == 422 and future.json() == {"detail": "请求数据有误：on：结算日期不能晚于今天"}
    before_flows = client.get(f"/api/v1/nb/accounts/{world.nb_account.pk}/refund-quote?on=2023-06-15")
    assert before_flows.status_code == 409
    assert before_flows.json() == {"detail": "账户在 2023-06-15 之后还有缴费记录（2024-02），不能按该日期计算"}
    assert (RuralDocument.objects.count(), Payout.objects.count()) == before[:2]


def test_nb_refund_quote_refused_for_a_closed_or_receiving_account(world, clerk):
    client = bearer(clerk)
    RuralAccount.objects.filter(pk=world.nb_account.pk).update(status="refunded")
    closed = client.get(f"/api/v1/nb/accounts/{world.nb_account.pk}/refund-quote?on=2024-06-15")
    assert closed.status_code == 409 and "已退保，不能再试算或退款" in closed.json()["detail"]
    RuralAccount.objects.filter(pk=world.nb_account.pk).update(status="receiving")
    receiving = client.get(f"/api/v1/nb/accounts/{world.nb_account.pk}/refund-quote?on=2024-06-15")
    assert receiving.status_code == 409
    assert receiving.json() == {"detail": "王阿大 正在按月领取养老金，不能退保；人员死亡请办理死亡结算"}


def test_nb_town_scope_scheme_scope_and_rights(world):
    account = world.nb_account.pk
    paths = ("/api/v1/nb/accounts/{}", "/api/v1/nb/accounts/{}/years", "/api/v1/nb/accounts/{}/refund-quote")
    town_clerk = bearer(make_user("api_town", roles=("clerk",), towns=["浒山街道"]))
    assert town_clerk.get("/api/v1/nb/accounts").json()["count"] == 0
    for path in paths:
        response = town_clerk.get(path.format(account))
        assert response.status_code == 404
        assert response.json() == {"detail": "老农保账户不存在或不在您的管辖范围内"}
    zg_clerk = bearer(make_user("api_zg", roles=("clerk",), all_regions=True, schemes=["ZG"]))
    for path in ("/api/v1/nb/accounts", *(p.format(account) for p in paths)):
        refused = zg_clerk.get(path)
        assert refused.status_code == 403 and refused.json() == {"detail": "您没有NB险种的权限"}
        assert Client().get(path).status_code == 401
    reviewer = bearer(make_user("api_rev", roles=("reviewer",), all_regions=True))
    assert reviewer.get(f"/api/v1/nb/accounts/{account}/years").status_code == 200
    quote = reviewer.get(f"/api/v1/nb/accounts/{account}/refund-quote")
    assert quote.status_code == 403 and quote.json() == {"detail": "您没有老农保退款的权限"}
    sysadmin = bearer(make_user("api_sys", roles=("sys_admin",), all_regions=True))
    assert sysadmin.get("/api/v1/nb/accounts").json() == {"detail": "您没有此功能的权限"}


def test_nb_in_full_for_the_sensitive_right(world):
    sensitive = bearer(make_user("api_sens", roles=("clerk",), all_regions=True, sensitive=True))
    detail = sensitive.get(f"/api/v1/nb/accounts/{world.nb_account.pk}").json()
    assert (detail["id_number"], detail["bank_account"]["account_number"]) == (WANG_ID, WANG_ACCOUNT)
    listed = sensitive.get("/api/v1/nb/accounts").json()["items"][0]
    assert listed["id_number"] == WANG_ID
