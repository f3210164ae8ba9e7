"""The entitlement rule of the yearly roster: age and status on the reference date, edge birthdays, the
rule of the year; the run's SQL and the person page's Python give the same answer for every case."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from shebao.benefits.services import enrollment_resume, enrollment_suspend, enrollment_terminate
from shebao.land_subsidy.models import SubsidyRule
from shebao.land_subsidy.rules import ANNUAL_SQL, age_on, entitlement
from shebao.land_subsidy.services import TbError, subsidy_rule_save
from shebao.land_subsidy.tests.factories import make_category, make_tb, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(db):
    return make_user("tbclerk")


def sql_entitled(year: int) -> dict[int, D]:
    """enrollment id → amount, by the run's SQL (the rule registered with payroll.schemes)."""
    from django.db import connection

    from shebao.benefits.models import BenefitItem, Scheme

    tb = Scheme.objects.get(code="TB")
    item = BenefitItem.objects.get(scheme=tb, code="basic")
    with connection.cursor() as cursor:
        cursor.execute(ANNUAL_SQL, {"tb_year": year, "tb_item": item.pk, "scheme": tb.pk})
        rows = cursor.fetchall()
    assert all(r[1] == item.pk for r in rows)
    return {r[0]: r[2] for r in rows}


def test_age_in_full_years_on_the_reference_date():
    assert age_on(dt.date(1966, 6, 30), dt.date(2026, 6, 30)) == 60
    assert age_on(dt.date(1966, 7, 1), dt.date(2026, 6, 30)) == 59
    # 29 February: the birthday is reached on 1 March in a common year
    assert age_on(dt.date(1964, 2, 29), dt.date(2026, 2, 28)) == 61
    assert age_on(dt.date(1964, 2, 29), dt.date(2026, 3, 1)) == 62
    assert age_on(dt.date(1964, 2, 29), dt.date(2024, 2, 29)) == 60


def test_edge_birthdays_for_men_and_women(clerk):
    """Reference date 30 June 2026; men from 60, women from 55: born on the reference day is in, a day
    later is out."""
    cat = make_category(user=clerk, month=6, day=30, male=60, female=55, amount="1500.00")
    cases = {
        make_tb("男满", user=clerk, category=cat, birth=dt.date(1966, 6, 30)): True,
        make_tb("男差一天", user=clerk, category=cat, birth=dt.date(1966, 7, 1)): False,
        make_tb("女满", user=clerk, category=cat, birth=dt.date(1971, 6, 30), male=False): True,
        make_tb("女差一天", user=clerk, category=cat, birth=dt.date(1971, 7, 1), male=False): False,
        make_tb("男五十五", user=clerk, category=cat, birth=dt.date(1971, 6, 30)): False,  # a woman's age, not a man's
        make_tb("女月末", user=clerk, category=cat, birth=dt.date(1971, 6, 1), male=False): True,
    }
    got = sql_entitled(2026)
    assert {sp.person.name: sp.enrollment_id in got for sp in cases} == {sp.person.name: v for sp, v in cases.items()}
    assert set(got.values()) == {D("1500.00")}
    for sp, want in cases.items():
        e = entitlement(sp, 2026)
        assert e.entitled is want, (sp.person.name, e.reason)
    assert entitlement(next(iter(cases)), 2026).reason == "符合：认定日 2026-06-30 年龄 60 周岁，征地补贴一类 年补贴 1500.00 元"
    assert "年龄 59 周岁，未满 60 周岁" in entitlement(list(cases)[1], 2026).reason


def test_born_on_29_february(clerk):
    feb = make_category("F", "二月认定", user=clerk, month=2, day=28, male=62, female=None)
    mar = make_category("M", "三月认定", user=clerk, month=3, day=1, male=62, female=None)
    a = make_tb("闰甲", user=clerk, category=feb, birth=dt.date(1964, 2, 29))
    b = make_tb("闰乙", user=clerk, category=mar, birth=dt.date(1964, 2, 29))
    c = make_tb("无年龄女", user=clerk, category=feb, birth=dt.date(2000, 1, 1), male=False)  # no age for women
    got = sql_entitled(2026)
    assert (a.enrollment_id in got, b.enrollment_id in got, c.enrollment_id in got) == (False, True, True)
    assert [entitlement(x, 2026).entitled for x in (a, b, c)] == [False, True, True]
    # the next year the 62nd birthday is behind them on 28 February as well
    assert entitlement(a, 2027).entitled and a.enrollment_id in sql_entitled(2027)


