"""The checks every person list's search shares (自管人员, 养老保障, 土保补贴 — each app's
``tests/test_list_search.py`` makes its four persons its own way and calls these): the search runs in the
list's own query (``person_search(within=…, person="person")``) and a town clerk finds exactly their
town's persons, masked."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.urls import reverse

# key, name, birth date, town: 陈静 (浒山), 陈静 (附海: the same name, another town), 王芳 and 陈晶 (浒山)
PEOPLE = (("hushan", "陈静", dt.date(1950, 3, 1), "浒山街道"),
          ("fuhai", "陈静", dt.date(1951, 4, 2), "附海镇"),
          ("other", "王芳", dt.date(1952, 5, 3), "浒山街道"),
          ("chen", "陈晶", dt.date(1953, 6, 4), "浒山街道"))


def client_on(user, url: str) -> Client:
    c = Client()
    c.force_login(user)
    c.get(reverse(url))  # the first request renews the session (a write, once a minute)
    return c


def found(c: Client, url: str, q: str, **more) -> list[int]:
    r = c.get(reverse(url), {"q": q, **more})
    assert r.status_code == 200
    assert not r.context["table"].errors
    return [row.data["person_id"] for row in r.context["table"].rows]


def check_town_clerk_finds_exactly_the_town_persons(people: dict, url: str) -> None:
    c = client_on(people["town"], url)
    hushan, fuhai, chen = people["hushan"], people["fuhai"], people["chen"]
    assert found(c, url, "陈静") == [hushan.pk]  # 附海's 陈静 is not shown
    assert found(c, url, "陈") == [chen.pk, hushan.pk]  # by pinyin: chen jing (晶 jing1, 静 jing4)
    assert found(c, url, "cj", sort="-person__name") == [hushan.pk, chen.pk]
    assert found(c, url, hushan.id_number[-6:]) == [hushan.pk]
    assert found(c, url, hushan.id_number) == [hushan.pk]
    assert found(c, url, fuhai.id_number) == []
    assert found(c, url, fuhai.id_number[-6:]) == []
    page = c.get(reverse(url), {"q": "陈静"}).content.decode()
    assert hushan.id_number not in page and hushan.id_number[-4:] in page  # masked as before


def check_search_in_the_list_query(people: dict, url: str, statements: int, django_assert_num_queries) -> None:
    """As many statements as before the search moved into the list's query (the session, the user, the
    filters' choices, the page's rows …: the win is the plan, not the count); the search is not
    ``person_id IN (the search)`` and its results are sorted after they are found."""
    c = client_on(people["town"], url)
    with django_assert_num_queries(statements, exact=True) as ctx:
        c.get(reverse(url), {"q": "cj"})
    (search,) = [q["sql"] for q in ctx.captured_queries if "name_initials" in q["sql"]]
    assert 'IN (SELECT U0."id"' not in search, search
    assert "\"registry_person\".\"name_pinyin\" || ''" in search, search
