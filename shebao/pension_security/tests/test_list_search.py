"""The search on 养老保障's 人员信息 list: in the list's own query (``person_search(within=…,
person="person")``), the user's scope applied again — a town clerk finds exactly their town's persons."""

from __future__ import annotations

import pytest

from shebao.pension_security.models import Category
from shebao.pension_security.services import member_register
from shebao.web.tests.helpers import id_number, make_person, make_user
from shebao.web.tests.list_search import (
    PEOPLE,
    check_search_in_the_list_query,
    check_town_clerk_finds_exactly_the_town_persons,
)

pytestmark = pytest.mark.django_db

URL = "pension_security:person_list"


@pytest.fixture
def people():
    """陈静 (浒山), 陈静 (附海: the same name, another town), 王芳 and 陈晶 (浒山)."""
    clerk = make_user("ps_clerk", all_regions=True, sensitive=True)
    category = Category.objects.get(code="land")
    out = {}
    for key, name, born, town_name in PEOPLE:
        out[key] = p = make_person(name, number=id_number(born), town_name=town_name)
        member_register(user=clerk, category=category, person=p)
    return {**out, "town": make_user("ps_town", towns=["浒山街道"])}


def test_a_town_clerk_finds_exactly_the_town_persons(people):
    check_town_clerk_finds_exactly_the_town_persons(people, URL)


def test_a_search_is_in_the_list_query_and_costs_its_statements(people, django_assert_num_queries):
    check_search_in_the_list_query(people, URL, 6, django_assert_num_queries)
