import datetime as dt
from decimal import Decimal as D

import pytest

from shebao.benefits.models import Adjustment, BenefitAmount, RaiseRule
from shebao.benefits.raises import raise_apply, raise_preview, raise_terms_parse
from shebao.benefits.services import (
    BenefitError,
    enrollment_resume,
    enrollment_suspend,
    enrollment_terminate,
)
from shebao.benefits.tests.factories import enroll, make_person, make_user, zg
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine
from shebao.payroll.services import payroll_run_approve, payroll_run_compute

pytestmark = pytest.mark.django_db

RULE = {
    "name": "2026年调整基本养老金",
    "scheme": "ZG",
    "item": "basic",
    "effective_month": "2026-01",
    "fixed": "30.00",
    "per_service_year": "2.00",
    "percent": "2",
    "age_reference_date": "2025-12-31",
    "age_tilts": [{"min_age": 70, "amount": "20.00"}, {"min_age": 75, "amount": "30.00"},
                  {"min_age": 80, "amount": "50.00"}],
}


@pytest.fixture
def clerk(db):
    return make_user("clerk1")


@pytest.fixture
def population(clerk):
    # A: all months; 25.8 years → 25 full years; age 77 at 2025-12-31 → tilt 30 (not 20+30)
    a = enroll(make_person("甲", birth=dt.date(1948, 3, 1)), user=clerk, start="2020-01", service_years="25.8",
               items={"basic": "2000.00", "extra": "150.00"})
    # B: started 2026-03, after E → pro rata 4 months; age 65 → no tilt
    b = enroll(make_person("乙", birth=dt.date(1960, 6, 1)), user=clerk, start="2026-03", service_years="10",
               items={"basic": "1500.00"})
    # C: in prison 2026-02..2026-03 (forfeits) → 4 months; and 未提供生存证明 2026-05 (paid on resume) counts
    c = enroll(make_person("丙", birth=dt.date(1955, 1, 1)), user=clerk, start="2020-01", service_years="0",
               items={"basic": "1000.00"})
    enrollment_suspend(enrollment=c, reason="prison", from_month="2026-02", user=clerk)
    enrollment_resume(enrollment=c, from_month="2026-04", user=clerk)
    enrollment_suspend(enrollment=c, reason="no_cert", from_month="2026-05", user=clerk)
    enrollment_resume(enrollment=c, from_month="2026-06", user=clerk)
    # D: died 2026-04-10 → months 01..04, no new amount
    d = enroll(make_person("丁", birth=dt.date(1940, 1, 1)), user=clerk, start="2020-01", service_years="5",
               items={"basic": "1800.00"})
    enrollment_terminate(enrollment=d, reason="death", death_date=dt.date(2026, 4, 10), user=clerk)
    # E: died before E → nothing
    e = enroll(make_person("戊", birth=dt.date(1940, 1, 1)), user=clerk, start="2020-01", items={"basic": "1800.00"})
    enrollment_terminate(enrollment=e, reason="death", death_date=dt.date(2025, 11, 2), user=clerk)
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def test_preview(population):
    terms = raise_terms_parse(RULE)
    preview = raise_preview(terms=terms, apply_month="2026-07")
    rows = {r.enrollment_id: r for r in preview.rows}
    p = population
    a, b, c, d = rows[p["a"].pk], rows[p["b"].pk], rows[p["c"].pk], rows[p["d"].pk]
    # 30 + 2×25 + 2% × 2000 + 30 = 150
    assert (a.current, a.raise_amount, a.new_amount, a.arrears_months, a.arrears) == (
        D("2000.00"), D("150.00"), D("2150.00"), 6, D("900.00"))
    # 30 + 2×10 + 2% × 1500 = 80; 2026-03..06
    assert (b.raise_amount, b.new_amount, b.arrears_months, b.arrears) == (D("80.00"), D("1580.00"), 4, D("320.00"))
    # 30 + 0 + 20 + tilt 70 (age 70 at 2025-12-31) 20 = 70; months 01, 04, 05, 06
    assert (c.raise_amount, c.arrears_months, c.arrears) == (D("70.00"), 4, D("280.00"))
    # 30 + 10 + 36 + 50 = 126; months 01..04; no new amount (died)
    assert (d.raise_amount, d.new_amount, d.arrears_months, d.arrears) == (D("126.00"), None, 4, D("504.00"))
    assert p["e"].pk not in rows
    assert preview.arrears_total == D("2004.00")
    assert preview.monthly_total == D("300.00")


def test_percent_rounding_half_up(clerk):
    enroll(make_person(), user=clerk, items={"basic": "1234.57"})
    terms = raise_terms_parse({"name": "r", "scheme": "ZG", "item": "basic", "effective_month": "2026-07",
                               "percent": "2.5"})
    (row,) = raise_preview(terms=terms, apply_month="2026-07").rows
    assert row.raise_amount == D("30.86")  # 30.86425
    assert row.arrears == D("0.00") and row.arrears_months == 0


def test_apply_then_payroll_and_twice_refused(population, clerk):
    terms = raise_terms_parse(RULE)
    rule, preview = raise_apply(terms=terms, apply_month="2026-07", user=clerk)
    a = population["a"]
    ranges = list(BenefitAmount.objects.filter(enrollment=a, item__code="basic").order_by("from_month")
                  .values_list("amount", "from_month", "to_month"))
    assert ranges == [(D("2000.00"), dt.date(2020, 1, 1), dt.date(2026, 6, 1)),
                      (D("2150.00"), dt.date(2026, 7, 1), None)]
    arrears = Adjustment.objects.get(enrollment=a, raise_rule=rule)
    assert (arrears.kind, arrears.total, arrears.remaining) == ("arrears", D("900.00"), D("900.00"))
    assert not BenefitAmount.objects.filter(enrollment=population["d"], from_month=dt.date(2026, 7, 1)).exists()
    assert (rule.person_count, rule.arrears_total) == (4, D("2004.00"))

    counts = (RaiseRule.objects.count(), BenefitAmount.objects.count(), Adjustment.objects.count(),
              AuditEvent.objects.count())
    with pytest.raises(BenefitError, match="已执行过"):
        raise_apply(terms=raise_terms_parse(RULE), apply_month="2026-08", user=clerk)
    with pytest.raises(BenefitError, match="已执行过"):  # same terms under another name
        raise_apply(terms=raise_terms_parse({**RULE, "name": "另一个名字"}), apply_month="2026-07", user=clerk)
    assert counts == (RaiseRule.objects.count(), BenefitAmount.objects.count(), Adjustment.objects.count(),
                      AuditEvent.objects.count())

    reviewer = make_user("rev", reviewer=True)
    run = payroll_run_approve(run=payroll_run_compute(scheme=zg(), period="2026-07", user=clerk), user=reviewer)
    line = PayrollLine.objects.get(run=run, enrollment_id=a.pk)
    assert (line.gross, line.net) == (D("3200.00"), D("3200.00"))  # 2150 + 150 + 900
    arrears.refresh_from_db()
    assert arrears.state == "settled"


def test_rule_validation():
    with pytest.raises(BenefitError, match="缺少 effective_month"):
        raise_terms_parse({"name": "x", "scheme": "ZG", "item": "basic"})
    with pytest.raises(BenefitError, match="未知字段"):
        raise_terms_parse({**RULE, "foo": 1})
    with pytest.raises(BenefitError, match="险种代码"):
        raise_terms_parse({**RULE, "scheme": "XX"})
    with pytest.raises(BenefitError, match="执行年月"):
        raise_preview(terms=raise_terms_parse(RULE), apply_month="2025-12")
