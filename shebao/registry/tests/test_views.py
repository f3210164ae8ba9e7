"""Person pages: masking by right (page and export), region scope by URL, permissions, create/edit/
account flows through the services, search and live results."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from shebao.accounts.tests.factories import make_user
from shebao.common.models import AuditEvent
from shebao.registry.models import BankAccount, Person, Region
from shebao.registry.services import bank_account_set, person_create, person_update
from shebao.registry.tests import factories
from shebao.registry.tests.factories import town

pytestmark = pytest.mark.django_db

FULL = "33028219500104123X"  # check character X; sequence 123 → male, born 1950-01-04
MASKED = "330282********123X"
ACCOUNT = "6222021001115704287"
ACCOUNT_MASKED = "6222***********4287"
def id_number(born=dt.date(1955, 3, 3), male=True) -> str:
    return factories.id_number(born, male=male)


@pytest.fixture
def person():
    p = person_create(user=None, id_number=FULL, name="王小明", town=town("浒山街道"), mobile="13812341234")
    bank_account_set(user=None, person=p, bank="ICBC", account_number="6222020000000000001", holder_name="王小明",
                     valid_from=dt.date(2020, 1, 1))
    bank_account_set(user=None, person=p, bank="ABC", account_number=ACCOUNT, holder_name="王小明",
                     valid_from=dt.date(2023, 6, 1))
    return p


@pytest.fixture
def other_town_person():
    return person_create(user=None, id_number=id_number(), name="李四", town=town("古塘街道"))


def login(client, **kw):
    user = make_user(kw.pop("username", "u1"), **kw)
    client.force_login(user)
    return user


# -- masking ------------------------------------------------------------------------------------

def test_person_page_masked_without_right(client, person):
    login(client, towns=["浒山街道"])
    html = client.get(reverse("registry:person_detail", args=[person.pk])).content.decode()
    assert MASKED in html
    assert FULL not in html
    assert ACCOUNT_MASKED in html and ACCOUNT not in html
    assert "138****1234" in html and "13812341234" not in html


def test_person_page_full_with_right(client, person):
    login(client, towns=["浒山街道"], sensitive=True)
    html = client.get(reverse("registry:person_detail", args=[person.pk])).content.decode()
    assert FULL in html and ACCOUNT in html and "13812341234" in html


def test_account_history_current_first(client, person):
    login(client, towns=["浒山街道"])
    html = client.get(reverse("registry:person_detail", args=[person.pk])).content.decode()
    section = html[html.index('id="accounts"'):html.index('id="schemes"')]
    assert section.index("中国农业银行") < section.index("中国工商银行")
    assert "当前" in section and "历史" in section
    assert "2023-05-31" in section  # the old account closed the day before the new one


def test_schemes_section_honest_when_empty_and_uses_registry(client, person):
    from django.utils.html import format_html

    from shebao.web import person_sections

    login(client, towns=["浒山街道"])
    url = reverse("registry:person_detail", args=[person.pk])
    assert "未参加任何险种" in client.get(url).content.decode()

    def provider(p, request):
        return ("自管人员", format_html("<p>{}</p>", f"发放状态：正常（{p.name}）")) if p.pk == person.pk else None

    person_sections.register(provider)
    try:
        html = client.get(url).content.decode()
    finally:
        person_sections.unregister(provider)
    assert "自管人员" in html and "发放状态：正常（王小明）" in html and "未参加任何险种" not in html


def test_person_audit_history_masked(client, person):
    person_update(user=None, person=person, mobile="13900001111", reason="电话变更")
    login(client, towns=["浒山街道"])
    html = client.get(reverse("registry:person_detail", args=[person.pk])).content.decode()
    history = html[html.index('id="history"'):]
    assert "电话变更" in history and "手机" in history
    assert "138****1234" in history and "139****1111" in history
    assert "13900001111" not in history
    assert MASKED in history and FULL not in history  # the create event's snapshot


def test_export_masked_per_right(client, person):
    login(client, towns=["浒山街道"])
    response = client.get(reverse("registry:person_list") + "?export=xlsx")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    rows = list(openpyxl.load_workbook(io.BytesIO(body), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "身份证号", "性别")
    assert rows[1][0] == "王小明" and rows[1][1] == MASKED and rows[1][6] == "138****1234"
    assert FULL.encode() not in body and b"13812341234" not in body
    assert FULL not in repr(rows)

    client.force_login(make_user("u2", towns=["浒山街道"], sensitive=True))
    body = b"".join(client.get(reverse("registry:person_list") + "?export=xlsx").streaming_content)
    rows = list(openpyxl.load_workbook(io.BytesIO(body), read_only=True).active.iter_rows(values_only=True))
    assert rows[1][1] == FULL and rows[1][6] == "13812341234"


# -- region scope -------------------------------------------------------------------------------

def test_town_clerk_gets_404_for_other_town_by_url(client, person, other_town_person):
    login(client, towns=["浒山街道"])
    for name in ("registry:person_detail", "registry:person_edit", "registry:person_account"):
        assert client.get(reverse(name, args=[other_town_person.pk])).status_code == 404
        assert client.get(reverse(name, args=[person.pk])).status_code == 200
    assert client.post(reverse("registry:person_edit", args=[other_town_person.pk]),
                       {"name": "改", "town": town("古塘街道").pk, "reason": "x"}).status_code == 404
    assert Person.objects.get(pk=other_town_person.pk).name == "李四"


def test_list_and_search_show_only_own_towns(client, person, other_town_person):
    login(client, towns=["浒山街道"])
    html = client.get(reverse("registry:person_list")).content.decode()
    assert "王小明" in html and "李四" not in html
    assert "共 1 条" in html
    suggest = client.get(reverse("registry:person_suggest") + "?q=李四").content.decode()
    assert "李四" not in suggest.split("没有找到")[0]
    # a town outside the scope as a filter value is refused, not widened
    html = client.get(reverse("registry:person_list") + f"?town={town('古塘街道').pk}").content.decode()
    assert "李四" not in html and "没有“" in html


# -- search ---------------------------------------------------------------------------------------

def test_enter_on_exact_id_number_goes_to_person(client, person):
    login(client, towns=["浒山街道"])
    response = client.get(reverse("registry:person_list") + f"?q={FULL}&go=1")
    assert response.status_code == 302 and response["Location"] == reverse("registry:person_detail", args=[person.pk])
    response = client.get(reverse("registry:person_list") + "?q=王小明&go=1")
    assert response["Location"] == reverse("registry:person_detail", args=[person.pk])
    # without go=1 (the list's own filter box) it stays a list
    assert client.get(reverse("registry:person_list") + "?q=王小明").status_code == 200


def test_enter_on_ambiguous_search_shows_list(client, person):
    person_create(user=None, id_number=id_number(), name="王小明明", town=town("浒山街道"))
    person_create(user=None, id_number=id_number(), name="王小", town=town("浒山街道"))
    login(client, towns=["浒山街道"])
    response = client.get(reverse("registry:person_list") + "?q=王小明&go=1")
    assert response.status_code == 302  # exactly one person is named 王小明
    response = client.get(reverse("registry:person_list") + "?q=小&go=1")
    assert response.status_code == 200
    assert "共 3 条" in response.content.decode()


def test_live_suggest(client, person):
    login(client, towns=["浒山街道"])
    html = client.get(reverse("registry:person_suggest") + "?q=123X", HTTP_HX_REQUEST="true").content.decode()
    assert "王小明" in html and MASKED in html and FULL not in html
    assert reverse("registry:person_detail", args=[person.pk]) in html
    html = client.get(reverse("registry:person_suggest") + "?q=wxm").content.decode()
    assert "王小明" in html
    assert "没有找到" in client.get(reverse("registry:person_suggest") + "?q=赵钱孙").content.decode()


def test_list_filters_town_and_sex(client, person, other_town_person):
    person_create(user=None, id_number=id_number(male=False), name="陈女士", town=town("浒山街道"))
    login(client, all_regions=True)
    html = client.get(reverse("registry:person_list") + "?sex=F").content.decode()
    assert "陈女士" in html and "王小明" not in html
    html = client.get(reverse("registry:person_list") + f"?town={town('古塘街道').pk}").content.decode()
    assert "李四" in html and "王小明" not in html


# -- permissions and forms ----------------------------------------------------------------------

def test_viewing_needs_login(client, person):
    response = client.get(reverse("registry:person_detail", args=[person.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_reviewer_cannot_create_or_edit(client, person):
    login(client, roles=["reviewer"], towns=["浒山街道"])
    assert client.get(reverse("registry:person_detail", args=[person.pk])).status_code == 200
    assert client.get(reverse("registry:person_create")).status_code == 403
    assert client.get(reverse("registry:person_edit", args=[person.pk])).status_code == 403
    assert client.post(reverse("registry:person_account", args=[person.pk]), {}).status_code == 403
    html = client.get(reverse("registry:person_detail", args=[person.pk])).content.decode()
    assert reverse("registry:person_edit", args=[person.pk]) not in html


def test_create_person(client):
    user = login(client, towns=["浒山街道"])
    community = Region.objects.filter(parent=town("浒山街道")).first()
    number = id_number(born=dt.date(1948, 8, 8), male=False)
    response = client.post(reverse("registry:person_create"), {
        "id_number": number, "name": "赵阿姨", "town": town("浒山街道").pk,
        "community": community.pk if community else "", "mobile": "13700000000",
    })
    person = Person.objects.get(id_number=number)
    assert response.status_code == 302 and response["Location"] == reverse("registry:person_detail", args=[person.pk])
    assert person.sex == "F" and person.birth_date == dt.date(1948, 8, 8)
    assert AuditEvent.objects.filter(person_id=person.pk, action="create", user_id=user.pk).exists()


def test_create_person_errors_in_chinese_and_nothing_written(client, person):
    login(client, towns=["浒山街道"])
    bad = FULL[:-1] + "1"
    html = client.post(reverse("registry:person_create"),
                       {"id_number": bad, "name": "错号", "town": town("浒山街道").pk}).content.decode()
    assert "校验位错误" in html
    html = client.post(reverse("registry:person_create"),
                       {"id_number": FULL, "name": "重复", "town": town("浒山街道").pk}).content.decode()
    assert "已登记" in html
    html = client.post(reverse("registry:person_create"), {
        "id_number": id_number(male=True), "name": "性别错", "sex": "F", "town": town("浒山街道").pk,
    }).content.decode()
    assert "性别与身份证号" in html
    # a town outside the clerk's scope is not even offered
    html = client.post(reverse("registry:person_create"),
                       {"id_number": id_number(), "name": "外镇", "town": town("古塘街道").pk}).content.decode()
    assert "选择一个有效的选项" in html or "Select a valid choice" in html
    assert Person.objects.count() == 1


def test_edit_person_requires_reason_and_audits(client, person):
    user = login(client, towns=["浒山街道"])
    url = reverse("registry:person_edit", args=[person.pk])
    form = client.get(url).content.decode()
    assert "修改原因" in form and 'value="王小明"' in form
    html = client.post(url, {"name": "王晓明", "town": town("浒山街道").pk}).content.decode()
    assert "这个字段是必填项" in html or "This field is required" in html
    assert Person.objects.get(pk=person.pk).name == "王小明"
    response = client.post(url, {"name": "王晓明", "town": town("浒山街道").pk, "mobile": "13812341234",
                                 "reason": "户籍更名"})
    assert response.status_code == 302
    assert Person.objects.get(pk=person.pk).name == "王晓明"
    event = AuditEvent.objects.filter(person_id=person.pk, action="update").latest("id")
    assert event.user_id == user.pk and event.reason == "户籍更名"
    assert event.before == {"name": "王小明"} and event.after == {"name": "王晓明"}


def test_change_account_luhn_warning_is_a_warning(client, person):
    login(client, towns=["浒山街道"])
    url = reverse("registry:person_account", args=[person.pk])
    response = client.post(url, {"bank": "CXRCB", "account_number": "1234567890123", "holder_name": "王小明",
                                 "valid_from": "2024-01-01", "reason": "换卡"}, follow=True)
    html = response.content.decode()
    assert "已变更" in html and "Luhn" in html
    assert 'class="msg warning"' in html
    current = BankAccount.objects.get(person=person, valid_to__isnull=True)
    assert current.account_number == "1234567890123" and current.luhn_warning


def test_change_account_refused_shows_message(client, person):
    login(client, towns=["浒山街道"])
    url = reverse("registry:person_account", args=[person.pk])
    html = client.post(url, {"bank": "ICBC", "account_number": "6222020000000000002", "holder_name": "王小明",
                             "valid_from": "2020-01-01"}).content.decode()
    assert "启用日期不能早于" in html
    assert BankAccount.objects.get(person=person, valid_to__isnull=True).account_number == ACCOUNT


def test_communities_for_town(client):
    login(client, towns=["浒山街道"])
    t = town("浒山街道")
    html = client.get(reverse("registry:communities") + f"?town={t.pk}").content.decode()
    for c in Region.objects.filter(parent=t):
        assert c.name in html
    other = town("古塘街道")
    html = client.get(reverse("registry:communities") + f"?town={other.pk}").content.decode()
    assert all(c.name not in html for c in Region.objects.filter(parent=other))


def test_sys_admin_without_region_sees_nobody(client, person):
    user = login(client, roles=["sys_admin"])
    assert not user.user_permissions.filter(codename="view_sensitive").exists()
    assert Permission.objects.filter(codename="view_sensitive").exists()
    assert client.get(reverse("registry:person_detail", args=[person.pk])).status_code == 404


def test_no_role_reads_no_person_page_nor_export(client, person):
    """A signed-in user with no role: every person page, the suggest box and the export answer 403 with
    the reason (the finding: /persons/ listed and exported everyone to such a user)."""
    login(client, roles=[], all_regions=True)
    urls = [reverse("registry:person_list"), reverse("registry:person_list") + "?export=xlsx",
            reverse("registry:person_suggest") + "?q=王", reverse("registry:person_detail", args=[person.pk]),
            reverse("registry:person_create"), reverse("registry:person_edit", args=[person.pk]),
            reverse("registry:person_account", args=[person.pk]),
            reverse("registry:communities") + f"?town={town('浒山街道').pk}"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "您没有此功能的权限" in response.content.decode(), url
        assert "王小明" not in response.content.decode()


def test_town_clerk_export_holds_only_own_towns(client, person, other_town_person):
    login(client, towns=["浒山街道"])
    body = b"".join(client.get(reverse("registry:person_list") + "?export=xlsx").streaming_content)
    rows = list(openpyxl.load_workbook(io.BytesIO(body), read_only=True).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["王小明"]


@pytest.mark.parametrize(("number", "holder", "message"), [
    ("6222\x0502123456789\x18", "王小明", "银行账号只能包含数字 0-9（含有 '\\x05'）"),
    ("62220212345678901A", "王小明", "银行账号只能包含数字 0-9（含有 “A”）"),
    ("622202123456", "王小明", "中国工商银行账号应为 16–19 位数字，实际 12 位"),
    ("6222021234567890123", "王|小明", "户名不能含有字符“|”"),
    ("6222021234567890123", "王小明\r\nD|2|62", "户名含有控制字符 '\\r'"),
    ("6222021234567890123", "=HYPERLINK(1)", "户名不能含有字符“=”"),
])
def test_account_page_refuses_bad_number_or_holder(client, person, number, holder, message):
    login(client, towns=["浒山街道"])
    url = reverse("registry:person_account", args=[person.pk])
    audits, accounts = AuditEvent.objects.count(), BankAccount.objects.filter(person=person).count()
    html = client.post(url, {"bank": "ICBC", "account_number": number, "holder_name": holder,
                             "valid_from": "2026-01-01"}).content.decode()
    from django.utils.html import escape

    assert escape(message) in html
    assert BankAccount.objects.get(person=person, valid_to__isnull=True).account_number == ACCOUNT
    assert BankAccount.objects.filter(person=person).count() == accounts and AuditEvent.objects.count() == audits


def test_account_page_reads_full_width_digits(client, person):
    login(client, towns=["浒山街道"])
    url = reverse("registry:person_account", args=[person.pk])
    client.post(url, {"bank": "ICBC", "account_number": "６２２２ ０２１２ ３４５６ ７８９０ １２３", "holder_name": "王小明",
                      "valid_from": "2026-01-01"})
    assert BankAccount.objects.get(person=person, valid_to__isnull=True).account_number == "6222021234567890123"
