"""The search on 土保补贴's 人员数据 list: in the list's own query (``person_search(within=…,
person="person")``), the user's scope applied again — a town clerk finds exactly their town's persons."""

from __future__ import annotations

import pytest

from shebao.land_subsidy.tests.factories import make_category, make_tb, make_user
from shebao.registry.services import person_name_keys_fill
from shebao.web.tests.list_search import (
    PEOPLE,
    check_search_in_the_list_query,
    check_town_clerk_finds_exactly_the_town_persons,
)

pytestmark = pytest.mark.django_db

URL = "land_subsidy:person_list"


@pytest.fixture
def people():
    """陈静 (浒山), 陈静 (附海: the same name, another town), 王芳 and 陈晶 (浒山)."""
    clerk = make_user("ts_clerk", sensitive=True)
    category = make_category(user=clerk)
    out = {}
    for key, name, born, town_name in PEOPLE:
        out[key] = make_tb(name, user=clerk, category=category, birth=born, town=town_name).person
    person_name_keys_fill()  # make_tb writes the person directly: its pinyin sort key as the loaders get it
    return {**out, "town": make_user("ts_town", towns=["浒山街道"])}


def test_a_town_clerk_finds_exactly_the_town_persons(people):
    check_town_clerk_finds_exactly_the_town_persons(people, URL)


def test_a_search_is_in_the_list_query_and_costs_its_statements(people, django_assert_num_queries):
    check_search_in_the_list_query(people, URL, 8, django_assert_num_queries)
