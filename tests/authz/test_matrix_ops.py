"""Authorization matrix of 互联网络和安全 (/ops/, ``shebao ops``): links, inspection and backups are
信息科's (``accounts.it_ops``: the 信息管理员 role); the security page also the 系统管理员's
(``accounts.manage_users``). The commands are the operator's at the server (CONSOLE, no --as)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from shebao.common.policy import CONSOLE, rule
from tests.authz.harness import Entry, make_identities, run_page_row

OPS = rule("accounts.it_ops", note="信息科：链路监测、巡检、备份")
SECURITY = rule("accounts.it_ops", "accounts.manage_users", note="信息科或系统管理员：安全")

ROWS = [
    Entry("ops:links", OPS),
    Entry("ops:target_add", OPS),
    Entry("ops:target", OPS, args=lambda w: {"pk": w.target.pk}),
    Entry("ops:target_edit", OPS, args=lambda w: {"pk": w.target.pk}),
    Entry("ops:incidents", OPS),
    Entry("ops:probes", OPS),
    Entry("ops:alerts", OPS),
    Entry("ops:incident", OPS, args=lambda w: {"pk": w.incident.pk}),
    Entry("ops:channels", OPS),
    Entry("ops:inspection", OPS),
    Entry("ops:inspection_detail", OPS, args=lambda w: {"pk": w.report.pk}),
    Entry("ops:inspection_pdf", OPS, args=lambda w: {"pk": w.report.pk}),
    Entry("ops:backups", OPS),
    Entry("ops:security", SECURITY),
    Entry("ops backup", CONSOLE),
    Entry("ops restore", CONSOLE),
    Entry("ops inspect", CONSOLE),
    Entry("ops probe", CONSOLE),
    Entry("ops audit-archive", CONSOLE),
    Entry("ops audit-archive-verify", CONSOLE),
]
PAGE_ROWS = [r for r in ROWS if " " not in r.name]
COMMAND_ROWS = [r for r in ROWS if " " in r.name]


class World:
    def __init__(self):
        from django.utils import timezone

        from shebao.ops.inspection import inspection_run
        from shebao.ops.models import Incident, LinkTarget

        now = timezone.now()
        self.target = LinkTarget.objects.create(name="矩阵专线", owner="province", kind="tcp", host="127.0.0.1",
                                                port=9, interval_seconds=60, active=False)
        self.incident = Incident.objects.create(target=self.target, opened_at=now, first_failure_at=now,
                                                stage="tcp", message="无法连接")
        self.report = inspection_run(trigger="矩阵")


@pytest.fixture
def world(db):
    return World()


@pytest.fixture
def users(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_identities()


@pytest.mark.parametrize("entry", PAGE_ROWS, ids=lambda e: e.id)
def test_page_row(entry, world, users):
    assert run_page_row(entry, world, users) == []


@pytest.mark.django_db
def test_post_inspection_is_refused_to_others_and_writes_nothing(world, users):
    from django.urls import reverse

    from shebao.ops.models import Inspection
    from tests.authz.harness import IDENTITIES, client_for, expected

    for ident in IDENTITIES:
        before = Inspection.objects.count()
        response = client_for(users, ident).post(reverse("ops:inspection"))
        want = expected(ident, next(r for r in ROWS if r.name == "ops:inspection"))
        if want == "ok":
            assert response.status_code == 302 and Inspection.objects.count() == before + 1, ident.name
        else:
            assert response.status_code in (302, 403) and Inspection.objects.count() == before, ident.name


def test_command_rows_are_the_operators():
    from django.core.management import load_command_class

    from shebao.accounts.cli import COMMAND_RULES

    load_command_class("shebao.ops", "ops")
    for row in COMMAND_ROWS:
        assert row.rule == CONSOLE and COMMAND_RULES[row.name] == CONSOLE, row.name


@pytest.mark.django_db
def test_console_commands_run_without_a_user(world):
    out = io.StringIO()
    call_command("ops", "probe", stdout=out)
    assert "没有到期的目标" in out.getvalue()
    out = io.StringIO()
    call_command("ops", "inspect", stdout=out)
    assert out.getvalue().startswith("巡检报告 ")


def test_these_pages_carry_the_rule_of_their_row():
    from django.urls import resolve, reverse

    for row in PAGE_ROWS:
        kwargs = {"pk": 1} if row.args else None
        view = resolve(reverse(row.name, kwargs=kwargs)).func
        assert view.policy == row.rule, row.name
