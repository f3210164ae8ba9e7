"""The audit trail: written in the same transaction as the change, append-only in the database, and
hash-chained so that ``shebao audit verify`` finds a row altered or removed behind the database's back."""

import datetime as dt
from unittest import mock

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from shebao.common.audit import audit_chain_verify, audit_record, audit_record_many
from shebao.common.identity import check_char
from shebao.common.models import AuditEvent
from shebao.registry.models import BankAccount, Person, Region
from shebao.registry.services import RegistryError, bank_account_set, person_create, person_update

pytestmark = pytest.mark.django_db


def _number(seq: int) -> str:
    first17 = f"33028219600101{seq:03d}"
    return first17 + check_char(first17)


def _town(name="浒山街道"):
    return Region.objects.get(name=name, level=Region.Level.TOWN)


def _person(seq=1, **kw):
    return person_create(user=None, id_number=_number(seq), name=kw.pop("name", "张三"), town=_town(), **kw)


# ------------------------------------------------------------- written with the change


def test_person_create_update_and_account_change_are_each_audited():
    person = _person(1, mobile="13800000001")
    created = AuditEvent.objects.get(person_id=person.pk)
    assert (created.action, created.object_type, created.object_id) == ("create", "registry.person", str(person.pk))
    assert created.after["id_number"] == person.id_number

    person_update(user=None, person=person, reason="更正", residence_address="浒山街道南门 1 号")
    updated = AuditEvent.objects.filter(person_id=person.pk, action="update").get()
    assert updated.before == {"residence_address": ""}
    assert updated.after == {"residence_address": "浒山街道南门 1 号"}
    assert updated.reason == "更正"

    bank_account_set(user=None, person=person, bank="ICBC", account_number="6222021234567890123", holder_name="张三",
                     valid_from=dt.date(2024, 1, 1))
    bank_account_set(user=None, person=person, bank="CXRCB", account_number="201000123456788", holder_name="张三",
                     valid_from=dt.date(2024, 6, 1), reason="换卡")
    events = list(AuditEvent.objects.filter(person_id=person.pk, object_type="registry.bankaccount").order_by("id"))
    assert [e.action for e in events] == ["create", "update"]
    assert events[1].before["account_number"] == "6222021234567890123"
    assert events[1].after["account_number"] == "201000123456788"
    assert events[1].reason == "换卡"


def test_a_failed_audit_write_undoes_the_change():
    failing = mock.patch("shebao.registry.services.audit_record", side_effect=DatabaseError("audit down"))
    with failing, pytest.raises(DatabaseError):
        _person(2)
    assert not Person.objects.exists()


def test_a_failed_account_change_writes_no_audit_and_changes_nothing():
    person = _person(3)
    bank_account_set(user=None, person=person, bank="ICBC", account_number="6222021234567890123", holder_name="张三",
                     valid_from=dt.date(2024, 6, 1))
    before = AuditEvent.objects.count()
    with pytest.raises(RegistryError, match="启用日期不能早于现有账户的启用日期 2024-06-01"):
        bank_account_set(user=None, person=person, bank="ICBC", account_number="6222020000000000001",
                         holder_name="张三", valid_from=dt.date(2024, 1, 1))
    assert AuditEvent.objects.count() == before
    assert BankAccount.objects.get(person=person).valid_to is None


def test_a_failed_person_update_writes_no_audit():
    person = _person(4)
    before = AuditEvent.objects.count()
    with pytest.raises(RegistryError, match="死亡日期不能早于出生日期"):
        person_update(user=None, person=person, reason="x", death_date=dt.date(1950, 1, 1))
    assert AuditEvent.objects.count() == before
    assert Person.objects.get(pk=person.pk).death_date is None


# ------------------------------------------------------------- append-only in the database