def test_status_on_the_reference_date(clerk):
    """On 31 December: started, not ended, not suspended (unless the rule pays suspended persons), alive."""
    cat = make_category(user=clerk, male=None, female=None)
    paid_susp = make_category("S", "暂停也发", user=clerk, male=None, female=None, pays_suspended=True, amount="800.00")
    normal = make_tb("正常", user=clerk, category=cat)
    late = make_tb("次年纳入", user=clerk, category=cat, start="2027-01")
    dec = make_tb("十二月纳入", user=clerk, category=cat, start="2026-12")
    suspended = make_tb("暂停", user=clerk, category=cat)
    enrollment_suspend(enrollment=suspended.enrollment, reason="no_cert", from_month="2026-06", user=clerk)
    resumed = make_tb("已恢复", user=clerk, category=cat)
    enrollment_suspend(enrollment=resumed.enrollment, reason="no_cert", from_month="2026-03", user=clerk)
    enrollment_resume(enrollment=resumed.enrollment, from_month="2026-09", user=clerk)
    susp_paid = make_tb("暂停照发", user=clerk, category=paid_susp)
    enrollment_suspend(enrollment=susp_paid.enrollment, reason="no_cert", from_month="2026-06", user=clerk)
    died_before = make_tb("年中死亡", user=clerk, category=cat)
    enrollment_terminate(enrollment=died_before.enrollment, reason="death", death_date=dt.date(2026, 7, 3), user=clerk)
    died_on = make_tb("认定日死亡", user=clerk, category=cat)
    enrollment_terminate(enrollment=died_on.enrollment, reason="death", death_date=dt.date(2026, 12, 31), user=clerk)
    moved = make_tb("十二月转出", user=clerk, category=cat)
    enrollment_terminate(enrollment=moved.enrollment, reason="transfer", last_month="2026-12", user=clerk)
    for sp in (suspended, resumed, susp_paid, died_before, died_on, moved):
        sp.refresh_from_db()
        sp.enrollment.refresh_from_db()
        sp.person.refresh_from_db()
    want = {normal: D("1200.00"), dec: D("1200.00"), resumed: D("1200.00"), susp_paid: D("800.00"),
            died_on: D("1200.00"), moved: D("1200.00")}
    got = sql_entitled(2026)
    assert got == {sp.enrollment_id: amount for sp, amount in want.items()}
    for sp in (normal, late, dec, suspended, resumed, susp_paid, died_before, died_on, moved):
        e = entitlement(sp, 2026)
        assert e.entitled is (sp in want), (sp.person.name, e.reason)
        assert e.amount == want.get(sp)
    assert entitlement(suspended, 2026).reason == "认定日 2026-12-31 处于暂停发放"
    assert entitlement(died_before, 2026).reason == "认定日 2026-12-31 前已死亡（2026-07-03）"
    assert entitlement(late, 2026).reason == "开始年月 2027-01 晚于认定日 2026-12-31"


def test_the_rule_of_the_year_is_the_latest_from_year_not_after_it(clerk):
    cat = make_category(user=clerk, from_year=2024, amount="1000.00", male=None, female=None)
    subsidy_rule_save(user=clerk, category=cat, from_year=2026, amount="1350.50", min_age_male=None,
                      min_age_female=None)
    sp = make_tb("甲", user=clerk, category=cat)
    assert sql_entitled(2025) == {sp.enrollment_id: D("1000.00")}
    assert sql_entitled(2026) == {sp.enrollment_id: D("1350.50")}
    assert sql_entitled(2023) == {}
    assert entitlement(sp, 2023).reason == "补贴类别“征地补贴一类”没有 2023 年适用的补贴标准"


def test_a_rule_is_checked_and_written_once(clerk):
    cat = make_category(user=clerk)
    before = SubsidyRule.objects.count()
    for kwargs, message in [
        ({"amount": "0"}, "年补贴金额 0 应大于 0"),
        ({"amount": "12.345"}, "最多两位小数"),
        ({"amount": "abc"}, "不是数字"),
        ({"reference_month": 2, "reference_day": 29}, "认定日 2 月 29 日不是每年都有的日期"),
        ({"min_age_male": "老"}, "男性最低年龄“老”不是整数"),
        ({"from_year": 2020}, "征地补贴一类 2020 年起的补贴标准已存在"),
    ]:
        with pytest.raises(TbError, match=message):
            subsidy_rule_save(user=clerk, category=cat, **{"from_year": 2027, "amount": "100.00", **kwargs})
    assert SubsidyRule.objects.count() == before
    with pytest.raises(IntegrityError, match="subsidyrule_day_valid"), transaction.atomic():
        SubsidyRule.objects.create(category=cat, from_year=2030, amount="1.00", reference_month=4, reference_day=31,
                                   created_by=clerk)


def _one_of_each_reason(clerk):
    """A person for every reason code of the rule (2026, reference date 31 December)."""
    cat = make_category(user=clerk, male=60, female=55)
    later = make_category("L", "二〇三〇年起", user=clerk, from_year=2030, male=None, female=None)
    people = {
        "entitled": make_tb("符合", user=clerk, category=cat),
        "no_rule": make_tb("无标准", user=clerk, category=later),
        "not_started": make_tb("次年纳入", user=clerk, category=cat, start="2027-01"),
        "dead": make_tb("年中死亡", user=clerk, category=cat),
        "ended": make_tb("六月转出", user=clerk, category=cat),
        "too_young": make_tb("未满龄", user=clerk, category=cat, birth=dt.date(1967, 1, 1)),
        "suspended": make_tb("暂停", user=clerk, category=cat),
    }
    enrollment_terminate(enrollment=people["dead"].enrollment, reason="death", death_date=dt.date(2026, 7, 3),
                         user=clerk)
    enrollment_terminate(enrollment=people["ended"].enrollment, reason="transfer", last_month="2026-06", user=clerk)
    enrollment_suspend(enrollment=people["suspended"].enrollment, reason="no_cert", from_month="2026-06", user=clerk)
    for sp in people.values():
        sp.refresh_from_db()
    return people


