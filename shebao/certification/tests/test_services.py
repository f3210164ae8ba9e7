"""生存认证 on exact months and amounts: overdue → suspended from the right month; the sweep twice = once;
certified three months later → resumed with three months of 补发 at each month's amounts (a raise in
between included); certified inside the suspension's first month → no gap; 判刑收监 keeps its own rule;
death after that month's payment → the overpayment netted against owed 补发 first, the rest 待追回."""

import datetime as dt
import io
import json
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.benefits.models import Adjustment, Enrollment, StatusChange, Suspension
from shebao.benefits.services import (
    adjustment_create,
    benefit_amount_set,
    enrollment_resume,
    enrollment_suspend,
)
from shebao.benefits.tests.factories import enroll, make_person, make_user, zg
from shebao.certification.models import Certification, SchemeCycle
from shebao.certification.services import (
    CertificationError,
    certification_record,
    certification_sweep,
    due_date,
    grace_end,
)
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine
from shebao.payroll.services import payroll_run_approve, payroll_run_compute

pytestmark = pytest.mark.django_db

ALL = ("certification.view_certification", "certification.add_certification", "certification.record_death",
       "certification.run_sweep")


@pytest.fixture
def clerk(db):
    return make_user("certclerk", perms=ALL)


@pytest.fixture
def reviewer(db):
    return make_user("certrev", reviewer=True)


def run(period, clerk, reviewer, approve=True):
    r = payroll_run_compute(scheme=zg(), period=period, user=clerk)
    return payroll_run_approve(run=r, user=reviewer) if approve else r


def line_of(person, period):
    return PayrollLine.objects.filter(person_id=person.pk, run__period=period, run__kind="regular").first()


@pytest.fixture
def overdue(clerk):
    """Paid 2150.00 a month from 2025-01; certified 2025-02-10 → due 2026-02-10, grace to 2026-02-28."""
    person = make_person("甲")
    enrollment = enroll(person, user=clerk)
    certification_record(person, dt.date(2025, 2, 10), "社区上门", clerk)
    return person, enrollment


def test_due_and_grace_rules():
    assert due_date(last_certified=dt.date(2025, 2, 10), start_month=dt.date(2024, 1, 1), months=12) == \
        dt.date(2026, 2, 10)
    assert due_date(last_certified=None, start_month=dt.date(2025, 3, 1), months=12) == dt.date(2026, 3, 1)
    assert due_date(last_certified=dt.date(2024, 8, 31), start_month=dt.date(2024, 1, 1), months=6) == \
        dt.date(2025, 2, 28)
    assert grace_end(dt.date(2026, 2, 10)) == dt.date(2026, 2, 28)


def test_sweep_suspends_from_the_month_after_the_latest_run_and_twice_is_once(overdue, clerk, reviewer):
    person, enrollment = overdue
    for p in ("2026-01", "2026-02", "2026-03"):
        run(p, clerk, reviewer)
    # still in grace on the last day of the due month
    assert certification_sweep(on=dt.date(2026, 2, 28), user=clerk).suspended == 0
    result = certification_sweep(on=dt.date(2026, 3, 5), user=clerk)
    assert result.suspended == 1
    s = Suspension.objects.get(enrollment=enrollment)
    assert (s.reason.code, s.from_month, s.to_month, s.pays_on_resume) == ("no_cert", dt.date(2026, 4, 1), None, True)
    assert Enrollment.objects.get(pk=enrollment.pk).payment_status == "suspended"
    change = StatusChange.objects.filter(enrollment=enrollment).last()
    assert (change.to_status, change.effective_month, change.event_date) == ("suspended", dt.date(2026, 4, 1),
                                                                           dt.date(2026, 3, 5))
    assert AuditEvent.objects.filter(action="suspend", person_id=person.pk).count() == 1
    before = (Suspension.objects.count(), StatusChange.objects.count(), AuditEvent.objects.filter(action="suspend").count())
    again = certification_sweep(on=dt.date(2026, 3, 5), user=clerk)
    assert again.suspended == 0
    assert before == (Suspension.objects.count(), StatusChange.objects.count(),
                      AuditEvent.objects.filter(action="suspend").count())
    # the next run does not pay them
    run("2026-04", clerk, reviewer)
    assert line_of(person, dt.date(2026, 4, 1)) is None


