"""The authorization matrix of the foundation: the accounts, registry (人员) and shell (web) pages, the
API's persons and regions routes, and the commands user, token, setup and demo — each × every identity
of ``tests.authz.harness``. Objects named by a row belong to a person of 附海镇 (the town identities'
foreign town) unless the row says ``home=True``."""

from __future__ import annotations

import datetime as dt
import io
import sys
from dataclasses import dataclass, field

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.common.policy import CONSOLE, PUBLIC, SIGNED_IN, Rule, rule
from tests.authz.harness import (
    FOREIGN_TOWN,
    HOME_TOWN,
    IDENTITIES,
    Entry,
    make_identities,
    run_api_row,
    run_page_row,
)

VIEW = rule("registry.view_person", note="人员信息（列表、导出、详情、查找）")
ADD = rule("registry.add_person", note="新增人员")
CHANGE = rule("registry.change_person", note="修改人员信息")
CHANGE_ACCOUNT = rule("registry.change_bankaccount", note="变更支付账户")
FORM_REGIONS = rule("registry.add_person", "registry.change_person", note="人员表单的村社区选项")
MANAGE_USERS = rule("accounts.manage_users", note="系统管理员：用户、角色和管辖范围")


@dataclass
class World:
    foreign_person: object = None
    home_person: object = None
    foreign_town: object = None
    target_user: object = None
    tokens: dict = field(default_factory=dict)
    me: str = ""  # the identity a per-identity row is being run as


def build_world(users: dict) -> World:
    from shebao.accounts.services import api_token_create
    from shebao.accounts.tests.factories import make_person, make_user, town
    from shebao.registry.services import bank_account_set

    world = World()
    world.foreign_town = town(FOREIGN_TOWN)
    world.foreign_person = make_person(name="附海甲", town_name=FOREIGN_TOWN, mobile="13800001111",
                                       residence_address="附海镇某村 1 号")
    bank_account_set(user=None, person=world.foreign_person, bank="ICBC", account_number="6222020000000000001",
                     holder_name="附海甲", valid_from=dt.date(2020, 1, 1))
    world.home_person = make_person(name="浒山乙", town_name=HOME_TOWN)
    world.target_user = make_user("mx_target", roles=("clerk",), towns=(HOME_TOWN,))
    for name, user in users.items():
        api_token_create(user=user, name="matrix", days=30)
        world.tokens[name] = user.api_tokens.get().pk
    return world


def _person(w):
    return {"pk": w.foreign_person.pk}


def _home(w):
    return {"pk": w.home_person.pk}


def _target(w):
    return {"pk": w.target_user.pk}


def _wip_key() -> str:
    """A menu entry still 建设中: every entry of the agency's menu has its page now, so the stand-in the
    fixture below registers (no page, no scheme, no perm); its page is open to anyone signed in."""
    return "legacy.matrix_unbuilt"


@pytest.fixture(autouse=True)
def _unbuilt_entry():
    from shebao.web import menu

    entry = menu.add_entry("legacy", _wip_key(), "矩阵测试（建设中）", order=999)
    yield
    menu._GROUPS["legacy"].entries.remove(entry)
    menu._changed()


