import datetime as dt

import pytest

from shebao.accounts.services import user_create
from shebao.common.audit import audit_chain_verify
from shebao.common.models import AuditEvent
from shebao.registry.models import BankAccount, Person, Region
from shebao.registry.services import (
    RegistryError,
    bank_account_bulk_set,
    bank_account_set,
    name_initials,
    person_bulk_create,
    person_create,
    person_update,
)
from shebao.registry.tests.factories import id_number, make_person, town

pytestmark = pytest.mark.django_db


def test_name_initials():
    assert name_initials("张三丰") == "zsf"
    assert name_initials("岑 小明") == "cxm"


def test_create_derives_sex_birth_and_audits():
    number = id_number(born=dt.date(1948, 5, 6), male=False)
    person = person_create(user=None, id_number=number, name=" 王秀英 ", town=town())
    assert (person.sex, person.birth_date, person.name, person.name_initials) == ("F", dt.date(1948, 5, 6), "王秀英", "wxy")
    event = AuditEvent.objects.get(object_type="registry.person", object_id=str(person.pk))
    assert event.action == "create" and event.person_id == person.pk
    assert event.after["id_number"] == number


def test_create_15_digit_keeps_original():
    person = person_create(user=None, id_number="330282500101001", name="李四", town=town())
    assert person.id_number.startswith("33028219500101001")
    assert person.id_number_original == "330282500101001"


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        ({"id_number": "330282195001010010"}, "校验位错误"),
        ({"birth_date": dt.date(1950, 1, 2)}, "出生日期 1950-01-02 与身份证号"),
        ({"sex": "F"}, "性别与身份证号"),
        ({"name": "  "}, "姓名不能为空"),
    ],
)
def test_create_refused_writes_nothing(kwargs, msg):
    args = {"id_number": id_number(born=dt.date(1950, 1, 1), male=True), "name": "赵一", "town": town()} | kwargs
    with pytest.raises(RegistryError, match=msg):
        person_create(user=None, **args)
    assert Person.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_duplicate_id_number_refused():
    number = id_number()
    person_create(user=None, id_number=number, name="甲", town=town())
    with pytest.raises(RegistryError, match="已登记"):
        person_create(user=None, id_number=number, name="乙", town=town())
    assert Person.objects.count() == 1
    assert AuditEvent.objects.count() == 1


def test_community_must_belong_to_town():
    other = Region.objects.filter(parent__name="观海卫镇").first()
    with pytest.raises(RegistryError, match="不属于 浒山街道"):
        person_create(user=None, id_number=id_number(), name="钱二", town=town(), community=other)
    assert Person.objects.count() == 0


def test_town_clerk_cannot_create_in_other_town():
    clerk = user_create(actor=None, username="hs", full_name="浒山经办", password="Passw0rd!x", roles=["clerk"],
                        region_ids=[town().pk], must_change_password=False)
    with pytest.raises(RegistryError, match="不在您的管辖范围"):
        person_create(user=clerk, id_number=id_number(), name="孙三", town=town("周巷镇"))
    assert Person.objects.count() == 0


def test_update_audits_only_changes_with_reason():
    person = make_person(name="张三丰")
    person_update(user=None, person=person, mobile="13812341234", notes="", reason="本人来电更正")
    event = AuditEvent.objects.filter(action="update").get()
    assert event.before == {"mobile": ""}
    assert event.after == {"mobile": "13812341234"}
    assert event.reason == "本人来电更正"
    # no change → no event
    person_update(user=None, person=person, mobile="13812341234")
    assert AuditEvent.objects.filter(action="update").count() == 1


def test_update_refused_leaves_person_unchanged():
    person = make_person(name="张三丰")
    with pytest.raises(RegistryError, match="死亡日期不能早于出生日期"):
        person_update(user=None, person=person, death_date=dt.date(1940, 1, 1), mobile="13900000000")
    person.refresh_from_db()
    assert person.death_date is None and person.mobile == ""
    with pytest.raises(RegistryError, match="不能修改的字段"):
        person_update(user=None, person=person, id_number="x")
    assert AuditEvent.objects.filter(action="update").count() == 0


