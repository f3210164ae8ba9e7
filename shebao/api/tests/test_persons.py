import datetime as dt
import json

import pytest

from shebao.accounts.tests.factories import id_number, logged_in, make_person, make_user, town
from shebao.common.models import AuditEvent
from shebao.registry.models import BankAccount, Person

pytestmark = pytest.mark.django_db

FULL_ID = "33028219500104123X"


def test_town_clerk_reads_own_town_person(clerk_hushan):
    person = make_person(town_name="浒山街道")
    response = logged_in(clerk_hushan).get(f"/api/v1/persons/{person.pk}")
    assert response.status_code == 200
    assert response.json()["town"]["name"] == "浒山街道"


def test_town_clerk_gets_404_for_another_towns_person(clerk_hushan):
    person = make_person(town_name="白沙路街道")
    client = logged_in(clerk_hushan)
    response = client.get(f"/api/v1/persons/{person.pk}")
    assert response.status_code == 404
    assert response.json() == {"detail": "人员不存在或不在您的管辖范围内"}
    assert client.get(f"/api/v1/persons/{person.pk}/bank-accounts").status_code == 404
    patch = client.patch(f"/api/v1/persons/{person.pk}", {"reason": "x", "notes": "y"},
                         content_type="application/json")
    assert patch.status_code == 404
    assert client.get("/api/v1/persons/search?q=张三").json() == []
    assert client.get("/api/v1/persons").json()["count"] == 0