@pytest.mark.parametrize("statement", [
    "UPDATE common_auditevent SET summary = 'changed' WHERE id = %s",
    "DELETE FROM common_auditevent WHERE id = %s",
])
def test_database_refuses_update_and_delete(statement):
    event = audit_record(user=None, action="test", object_type="test", summary="original")
    refused = pytest.raises(DatabaseError, match="审计记录只能追加，不能修改或删除")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [event.pk])
    row = AuditEvent.objects.get(pk=event.pk)
    assert row.summary == "original"
    assert row.hash == event.hash


def test_orm_update_and_delete_are_refused_too():
    event = audit_record(user=None, action="test", object_type="test", summary="original")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(summary="x")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).summary == "original"


# ------------------------------------------------------------- the hash chain


def _three_events():
    return [audit_record(user=None, action="test", object_type="test", summary=f"event {i}") for i in range(3)]


def _behind_the_triggers_back(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE common_auditevent DISABLE TRIGGER audit_no_update")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE common_auditevent ENABLE TRIGGER audit_no_update")


def test_verify_reports_an_intact_chain(capsys):
    _three_events()
    count = AuditEvent.objects.count()
    call_command("audit", "verify")
    assert f"审计链完整，共校验 {count} 条记录" in capsys.readouterr().out


def test_chain_links_each_row_to_the_one_before():
    first, second, third = _three_events()
    assert second.prev_hash == first.hash and third.prev_hash == second.hash


def test_record_many_appends_a_chain_that_verifies():
    first = audit_record(user=None, username="t", action="single", object_type="test", summary="one")
    person = _person(7)
    events = audit_record_many([
        {"user": None, "username": "t", "action": "bulk", "object_type": "test", "object_id": i,
         "summary": f"第 {i} 条", "after": {"amount": dt.date(2026, 1, i)}} for i in range(1, 6)
    ] + [{"user": None, "username": "t", "action": "create", "obj": person, "person_id": person.pk}])
    assert [e.pk for e in events] == sorted(e.pk for e in events) and all(e.pk for e in events)
    stored = list(AuditEvent.objects.filter(pk__gte=events[0].pk).order_by("id"))
    assert [e.summary for e in stored[:5]] == [f"第 {i} 条" for i in range(1, 6)]
    assert stored[0].prev_hash == AuditEvent.objects.filter(pk__lt=stored[0].pk).order_by("-id").first().hash
    assert all(b.prev_hash == a.hash for a, b in zip(stored, stored[1:], strict=False))
    assert stored[0].after == {"amount": "2026-01-01"}
    assert (stored[-1].object_type, stored[-1].object_id) == ("registry.person", str(person.pk))
    assert first.pk < stored[0].pk
    after = audit_record(user=None, username="t", action="single", object_type="test", summary="after")
    assert after.prev_hash == stored[-1].hash
    assert audit_chain_verify().ok
    assert audit_record_many([]) == []


def test_verify_detects_an_altered_row():
    _, middle, _ = _three_events()
    _behind_the_triggers_back("UPDATE common_auditevent SET summary = %s WHERE id = %s", ["tampered", middle.pk])
    assert AuditEvent.objects.get(pk=middle.pk).summary == "tampered"
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify")
    assert exc.value.returncode == 1
    assert str(exc.value) == f"第 {middle.pk} 条记录的内容与其哈希不符：记录被改动"


def test_verify_detects_a_deleted_middle_row():
    _, middle, last = _three_events()
    _behind_the_triggers_back("DELETE FROM common_auditevent WHERE id = %s", [middle.pk])
    check = audit_chain_verify()
    assert not check.ok and check.bad_id == last.pk
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify")
    assert exc.value.returncode == 1
    assert str(exc.value) == f"第 {last.pk} 条记录的前序哈希不符：之前的记录被删除或改动"


def test_verify_exits_1_from_the_command_line(capsys):
    _, middle, _ = _three_events()
    _behind_the_triggers_back("UPDATE common_auditevent SET after = %s WHERE id = %s", ['{"x": 1}', middle.pk])
    with pytest.raises(SystemExit) as exc:
        execute_from_command_line(["shebao", "audit", "verify"])
    assert exc.value.code == 1
    assert f"第 {middle.pk} 条记录" in capsys.readouterr().err
