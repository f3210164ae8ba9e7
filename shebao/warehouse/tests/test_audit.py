"""The audit: each built-in rule finds its seeded defects and nothing else; the cross-checks find a
person paid after death, a double receipt, a name that differs, evidence of life — which accepted once
becomes one certification through the certification app's hook."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from shebao.accounts.tests.factories import make_user
from shebao.common import hooks
from shebao.common.identity import is_valid_id_number
from shebao.common.models import AuditEvent
from shebao.registry.tests.factories import id_number
from shebao.warehouse.audit import audit_run
from shebao.warehouse.landing import warehouse_load
from shebao.warehouse.models import AuditRule, Finding, WhTable
from shebao.warehouse.services import (
    FindingError,
    finding_accept_certification,
    finding_confirm,
    finding_dismiss,
    rule_create,
)
from shebao.warehouse.tests.world import load_dictionary, paid_line, write
from shebao.web.tests.helpers import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def it(db, tmp_path):
    user = make_user("wh_it", roles=("it_admin",), all_regions=True)
    load_dictionary(tmp_path, user)
    return user


def findings(rule) -> list[tuple[str, str]]:
    return sorted(Finding.objects.filter(rule=rule).values_list("row_key", "value"))


def cross(kind: str) -> AuditRule:
    return AuditRule.objects.get(kind=kind)


GOOD1 = id_number(dt.date(1950, 1, 1))
GOOD2 = id_number(dt.date(1951, 2, 2))


def test_each_builtin_rule_finds_its_seeded_defects_and_nothing_else(it, tmp_path):
    good15 = "330282500101123"  # 15 digits, born 1950-01-01
    bad_check = GOOD1[:17] + ("0" if GOOD1[17] != "0" else "1")
    write(tmp_path, "ac01.csv", "aac001,aac002,aac003,aac004,aac006\n"
          f"P1,{GOOD1},甲,1,1950-01-01\n"
          f"P2,{bad_check},乙,2,1951-02-02\n"      # check character wrong
          f"P3,{good15},丙,3,1880-01-01\n"         # sex code 3 not in AAC004; born 1880 (before 1900)
          f"P4,990282195001011234,丁,9,2099-01-01\n"  # province 99; born in the future
          f"P5,{GOOD2},,1,\n"                       # no name
          f"P6,{GOOD2},戊,2,1960-05-05\n")         # same 身份证号 as P5
    warehouse_load(source_name="省", table_name="ac01", path=tmp_path / "ac01.csv", user=it)
    write(tmp_path, "ac60.csv", f"aac002,aac060\n{GOOD1},2024-05-06\n{GOOD2},2024-05-07\n")
    warehouse_load(source_name="省", table_name="ac60", path=tmp_path / "ac60.csv", user=it)
    ac01, ac60 = WhTable.objects.get(name="ac01"), WhTable.objects.get(name="ac60")
    rules = {
        "id": rule_create(user=it, name="身份证号", kind="id_number", table=ac01, column="aac002"),
        "code": rule_create(user=it, name="性别代码", kind="code", table=ac01, column="aac004"),
        "date": rule_create(user=it, name="出生日期", kind="date", table=ac01, column="aac006"),
        "nn": rule_create(user=it, name="姓名必填", kind="not_null", table=ac01, column="aac003"),
        "uniq": rule_create(user=it, name="身份证号唯一", kind="unique", table=ac01, column="aac002"),
        "ref": rule_create(user=it, name="死亡人员在人员表", kind="reference", table=ac60, column="aac002",
                           ref_table=ac01, ref_column="aac002"),
    }
    run = audit_run(user=it, rules=list(rules.values()))
    assert findings(rules["id"]) == [("P2", bad_check), ("P4", "990282195001011234")]
    assert findings(rules["code"]) == [("P3", "3")]
    assert findings(rules["date"]) == [("P3", "1880-01-01"), ("P4", "2099-01-01")]
    assert findings(rules["nn"]) == [("P5", "")]
    assert findings(rules["uniq"]) == [("P5", GOOD2), ("P6", GOOD2)]
    assert findings(rules["ref"]) == []
    assert sum(run.summary.values()) == 8
    assert Finding.objects.get(rule=rules["code"]).detail == "性别的代码值不在代码表 AAC004 中：3"
    # a reference that fails: a death of someone not in ac01
    write(tmp_path, "ac60b.csv", f"aac002,aac060\n{GOOD1},2024-05-06\n{good15},2024-05-07\n")
    warehouse_load(source_name="省", table_name="ac60", path=tmp_path / "ac60b.csv", user=it)
    audit_run(user=it, rules=[rules["ref"]])
    assert findings(rules["ref"]) == []  # good15 is in ac01 (P3)
    write(tmp_path, "ac60c.csv", f"aac002,aac060\n{GOOD1},2024-05-06\n330282195212120019,2024-05-07\n")
    warehouse_load(source_name="省", table_name="ac60", path=tmp_path / "ac60c.csv", user=it)
    audit_run(user=it, rules=[rules["ref"]])
    assert findings(rules["ref"]) == [("330282195212120019", "330282195212120019")]


def test_the_sql_id_number_rule_is_the_python_rule():
    """The SQL form of GB 11643 agrees with common.identity on valid, mistyped and odd numbers."""
    from django.db import connection
    from psycopg import sql

    from shebao.warehouse.audit import id_number_ok

    numbers = [id_number(dt.date(1940 + i, 1 + i % 12, 1 + i % 28)) for i in range(40)]
    numbers += [n[:17] + ("X" if n[17] != "X" else "0") for n in numbers[:20]]
    numbers += ["330282500101123", "330282501301123", "000282195001011234", "33028218790101123X",
                "330282195002301234", "11010519491231002X", "110105194912310021", "abc", ""]
    with connection.cursor() as cursor:
        for n in numbers:
            cursor.execute(sql.SQL("SELECT {}").format(id_number_ok(sql.Literal(n))))
            assert cursor.fetchone()[0] == is_valid_id_number(n), n


def _world(it, tmp_path):
    clerk = make_user("wh_clerk", roles=("clerk",), all_regions=True)
    dead = make_person("死者", number=id_number(dt.date(1940, 3, 3)))
    double = make_person("双领", number=id_number(dt.date(1941, 4, 4)))
    alive = make_person("健在", number=id_number(dt.date(1942, 5, 5)))
    months = [dt.date(2024, m, 1) for m in (4, 5, 6, 7)]
    for m in months:
        for p in (dead, double, alive):
            paid_line(p, m, it)
    paid_line(alive, dt.date(2024, 8, 1), it, status="failed")
    write(tmp_path, "ac60.csv", f"aac002,aac003,aac060\n{dead.id_number},死者,2024-05-20\n"
                                f"{id_number(dt.date(1930, 1, 1))},外人,2024-01-01\n")
    warehouse_load(source_name="省", table_name="ac60", path=tmp_path / "ac60.csv", user=it)
    write(tmp_path, "pay.csv", "aac002,aae002,aae140,aae019\n"
                               f"{double.id_number},202406,120,3100.00\n"
                               f"{double.id_number},202409,120,3100.00\n"     # no local line that month
                               f"{alive.id_number},202406,120,0\n")          # nothing paid
    warehouse_load(source_name="省", table_name="ic_pay", path=tmp_path / "pay.csv", user=it)
    write(tmp_path, "ac01.csv", f"aac001,aac002,aac003\nA1,{alive.id_number},健在\nA2,{double.id_number},双岭\n")
    warehouse_load(source_name="省", table_name="ac01", path=tmp_path / "ac01.csv", user=it)
    return clerk, dead, double, alive


def test_death_double_and_name_cross_checks(it, tmp_path):
    clerk, dead, double, alive = _world(it, tmp_path)
    audit_run(user=it, rules=[cross("death"), cross("double"), cross("name")])
    death = list(Finding.objects.filter(rule__kind="death").order_by("month").values_list("person_id", "month", "value"))
    assert death == [(dead.pk, dt.date(2024, 6, 1), "2000.00"), (dead.pk, dt.date(2024, 7, 1), "2000.00")]
    f = Finding.objects.filter(rule__kind="death").order_by("month").first()
    assert f.detail == "死亡日期 2024-05-20（省.ac60），仍发放 2024-06 待遇 2000.00 元"
    assert f.event_date == dt.date(2024, 5, 20)
    dbl = list(Finding.objects.filter(rule__kind="double").values_list("person_id", "month"))
    assert dbl == [(double.pk, dt.date(2024, 6, 1))]
    assert Finding.objects.get(rule__kind="double").detail == "2024-06 本地发放 2000.00 元，省.养老待遇发放 同月另发 3100.00 元"
    names = list(Finding.objects.filter(rule__kind="name").values_list("person_id", "value"))
    # ac01 says 双岭, ac60 says 死者 (same as ours): one finding
    assert names == [(double.pk, "双岭")]


def test_findings_are_confirmed_or_dismissed_once_and_not_raised_again(it, tmp_path):
    clerk, dead, double, alive = _world(it, tmp_path)
    audit_run(user=it, rules=[cross("death")])
    first, second = Finding.objects.filter(rule__kind="death").order_by("month")
    started = []
    with hooks.swapped("death_flow_starter", lambda person, on, user, **kw: started.append((person.pk, on, kw["source"]))):
        finding_confirm(finding=first, user=clerk, note="已核实")
    assert started == [(dead.pk, dt.date(2024, 5, 20), "回流库")]
    with pytest.raises(FindingError, match="排除须填写说明"):
        finding_dismiss(finding=second, user=clerk, note=" ")
    finding_dismiss(finding=second, user=clerk, note="已退回")
    with pytest.raises(FindingError, match="已处理过"):
        finding_confirm(finding=second, user=clerk)
    assert AuditEvent.objects.filter(action__startswith="warehouse.finding_", person_id=dead.pk).count() == 2
    audit_run(user=it, rules=[cross("death")])
    assert Finding.objects.filter(rule__kind="death").count() == 2  # decided ones are not raised again


def test_evidence_of_life_accepted_once_becomes_one_certification(it, tmp_path):
    clerk, dead, double, alive = _world(it, tmp_path)
    for m in (9, 10, 11):  # recent months: alive is receiving now
        paid_line(alive, (timezone.localdate().replace(day=1) - dt.timedelta(days=31 * (m - 8))).replace(day=1), it)
    recent = timezone.localdate() - dt.timedelta(days=10)
    write(tmp_path, "act.csv", f"seq,aac002,act_date,kind\n1,{alive.id_number},{recent - dt.timedelta(days=30)},1\n"
                               f"2,{alive.id_number},{recent},2\n3,{dead.id_number},{recent},1\n")
    warehouse_load(source_name="省", table_name="ke_act", path=tmp_path / "act.csv", user=it)
    # the certification app's dates: certified today, after the activity → no finding
    from django.db.models import F, Value

    from shebao.registry.models import Person

    with hooks.swapped("certification_last_dates", lambda: Person.objects.filter(pk=alive.pk).annotate(
            person_id=F("id"), last_on=Value(timezone.localdate())).values("person_id", "last_on")):
        audit_run(user=it, rules=[cross("life")])
    assert Finding.objects.filter(rule__kind="life").count() == 0
    with hooks.swapped("certification_last_dates", None):  # no certification known: activity within the last year
        audit_run(user=it, rules=[cross("life")])
    life = Finding.objects.get(rule__kind="life")
    assert (life.person_id, life.event_date) == (alive.pk, recent)
    with hooks.swapped("certification_recorder", None), pytest.raises(FindingError, match="生存认证功能尚未启用"):
        finding_accept_certification(finding=life, user=clerk)
    recorded = []

    def record(person, on, *, method, user, source, note):
        recorded.append((person.pk, on, method, user.pk))

    with hooks.swapped("certification_recorder", record):
        finding_accept_certification(finding=life, user=clerk, note="医保结算")
        with pytest.raises(FindingError, match="已处理过"):
            finding_accept_certification(finding=life, user=clerk)
    assert recorded == [(alive.pk, recent, "数据比对", clerk.pk)]
    life.refresh_from_db()
    assert life.certified and life.state == "confirmed"
    with hooks.swapped("certification_last_dates", None):
        audit_run(user=it, rules=[cross("life")])
    assert Finding.objects.filter(rule__kind="life").count() == 1  # accepted: not raised again


def test_the_sql_check_character_and_number_functions():
    """shebao_id_check_char / shebao_id_number_ok (migration 0004) against common.identity: 18-digit
    numbers with a digit, an X or a lowercase x as check character, a wrong check character, 15-digit
    numbers valid and with an impossible birth date, a bad province, a future birth date, junk and NULL (not valid)."""
    from django.db import connection

    from shebao.common.identity import check_char

    valid = [id_number(dt.date(1940 + i, 1 + i % 12, 1 + i % 28)) for i in range(60)]
    with_x = [n for n in valid if n[17] == "X"]
    assert with_x, "the sample has a number ending in X"
    cases = {n: True for n in valid}
    cases.update({n[:17] + "x": True for n in with_x})  # lowercase x: valid, as parse_id_number upper-cases
    cases.update({n[:17] + ("0" if n[17] == "X" else "X"): False for n in valid[:20]})  # wrong check character
    cases.update({n[:17] + str((int(n[17]) + 1) % 10): False for n in valid if n[17] != "X"})
    cases.update({
        "330282500101123": True,  # 15 digits: 1950-01-01
        "330282500230123": False,  # 15 digits: 1950-02-30 is no date
        "990282500101123": False,  # 15 digits: province 99
        "33028250010112X": False,  # 15 characters, not digits
        "11010519491231002X": True, "110105194912310021": False,
        "11010520000229001" + check_char("11010520000229001"): True,  # 2000-02-29 is a date (leap year)
        "11010519000229001" + check_char("11010519000229001"): False,  # 1900 is not a leap year
        "33028218790101" + "123" + check_char("33028218790101123"): False,  # born before 1880
        "33028221000101" + "123" + check_char("33028221000101123"): False,  # born in the future
        "000282195001011234": False, "abc": False, "": False, "3302821950010112345": False,
    })
    with connection.cursor() as cursor:
        for n, expected in cases.items():
            cursor.execute("SELECT shebao_id_number_ok(%s, current_date)", [n])
            got = cursor.fetchone()[0]
            assert got == expected == is_valid_id_number(n), n
        for n in valid:
            cursor.execute("SELECT shebao_id_check_char(%s)", [n[:17]])
            assert cursor.fetchone()[0] == n[17] == check_char(n[:17])
        for junk in ("1234567890123456", "12345678901234567X", "1234567890123456a", None):
            cursor.execute("SELECT shebao_id_check_char(%s)", [junk])
            assert cursor.fetchone()[0] is None, junk
        cursor.execute("SELECT shebao_id_number_ok(NULL, current_date)")
        assert cursor.fetchone()[0] is False  # no number is not a valid one
        # set-based: one statement over many numbers, the same answers
        cursor.execute("SELECT n FROM unnest(%s::text[]) n WHERE NOT shebao_id_number_ok(n, current_date)", [list(cases)])
        assert sorted(r[0] for r in cursor.fetchall()) == sorted(n for n, ok in cases.items() if not ok)
        cursor.execute("SELECT provolatile FROM pg_proc WHERE proname IN ('shebao_id_check_char', 'shebao_id_number_ok', "
                       "'shebao_yyyymmdd_ok')")
        assert [r[0] for r in cursor.fetchall()] == ["i", "i", "i"]
