"""The demo data: valid and realistic, deterministic for a seed, loaded once, reset only when pure."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from stdnum import luhn

from shebao.accounts.models import User
from shebao.common.identity import check_char, parse_id_number, upgrade_15
from shebao.common.models import AuditEvent
from shebao.demo import steps
from shebao.demo.runner import DEMO_PASSWORD, DemoError, demo_info, demo_load, demo_loaded, demo_users_ensure
from shebao.registry.models import BankAccount, Person, Region
from shebao.registry.services import name_initials, person_create

pytestmark = pytest.mark.django_db

N = 600


@pytest.fixture(autouse=True)
def test_scale(monkeypatch):
    monkeypatch.setitem(steps.SCALES, "test", {"persons": N})


def _people() -> list[tuple[str, str, str]]:
    return list(Person.objects.order_by("id").values_list("id_number", "name", "hukou_address"))


def test_load_makes_valid_realistic_people_and_one_audit_event():
    assert not demo_loaded()
    info = demo_load(scale="test", seed=7)
    assert info["persons"] == N and demo_loaded()
    persons = list(Person.objects.select_related("town", "community"))
    assert len(persons) == N
    for p in persons:
        idn = parse_id_number(p.id_number)  # valid check character, real date
        assert (idn.sex, idn.birth_date) == (p.sex, p.birth_date)
        if p.id_number_original:
            assert len(p.id_number_original) == 15 and upgrade_15(p.id_number_original) == p.id_number
        assert p.name_initials == name_initials(p.name)
        assert p.town.level == Region.Level.TOWN
        assert p.community is None or p.community.parent_id == p.town_id
        assert p.hukou_address.startswith(p.town.name)
        assert not p.death_date or p.death_date > p.birth_date
        assert not p.mobile or (len(p.mobile) == 11 and p.mobile[0] == "1" and p.mobile[1] in "3456789")
        assert not p.phone or p.phone.startswith("0574-")
    areas = Counter(p.id_number[:6] for p in persons)
    assert areas.most_common(1)[0][0] == "330282"
    assert Counter(p.name[0] for p in persons).most_common(1)[0][0] in {"陈", "胡", "王"}
    assert any(p.id_number_original for p in persons)
    assert any(p.death_date for p in persons)
    assert any(p.phone for p in persons)
    assert {p.sex for p in persons} == {"M", "F"}
    assert min(p.birth_date.year for p in persons) < 1940

    accounts = list(BankAccount.objects.all())
    assert {a.bank for a in accounts} >= {"CXRCB", "ABC", "ICBC"}
    for a in accounts:
        assert 16 <= len(a.account_number) <= 19 and a.account_number.isdigit()
        assert a.luhn_warning == (not luhn.is_valid(a.account_number))
        assert a.valid_to is None or a.valid_to >= a.valid_from
    assert 0 < sum(a.luhn_warning for a in accounts) < len(accounts) / 3
    per_person = Counter(a.person_id for a in accounts)
    assert any(n == 2 for n in per_person.values())  # an older, closed account kept as history
    assert max(Counter(a.person_id for a in accounts if a.valid_to is None).values()) == 1

    events = AuditEvent.objects.filter(object_type="demo")
    assert [e.action for e in events] == ["demo_load"]
    assert events[0].username == "demo" and f"{N:,}" in events[0].summary


def test_same_seed_same_people_and_reset():
    demo_load(scale="test", seed=11)
    first = _people()
    with pytest.raises(DemoError, match="已有演示数据.*--reset"):
        demo_load(scale="test", seed=11)
    demo_load(scale="test", seed=11, reset=True)
    assert _people() == first
    demo_load(scale="test", seed=12, reset=True)
    assert _people() != first
    assert list(AuditEvent.objects.filter(object_type="demo").order_by("id").values_list("action", flat=True)) == [
        "demo_load", "demo_reset", "demo_load", "demo_reset", "demo_load",
    ]


def test_reset_refused_when_someone_real_was_registered():
    demo_load(scale="test", seed=3)
    town = Region.objects.get(name="浒山街道")
    first17 = "33028219500101999"
    if Person.objects.filter(id_number__startswith=first17).exists():
        first17 = "33028219500101997"
    person_create(user=None, id_number=first17 + check_char(first17), name="真实人员", town=town)
    with pytest.raises(DemoError, match="1 名人员不是演示数据"):
        demo_load(scale="test", seed=3, reset=True)
    assert Person.objects.count() == N + 1
    assert demo_info()["persons"] == N


def test_load_refused_into_a_registry_with_real_people():
    first17 = "33028219480202001"
    person_create(user=None, id_number=first17 + check_char(first17), name="胡阿大", town=Region.objects.get(name="龙山镇"))
    with pytest.raises(DemoError, match="已有 1 名人员"):
        demo_load(scale="test")
    assert Person.objects.count() == 1 and not demo_loaded()


def test_later_subsystems_add_steps(monkeypatch):
    made: list[tuple] = []
    reset_calls: list[str] = []

    def payroll_demo(scale, rng, progress):
        progress.start(2, "生成结算")
        made.append((scale, rng.random(), Person.objects.count()))
        return "结算 2 期"

    monkeypatch.setitem(steps._STEPS, "zz_test", steps.DemoStep("zz_test", payroll_demo, 90, lambda: reset_calls.append("x")))
    info = demo_load(scale="test", seed=5)
    assert info["steps"][0] == "registry" and info["steps"][-1] == "zz_test"
    assert made[0][0] == "test" and made[0][2] == N  # runs after the people exist
    assert "结算 2 期" in info["summary"]
    demo_load(scale="test", seed=5, reset=True)
    assert reset_calls == ["x"]
    assert made[1][1] == made[0][1]  # the step's own random stream: same seed, same numbers


def test_demo_users_one_per_role_idempotent():
    logins = demo_users_ensure()
    assert [u for u, _, _ in logins] == ["clerk", "clerk2", "hushan", "reviewer", "finance", "itadmin", "sysadmin"]
    assert demo_users_ensure() == logins
    assert User.objects.filter(username__in=[u for u, _, _ in logins]).count() == 7
    clerk, clerk2, hushan = (User.objects.get(username=u) for u in ("clerk", "clerk2", "hushan"))
    assert clerk.check_password(DEMO_PASSWORD) and not clerk.must_change_password
    assert clerk.has_perm("accounts.view_sensitive") and not clerk2.has_perm("accounts.view_sensitive")
    assert clerk.all_regions and not hushan.all_regions
    assert list(hushan.regions.values_list("name", flat=True)) == ["浒山街道"]
    assert User.objects.get(username="reviewer").has_perm("accounts.review")
    assert User.objects.get(username="itadmin").has_perm("accounts.it_ops")


def test_command_loads_then_refuses_in_chinese(capsys):
    out = io.StringIO()
    call_command("demo", scale="test", seed=1, no_users=True, stdout=out)
    assert f"人员 {N:,} 人" in out.getvalue()
    assert "生成人员" in capsys.readouterr().err  # the progress line
    with pytest.raises(CommandError, match="已有演示数据"):
        call_command("demo", scale="test", quiet=True, stdout=io.StringIO())