def test_bank_account_change_keeps_history_and_warns_on_luhn():
    person = make_person()
    first = bank_account_set(user=None, person=person, bank="CXRCB", account_number="6222021001115704287",
                             holder_name="张三丰", valid_from=dt.date(2020, 1, 1))
    assert first.warnings == []
    second = bank_account_set(user=None, person=person, bank="ABC", account_number="6228 4800 1234 5678 9",
                              holder_name="张三丰", valid_from=dt.date(2026, 3, 1), reason="原卡挂失")
    assert second.account.account_number == "6228480012345678 9".replace(" ", "")
    assert any("Luhn" in w for w in second.warnings)
    assert second.account.luhn_warning is True
    accounts = list(BankAccount.objects.filter(person=person).order_by("valid_from"))
    assert [a.valid_to for a in accounts] == [dt.date(2026, 2, 28), None]
    events = AuditEvent.objects.filter(object_type="registry.bankaccount").order_by("id")
    assert [e.action for e in events] == ["create", "update"]
    assert events[1].before["account_number"] == "6222021001115704287"
    assert events[1].reason == "原卡挂失"


def test_bank_account_earlier_than_current_refused():
    person = make_person()
    bank_account_set(user=None, person=person, bank="CXRCB", account_number="6222021001115704287",
                     holder_name="张三丰", valid_from=dt.date(2026, 1, 1))
    with pytest.raises(RegistryError, match="启用日期不能早于"):
        bank_account_set(user=None, person=person, bank="ABC", account_number="6228480012345678",
                         holder_name="张三丰", valid_from=dt.date(2025, 1, 1))
    assert BankAccount.objects.filter(person=person).count() == 1
    assert BankAccount.objects.get(person=person).valid_to is None


# -- bulk: person_bulk_create, bank_account_bulk_set ---------------------------------------------


def _fifteen(born: dt.date, seq: int) -> str:
    return f"330282{born:%y%m%d}{seq:03d}"


def test_bulk_create_validates_derives_and_audits_each_person():
    a = id_number(born=dt.date(1948, 5, 6), male=False)
    old = _fifteen(dt.date(1939, 2, 3), 123)  # 15 digits: upgraded, original kept
    persons = person_bulk_create(user=None, reason="花名册导入", rows=[
        {"id_number": a, "name": " 王秀英 ", "town": town(), "mobile": "13812341234"},
        {"id_number": old, "name": "胡阿毛", "town": town("周巷镇"), "sex": "M", "birth_date": dt.date(1939, 2, 3)},
    ])
    p1, p2 = (Person.objects.get(pk=p.pk) for p in persons)
    assert (p1.sex, p1.birth_date, p1.name, p1.name_initials, p1.mobile) == (
        "F", dt.date(1948, 5, 6), "王秀英", "wxy", "13812341234")
    assert (p2.id_number[:8], len(p2.id_number), p2.id_number_original, p2.sex) == ("33028219", 18, old, "M")
    events = list(AuditEvent.objects.filter(object_type="registry.person").order_by("id"))
    assert [(e.action, e.object_id, e.person_id, e.reason) for e in events] == [
        ("create", str(p1.pk), p1.pk, "花名册导入"), ("create", str(p2.pk), p2.pk, "花名册导入")]
    assert events[0].after["id_number"] == a and events[0].summary == "新增人员 王秀英"
    assert audit_chain_verify().ok


@pytest.mark.parametrize(("bad", "message"), [
    ({"id_number": "330282194805061234"}, "校验"),
    ({"name": " "}, "姓名不能为空"),
    ({"sex": "M"}, "性别与身份证号"),
    ({"town": "community"}, "不是镇街道"),
    ({"nickname": "x"}, "未知字段"),
    ({"id_number": "same"}, "重复"),
    ({"id_number": "taken"}, "已登记"),
])
def test_bulk_create_refuses_a_bad_row_and_writes_nothing(bad, message):
    taken = make_person(name="已登记")
    good = {"id_number": id_number(), "name": "甲", "town": town()}
    row = {"id_number": id_number(male=False), "name": "乙", "town": town(), **bad}
    if bad.get("id_number") == "same":
        row["id_number"] = good["id_number"]
    if bad.get("id_number") == "taken":
        row["id_number"] = taken.id_number
    if bad.get("town") == "community":
        row["town"] = Region.objects.filter(level="community").first()
    before = (Person.objects.count(), AuditEvent.objects.count())
    with pytest.raises(RegistryError, match=message) as exc:
        person_bulk_create(user=None, rows=[good, row])
    assert exc.value.index == 1
    assert (Person.objects.count(), AuditEvent.objects.count()) == before