ROWS: list[Entry] = [
    # ---------------------------------------------------------------- accounts
    Entry("accounts:login", PUBLIC),
    Entry("accounts:login", PUBLIC, method="POST", data=lambda w: {"username": "nobody", "password": "x"}),
    # its answer is the login page for everyone: checked by test_logout_row
    Entry("accounts:logout", SIGNED_IN, method="POST", note="logout"),
    Entry("accounts:password_change", SIGNED_IN),
    Entry("accounts:password_change", SIGNED_IN, method="POST", data=lambda w: {}),
    Entry("accounts:user_list", MANAGE_USERS),
    Entry("accounts:user_create", MANAGE_USERS),
    Entry("accounts:user_create", MANAGE_USERS, method="POST", data=lambda w: {}),
    Entry("accounts:user_edit", MANAGE_USERS, args=_target),
    Entry("accounts:user_edit", MANAGE_USERS, args=_target, method="POST", data=lambda w: {}),
    Entry("accounts:user_reset_password", MANAGE_USERS, args=_target),
    Entry("accounts:user_reset_password", MANAGE_USERS, args=_target, method="POST", data=lambda w: {}),
    Entry("accounts:user_unlock", MANAGE_USERS, args=_target, method="POST"),
    Entry("accounts:token_list", SIGNED_IN),
    Entry("accounts:token_create", SIGNED_IN),
    Entry("accounts:token_list", SIGNED_IN, method="POST", data=lambda w: {}),
    # each identity revokes its own token (another's looks missing: 404)
    Entry("accounts:token_revoke", SIGNED_IN, method="POST", args=lambda w: {"pk": w.tokens.get(w.me, 0)},
          note="per identity"),
    # ---------------------------------------------------------------- registry (人员)
    Entry("registry:person_list", VIEW),
    Entry("registry:person_list", VIEW, query={"export": "xlsx"}),
    Entry("registry:person_list", VIEW, query={"q": "附海甲", "go": "1"}),
    Entry("registry:person_suggest", VIEW, query={"q": "附海"}),
    Entry("registry:communities", FORM_REGIONS, query={"town": "0"}),
    Entry("registry:person_create", ADD),
    Entry("registry:person_create", ADD, method="POST", data=lambda w: {}),
    Entry("registry:person_detail", VIEW, args=_person, town_scoped=True),
    Entry("registry:person_detail", VIEW, args=_home, town_scoped=True, home=True),
    Entry("registry:person_edit", CHANGE, args=_person, town_scoped=True),
    Entry("registry:person_edit", CHANGE, args=_person, town_scoped=True, method="POST", data=lambda w: {}),
    Entry("registry:person_edit", CHANGE, args=_home, town_scoped=True, home=True),
    Entry("registry:person_account", CHANGE_ACCOUNT, args=_person, town_scoped=True),
    Entry("registry:person_account", CHANGE_ACCOUNT, args=_person, town_scoped=True, method="POST",
          data=lambda w: {}),
    # ---------------------------------------------------------------- shell
    Entry("web:home", SIGNED_IN),
    Entry("web:wip", SIGNED_IN, args=lambda w: {"key": _wip_key()}),
    # ---------------------------------------------------------------- API
    Entry("api GET /api/v1/persons", VIEW),
    Entry("api GET /api/v1/persons", VIEW, query={"limit": "5"}),
    Entry("api GET /api/v1/persons/search", VIEW, query={"q": "附海甲"}),
    Entry("api POST /api/v1/persons", ADD, method="POST", allowed_status=(400,),
          data=lambda w: {"id_number": "110101195001011234", "name": "无此镇", "town_id": 999999999,
                          "birth_date": "1950-01-01", "reason": "matrix"},
          note="镇街道不存在 → 400 after the check, nothing written"),
    Entry("api GET /api/v1/persons/{person_id}", VIEW, args=lambda w: {"person_id": w.foreign_person.pk},
          town_scoped=True),
    Entry("api GET /api/v1/persons/{person_id}", VIEW, args=lambda w: {"person_id": w.home_person.pk},
          town_scoped=True, home=True),
    Entry("api PATCH /api/v1/persons/{person_id}", CHANGE, method="PATCH", allowed_status=(400,),
          args=lambda w: {"person_id": w.foreign_person.pk}, town_scoped=True, data=lambda w: {"reason": " ", "notes": "x"},
          note="blank reason → 400 after the check, nothing written"),
    Entry("api GET /api/v1/persons/{person_id}/bank-accounts", VIEW,
          args=lambda w: {"person_id": w.foreign_person.pk}, town_scoped=True),
    Entry("api POST /api/v1/persons/{person_id}/bank-accounts", CHANGE_ACCOUNT, method="POST",
          allowed_status=(400,), args=lambda w: {"person_id": w.foreign_person.pk}, town_scoped=True,
          data=lambda w: {"bank": "NOSUCHBANK", "account_number": "6222020000000000002", "holder_name": "附海甲",
                          "valid_from": "2024-01-01", "reason": "matrix"},
          note="unknown bank → 400 after the check, nothing written"),
    Entry("api GET /api/v1/regions/towns", SIGNED_IN, note="行政区划（无个人信息）"),
    # ---------------------------------------------------------------- commands (operator at the console)
    Entry("user create", CONSOLE,
          args=lambda w: ["create", "--username", "mx_cli", "--full-name", "命令行", "--roles", "clerk",
                          "--towns", HOME_TOWN, "--password-stdin"]),
    Entry("user list", CONSOLE, args=lambda w: ["list"]),
    Entry("user unlock", CONSOLE, args=lambda w: ["unlock", "--username", "mx_target", "--by", "mx_sys_admin"]),
    Entry("token create", CONSOLE, args=lambda w: ["create", "--user", "mx_clerk", "--name", "脚本"]),
    Entry("token list", CONSOLE, args=lambda w: ["list", "--user", "mx_clerk"]),
    Entry("token revoke", CONSOLE,
          args=lambda w: ["revoke", "--user", "mx_clerk", "--prefix",
                          w.target_user.__class__.objects.get(username="mx_clerk").api_tokens.first().prefix]),
    Entry("setup", CONSOLE, args=lambda w: ["--username", "mx_first_admin", "--full-name", "首任管理员",
                                            "--password-stdin"],
          note="refused while a 系统管理员 exists: the world's sys_admin"),
    Entry("demo", CONSOLE, args=lambda w: ["--scale", "small", "--no-users", "--quiet"]),
]

PAGE_ROWS = [r for r in ROWS if ":" in r.name and not r.name.startswith("api ") and r.note != "logout"]
API_ROWS = [r for r in ROWS if r.name.startswith("api ")]
COMMAND_ROWS = [r for r in ROWS if ":" not in r.name and not r.name.startswith("api ")]


def _row_id(row: Entry) -> str:
    query = "?" + "&".join(f"{k}={v}" for k, v in row.query.items()) if row.query else ""
    home = " home" if row.home else ""
    return f"{row.id}{query}{home}"


@pytest.fixture
def users(db, settings):
    # the identities' passwords are never used (force_login): a fast hasher keeps the setup of each row
    # short; Argon2 itself is under test in shebao/accounts/tests
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_identities()


