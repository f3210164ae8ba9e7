import datetime as dt

import pytest

from shebao.accounts.services import user_create
from shebao.registry.selectors import person_get, person_search
from shebao.registry.tests.factories import id_number, make_person, town

pytestmark = pytest.mark.django_db


@pytest.fixture
def centre():
    return user_create(actor=None, username="centre", full_name="中心", password="Passw0rd!x", roles=["clerk"],
                       all_regions=True, must_change_password=False)


@pytest.fixture
def people():
    return {
        "zsf": make_person(name="张三丰", id_number=id_number(born=dt.date(1950, 3, 4), seq=17)),
        "zs": make_person(name="张三", id_number=id_number(born=dt.date(1951, 3, 4), seq=18)),
        "lsm": make_person(name="李四明", town_name="周巷镇", id_number=id_number(born=dt.date(1949, 3, 4), seq=19)),
    }


def test_search_by_full_id(centre, people):
    p = people["zsf"]
    assert list(person_search(user=centre, q=p.id_number)) == [p]
    assert list(person_search(user=centre, q=p.id_number.lower())) == [p]


def test_search_by_id_suffix(centre, people):
    p = people["lsm"]
    assert list(person_search(user=centre, q=p.id_number[-6:])) == [p]


def test_search_by_name_exact_first(centre, people):
    assert [x.name for x in person_search(user=centre, q="张三")] == ["张三", "张三丰"]


def test_search_by_pinyin_initials(centre, people):
    assert [x.name for x in person_search(user=centre, q="zsf")] == ["张三丰"]
    assert [x.name for x in person_search(user=centre, q="ZS")] == ["张三", "张三丰"]


def test_town_clerk_sees_only_own_town(people):
    clerk = user_create(actor=None, username="hs", full_name="浒山", password="Passw0rd!x", roles=["clerk"],
                        region_ids=[town().pk], must_change_password=False)
    assert [x.name for x in person_search(user=clerk, q="lsm")] == []
    assert [x.name for x in person_search(user=clerk, q="zs")] == ["张三", "张三丰"]
    from django.http import Http404

    with pytest.raises(Http404):
        person_get(user=clerk, pk=people["lsm"].pk)
    assert person_get(user=clerk, pk=people["zs"].pk) == people["zs"]