def test_the_page_and_the_run_agree_for_every_reason(client, clerk):
    """One statement decides: the yearly run's lines are exactly the persons the page calls 符合, and every
    reason code of the rule is met by one person whose page shows that reason."""
    from shebao.land_subsidy.rules import REASONS, reasons_by_record
    from shebao.payroll.models import PayrollLine
    from shebao.payroll.services import payroll_run_compute

    people = _one_of_each_reason(clerk)
    assert set(people) == set(REASONS)
    page = {code: entitlement(sp, 2026) for code, sp in people.items()}
    assert {code: e.code for code, e in page.items()} == {code: code for code in people}
    assert reasons_by_record(2026) == {sp.pk: code for code, sp in people.items()}
    run = payroll_run_compute(scheme=people["entitled"].enrollment.scheme, period="2026", user=clerk, kind="annual")
    lines = {ln.enrollment_id: ln.gross for ln in PayrollLine.objects.filter(run=run)}
    assert lines == {sp.enrollment_id: page[code].amount for code, sp in people.items() if page[code].entitled}
    assert lines == {people["entitled"].enrollment_id: D("1200.00")}
    assert {code for code, e in page.items() if e.entitled} == {"entitled"}
    client.force_login(clerk, backend="shebao.accounts.backends.LockoutModelBackend")
    for code, sp in people.items():
        assert page[code].reason in client.get(f"/tb/p/{sp.person_id}/").content.decode(), code
    assert page["ended"].reason == "认定日 2026-12-31 前已终止发放（终止年月 2026-06）"
    assert page["too_young"].reason == "认定日 2026-12-31 年龄 59 周岁，未满 60 周岁"
    assert page["no_rule"].reason == "补贴类别“二〇三〇年起”没有 2026 年适用的补贴标准"


def test_the_reasons_in_english(clerk):
    from django.utils import translation

    people = _one_of_each_reason(clerk)
    with translation.override("en"):
        english = {code: entitlement(sp, 2026).reason for code, sp in people.items()}
    assert english == {
        "entitled": "Entitled: aged 76 on the reference date 2026-12-31; 征地补贴一类 1200.00 yuan a year",
        "no_rule": "Category “二〇三〇年起” has no subsidy rule for 2026",
        "not_started": "Start month 2027-01 is after the reference date 2026-12-31",
        "dead": "Died before the reference date 2026-12-31 (2026-07-03)",
        "ended": "Payment ended before the reference date 2026-12-31 (end month 2026-06)",
        "too_young": "Aged 59 on the reference date 2026-12-31, under 60",
        "suspended": "Payment suspended on the reference date 2026-12-31",
    }
    # and Chinese by default
    assert entitlement(people["suspended"], 2026).reason == "认定日 2026-12-31 处于暂停发放"


def test_a_disabled_rule_is_not_applied(clerk):
    cat = make_category(user=clerk, amount="1000.00", male=None, female=None)
    newer = subsidy_rule_save(user=clerk, category=cat, from_year=2026, amount="1500.00")
    sp = make_tb("甲", user=clerk, category=cat)
    assert sql_entitled(2026) == {sp.enrollment_id: D("1500.00")}
    subsidy_rule_save(user=clerk, category=cat, rule=newer, from_year=2026, amount="1500.00", active=False)
    assert sql_entitled(2026) == {sp.enrollment_id: D("1000.00")}
    assert entitlement(sp, 2026).amount == D("1000.00")


def test_the_age_shown_is_the_age_the_rule_tested(clerk):
    """The statement tests the age by a date (born on or before the reference date less the minimum) and
    shows PostgreSQL's age(): on the edge birthdays, 29 February included, the two tell the same story."""
    feb = make_category("F", "二月认定", user=clerk, month=2, day=28, male=62, female=55)
    mar = make_category("M", "三月认定", user=clerk, month=3, day=1, male=62, female=55)
    dec = make_category("D", "年末认定", user=clerk, male=60, female=55)
    births = [dt.date(1964, 2, 29), dt.date(1964, 2, 28), dt.date(1964, 3, 1), dt.date(1966, 12, 31),
              dt.date(1967, 1, 1), dt.date(1971, 2, 28), dt.date(1971, 3, 1)]
    n = 0
    for cat in (feb, mar, dec):
        for birth in births:
            for male in (True, False):
                n += 1
                sp = make_tb(f"人{n}", user=clerk, category=cat, birth=birth, male=male)
                for year in (2025, 2026, 2027, 2028):
                    e = entitlement(sp, year)
                    minimum = 62 if male and cat != dec else 60 if male else 55
                    assert e.params["age"] == age_on(birth, e.reference), (cat.name, birth, male, year)
                    assert e.entitled is (e.params["age"] >= minimum), (cat.name, birth, male, year, e.reason)