def test_sweep_uses_the_days_month_when_later_and_the_schemes_cycle(clerk):
    person = make_person("乙")
    enrollment = enroll(person, user=clerk, start="2025-06")  # no certification: due 2026-06-01
    SchemeCycle.objects.create(scheme=zg(), months=6)  # due 2025-12-01, grace to 2025-12-31
    assert certification_sweep(on=dt.date(2025, 12, 31), user=clerk).suspended == 0
    assert certification_sweep(on=dt.date(2026, 1, 2), user=clerk).suspended == 1
    assert Suspension.objects.get(enrollment=enrollment).from_month == dt.date(2026, 1, 1)


def test_sweep_json_command(overdue, clerk):
    out = io.StringIO()
    call_command("certification", "sweep", "--on", "2026-03-05", "--as", clerk.username, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["suspended"] == 1
    out = io.StringIO()
    call_command("certification", "sweep", "--on", "2026-03-05", "--as", clerk.username, "--json", stdout=out)
    assert json.loads(out.getvalue())["suspended"] == 0
    with pytest.raises(CommandError, match="格式不正确"):
        call_command("certification", "sweep", "--on", "2026-13-05", "--as", clerk.username)


def test_certified_three_months_later_resumes_with_three_months_of_arrears_at_each_months_amount(
        overdue, clerk, reviewer):
    person, enrollment = overdue
    for p in ("2026-01", "2026-02", "2026-03"):
        run(p, clerk, reviewer)
    certification_sweep(on=dt.date(2026, 3, 5), user=clerk)  # suspended from 2026-04
    run("2026-04", clerk, reviewer)
    # a raise effective 2026-05 (basic 2000.00 → 2100.00), recorded while suspended
    benefit_amount_set(enrollment=enrollment, item="basic", amount="2100.00", from_month="2026-05", user=clerk,
                       note="调待")
    run("2026-05", clerk, reviewer)
    run("2026-06", clerk, reviewer)
    assert [line_of(person, dt.date(2026, m, 1)) for m in (4, 5, 6)] == [None, None, None]
    result = certification_record(person, dt.date(2026, 7, 3), "经办机构", clerk, place="浒山街道社保所")
    assert result.created
    [resumed] = result.resumed
    assert (resumed.how, resumed.from_month, resumed.arrears) == ("resumed", dt.date(2026, 7, 1), D("6650.00"))
    assert resumed.months == [dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)]
    arrears = Adjustment.objects.get(enrollment=enrollment, kind="arrears", state="pending")
    assert arrears.detail["months"] == {"2026-04": "2150.00", "2026-05": "2250.00", "2026-06": "2250.00"}
    s = Suspension.objects.get(enrollment=enrollment)
    assert (s.from_month, s.to_month) == (dt.date(2026, 4, 1), dt.date(2026, 6, 1))
    assert Enrollment.objects.get(pk=enrollment.pk).payment_status == "active"
    # the next run pays the month and the 补发
    run("2026-07", clerk, reviewer)
    line = line_of(person, dt.date(2026, 7, 1))
    assert (line.gross, line.net) == (D("8900.00"), D("8900.00"))  # 2250.00 + 6650.00
    # the same certification again changes nothing
    again = certification_record(person, dt.date(2026, 7, 3), "经办机构", clerk)
    assert (again.created, again.resumed) == (False, [])
    assert Certification.objects.filter(person=person).count() == 2


def test_certified_inside_the_first_month_cancels_the_suspension(overdue, clerk, reviewer):
    person, enrollment = overdue
    for p in ("2026-01", "2026-02", "2026-03"):
        run(p, clerk, reviewer)
    certification_sweep(on=dt.date(2026, 4, 2), user=clerk)  # from 2026-04 (day's month = latest + 1)
    assert Suspension.objects.get(enrollment=enrollment).from_month == dt.date(2026, 4, 1)
    result = certification_record(person, dt.date(2026, 4, 20), "手机", clerk)
    [resumed] = result.resumed
    assert (resumed.how, resumed.from_month, resumed.arrears) == ("cancelled", dt.date(2026, 4, 1), D("0.00"))
    assert not Suspension.objects.filter(enrollment=enrollment).exists()
    assert not Adjustment.objects.filter(enrollment=enrollment).exists()
    assert AuditEvent.objects.filter(action="suspension_cancel", person_id=person.pk).count() == 1
    run("2026-04", clerk, reviewer)
    assert line_of(person, dt.date(2026, 4, 1)).gross == D("2150.00")


