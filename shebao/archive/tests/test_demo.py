"""The archive's demo step: a legacy dump generated from the demo registry and loaded through the real
``archive_load``; a retired demo person is found by the 15-digit number in three tables; a second run adds
nothing; the reset removes exactly what the step made."""

from __future__ import annotations

import random

import pytest
from django.db import DatabaseError, connection, transaction

from shebao.accounts.models import User
from shebao.archive import selectors as sel
from shebao.archive.demo import DEMO_LOAD, TABLES, archive_demo, archive_demo_reset
from shebao.archive.models import ArchiveLoad, ArchiveTable
from shebao.common.jobs import NullProgress
from shebao.common.models import AuditEvent
from shebao.demo import steps
from shebao.registry.models import Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setitem(steps.SCALES, "test", {"persons": 500})
    people = next(s for s in steps.demo_steps() if s.name == "registry")
    people.func("test", random.Random("7:registry"), NullProgress())
    return Person.objects.count()


def _archive(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _run() -> str | None:
    return archive_demo("test", random.Random("7:archive"), NullProgress())


def test_demo_step_loads_the_legacy_dump_and_a_15_digit_search_finds_three_tables(registry):
    line = _run()
    load = ArchiveLoad.objects.get(name=DEMO_LOAD)
    assert line == f"原遗留养老系统档案：3 张表 {load.rows:,} 行，{load.persons:,} 人"
    assert sorted(ArchiveTable.objects.values_list("name", flat=True)) == sorted(TABLES)
    assert load.created_by.username == "itadmin"
    assert AuditEvent.objects.filter(action="archive.load").count() == 1
    # 100 persons (a fifth of the registry's 500): 70 of the registry, 30 only the old system knew
    assert _archive("SELECT count(*) FROM archive.yl_ac01") == [(100,)]
    assert load.persons == 100
    it = User.objects.get(username="itadmin")
    # the persons the 待遇发放 table writes with 15 digits, who are in all three tables
    found = _archive(
        "SELECT DISTINCT a.aac002 FROM archive.yl_ac43 a JOIN archive.person p ON p.idkey = left(a.aac002, 6) || '19' "
        "|| substr(a.aac002, 7, 9) JOIN archive.person_row r ON r.person_id = p.id WHERE length(a.aac002) = 15 "
        "GROUP BY a.aac002 HAVING count(DISTINCT r.table_id) = 3 ORDER BY 1")
    assert len(found) >= 3
    registered = 0
    for (id15,) in found:
        hit = sel.person_search(user=it, q=id15)
        assert len(hit) == 1
        assert [t.name for t in hit[0].tables] == ["yl_ac01", "yl_ac43", "yl_ic20"]
        assert hit[0].id_number[:6] + hit[0].id_number[8:17] == id15
        registered += hit[0].registry_id is not None
    assert registered >= 1  # demo persons of the live system, with a link to their registry page
    # persons only the old system knew are found too (not registered here)
    only = _archive("SELECT aac002 FROM archive.yl_ac01 WHERE ryzt = '3' ORDER BY _row LIMIT 1")[0][0]
    assert sel.person_search(user=it, q=only)[0].registry_id is None


def test_demo_step_is_idempotent_and_its_reset_removes_it(registry):
    _run()
    load = ArchiveLoad.objects.get(name=DEMO_LOAD)
    counts = _archive("SELECT (SELECT count(*) FROM archive.person), (SELECT count(*) FROM archive.person_row)")
    assert _run() == f"原遗留养老系统档案：已有（批次 {load.pk}，{load.rows:,} 行）"
    assert ArchiveLoad.objects.count() == 1 and AuditEvent.objects.filter(action="archive.load").count() == 1
    assert _archive("SELECT (SELECT count(*) FROM archive.person), (SELECT count(*) FROM archive.person_row)") == counts
    archive_demo_reset()
    assert not ArchiveLoad.objects.exists() and not ArchiveTable.objects.exists()
    assert _archive("SELECT to_regclass('archive.yl_ac01'), (SELECT count(*) FROM archive.person), "
                    "(SELECT count(*) FROM archive.person_row)") == [(None, 0, 0)]
    # the archive is read-only again after the reset (its writes were this transaction's only)
    with pytest.raises(DatabaseError, match="原遗留养老系统档案是只读的"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM archive.person")