def test_bulk_create_checks_the_clerks_scope():
    clerk = user_create(actor=None, username="hs2", full_name="浒山经办", password="Passw0rd!x", roles=["clerk"],
                        region_ids=[town().pk], must_change_password=False)
    with pytest.raises(RegistryError, match="周巷镇 不在您的管辖范围内"):
        person_bulk_create(user=clerk, rows=[{"id_number": id_number(), "name": "甲", "town": town()},
                                             {"id_number": id_number(), "name": "乙", "town": town("周巷镇")}])
    assert Person.objects.count() == 0
    assert len(person_bulk_create(user=clerk, rows=[{"id_number": id_number(), "name": "甲", "town": town()}])) == 1


def test_bulk_account_set_opens_closes_and_audits():
    a, b = make_person(name="甲"), make_person(name="乙")
    bank_account_set(user=None, person=a, bank="ICBC", account_number="6222020000001111", holder_name="甲",
                     valid_from=dt.date(2020, 1, 1))
    changes = bank_account_bulk_set(user=None, reason="花名册导入", rows=[
        {"person": a, "bank": "ABC", "account_number": "6228 4800 0000 0002", "holder_name": "甲",
         "valid_from": dt.date(2026, 3, 1)},
        # a 19-digit ICBC number failing Luhn (was "1234567": 7 digits is no ICBC account and is now refused)
        {"person": b, "bank": "ICBC", "account_number": "6222021234567890124", "holder_name": "乙",
         "valid_from": dt.date(2026, 3, 1)},
    ])
    assert [c.account.account_number for c in changes] == ["6228480000000002", "6222021234567890124"]
    assert changes[1].warnings and changes[1].account.luhn_warning
    assert list(BankAccount.objects.filter(person=a).order_by("valid_from").values_list(
        "bank", "valid_from", "valid_to")) == [("ICBC", dt.date(2020, 1, 1), dt.date(2026, 2, 28)),
                                               ("ABC", dt.date(2026, 3, 1), None)]
    events = list(AuditEvent.objects.filter(object_type="registry.bankaccount", reason="花名册导入").order_by("id"))
    assert [(e.action, e.person_id) for e in events] == [("update", a.pk), ("create", b.pk)]
    assert events[0].before["account_number"] == "6222020000001111" and events[1].before is None


def test_bulk_account_set_refusal_writes_nothing():
    a, b = make_person(name="甲"), make_person(name="乙")
    bank_account_set(user=None, person=b, bank="ICBC", account_number="6222020000001111", holder_name="乙",
                     valid_from=dt.date(2026, 5, 1))
    before = (BankAccount.objects.count(), AuditEvent.objects.count())
    with pytest.raises(RegistryError, match="启用日期不能早于现有账户的启用日期 2026-05-01") as exc:
        bank_account_bulk_set(user=None, rows=[
            {"person": a, "bank": "ICBC", "account_number": "6222020000002222", "holder_name": "甲",
             "valid_from": dt.date(2026, 3, 1)},
            {"person": b, "bank": "ICBC", "account_number": "6222020000003333", "holder_name": "乙",
             "valid_from": dt.date(2026, 3, 1)}])
    assert exc.value.index == 1
    with pytest.raises(RegistryError, match="户名不能为空"):
        bank_account_bulk_set(user=None, rows=[{"person": a, "bank": "ICBC", "account_number": "6222020000004444",
                                                "holder_name": ""}])
    assert (BankAccount.objects.count(), AuditEvent.objects.count()) == before
    assert BankAccount.objects.get(person=b).valid_to is None


def test_the_same_account_change_twice_writes_once():
    """A double submit of the account page: the second identical change (same bank, number, 户名,
    网点 and start day) finds it already current and writes nothing — no second history row, no audit."""
    import datetime as dt

    from shebao.common.models import AuditEvent
    from shebao.registry.models import BankAccount
    from shebao.registry.services import bank_account_set

    person = make_person(name="双击")
    first = bank_account_set(user=None, person=person, bank="ICBC", account_number="6222021234567890123",
                             holder_name="双击", valid_from=dt.date(2026, 1, 1))
    rows, audits = BankAccount.objects.filter(person=person).count(), AuditEvent.objects.count()
    again = bank_account_set(user=None, person=person, bank="ICBC", account_number="6222 0212 3456 7890 123",
                             holder_name=" 双击 ", valid_from=dt.date(2026, 1, 1))
    assert again.account.pk == first.account.pk
    assert (BankAccount.objects.filter(person=person).count(), AuditEvent.objects.count()) == (rows, audits)
    changed = bank_account_set(user=None, person=person, bank="ICBC", account_number="6222021234567890124",
                               holder_name="双击", valid_from=dt.date(2026, 1, 1))
    assert changed.account.pk != first.account.pk and BankAccount.objects.filter(person=person).count() == rows + 1
