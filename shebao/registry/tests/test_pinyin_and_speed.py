"""Issue 17: names in pinyin order (not code points), the name search answered from an index, and the
sort keys of rows written by SQL filled set-based."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from shebao.accounts.tests.factories import logged_in, make_user
from shebao.registry.models import Person
from shebao.registry.selectors import person_search
from shebao.registry.services import name_sort_key, person_name_keys_fill, person_update
from shebao.registry.tests.factories import id_number, make_person

pytestmark = pytest.mark.django_db

# code-point order: 张 (U+5F20) 王 (U+738B) 程 (U+7A0B) 陈 (U+9648); pinyin: chen2 cheng2 wang2 zhang1
NAMES = ["张伟", "王芳", "程丽", "陈静"]
PINYIN_ORDER = ["陈静", "程丽", "王芳", "张伟"]


@pytest.fixture
def people():
    return [make_person(name=n, id_number=id_number(born=dt.date(1950, 1, 1 + i), seq=11 + i))
            for i, n in enumerate(NAMES)]


@pytest.fixture
def centre():
    return make_user("centre_py", all_regions=True)


def test_sort_key_is_the_pinyin_with_tones():
    assert name_sort_key("张三丰") == "zhang1 san1 feng1"
    assert name_sort_key("陈") < name_sort_key("程") < name_sort_key("王") < name_sort_key("张")
    assert name_sort_key("李") < name_sort_key("林")  # li3 before lin2: a shorter syllable first
    assert name_sort_key("Anna") == "anna"


def test_person_list_page_sorts_names_by_pinyin(people, centre):
    client = logged_in(centre)
    page = client.get("/persons/").content.decode()
    assert [n for n in sorted(NAMES, key=page.index)] == PINYIN_ORDER
    descending = client.get("/persons/?sort=-name").content.decode()
    assert [n for n in sorted(NAMES, key=descending.index)] == PINYIN_ORDER[::-1]


def test_search_results_and_api_list_in_pinyin_order(people, centre):
    assert Person.objects.get(name="张伟").name_pinyin == "zhang1 wei3"
    data = logged_in(centre).get("/api/v1/persons").json()
    assert [p["name"] for p in data["items"]] == PINYIN_ORDER
    make_person(name="陈伟", id_number=id_number(born=dt.date(1950, 2, 1), seq=21))
    assert [p.name for p in person_search(user=centre, q="伟")] == ["陈伟", "张伟"]


def test_rename_refreshes_the_sort_key(people, centre):
    person = Person.objects.get(name="王芳")
    person_update(user=centre, person=person, reason="更正", name="艾芳")
    person.refresh_from_db()
    assert person.name_pinyin == "ai4 fang1"


def test_rows_written_by_sql_get_their_keys(people):
    Person.objects.filter(name__in=["张伟", "陈静"]).update(name_pinyin="")
    assert person_name_keys_fill() == 2
    assert dict(Person.objects.values_list("name", "name_pinyin")) == {
        "张伟": "zhang1 wei3", "王芳": "wang2 fang1", "程丽": "cheng2 li4", "陈静": "chen2 jing4"}
    assert person_name_keys_fill() == 0  # nothing left to fill


def test_name_contains_is_answered_from_the_character_index(people, centre):
    """The name search found its rows by reading the whole table (LIKE '%…%'); the GIN index on the
    name's characters answers it (asked of the planner with the other ways priced out: the test's table
    is tiny)."""
    make_person(name="李建国", id_number=id_number(born=dt.date(1950, 3, 1), seq=31))
    make_person(name="建国", id_number=id_number(born=dt.date(1950, 3, 2), seq=32))
    make_person(name="国建", id_number=id_number(born=dt.date(1950, 3, 3), seq=33))  # both characters, wrong order
    qs = person_search(user=centre, q="建国", limit=50)
    assert [p.name for p in qs] == ["建国", "李建国"]  # the exact name first, then by pinyin
    with connection.cursor() as cursor:
        # a few rows: priced as if the table were large — no full scan, no walk along another index
        for setting in ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "person_name_chars" in plan, plan


# -- issue 17, second round: what one search costs in statements, and how the list page asks -----------

def _warm(client) -> None:
    client.get("/persons/")  # the first request after login renews the session (a write, once a minute)


def test_a_search_page_is_four_statements(people, centre, django_assert_num_queries):
    """The session; the user with its roles and permissions (one statement); the towns of the filter;
    the page of results (a page that is not full needs no count). Any statement added back — the ORM's
    separate permission queries, the roles for the top bar, a count, a session write — fails here."""
    client = logged_in(centre)
    _warm(client)
    for q in ("陈静", "cj", people[0].id_number[-4:], people[0].id_number):
        with django_assert_num_queries(4, exact=True):
            page = client.get("/persons/", {"q": q}).content.decode()
        assert "共 1 条" in page or "共 2 条" in page


def test_the_suggest_box_and_the_api_search_are_three_and_four_statements(people, centre, django_assert_num_queries):
    client = logged_in(centre)
    _warm(client)
    with django_assert_num_queries(3, exact=True):  # session, user with permissions, the search
        html = client.get("/persons/suggest/", {"q": "c"}).content.decode()
    assert "陈静" in html and "程丽" in html
    with django_assert_num_queries(4, exact=True):  # the same and the API's rate-limit count
        data = client.get("/api/v1/persons/search", {"q": "c"}).json()
    assert [p["name"] for p in data] == ["陈静", "程丽"]


def test_the_list_page_searches_in_its_own_query_and_sorts_after(people, centre):
    """The search's conditions are in the page's query (not ``pk IN (search)``, planned as a scan of all
    persons), and its order is by the sort key's value (not an index walk in pinyin order: 39,000 persons
    walked to fill a page of ``sy``); the order is still pinyin."""
    from django.test.utils import CaptureQueriesContext

    client = logged_in(centre)
    _warm(client)
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/persons/", {"q": "c"}).content.decode()
    assert [n for n in sorted(["陈静", "程丽"], key=page.index)] == ["陈静", "程丽"]
    (search,) = [q["sql"] for q in ctx.captured_queries if "name_initials" in q["sql"]]
    assert "IN (SELECT" not in search
    assert "ORDER BY (\"registry_person\".\"name_pinyin\" || '')" in search, search
    sql, _params = person_search(user=centre, q="cj").query.sql_with_params()
    assert "ORDER BY (\"registry_person\".\"name_pinyin\" || '')" in sql


def test_a_town_clerk_searching_the_list_sees_only_the_town(people):
    """``person_search(within=…)`` keeps the user's scope on the list page's own queryset."""
    make_person(name="陈静", town_name="附海镇", id_number=id_number(born=dt.date(1951, 1, 1), seq=41))
    clerk = make_user("town_py", towns=("浒山街道",))
    page = logged_in(clerk).get("/persons/", {"q": "陈静"}).content.decode()
    assert "共 1 条" in page and "附海镇" not in page.split('id="persons-results"')[1]
