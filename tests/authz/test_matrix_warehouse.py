"""The authorization matrix of the 回流库 (/wh/, ``shebao warehouse``).

The dictionary and the loads are metadata any holder of 查看回流库 reads; loading and the rules are IT's
(全市范围); findings are the clerks' (a finding of a 附海镇 person is missing for 浒山街道's clerk); saved
queries and the console read the whole county's shared data (全市范围; the console needs 回流库 SQL
控制台). POST rows are sent without their one-time token: nothing is written either way."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.common.models import AuditEvent
from shebao.warehouse.management.commands import warehouse as wh_cmd
from shebao.warehouse.models import AuditRule, AuditRun, Finding, Load, SavedQuery, WhTable
from shebao.warehouse.permissions import (
    AUDIT_RULE,
    AUDIT_RUN_RULE,
    CONSOLE_RULE,
    LOAD_RULE,
    QUERY_RULE,
    RULES_EDIT_RULE,
    VIEW_RULE,
)
from tests.authz.harness import (
    FOREIGN_TOWN,
    HOME_TOWN,
    IDENTITIES,
    Entry,
    expected,
    make_identities,
    run_page_row,
)


@dataclasses.dataclass
class World:
    users: dict
    table: WhTable
    load: Load
    finding: Finding
    finding_home: Finding
    query: SavedQuery
    tmp: Path


def build_world(tmp_path) -> World:
    from shebao.warehouse.dictionary import dictionary_load
    from shebao.warehouse.landing import warehouse_load
    from shebao.warehouse.tests import samples
    from shebao.web.tests.helpers import id_number, make_person

    users = make_identities()
    it = users["it_admin"]
    dictionary_load(source_name="省", path=samples.dictionary_folder(tmp_path), user=it)
    foreign = make_person("附海回流", number=id_number(dt.date(1950, 3, 1)), town_name=FOREIGN_TOWN)
    home = make_person("浒山回流", number=id_number(dt.date(1951, 4, 2)), town_name=HOME_TOWN)
    path = tmp_path / "ac01.csv"
    path.write_text(f"aac001,aac002,aac003\nP1,{foreign.id_number},附海回流\nP2,{home.id_number},浒山回流\n",
                    encoding="utf-8")
    load = warehouse_load(source_name="省", table_name="ac01", path=path, user=it).load
    run = AuditRun.objects.create(created_by=it)
    rule = AuditRule.objects.get(kind="name")
    finding = Finding.objects.create(run=run, rule=rule, id_number=foreign.id_number, person=foreign, detail="x")
    finding_home = Finding.objects.create(run=run, rule=rule, id_number=home.id_number, person=home, detail="y")
    query = SavedQuery.objects.create(name="人数", sql="SELECT count(*) AS n FROM warehouse.sheng_ac01")
    return World(users, WhTable.objects.get(name="ac01"), load, finding, finding_home, query, tmp_path)


def written() -> tuple:
    from shebao.warehouse.models import ConsoleRun

    return (AuditEvent.objects.count(), Load.objects.count(), AuditRun.objects.count(), AuditRule.objects.count(),
            Finding.objects.exclude(state="open").count(), ConsoleRun.objects.count(), WhTable.objects.count())


PAGE_ROWS = [
    Entry("warehouse:dictionary", VIEW_RULE),
    Entry("warehouse:dictionary_export", VIEW_RULE),
    Entry("warehouse:dictionary_export", VIEW_RULE, query={"format": "md"}),
    Entry("warehouse:table", VIEW_RULE, args=lambda w: {"pk": w.table.pk}),
    Entry("warehouse:loads", LOAD_RULE, method="POST", data=lambda w: {"table": w.table.pk}),
    Entry("warehouse:loads", VIEW_RULE),
    Entry("warehouse:load", VIEW_RULE, args=lambda w: {"pk": w.load.pk}),
    Entry("warehouse:findings", AUDIT_RULE),
    Entry("warehouse:findings", AUDIT_RULE, query={"state": "all", "export": "xlsx"}),
    Entry("warehouse:audit_run", AUDIT_RUN_RULE, method="POST", data=lambda w: {}),
    Entry("warehouse:audit_run", AUDIT_RUN_RULE),
    Entry("warehouse:finding", AUDIT_RULE, args=lambda w: {"pk": w.finding.pk}, town_scoped=True),
    Entry("warehouse:finding", AUDIT_RULE, args=lambda w: {"pk": w.finding.pk}, town_scoped=True, method="POST",
          data=lambda w: {"action": "dismiss", "note": "x"}),
    Entry("warehouse:finding", AUDIT_RULE, args=lambda w: {"pk": w.finding_home.pk}, town_scoped=True, home=True),
    Entry("warehouse:rules", RULES_EDIT_RULE, method="POST", data=lambda w: {"name": "x", "kind": "not_null"}),
    Entry("warehouse:rules", AUDIT_RULE),
    Entry("warehouse:queries", QUERY_RULE),
    Entry("warehouse:query_run", QUERY_RULE, args=lambda w: {"pk": w.query.pk}),
    Entry("warehouse:query_new", CONSOLE_RULE),
    Entry("warehouse:query_new", CONSOLE_RULE, method="POST", data=lambda w: {"name": "", "sql": ""}),
    Entry("warehouse:query_edit", CONSOLE_RULE, args=lambda w: {"pk": w.query.pk}),
    Entry("warehouse:query_edit", CONSOLE_RULE, method="POST", args=lambda w: {"pk": w.query.pk},
          data=lambda w: {"name": "", "sql": ""}),
    Entry("warehouse:grouping", QUERY_RULE, method="POST", data=lambda w: {"spec": "{}", "name": "x"}),
    Entry("warehouse:grouping", QUERY_RULE),
    Entry("warehouse:console", CONSOLE_RULE),
]

CMD_ROWS = [
    Entry("warehouse dictionary", wh_cmd.DICTIONARY_RULE, args=lambda w: ["load", "省", str(w.tmp / "nothing")]),
    Entry("warehouse load", wh_cmd.WAREHOUSE_LOAD_RULE, args=lambda w: ["省", "ac01", str(w.tmp / "nothing.csv")]),
    Entry("warehouse audit", wh_cmd.AUDIT_RULE, args=lambda w: []),
]

ROWS = PAGE_ROWS + CMD_ROWS


@pytest.fixture
def world(db, tmp_path):
    return build_world(tmp_path)


def test_page_rows(world):
    problems = []
    for entry in PAGE_ROWS:
        before = written()
        problems += run_page_row(entry, world, world.users)
        if entry.method == "POST" and written() != before:
            problems.append(f"{entry.id}: wrote")
    assert problems == []


def test_command_rows(world):
    """Refused with the policy's reason before anything is read, or let through (the file does not exist:
    a Chinese error after the check); the audit, let through, runs."""
    problems = []
    for entry in CMD_ROWS:
        command, sub = entry.name.split(" ", 1)
        for ident in IDENTITIES:
            if ident.anonymous:
                continue
            username = world.users[ident.name].username
            try:
                call_command(command, sub, *entry.args(world), "--as", username, stdout=io.StringIO(),
                             stderr=io.StringIO())
                got = "ok"
            except CommandError as exc:
                got = "denied" if str(exc).startswith(f"用户 {username}：") else "ok"
            if got != expected(ident, entry):
                problems.append(f"{entry.name} as {ident.name}: expected {expected(ident, entry)}, got {got}")
    assert problems == []


def test_town_clerk_sees_only_findings_of_their_towns(world):
    from django.test import Client

    client = Client()
    client.force_login(world.users["town_clerk"], backend="shebao.accounts.backends.LockoutModelBackend")
    body = client.get("/wh/findings/", {"state": "all"}).content.decode()
    assert "浒山回流" in body and "附海回流" not in body
