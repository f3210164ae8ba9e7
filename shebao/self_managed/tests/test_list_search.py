"""The search on 自管人员's 人员管理 list: in the list's own query (``person_search(within=…,
person="person")``), the user's scope applied again — a town clerk finds exactly their town's persons."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from shebao.benefits.services import enrollment_create, scheme_get
from shebao.web.tests.helpers import id_number, make_person, make_user

pytestmark = pytest.mark.django_db

URL = "self_managed:person_list"


@pytest.fixture
def people():
    """陈静 (浒山), 陈静 (附海: the same name, another town), 王芳 and 陈晶 (浒山): paid 自管人员."""
    clerk = make_user("zs_clerk", all_regions=True, sensitive=True)
    out = {}
    for key, name, born, town_name in (("hushan", "陈静", dt.date(1950, 3, 1), "浒山街道"),
                                       ("fuhai", "陈静", dt.date(1951, 4, 2), "附海镇"),
                                       ("other", "王芳", dt.date(1952, 5, 3), "浒山街道"),
                                       ("chen", "陈晶", dt.date(1953, 6, 4), "浒山街道")):
        out[key] = p = make_person(name, number=id_number(born), town_name=town_name)
        enrollment_create(person=p, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                          items={"basic": "2000.00"})
    return {**out, "town": make_user("zs_town", towns=["浒山街道"])}


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    c.get(reverse(URL))  # the first request renews the session (a write, once a minute)
    return c


def _found(c, q, **more) -> list[int]:
    r = c.get(reverse(URL), {"q": q, **more})
    assert r.status_code == 200
    assert not r.context["table"].errors
    return [row.data["person_id"] for row in r.context["table"].rows]


def test_a_town_clerk_finds_exactly_the_town_persons(people):
    c = _client(people["town"])
    hushan, fuhai, chen = people["hushan"], people["fuhai"], people["chen"]
    assert _found(c, "陈静") == [hushan.pk]  # 附海's 陈静 is not shown
    assert _found(c, "陈") == [chen.pk, hushan.pk]  # by pinyin: chen jing (晶 jing1, 静 jing4)
    assert _found(c, "cj", sort="-person__name") == [hushan.pk, chen.pk]
    assert _found(c, hushan.id_number[-6:]) == [hushan.pk]
    assert _found(c, hushan.id_number) == [hushan.pk]
    assert _found(c, fuhai.id_number) == []
    assert _found(c, fuhai.id_number[-6:]) == []
    page = c.get(reverse(URL), {"q": "陈静"}).content.decode()
    assert hushan.id_number not in page and hushan.id_number[-4:] in page  # masked as before


def test_a_search_is_in_the_list_query_and_costs_its_statements(people, django_assert_num_queries):
    c = _client(people["town"])
    # as many statements as before the search moved into the list's query (8: the session, the user, the
    # filters' choices, the page's rows …) — the win is the plan, not the count
    with django_assert_num_queries(8, exact=True) as ctx:
        c.get(reverse(URL), {"q": "cj"})
    (search,) = [q["sql"] for q in ctx.captured_queries if "name_initials" in q["sql"]]
    assert 'IN (SELECT U0."id"' not in search, search  # not person_id IN (the search)
    assert "\"registry_person\".\"name_pinyin\" || ''" in search, search  # sorted after they are found
