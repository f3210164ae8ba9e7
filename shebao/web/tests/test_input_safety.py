"""Bad input on the pages is a clear Chinese refusal, never a 500: a NUL byte in a search box or a form,
an over-long search, ``?page=1e26``, an amount typed as 2e3 / NaN / 1e309 / full-width digits."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.test import Client

from shebao.registry.models import Person
from shebao.web.tests.helpers import make_person, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_clerk(db):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("in_safety", roles=["clerk"], all_regions=True, sensitive=True),
                       backend="shebao.accounts.backends.LockoutModelBackend")
    return client


@pytest.mark.parametrize("url", ["/persons/?q=%00", "/persons/suggest/?q=%00", "/zg/query/?q=%00", "/zg/enroll/?q=%00",
                                 "/persons/?page=%00", "/persons/?q=" + "x" * 3000])
def test_nul_or_huge_in_any_query_is_a_400_in_chinese(client_clerk, url):
    response = client_clerk.get(url)
    assert response.status_code == 400
    text = response.content.decode()
    assert "输入含有空字符（NUL），已拒绝" in text or "输入过长" in text


def test_nul_in_a_form_post_is_refused_and_writes_nothing(client_clerk):
    person = make_person()
    response = client_clerk.post(f"/persons/{person.pk}/edit/", {"name": "张\x00三", "town": person.town_id,
                                                                "reason": "改名"})
    assert response.status_code == 400 and "输入含有空字符（NUL），已拒绝" in response.content.decode()
    person.refresh_from_db()
    assert person.name != "张\x00三"


def test_search_box_too_long_or_control_is_a_message(client_clerk):
    make_person()
    page = client_clerk.get("/persons/?q=" + "张" * 150).content.decode()
    assert "过长（最多 100 个字符），已忽略" in page
    page = client_clerk.get("/persons/?q=%05abc").content.decode()
    assert "含有控制字符（如 NUL），已忽略" in page


@pytest.mark.parametrize("page", ["1e26", "100000000000000000000000000", "-3", "１", "NaN"])
def test_page_number_is_bounded(client_clerk, page):
    make_person()
    response = client_clerk.get(f"/persons/?page={page}")
    assert response.status_code == 200


@pytest.mark.parametrize(("amount", "message"), [
    ("2e3", "不接受科学计数法"), ("1e309", "不接受科学计数法"), ("NaN", "不是数字"), ("Infinity", "不是数字"),
    ("1" * 40, "数字过长"),
])
def test_amount_field_refuses_exponent_nan_and_overlong(client_clerk, amount, message):
    person = make_person()
    response = client_clerk.post("/zg/flex/", {"id_number": person.id_number, "amount": amount, "reason": "丧葬补助"})
    assert response.status_code == 200
    assert message in response.content.decode()
    from shebao.self_managed.models import FlexPayment

    assert not FlexPayment.objects.exists()


def test_full_width_amount_is_read_as_ascii():
    from shebao.common.fields import AmountField

    assert AmountField(min_value=D("0.01")).clean("１２３４．５６") == D("1234.56")
    assert Person.objects.count() == 0