def test_masked_without_view_sensitive(clerk_all):
    person = make_person(FULL_ID, mobile="13812341234", phone="63012345")
    response = logged_in(clerk_all).post(
        f"/api/v1/persons/{person.pk}/bank-accounts",
        {"bank": "ICBC", "account_number": "6222021234567890123", "holder_name": "张三"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["account"]["account_number"] == "6222***********0123"
    response = logged_in(clerk_all).get(f"/api/v1/persons/{person.pk}")
    data = response.json()
    assert data["id_number"] == "330282********123X"
    assert data["mobile"] == "138****1234"
    assert data["phone"] == "****2345"
    assert data["current_account"]["account_number"] == "6222***********0123"
    body = response.content.decode()
    assert FULL_ID not in body
    assert "6222021234567890123" not in body
    assert "13812341234" not in body
    listed = logged_in(clerk_all).get("/api/v1/persons/search?q=123X").content.decode()
    assert "330282********123X" in listed and FULL_ID not in listed
    accounts = logged_in(clerk_all).get(f"/api/v1/persons/{person.pk}/bank-accounts").json()
    assert accounts[0]["account_number"] == "6222***********0123"


def test_full_numbers_with_view_sensitive(clerk_sensitive):
    person = make_person(FULL_ID, mobile="13812341234")
    data = logged_in(clerk_sensitive).get(f"/api/v1/persons/{person.pk}").json()
    assert data["id_number"] == FULL_ID
    assert data["mobile"] == "13812341234"


def test_search_by_full_id_and_by_name(clerk_all):
    make_person(FULL_ID, name="王小明")
    client = logged_in(clerk_all)
    assert [p["name"] for p in client.get(f"/api/v1/persons/search?q={FULL_ID}").json()] == ["王小明"]
    assert [p["name"] for p in client.get("/api/v1/persons/search?q=小明").json()] == ["王小明"]
    assert [p["name"] for p in client.get("/api/v1/persons/search?q=wxm").json()] == ["王小明"]


def test_list_filters_and_pagination(clerk_all):
    for i in range(5):
        make_person(name=f"甲{i}", town_name="浒山街道")
    make_person(name="乙", town_name="古塘街道")
    client = logged_in(clerk_all)
    data = client.get(f"/api/v1/persons?town={town('浒山街道').pk}&page=2&page_size=2").json()
    assert data["count"] == 5
    assert data["page"] == 2
    assert [p["name"] for p in data["items"]] == ["甲2", "甲3"]
    sexes = {p["sex"] for p in client.get("/api/v1/persons?sex=F").json()["items"]}
    assert sexes <= {"F"}
    assert client.get("/api/v1/persons?sex=X").status_code == 422


def test_create_person_writes_person_and_audit(clerk_all):
    number = id_number(dt.date(1960, 5, 6), "234")
    response = logged_in(clerk_all).post("/api/v1/persons", {
        "id_number": number, "name": "李四", "town_id": town("坎墩街道").pk, "reason": "新参保",
    }, content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["sex"] == "F" and data["birth_date"] == "1960-05-06"
    event = AuditEvent.objects.get(person_id=data["id"])
    assert (event.action, event.username, event.reason) == ("create", "clerk_all", "新参保")


def test_create_with_wrong_check_char_is_400_and_writes_nothing(clerk_all):
    number = id_number()
    bad = number[:17] + ("0" if number[17] != "0" else "1")
    audits = AuditEvent.objects.count()
    response = logged_in(clerk_all).post("/api/v1/persons", {
        "id_number": bad, "name": "李四", "town_id": town().pk,
    }, content_type="application/json")
    assert response.status_code == 400
    assert "校验位错误" in response.json()["detail"]
    assert Person.objects.count() == 0
    assert AuditEvent.objects.count() == audits


def test_create_duplicate_is_400(clerk_all):
    make_person(FULL_ID)
    response = logged_in(clerk_all).post("/api/v1/persons", {
        "id_number": FULL_ID, "name": "重复", "town_id": town().pk,
    }, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": f"身份证号 {FULL_ID} 已登记"}


def test_town_clerk_cannot_create_in_another_town(clerk_hushan):
    response = logged_in(clerk_hushan).post("/api/v1/persons", {
        "id_number": id_number(), "name": "李四", "town_id": town("古塘街道").pk,
    }, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "古塘街道 不在您的管辖范围内"


def test_update_person_with_reason_audits_before_after(clerk_all):
    person = make_person(mobile="13800000000")
    client = logged_in(clerk_all)
    response = client.patch(f"/api/v1/persons/{person.pk}", {"reason": "本人来电更正", "mobile": "13912345678"},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    event = AuditEvent.objects.filter(person_id=person.pk, action="update").get()
    assert event.before == {"mobile": "13800000000"}
    assert event.after == {"mobile": "13912345678"}
    assert event.reason == "本人来电更正"


def test_update_without_reason_is_refused(clerk_all):
    person = make_person()
    client = logged_in(clerk_all)
    response = client.patch(f"/api/v1/persons/{person.pk}", {"reason": " ", "notes": "x"},
                            content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "请填写修改原因"}
    assert client.patch(f"/api/v1/persons/{person.pk}", {"notes": "x"},
                        content_type="application/json").status_code == 422


def test_failing_update_writes_no_audit(clerk_all):
    person = make_person()
    audits = AuditEvent.objects.count()
    response = logged_in(clerk_all).patch(
        f"/api/v1/persons/{person.pk}",
        {"reason": "改社区", "community_id": town("古塘街道").children.first().pk},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "不属于" in response.json()["detail"]
    assert AuditEvent.objects.count() == audits
    person.refresh_from_db()
    assert person.community_id is None


def test_bank_account_set_returns_luhn_warning_and_audits(clerk_all):
    person = make_person()
    client = logged_in(clerk_all)
    response = client.post(f"/api/v1/persons/{person.pk}/bank-accounts", {
        "bank": "CXRCB", "account_number": "201000123456788", "holder_name": "张三", "reason": "开户",
    }, content_type="application/json")
    assert response.status_code == 201
    data = response.json()
    assert data["warnings"] == ["账号未通过 Luhn 校验（存折、一折通账号常见，请核对）"]
    assert data["account"]["luhn_warning"] is True
    event = AuditEvent.objects.get(person_id=person.pk, object_type="registry.bankaccount")
    assert event.after["account_number"] == "201000123456788"


def test_bank_account_failure_writes_nothing(clerk_all):
    person = make_person()
    audits = AuditEvent.objects.count()
    response = logged_in(clerk_all).post(f"/api/v1/persons/{person.pk}/bank-accounts", {
        "bank": "ICBC", "account_number": "6222021234567890123", "holder_name": "  ",
    }, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "户名不能为空"}
    unknown_bank = logged_in(clerk_all).post(f"/api/v1/persons/{person.pk}/bank-accounts", {
        "bank": "XXX", "account_number": "6222021234567890123", "holder_name": "张三",
    }, content_type="application/json")
    assert unknown_bank.status_code == 400
    assert BankAccount.objects.count() == 0
    assert AuditEvent.objects.count() == audits


def test_permission_denied_is_403_in_chinese():
    reviewer = make_user(roles=["reviewer"], all_regions=True)
    person = make_person()
    client = logged_in(reviewer)
    assert client.get(f"/api/v1/persons/{person.pk}").status_code == 200
    response = client.patch(f"/api/v1/persons/{person.pk}", {"reason": "x", "notes": "y"},
                            content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"detail": "您没有修改人员信息的权限"}
    response = client.post("/api/v1/persons", json.dumps({"id_number": id_number(), "name": "a",
                                                          "town_id": town().pk}),
                           content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"detail": "您没有新增人员的权限"}


def test_malformed_request_is_422_with_a_chinese_detail(clerk_all):
    client = logged_in(clerk_all)
    response = client.get("/api/v1/persons?sex=X")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("请求数据有误：")
    response = client.post("/api/v1/persons", {"name": "缺身份证号"}, content_type="application/json")
    assert response.status_code == 422
    assert "id_number" in response.json()["detail"]


def test_list_honours_limit_up_to_the_maximum(clerk_all):
    for i in range(3):
        make_person(name=f"限{i}", town_name="浒山街道")
    client = logged_in(clerk_all)
    data = client.get("/api/v1/persons?limit=2").json()
    assert data["count"] == 3 and data["page_size"] == 2
    assert [p["name"] for p in data["items"]] == ["限0", "限1"]
    assert [p["name"] for p in client.get("/api/v1/persons?limit=2&page=2").json()["items"]] == ["限2"]
    # limit wins over page_size; beyond the maximum (200) it is refused, not silently cut
    assert client.get("/api/v1/persons?limit=1&page_size=50").json()["page_size"] == 1
    too_many = client.get("/api/v1/persons?limit=201")
    assert too_many.status_code == 422 and too_many.json()["detail"].startswith("请求数据有误：limit")
    assert client.get("/api/v1/persons?limit=0").status_code == 422


def test_town_clerk_cannot_set_another_towns_account(clerk_hushan):
    person = make_person(town_name="附海镇")
    before = BankAccount.objects.count(), AuditEvent.objects.count()
    response = logged_in(clerk_hushan).post(
        f"/api/v1/persons/{person.pk}/bank-accounts",
        {"bank": "ICBC", "account_number": "6222020000000000001", "holder_name": "张三", "reason": "x"},
        content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": "人员不存在或不在您的管辖范围内"}
    assert (BankAccount.objects.count(), AuditEvent.objects.count()) == before


def test_no_role_is_403_on_every_persons_route():
    user = make_user("nobody_api", roles=(), all_regions=True)
    person = make_person(town_name="浒山街道")
    client = logged_in(user)
    for url in ("/api/v1/persons", "/api/v1/persons/search?q=张", f"/api/v1/persons/{person.pk}",
                f"/api/v1/persons/{person.pk}/bank-accounts"):
        response = client.get(url)
        assert response.status_code == 403 and response.json() == {"detail": "您没有查看人员信息的权限"}, url


@pytest.mark.parametrize(("payload", "message"), [
    ({"bank": "ICBC", "account_number": "6222\u000502123456789\u0018", "holder_name": "张三"},
     "银行账号只能包含数字 0-9（含有 '\\x05'）"),
    ({"bank": "CCB", "account_number": "6217", "holder_name": "张三"}, "中国建设银行账号应为 16–20 位数字，实际 4 位"),
    ({"bank": "ICBC", "account_number": "6222021234567890123", "holder_name": "张三|0.01"}, "户名不能含有字符“|”"),
    ({"bank": "ICBC", "account_number": "6222021234567890123", "holder_name": "张\r\n三"},
     "户名含有控制字符 '\\r'，请重新输入"),
])
def test_bank_account_api_refuses_bad_number_or_holder(clerk_all, payload, message):
    person = make_person()
    audits = AuditEvent.objects.count()
    response = logged_in(clerk_all).post(f"/api/v1/persons/{person.pk}/bank-accounts", payload,
                                         content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": message}
    assert BankAccount.objects.count() == 0 and AuditEvent.objects.count() == audits


def test_api_refuses_nul_and_huge_numbers_without_500(clerk_all):
    person = make_person()
    client = logged_in(clerk_all)
    audits = AuditEvent.objects.count()
    response = client.patch(f"/api/v1/persons/{person.pk}", {"reason": "改名", "name": "张\u0000三"},
                            content_type="application/json")
    assert response.status_code == 400 and response.json() == {"detail": "输入含有空字符（NUL），已拒绝"}
    response = client.get("/api/v1/persons/search?q=%00")
    assert response.status_code == 400 and response.json() == {"detail": "输入含有空字符（NUL），已拒绝"}
    for url in ("/api/v1/persons?page=100000000000000000000000000", "/api/v1/persons?page=1e26",
                "/api/v1/persons?town=99999999999999999999", "/api/v1/audit/events?person_id=99999999999999999999",
                "/api/v1/persons/99999999999999999999", "/api/v1/persons/99999999999999999999/bank-accounts"):
        response = client.get(url)
        assert response.status_code in (404, 422), (url, response.status_code, response.content)
        assert response.json()["detail"]
    person.refresh_from_db()
    assert person.name == "张三" and AuditEvent.objects.count() == audits
