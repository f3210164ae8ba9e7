"""Issue 17, what clerks see and how fast: the change history in words (labels, money, local times,
masking, both languages), operators by name, the session renewed once a minute instead of written on
every request, the menu kept per permission profile, the table body built in Python (escaped)."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from shebao.accounts.tests.factories import logged_in, make_user
from shebao.common.audit import audit_record
from shebao.common.display import user_display_name
from shebao.common.masking import Masker
from shebao.common.models import AuditEvent
from shebao.registry.tests.factories import make_person
from shebao.web import menu
from shebao.web.audit import audit_rows

pytestmark = pytest.mark.django_db


def _event(person, user):
    audit_record(user=user, action="update", object_type="benefits.enrollment", person_id=person.pk,
                 summary="待遇调整",
                 before={"items": {"basic": "1200.00"}, "approved_at": "2025-12-31T16:30:00+00:00",
                         "payee": {"id_number": person.id_number, "amount": "80"}},
                 after={"items": {"basic": "1234.50"}, "approved_at": "2026-01-05T02:00:00+00:00",
                        "payee": {"id_number": person.id_number, "amount": "1080.5"}})
    return AuditEvent.objects.filter(person_id=person.pk).select_related("user").order_by("-id")[:1]


def test_change_history_in_words_with_local_times_and_masking():
    person = make_person(name="历史人")
    user = make_user("hist_clerk", full_name="周晓燕", all_regions=True)
    from shebao.benefits.models import BenefitItem, Scheme

    scheme, _ = Scheme.objects.get_or_create(code="ZG", defaults={"name": "自管人员"})
    BenefitItem.objects.get_or_create(scheme=scheme, code="basic", defaults={"name": "基本养老金"})
    row = audit_rows(_event(person, user), Masker(can_view=False))[0]
    html = str(row["changes"])
    assert '{"basic"' not in html and "+00:00" not in html
    assert "待遇项目" in html and "基本养老金：1,200.00" in html and "基本养老金：1,234.50" in html
    assert "2026-01-01 00:30:00" in html and "2026-01-05 10:00:00" in html  # UTC → Asia/Shanghai
    assert "金额：1,080.50" in html
    assert person.id_number not in html and person.id_number[-4:] in html  # masked without the right
    assert row["operator"] == "周晓燕" and row["username"] == "hist_clerk"
    shown = audit_rows(_event(person, user), Masker(can_view=True))[0]["changes"]
    assert person.id_number in str(shown)
    with translation.override("en"):
        english = str(audit_rows(_event(person, user), Masker(can_view=False))[0]["changes"])
    assert "Benefit item" in english and "Amount" in english and "待遇项目" not in english


def test_person_page_history_names_the_operator():
    person = make_person(name="页面人")
    user = make_user("page_clerk", full_name="钱小红", all_regions=True)
    _event(person, user)
    page = logged_in(user).get(f"/persons/{person.pk}/").content.decode()
    history = page[page.index('id="history"'):]
    assert "钱小红" in history and "+00:00" not in history and '{"basic"' not in history


def test_display_name_is_the_name_then_the_login():
    user = make_user("dn_login", full_name="")
    assert user_display_name(user) == "dn_login" == user.display_name
    user.full_name = "孙丽"
    assert user_display_name(user) == "孙丽" == str(user)
    assert user_display_name(None, fallback="cli:root") == "cli:root"


def _session_writes(queries) -> int:
    return sum(1 for q in queries if q["sql"].lstrip().upper().startswith("UPDATE") and "django_session" in q["sql"])


def test_session_is_renewed_once_a_minute_not_on_every_request():
    user = make_user("sess_clerk", all_regions=True)
    client = logged_in(user)
    client.get("/persons/")  # the first request after login stamps the renewal
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(3):
            assert client.get("/persons/?q=1234").status_code == 200
    assert _session_writes(ctx.captured_queries) == 0
    # a minute later the next request renews it (its expiry moves on)
    session = client.session
    session["_renewed"] = int(time.time()) - 61
    session.save()
    from django.contrib.sessions.models import Session

    before = Session.objects.get(session_key=session.session_key).expire_date
    with CaptureQueriesContext(connection) as ctx:
        client.get("/persons/")
    assert _session_writes(ctx.captured_queries) == 1
    assert Session.objects.get(session_key=session.session_key).expire_date >= before


class _Req:
    def __init__(self, user, path="/"):
        self.user = user
        self.path = path


def test_menu_is_worked_out_once_per_profile(monkeypatch):
    clerk = make_user("menu_c1", all_regions=True)
    twin = make_user("menu_c2", all_regions=True)  # the same roles and scope: the same profile
    nobody = make_user("menu_n", roles=(), all_regions=True)
    calls = []
    real = menu.entry_visible
    monkeypatch.setattr(menu, "entry_visible", lambda user, entry: calls.append(1) or real(user, entry))
    menu._changed()
    first = menu.build_menu(_Req(clerk, "/persons/"))
    n = len(calls)
    assert n > 0
    second = menu.build_menu(_Req(twin, "/persons/new/"))
    assert len(calls) == n  # reused, not asked again
    assert [e.key for g in first for e in g.entries] == [e.key for g in second for e in g.entries]
    active = {e.key for g in first for e in g.entries if e.active}
    assert active == {"person.search"}
    assert {e.key for g in second for e in g.entries if e.active} == {"person.create"}
    assert "person.create" not in {e.key for g in menu.build_menu(_Req(nobody)) for e in g.entries}
    assert len(calls) > n  # another profile: worked out for it


def test_menu_html_marks_the_page_of_each_request():
    clerk = make_user("menu_h", all_regions=True)
    client = logged_in(clerk)
    on_list = client.get("/persons/").content.decode()
    on_new = client.get("/persons/new/").content.decode()
    assert 'href="/persons/" class="active"' in on_list and 'href="/persons/new/" class="active"' not in on_list
    assert 'href="/persons/new/" class="active"' in on_new and 'href="/persons/" class="active"' not in on_new


def test_menu_html_is_rendered_once_per_profile_and_page(monkeypatch):
    """The shell hands the menu over lazily; its HTML is still rendered once and reused by the next
    request of the same profile on the same page (it was rendered on every page)."""
    from django.template import loader

    clerk = make_user("menu_once", all_regions=True)
    client = logged_in(clerk)
    menu._changed()
    rendered = []
    real = loader.render_to_string
    monkeypatch.setattr(loader, "render_to_string",
                        lambda name, *a, **kw: rendered.append(name) or real(name, *a, **kw))
    first = client.get("/persons/").content.decode()
    second = client.get("/persons/?q=张").content.decode()
    assert rendered.count("web/partials/sidemenu.html") == 1
    assert 'href="/persons/" class="active"' in first and 'href="/persons/" class="active"' in second
    client.get("/persons/new/")  # another active entry: its own rendering
    assert rendered.count("web/partials/sidemenu.html") == 2


def test_roles_and_their_permissions_are_read_in_one_query():
    """The shell's role names come with the roles' permissions (one query, not two); a change of role
    is seen by the next request."""
    from django.contrib.auth.models import Group

    clerk = make_user("roles_once", all_regions=True)
    client = logged_in(clerk)
    client.get("/persons/")
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/persons/?q=张").content.decode()
    assert '<span class="tag">经办员</span>' in page
    roles = [q for q in ctx.captured_queries if '"auth_group"' in q["sql"]]
    assert len(roles) == 1 and 'FROM "accounts_user"' in roles[0]["sql"]  # with the user: one statement
    clerk.groups.add(Group.objects.get(name="reviewer"))
    page = client.get("/persons/?q=张").content.decode()
    assert '<span class="tag">经办员</span><span class="tag">审核员</span>' in page


def test_table_body_is_escaped():
    from shebao.registry.models import Person

    person = make_person(name="粗体")
    Person.objects.filter(pk=person.pk).update(name="<b>粗</b>")  # past the service's check: the renderer escapes
    user = make_user("tbl_clerk", all_regions=True)
    page = logged_in(user).get("/persons/").content.decode()
    assert "&lt;b&gt;粗&lt;/b&gt;" in page and "<b>粗</b>" not in page
    empty = logged_in(user).get("/persons/?q=没有这个人").content.decode()
    assert '<tr class="empty"><td colspan="9">' in empty


def test_a_search_with_one_page_of_results_runs_no_count_query():
    for i in range(3):
        make_person(name=f"计数{i}人")
    user = make_user("count_clerk", all_regions=True)
    client = logged_in(user)
    client.get("/persons/")
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/persons/?q=计数").content.decode()
    assert "共 3 条" in page and "第 1–3 条" in page
    assert not [q for q in ctx.captured_queries if "COUNT(*)" in q["sql"]]
    # a full first page still asks for the count (there may be more pages)
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/persons/?q=计数&per_page=20&sort=-name").content.decode()
    assert "共 3 条" in page
    for i in range(3, 21):
        make_person(name=f"计数{i}人")
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/persons/?q=计数&per_page=20").content.decode()
    assert "共 21 条" in page and [q for q in ctx.captured_queries if "COUNT(*)" in q["sql"]]
    # … and its rows are read once, not again for the page
    rows = [q for q in ctx.captured_queries if 'FROM "registry_person"' in q["sql"] and "COUNT(*)" not in q["sql"]]
    assert len(rows) == 1 and "LIMIT 20" in rows[0]["sql"]
    assert page.count("计数") >= 20 and "第 1–20 条" in page
