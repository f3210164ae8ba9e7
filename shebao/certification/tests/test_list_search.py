"""The search on 生存认证's lists (到期提醒, 认证记录, 认证附件) and on 人员维护 (/shgl/persons/): the
search runs in the list's own query (``person_search(within=…)``), with the user's scope applied again —
a town clerk sees exactly the persons of their town that match, a 社区专管员 only their community's."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shebao.accounts.tests.factories import town
from shebao.benefits.services import enrollment_create, scheme_get
from shebao.certification.demo import demo_png
from shebao.certification.services import certification_record, community_worker_assign
from shebao.registry.models import Region
from shebao.web.tests.helpers import id_number, make_person, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(settings, tmp_path):
    """陈静 (浒山, community A), 陈静 (附海: the same name, another town), 王芳 (浒山, community B), 陈晶
    (浒山, no community) — each a paid 自管 person with one certification (with a photo)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    png = demo_png(__import__("random").Random(1), 8, 4)
    a, b = Region.objects.filter(parent=town("浒山街道"), level="community").order_by("sort")[:2]
    clerk = make_user("ls_clerk", all_regions=True, sensitive=True)
    out = {}
    for key, name, born, town_name, community in (
            ("hushan", "陈静", dt.date(1950, 3, 1), "浒山街道", a),
            ("fuhai", "陈静", dt.date(1951, 4, 2), "附海镇", None),
            ("other", "王芳", dt.date(1952, 5, 3), "浒山街道", b),
            ("nocom", "陈晶", dt.date(1953, 6, 4), "浒山街道", None)):
        p = make_person(name, number=id_number(born), town_name=town_name, community=community)
        enrollment_create(person=p, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                          items={"basic": "2000.00"})
        upload = io.BytesIO(png)
        upload.name = "照片.png"
        certification_record(p, timezone.localdate() - dt.timedelta(days=300), "office", clerk, attachment=upload)
        out[key] = p
    worker = make_user("ls_worker", roles=("community",))
    community_worker_assign(worker=worker, communities=[a], actor=clerk)
    return {**out, "town": make_user("ls_town", towns=["浒山街道"]), "worker": worker}


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _found(c, url, q) -> list[int]:
    r = c.get(url, {"q": q})
    assert r.status_code == 200
    table = r.context["table"]
    assert not table.errors
    return sorted(row.data.get("person_id", row.data.get("id")) for row in table.rows)


LISTS = ["certification:due", "certification:list", "certification:attachments", "certification:persons"]


@pytest.mark.parametrize("name", LISTS)
def test_a_town_clerk_finds_exactly_the_town_persons(people, name):
    c = _client(people["town"])
    url = reverse(name)
    hushan, fuhai, nocom = people["hushan"], people["fuhai"], people["nocom"]
    assert _found(c, url, "陈静") == [hushan.pk]  # 附海's 陈静 is not shown
    assert _found(c, url, "陈") == sorted([hushan.pk, nocom.pk])
    assert _found(c, url, "cj") == sorted([hushan.pk, nocom.pk])
    assert _found(c, url, hushan.id_number[-6:]) == [hushan.pk]
    assert _found(c, url, hushan.id_number) == [hushan.pk]
    assert _found(c, url, fuhai.id_number) == []
    assert _found(c, url, fuhai.id_number[-6:]) == []
    # masked as before: the town clerk has no 查看敏感信息
    page = c.get(url, {"q": "陈静"}).content.decode()
    assert hushan.id_number not in page and hushan.id_number[-4:] in page


@pytest.mark.parametrize("name", LISTS)
def test_a_community_worker_finds_only_the_community(people, name):
    c = _client(people["worker"])
    url = reverse(name)
    assert _found(c, url, "陈") == [people["hushan"].pk]  # 陈晶 has no community, 附海's 陈静 another town
    assert _found(c, url, people["nocom"].id_number) == []


STATEMENTS = {"certification:due": 7, "certification:list": 6, "certification:attachments": 6,
              "certification:persons": 7}  # as before


def test_the_search_is_in_the_list_query_not_pk_in(people, django_assert_num_queries):
    c = _client(people["town"])
    c.get(reverse("certification:due"))  # the first request renews the session (a write, once a minute)
    for name in LISTS:
        with django_assert_num_queries(STATEMENTS[name], exact=True) as ctx:
            c.get(reverse(name), {"q": "cj"})
        (search,) = [q["sql"] for q in ctx.captured_queries if "name_initials" in q["sql"]]
        assert 'IN (SELECT U0."id"' not in search, search  # not person_id IN (the search)