@pytest.fixture
def world(users):
    return build_world(users)


@pytest.mark.django_db
@pytest.mark.parametrize("row", PAGE_ROWS, ids=_row_id)
def test_page_row(row, world, users):
    from shebao.registry.models import BankAccount, Person

    before = (Person.objects.count(), BankAccount.objects.count())
    if row.note == "per identity":
        problems = []
        for ident in IDENTITIES:
            world.me = ident.name
            problems += run_page_row(row, world, users, identities=[ident])
    else:
        problems = run_page_row(row, world, users)
    assert not problems, "\n".join(problems)
    assert (Person.objects.count(), BankAccount.objects.count()) == before


@pytest.mark.django_db
@pytest.mark.parametrize("row", API_ROWS, ids=_row_id)
def test_api_row(row, world, users):
    from shebao.registry.models import BankAccount, Person

    before = (list(Person.objects.order_by("pk").values("pk", "updated_at", "notes")), BankAccount.objects.count())
    problems = run_api_row(row, world, users)
    assert not problems, "\n".join(problems)
    assert (list(Person.objects.order_by("pk").values("pk", "updated_at", "notes")),
            BankAccount.objects.count()) == before


@pytest.mark.django_db
def test_logout_row(users):
    """退出: anyone signed in ends their session (and lands on the login page); anonymous is sent there."""
    from django.urls import reverse

    from tests.authz.harness import client_for

    for ident in IDENTITIES:
        client = client_for(users, ident)
        response = client.post(reverse("accounts:logout"))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], ident.name
        assert "/accounts/login/" in client.get(reverse("web:home"))["Location"], ident.name


def _parser_takes_as(name: str) -> bool:
    from django.core.management import get_commands, load_command_class

    command, _sep, sub = name.partition(" ")
    parser = load_command_class(get_commands()[command], command).create_parser("shebao", command)
    import argparse

    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and sub:
            parsers = [action.choices[sub]]
    return any("--as" in a.option_strings for p in parsers for a in p._actions)


@pytest.mark.parametrize("row", COMMAND_ROWS, ids=lambda r: r.name)
def test_command_row_is_the_operators(row):
    """An operator command: its declared rule is CONSOLE and it has no --as to check."""
    from shebao.accounts.cli import COMMAND_RULES

    takes_as = _parser_takes_as(row.name)  # imports the command module, which declares its rule
    assert row.rule == CONSOLE
    assert COMMAND_RULES[row.name] == CONSOLE
    assert not takes_as


@pytest.mark.django_db
@pytest.mark.parametrize("row", [r for r in COMMAND_ROWS if r.name != "demo"], ids=lambda r: r.name)
def test_command_row_runs_at_the_console(row, world, users, monkeypatch):
    """Run as the operator (no --as): works, or (setup) refuses for its own reason, saying so in Chinese."""
    from shebao.accounts.models import User

    command, _sep, _sub = row.name.partition(" ")
    monkeypatch.setattr(sys, "stdin", io.StringIO("Zz9!matrix-pass\n"))
    out = io.StringIO()
    if command == "setup":
        count = User.objects.count()
        with pytest.raises(CommandError, match="系统管理员已存在"):
            call_command(command, *row.args(world), stdout=out, stderr=io.StringIO())
        assert User.objects.count() == count
        return
    call_command(command, *row.args(world), stdout=out, stderr=io.StringIO())
    assert out.getvalue()


def test_rules_are_rules():
    assert all(isinstance(r.rule, Rule) for r in ROWS)


FOUNDATION_PREFIXES = ("accounts:", "registry:", "web:")


def test_every_foundation_entry_has_a_row_and_its_rule():
    """This area's part of test_completeness, which stops at other areas' missing rows: every page of
    accounts, registry and web has a row and carries the row's rule; every API operation under
    /api/v1/persons and /api/v1/regions and every command of ours named here has a row."""
    from shebao.accounts.cli import COMMAND_RULES
    from tests.authz.test_completeness import api_operations, our_commands, url_entries

    rows = {}
    for r in ROWS:
        assert rows.setdefault(r.name, r).rule == r.rule, f"{r.name}: two rows with different rules"
    problems = []
    for name, callback in url_entries():
        if not name.startswith(FOUNDATION_PREFIXES):
            continue
        if name not in rows:
            problems.append(f"{name}: no row")
        elif getattr(callback, "policy", None) != rows[name].rule:
            problems.append(f"{name}: view {getattr(callback, 'policy', None)} ≠ row {rows[name].rule}")
    for op, _method, path in api_operations():
        if path.startswith(("/api/v1/persons", "/api/v1/regions")) and op not in rows:
            problems.append(f"{op}: no row")
    for command in our_commands():
        if command.split(" ")[0] in ("user", "token", "setup", "demo"):
            if command not in rows:
                problems.append(f"{command}: no row")
            elif COMMAND_RULES.get(command) != rows[command].rule:
                problems.append(f"{command}: declares {COMMAND_RULES.get(command)} ≠ row {rows[command].rule}")
    assert not problems, "\n".join(problems)
