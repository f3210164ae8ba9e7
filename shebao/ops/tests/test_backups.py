"""Backups: pg_dump with the server's own major version, the checksum file, the retention policy, the
restore into an empty database only — and the drill: backup → restore into a fresh database → equal row
counts and equal money totals in every table."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from shebao.common.models import PeriodicRun
from shebao.common.periodic import periodic_run
from shebao.ops import pgtools
from shebao.ops.backups import BackupError, backup_create, backup_restore, database_fingerprint
from shebao.ops.models import Backup
from shebao.ops.pgtools import current_target


@pytest.fixture
def folder(tmp_path, settings):
    settings.SHEBAO_BACKUP_DIR = tmp_path / "backups"
    return tmp_path / "backups"


def _admin_conn():
    kw = current_target().connect_kwargs() | {"dbname": "postgres"}
    return psycopg.connect(**kw, autocommit=True)


@pytest.fixture
def fresh_db():
    name = f"drill_{uuid.uuid4().hex[:10]}"
    with _admin_conn() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield name
    with _admin_conn() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _money():
    from shebao.bank.tests.helpers import approved_run, make_person
    from shebao.payroll.tests.helpers import make_user

    clerk = make_user("bk_maker", roles=("clerk",))
    reviewer = make_user("bk_checker", roles=("reviewer",))
    return approved_run([(make_person("备份甲", "6222020000001111"), "1234.56"),
                         (make_person("备份乙", "6222020000002222"), "0.07")], clerk, reviewer)


@pytest.mark.django_db(transaction=True)
def test_drill_backup_then_restore_into_a_fresh_database_gives_equal_counts_and_money(folder, fresh_db):
    run = _money()
    record = backup_create()
    dump = Path(record.folder) / record.file_name
    assert record.status == Backup.Status.OK and dump.is_file() and record.size == dump.stat().st_size
    side = dump.with_name(dump.name + ".sha256").read_text()
    assert side == f"{record.sha256}  {record.file_name}\n"
    before = database_fingerprint()

    result = backup_restore(path=dump, database=fresh_db)

    assert result.sha256 == record.sha256
    after = database_fingerprint(fresh_db)
    assert after == before
    lines = before["payroll_payrollline"]
    assert lines["rows"] == "2"
    assert [v for k, v in lines.items() if k != "rows" and v == "1234.63"], lines  # the run's total is there
    assert run.pk


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_database_that_is_not_empty_and_writes_nothing(folder, fresh_db):
    record = backup_create()
    dump = Path(record.folder) / record.file_name
    with psycopg.connect(**current_target(fresh_db).connect_kwargs(), autocommit=True) as conn:
        conn.execute("CREATE TABLE keep_me (id int)")
        conn.execute("INSERT INTO keep_me VALUES (1)")
    with pytest.raises(BackupError, match=r"目标数据库 drill_\w+ 不是空的（已有 1 个表、视图或序列），拒绝恢复"):
        backup_restore(path=dump, database=fresh_db)
    assert database_fingerprint(fresh_db) == {"keep_me": {"rows": "1"}}
    # the configured database itself is never empty: the command refuses it in Chinese
    with pytest.raises(CommandError, match="不是空的"):
        call_command("ops", "restore", str(dump), stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_file_whose_checksum_differs(folder, fresh_db):
    record = backup_create()
    dump = Path(record.folder) / record.file_name
    data = bytearray(dump.read_bytes())
    data[-10] ^= 0xFF
    dump.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="校验值与 .* 不符：文件已损坏或被改动，拒绝恢复"):
        backup_restore(path=dump, database=fresh_db)
    assert database_fingerprint(fresh_db) == {}
    dump.with_name(dump.name + ".sha256").unlink()
    with pytest.raises(BackupError, match="找不到校验文件"):
        backup_restore(path=dump, database=fresh_db)


@pytest.mark.django_db
def test_a_pg_dump_of_another_major_version_is_refused_clearly(folder, monkeypatch):
    monkeypatch.setattr(pgtools, "_major_of", lambda program: 9)
    with pytest.raises(BackupError, match=r"找不到与数据库服务器版本一致的 pg_dump（服务器为 PostgreSQL \d+）"):
        backup_create()
    failed = Backup.objects.get()
    assert failed.status == Backup.Status.FAILED and "postgresql-client-" in failed.message
    assert not folder.exists() or not list(folder.iterdir())


@pytest.mark.django_db
def test_the_matching_pg_dump_is_found_for_this_server():
    major, _version = pgtools.server_major()
    program = pgtools.find_program("pg_dump", major)
    assert pgtools._major_of(program) == major


@pytest.mark.django_db
def test_retention_deletes_old_files_but_keeps_the_newest(folder, settings):
    settings.SHEBAO_BACKUP_KEEP_DAYS = 30
    settings.SHEBAO_BACKUP_KEEP_MIN = 2
    folder.mkdir(parents=True)
    now = timezone.now()
    rows = []
    for age in (40, 35, 31, 1):
        name = f"old-{age}.dump"
        (folder / name).write_bytes(b"x")
        (folder / f"{name}.sha256").write_text("x")
        rows.append(Backup.objects.create(started_at=now - dt.timedelta(days=age), finished_at=now, status="ok",
                                          file_name=name, folder=str(folder)))
    from shebao.ops.backups import backup_retention_apply

    assert backup_retention_apply(now=now) == 2
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == ["old-1.dump", "old-1.dump.sha256", "old-31.dump", "old-31.dump.sha256"]
    assert sorted(Backup.objects.filter(removed_at__isnull=False).values_list("file_name", flat=True)) == [
        "old-35.dump", "old-40.dump"]
    assert Backup.objects.count() == 4  # rows are kept


@pytest.mark.django_db(transaction=True)
def test_nightly_schedule_and_command(folder):
    run = periodic_run("ops_backup", trigger=PeriodicRun.Trigger.SCHEDULE)
    assert run.outcome == "ok", run.message
    out = io.StringIO()
    call_command("ops", "backup", stdout=out)
    assert "已备份 →" in out.getvalue()
    assert Backup.objects.filter(status="ok").count() == 2
    assert len(list(folder.glob("*.dump"))) == 2
