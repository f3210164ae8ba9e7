"""The shell: layout, menu, 建设中 pages, home page and its 待办 registry, the "/" search."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from shebao.web import menu, work
from shebao.web.tests.helpers import make_user

pytestmark = pytest.mark.django_db

SUBSYSTEMS = ["自管人员管理支付", "自管人员社会化管理", "老农保管理支付", "养老保障人员管理支付", "土保补贴",
              "社会保险特殊业务", "银行专线接口", "数据维护", "原遗留养老系统", "省宁波回流数据库", "互联网络和安全"]


@pytest.fixture
def clerk(client):
    user = make_user("clerk1", towns=["浒山街道", "古塘街道"])
    client.force_login(user)
    return user


def test_home_needs_login(client):
    response = client.get(reverse("web:home"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_home_shows_user_roles_scope_and_empty_work(client, clerk):
    html = client.get(reverse("web:home")).content.decode()
    assert "CLERK1" in html  # display name, in the top bar and the greeting
    assert "经办员" in html
    assert "浒山街道" in html and "古塘街道" in html
    assert "暂无待办" in html
    assert 'id="global-search"' in html


def test_home_scope_all_regions(client):
    client.force_login(make_user("centre", all_regions=True, roles=["reviewer"]))
    html = client.get(reverse("web:home")).content.decode()
    assert "全市" in html and "审核员" in html


def test_work_registry_lists_items_skips_zero_and_broken(client, clerk):
    def provider(request):
        return [("待审核的月度结算", 3, "/x/"), ("没有的事", 0, "/y/")]

    def broken(request):
        raise RuntimeError("boom")

    work.register(provider)
    work.register(broken)
    try:
        html = client.get(reverse("web:home")).content.decode()
    finally:
        work.unregister(provider)
        work.unregister(broken)
    assert "待审核的月度结算" in html and ">3<" in html
    assert "没有的事" not in html
    assert "暂无待办" not in html


def test_menu_groups_in_spec_order(client, clerk):
    html = client.get(reverse("web:home")).content.decode()
    # 互联网络和安全 is 信息科's only and 社会保险特殊业务 county-wide only (its ledger is the county's):
    # a clerk of two towns sees every other subsystem, in order
    shown = [label for label in SUBSYSTEMS if f"</span>{label}</summary>" in html]
    assert shown == [label for label in SUBSYSTEMS if label not in ("互联网络和安全", "社会保险特殊业务")]
    positions = [html.index(f"</span>{label}</summary>") for label in shown]
    assert positions == sorted(positions)
    assert html.index("人员查询</summary>") < positions[0]
    assert "系统管理" not in html  # the clerk has neither 用户管理 nor 审计日志


def test_menu_admin_group_for_sys_admin(client):
    client.force_login(make_user("admin1", roles=["sys_admin"], all_regions=True))
    html = client.get(reverse("web:home")).content.decode()
    assert "系统管理</summary>" in html
    assert "审计日志" in html and reverse("audit:list") in html
    assert "用户管理" in html


def test_menu_survives_a_missing_url(client, clerk, monkeypatch):
    entry = menu.find_entry("person.search")
    monkeypatch.setattr(entry, "url_name", "nowhere:missing")
    html = client.get(reverse("web:home")).content.decode()
    assert reverse("web:wip", kwargs={"key": "person.search"}) in html


@pytest.fixture
def unbuilt_entry():
    """Every entry of the agency's menu has its page now; an entry registered without one stands in."""
    entry = menu.add_entry("legacy", "legacy.unbuilt", "旧档案核对", order=999, note="与旧系统逐项核对")
    yield entry
    menu._GROUPS["legacy"].entries.remove(entry)
    menu._changed()


def test_unbuilt_entries_go_to_the_wip_page(client, clerk, unbuilt_entry):
    html = client.get(reverse("web:home")).content.decode()
    url = reverse("web:wip", kwargs={"key": "legacy.unbuilt"})
    assert f'href="{url}"' in html
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "建设中" in text and "原遗留养老系统" in text and "旧档案核对" in text and "尚未建成" in text
    assert "与旧系统逐项核对" in text
    # the page is marked active in the menu and in the breadcrumbs
    assert 'aria-current="page"' in text


def test_every_entry_of_the_agencys_menu_has_its_page():
    assert [e.key for g in menu._GROUPS.values() for e in g.entries if not e.url_name] == []


def test_wip_unknown_key_is_404(client, clerk):
    assert client.get(reverse("web:wip", kwargs={"key": "no.such"})).status_code == 404


def test_wip_hidden_entry_is_404_without_permission(client, clerk):
    assert client.get(reverse("web:wip", kwargs={"key": "admin.users"})).status_code == 404


def test_menu_registry_api():
    entry = menu.add_entry("zg", "zg.test_extra", "测试项", order=999)
    try:
        assert menu.find_group_of("zg.test_extra").key == "zg"
        assert menu.entry_url(entry) == (reverse("web:wip", kwargs={"key": "zg.test_extra"}), False)
        menu.set_url("zg.test_extra", "registry:person_list")
        assert menu.entry_url(entry) == (reverse("registry:person_list"), True)
        with pytest.raises(ValueError):
            menu.add_entry("zg", "zg.test_extra", "重复")
    finally:
        menu._GROUPS["zg"].entries.remove(entry)


def test_slash_focuses_the_global_search():
    """The top bar's search box has the id app.js focuses on "/" (keydown outside inputs)."""
    js = (Path(__file__).resolve().parents[1] / "static" / "web" / "app.js").read_text()
    assert 'getElementById("global-search")' in js
    assert 'ev.key === "/"' in js and "search.focus()" in js


def test_layout_parts(client, clerk):
    html = client.get(reverse("web:home")).content.decode()
    assert re.search(r'<form class="logout" action="/accounts/logout/" method="post">', html)
    assert 'action="/i18n/setlang/"' in html
    assert "web/vendor/htmx-2.0.11.min.js" in html and "web/app.css" in html and "web/app.js" in html


def test_no_cdn_links_in_templates_or_static():
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in list(root.rglob("templates/**/*.html")) + list((root / "web" / "static").rglob("*.css")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"(src|href)=[\"']?(https?:)?//", text) or "@import url(http" in text:
            offenders.append(str(path))
    assert offenders == []


def test_language_switch_to_english(client, clerk):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get(reverse("web:home")).content.decode()
    assert "Home" in html and "No pending work" in html
    assert "Cixi Social Insurance" in html
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "暂无待办" in client.get(reverse("web:home")).content.decode()


def test_chinese_first_whatever_the_browser_asks(client, clerk):
    html = client.get(reverse("web:home"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "首页" in html and 'lang="zh-hans"' in html
