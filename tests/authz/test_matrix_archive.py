"""The authorization matrix of the 原遗留养老系统 archive (/archive/, ``shebao archive``).

Searching and a person's archived records need 查阅原遗留养老系统档案; a person's records are town-scoped
through the registry (the world's archived person 张三 is registered in 附海镇: 浒山街道's clerk and
reviewer get 404; 李四 is registered in 浒山街道: ``home``). Browsing or exporting a whole table is
county-wide; loading is IT's, county-wide. Every page is GET-only: there is no POST row because no
page accepts one (``test_archive.test_no_write_path_exists_in_pages_or_api``)."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.archive.models import ArchiveTable
from shebao.archive.permissions import LOAD_RULE, TABLE_RULE, VIEW_RULE
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
    foreign: int  # archive person ids
    home: int
    table: int
    tmp: Path


def build_world(tmp_path) -> World:
    from shebao.archive import selectors as sel
    from shebao.archive.loading import archive_load
    from shebao.archive.tests import samples
    from shebao.web.tests.helpers import make_person

    users = make_identities()
    make_person("张三", number=samples.ZHANG18, town_name=FOREIGN_TOWN)
    make_person("李四", number=samples.LI18, town_name=HOME_TOWN)
    archive_load(path=samples.dump_folder(tmp_path), user=users["it_admin"])
    it = users["it_admin"]
    return World(users, sel.person_search(user=it, q=samples.ZHANG15)[0].id,
                 sel.person_search(user=it, q=samples.LI18)[0].id, ArchiveTable.objects.get(name="ac01").pk, tmp_path)


PAGE_ROWS = [
    Entry("archive:search", VIEW_RULE, query={"q": "330282500101123"}),
    Entry("archive:person", VIEW_RULE, args=lambda w: {"pk": w.foreign}, town_scoped=True),
    Entry("archive:person", VIEW_RULE, args=lambda w: {"pk": w.home}, town_scoped=True, home=True),
    Entry("archive:person", VIEW_RULE, args=lambda w: {"pk": w.foreign}, query={"export": "xlsx"},
          town_scoped=True, note="导出一人的档案记录"),
    Entry("archive:tables", VIEW_RULE),
    Entry("archive:table", TABLE_RULE, args=lambda w: {"pk": w.table}),
    Entry("archive:table", TABLE_RULE, args=lambda w: {"pk": w.table}, query={"export": "xlsx"}),
]

CMD_ROWS = [
    Entry("archive load", LOAD_RULE, args=lambda w: [str(w.tmp / "no-such-dir")]),
]

ROWS = PAGE_ROWS + CMD_ROWS


@pytest.fixture
def world(db, tmp_path):
    return build_world(tmp_path)


def test_page_rows(world):
    problems = []
    for entry in PAGE_ROWS:
        problems += run_page_row(entry, world, world.users)
    assert problems == []


def test_command_rows(world):
    """Refused with the policy's reason, or let through (the folder does not exist: a Chinese error after
    the check, nothing loaded)."""
    problems = []
    for entry in CMD_ROWS:
        command, sub = entry.name.split(" ", 1)
        for ident in IDENTITIES:
            if ident.anonymous:
                continue
            username = world.users[ident.name].username
            try:
                call_command(command, sub, *entry.args(world), "--as", username, stdout=io.StringIO())
                got = "ok"
            except CommandError as exc:
                got = "denied" if str(exc).startswith(f"用户 {username}：") else "ok"
            if got != expected(ident, entry):
                problems.append(f"{entry.name} as {ident.name}: expected {expected(ident, entry)}, got {got}")
    assert problems == []
    assert ArchiveTable.objects.count() == 3