def test_prison_keeps_its_own_rule(overdue, clerk, reviewer):
    person, enrollment = overdue
    for p in ("2026-01", "2026-02"):
        run(p, clerk, reviewer)
    enrollment_suspend(enrollment=enrollment, reason="prison", from_month="2026-03", user=clerk)
    run("2026-03", clerk, reviewer)
    run("2026-04", clerk, reviewer)
    result = certification_record(person, dt.date(2026, 4, 20), "经办机构", clerk)
    assert result.resumed == []  # a certification does not end a prison suspension
    assert Enrollment.objects.get(pk=enrollment.pk).payment_status == "suspended"
    resumed = enrollment_resume(enrollment=enrollment, from_month="2026-05", user=clerk, note="刑满释放")
    assert resumed.arrears is None and resumed.months == []
    assert not Adjustment.objects.filter(enrollment=enrollment).exists()


def test_bad_certifications_are_refused_and_write_nothing(overdue, clerk):
    person, _ = overdue
    before = (Certification.objects.count(), AuditEvent.objects.count())
    with pytest.raises(CertificationError, match="认证方式“飞鸽”不正确"):
        certification_record(person, dt.date(2026, 1, 5), "飞鸽", clerk)
    with pytest.raises(CertificationError, match="不能晚于今天"):
        certification_record(person, dt.date.today() + dt.timedelta(days=1), "银行", clerk)
    person.death_date = dt.date(2026, 1, 1)
    person.save()
    with pytest.raises(CertificationError, match="已于 2026-01-01 死亡，不能认证"):
        certification_record(person, dt.date(2026, 1, 5), "数据比对", clerk, source="数据仓库")
    assert before == (Certification.objects.count(), AuditEvent.objects.count())


def _deceased(clerk, reviewer):
    person = make_person("丙", account="6222020000000009")
    enrollment = enroll(person, user=clerk)  # 2150.00 a month
    certification_record(person, dt.date(2025, 12, 1), "银行", clerk)
    for p in ("2026-01", "2026-02", "2026-03"):
        run(p, clerk, reviewer)
    return person, enrollment


def test_death_after_payment_nets_owed_arrears_first_and_the_rest_is_to_recover(clerk, reviewer):
    person, enrollment = _deceased(clerk, reviewer)
    adjustment_create(enrollment=enrollment, kind="arrears", total="1000.00", reason="调待补发", user=clerk)
    out = io.StringIO()
    call_command("person", "death", "--id", person.id_number, "--date", "2026-02-10", "--as", clerk.username,
                 "--source", "火化数据", "--json", stdout=out)
    data = json.loads(out.getvalue())
    # died in 2026-02 (paid through 2026-02): 2026-03 was paid = 2150.00 overpaid; 1000.00 owed → 扣回
    assert (data["overpayment"], data["recovered_from_owed"], data["to_recover"]) == ("2150.00", "1000.00", "1150.00")
    e = Enrollment.objects.get(pk=enrollment.pk)
    assert (e.payment_status, e.end_month, e.person.death_date) == ("terminated", dt.date(2026, 2, 1),
                                                                   dt.date(2026, 2, 10))
    receivable = Adjustment.objects.get(enrollment=enrollment, state="pending")
    assert (receivable.kind, receivable.total, receivable.source) == ("deduction", D("1150.00"), "终止结算待追回")
    run("2026-04", clerk, reviewer)
    assert line_of(person, dt.date(2026, 4, 1)) is None
    # twice: refused, nothing written
    before = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="已登记死亡"):
        call_command("person", "death", "--id", person.id_number, "--date", "2026-02-10", "--as", clerk.username)
    assert AuditEvent.objects.count() == before


