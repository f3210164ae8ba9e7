"""The menu shows what the user may open, and only that: asked of the policy layer (the entry's rule with
its scheme, and the rule of the page it leads to)."""

from __future__ import annotations

import pytest
from django.test import Client

from shebao.accounts.models import User
from shebao.accounts.tests.factories import make_user
from shebao.common.policy import rule
from shebao.demo.runner import DEMO_USERS, demo_users_ensure
from shebao.web import menu

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class _Req:
    def __init__(self, user, path="/"):
        self.user = user
        self.path = path


def _shown(user) -> dict[str, str]:
    """key → url of every entry the menu draws for ``user``."""
    return {e.key: e.url for g in menu.build_menu(_Req(user)) for e in g.entries}


def _all_entries():
    return [(e, *menu.entry_url(e)) for g in menu.groups() for e in g.entries]


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    return client


@pytest.mark.parametrize("username", [u[0] for u in DEMO_USERS])
def test_each_demo_role_sees_exactly_the_entries_it_may_open(username):
    demo_users_ensure()
    user = User.objects.get(username=username)
    client = _client(user)
    shown = _shown(user)
    problems = []
    for entry, url, _built in _all_entries():
        status = client.get(url).status_code
        if entry.key in shown and status != 200:
            problems.append(f"{entry.key} ({url}) shown but answers {status}")
        if entry.key not in shown and status == 200:
            problems.append(f"{entry.key} ({url}) opens with 200 but is not shown")
    assert not problems, "\n".join(problems)


def test_system_and_it_admins_see_no_payroll_or_bank_entries():
    """The finding: 系统管理员 and 信息管理员 saw 月度结算, 统计 and the five 银行专线接口 entries, each a 403."""
    demo_users_ensure()
    for username in ("sysadmin", "itadmin"):
        shown = _shown(User.objects.get(username=username))
        leaked = [k for k in ("zg.payroll", "zg.stats", "bank.files", "bank.returns", "bank.lines",
                              "bank.reissue", "bank.templates") if k in shown]
        assert not leaked, (username, leaked)
    assert "admin.users" in _shown(User.objects.get(username="sysadmin"))
    assert "admin.users" not in _shown(User.objects.get(username="itadmin"))


def test_scheme_scope_hides_the_other_schemes_entries():
    nb = make_user("nb_only", roles=("clerk",), all_regions=True)
    User.objects.filter(pk=nb.pk).update(all_schemes=False, schemes=["NB"])
    zg = make_user("zg_only", roles=("clerk",), all_regions=True)
    User.objects.filter(pk=zg.pk).update(all_schemes=False, schemes=["ZG"])
    nb_shown = _shown(User.objects.get(pk=nb.pk))
    zg_shown = _shown(User.objects.get(pk=zg.pk))
    # 社会化管理 (shgl.*) serves every scheme's receiving persons since certification came (issue 18): its
    # 人员维护 lists only the persons paid in the user's schemes (certification/tests/test_persons_scope)
    zg_own = [k for k in ("zg.persons", "zg.benefits", "zg.query", "zg.roster", "zg.flex")]
    nb_own = [k for k in ("nb.query", "nb.refund", "nb.documents", "nb.rates")]
    assert not [k for k in zg_own if k in nb_shown]
    assert all(k in nb_shown for k in nb_own)
    assert not [k for k in nb_own if k in zg_shown]
    assert all(k in zg_shown for k in zg_own)
    # the pages every scheme uses stay for both
    assert "zg.payroll" in nb_shown and "zg.payroll" in zg_shown
    # a hidden entry's 建设中 page does not exist for the user
    assert _client(User.objects.get(pk=nb.pk)).get("/wip/zg.persons/").status_code == 404


def test_an_entry_follows_its_pages_rule():
    """An entry registered without a perm is shown by the rule of the page it leads to (``view.policy``)."""
    user = make_user("noroles", roles=(), all_regions=True)
    clerk = make_user("clerk_m", roles=("clerk",), all_regions=True)
    entry = menu.add_entry("ops", "ops.test_persons", "测试", url_name="registry:person_list", order=999)
    try:
        assert "ops.test_persons" not in _shown(User.objects.get(pk=user.pk))
        assert "ops.test_persons" in _shown(User.objects.get(pk=clerk.pk))
        entry.rule = rule("accounts.manage_users")  # the entry's own rule is asked as well
        assert "ops.test_persons" not in _shown(User.objects.get(pk=clerk.pk))
    finally:
        menu._GROUPS["ops"].entries.remove(entry)
        menu._changed()