def test_death_with_no_overpayment_and_refusals(clerk, reviewer):
    person, enrollment = _deceased(clerk, reviewer)
    before = (AuditEvent.objects.count(), Adjustment.objects.count())
    with pytest.raises(CommandError, match="不能晚于今天"):
        call_command("person", "death", "--id", person.id_number, "--date", "2999-01-01", "--as", clerk.username)
    nobody = make_user("nobody")
    with pytest.raises(CommandError, match="您没有此功能的权限"):
        call_command("person", "death", "--id", person.id_number, "--date", "2026-03-20", "--as", nobody.username)
    assert before == (AuditEvent.objects.count(), Adjustment.objects.count())
    assert Enrollment.objects.get(pk=enrollment.pk).payment_status == "active"
    out = io.StringIO()
    call_command("person", "death", "--id", person.id_number, "--date", "2026-03-20", "--as", clerk.username,
                 "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["overpayment"], data["recovered_from_owed"], data["to_recover"]) == ("0.00", "0.00", "0.00")


def test_import_keeps_the_good_rows_reports_the_bad_and_reimport_changes_nothing(clerk, reviewer, tmp_path):
    from shebao.common.identity import upgrade_15
    from shebao.registry.models import Person

    good = make_person("丁")
    suspended = make_person("戊", birth=dt.date(1948, 3, 3))
    e2 = enroll(suspended, user=clerk)
    old = make_person("己", birth=dt.date(1947, 1, 1))
    Person.objects.filter(pk=old.pk).update(id_number=upgrade_15("330282470101123"),
                                            id_number_original="330282470101123")
    dead = make_person("庚", birth=dt.date(1946, 1, 1))
    Person.objects.filter(pk=dead.pk).update(death_date=dt.date(2025, 1, 1))
    for p in ("2026-01", "2026-02"):
        run(p, clerk, reviewer)
    certification_sweep(on=dt.date(2026, 2, 10), user=clerk)  # 戊: never certified, due 2026-01 → from 2026-03
    assert Suspension.objects.get(enrollment=e2).from_month == dt.date(2026, 3, 1)
    csv = ("身份证号,姓名,认证日期\n"
           f"{good.id_number},丁,2026-02-01\n"
           f"{suspended.id_number},戊,2026-02-15\n"
           "330282470101123,己,2026-02-02\n"
           f"{dead.id_number},庚,2026-02-01\n"
           f"{good.id_number},丁丁,2026-02-03\n"
           "110101194001011234,无名,2026-02-01\n"
           f"{good.id_number},丁,2026/02/01\n")
    path = tmp_path / "bank.csv"
    path.write_bytes(csv.encode("gb18030"))
    before = (Certification.objects.count(), AuditEvent.objects.count())
    out = io.StringIO()
    call_command("certification", "import", str(path), "--method", "银行", "--as", clerk.username, "--dry-run",
                 "--json", stdout=out)
    assert json.loads(out.getvalue())["created"] == 0
    assert before == (Certification.objects.count(), AuditEvent.objects.count())
    out = io.StringIO()
    call_command("certification", "import", str(path), "--method", "银行", "--as", clerk.username, "--json",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert (data["rows"], data["created"], data["rejected"], data["resumed"]) == (7, 3, 4, 1)
    reasons = {e["line"]: e["reason"] for e in data["errors"]}
    assert reasons[5] == "该人员已于 2025-01-01 死亡"
    assert reasons[6] == "姓名与登记不符（登记为 丁）"
    assert reasons[7] == "查无此人（身份证号未登记）"
    assert reasons[8] == "认证日期“2026/02/01”格式不正确，应为 YYYY-MM-DD"
    assert set(Certification.objects.filter(method="bank").values_list("person__name", "certified_on")) == {
        ("丁", dt.date(2026, 2, 1)), ("戊", dt.date(2026, 2, 15)), ("己", dt.date(2026, 2, 2))}
    assert not Certification.objects.filter(person=dead).exists()
    # 戊 was suspended from 2026-03 and no run withheld a month yet: cancelled, no gap
    assert not Suspension.objects.filter(enrollment=e2).exists()
    count = (Certification.objects.count(), AuditEvent.objects.count())
    out = io.StringIO()
    call_command("certification", "import", str(path), "--method", "银行", "--as", clerk.username, "--json",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert (data["created"], data["unchanged"]) == (0, 3)
    assert count == (Certification.objects.count(), AuditEvent.objects.count())
    with pytest.raises(CommandError, match="认证方式“邮寄”不正确"):
        call_command("certification", "import", str(path), "--method", "邮寄", "--as", clerk.username)
    (tmp_path / "bad.csv").write_text("身份证号,名字\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError, match="文件缺少列：姓名、认证日期"):
        call_command("certification", "import", str(tmp_path / "bad.csv"), "--method", "银行", "--as", clerk.username)
    assert count == (Certification.objects.count(), AuditEvent.objects.count())


def test_the_daily_sweep_schedule_runs_as_the_system_user(clerk):
    from shebao.common.periodic import periodic_run, schedules

    assert schedules()["certification_sweep"].cron == "30 17 * * *"
    person = make_person("辛")
    enrollment = enroll(person, user=clerk, start="2025-01")  # never certified: due 2026-01, long past
    run1 = periodic_run("certification_sweep")
    run1.refresh_from_db()
    assert (run1.outcome, run1.message) == ("ok", "暂停 1 人次")
    today = dt.date.today()
    assert Suspension.objects.get(enrollment=enrollment).from_month == today.replace(day=1)
    event = AuditEvent.objects.get(action="suspend", person_id=person.pk)
    assert event.username == "system"
    run2 = periodic_run("certification_sweep")
    run2.refresh_from_db()
    assert (run2.outcome, run2.message) == ("ok", "暂停 0 人次")
