"""年度发放 from the compute page: the run kind offered for a scheme that registered an annual rule
(``shebao.payroll.schemes``), the year as its period, the same compute job; refused the second time
with the message, and for a scheme without a rule — nothing written either time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from shebao.benefits.models import Scheme
from shebao.benefits.services import adjustment_create, enrollment_create
from shebao.benefits.tests.factories import make_person
from shebao.common.models import AuditEvent, Job
from shebao.payroll import schemes
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.tests.helpers import run_queued, watched
from shebao.payroll.tests.test_engine import _tb_rule
from shebao.payroll.tests.test_views import login

pytestmark = pytest.mark.django_db

ANNUAL = {"scheme": "TB", "kind": "annual", "period": "2026"}
# 甲 100.25 × 12 = 1203.00; 乙 80 × 12 = 960.00 less the deduction's cap 300.00 = 660.00
TOTALS = "2 笔，应发 2,163.00 元，扣减 300.00 元，实发 1,863.00 元"


@pytest.fixture
def tb_annual():
    before = schemes._registry.get("TB")
    schemes.register("TB", schemes.SchemeRules(annual=_tb_rule))
    yield Scheme.objects.get(code="TB")
    if before is None:
        schemes.unregister("TB")
    else:
        schemes.register("TB", before)


@pytest.fixture
def tb_people(clerk):
    tb = Scheme.objects.get(code="TB")
    a, b = make_person("甲", account="6222020000000001"), make_person("乙", account="6222020000000002")
    enrollment_create(person=a, scheme=tb, start_month="2025-06", user=clerk, items={"basic": "100.25"})
    eb = enrollment_create(person=b, scheme=tb, start_month="2026-01", user=clerk, items={"basic": "80.00"})
    adjustment_create(enrollment=eb, kind="deduction", total="500.00", monthly_cap="300.00", reason="多发追回",
                      user=clerk)
    return a, b


def written() -> tuple:
    return PayrollRun.objects.count(), PayrollLine.objects.count(), Job.objects.count(), AuditEvent.objects.count()


def test_annual_run_from_the_page_then_refused_the_second_time(client, clerk, tb_annual, tb_people):
    login(client, clerk)
    form = client.get("/payroll/compute/").content.decode()
    assert 'value="annual"' in form and "年度发放" in form and "可进行年度发放的险种：土保补贴" in form
    confirm = client.post("/payroll/compute/", ANNUAL).content.decode()
    assert "将计算 <strong>土保补贴 2026 年</strong> 的年度发放" in confirm
    assert 'name="kind" value="annual"' in confirm and 'name="period" value="2026"' in confirm
    assert Job.objects.count() == 0  # the confirm starts nothing
    started = client.post("/payroll/compute/", {**ANNUAL, "confirm": "1"})
    job = Job.objects.get()
    assert (job.kind, job.params, job.title) == ("payroll_compute", {"scheme": "TB", "period": "2026", "kind": "annual",
                                                                    "keys": ["payroll:TB:annual:2026"]},
                                                 "计算年度发放：土保补贴 2026 年")
    assert started.url == f"/payroll/jobs/{job.pk}/"
    # a double click finds the same job
    assert client.post("/payroll/compute/", {**ANNUAL, "confirm": "1"}).url == started.url
    assert Job.objects.count() == 1
    [job] = run_queued()
    run = PayrollRun.objects.get()
    assert (job.state, run.kind, run.period, run.state) == ("done", "annual", dt.date(2026, 1, 1), "computed")
    assert (run.line_count, run.gross, run.deductions, run.net) == (2, D("2163.00"), D("300.00"), D("1863.00"))
    assert job.message == f"已计算 土保补贴 2026 年度发放：{TOTALS}。请交另一位审核员审核。"
    page = watched(client, started.url)
    assert page.request["PATH_INFO"] == f"/payroll/{run.pk}/" and TOTALS in page.content.decode()
    # the same year again (any spelling of the year's start): refused by the page, nothing written
    before = written()
    again = client.post("/payroll/compute/", ANNUAL).content.decode()
    assert f"土保补贴 2026 年的年度发放已存在（批次 {run.pk}，已计算），不能重复发放。" in again
    again = client.post("/payroll/compute/", {**ANNUAL, "confirm": "1"}).content.decode()
    assert f"的年度发放已存在（批次 {run.pk}" in again
    assert written() == before
    # a monthly run of the same scheme is another run: still offered
    monthly = client.post("/payroll/compute/", {"scheme": "TB", "kind": "regular", "period": "2026-01"})
    assert "将计算 <strong>土保补贴 2026-01</strong> 的月度结算" in monthly.content.decode()


def test_annual_job_refused_when_the_year_was_computed_meanwhile(client, clerk, tb_annual, tb_people):
    from shebao.payroll.services import payroll_run_compute

    login(client, clerk)
    started = client.post("/payroll/compute/", {**ANNUAL, "confirm": "1"})
    other = payroll_run_compute(scheme=tb_annual, period="2026", user=clerk, kind="annual")
    before = written()
    [job] = run_queued()
    assert job.state == "failed"
    assert job.message == f"土保补贴 2026 年的年度发放已存在（批次 {other.pk}，已计算），如需重算请使用“重新计算”"
    assert written()[:2] == before[:2]  # no run, no line
    assert "没有生成结算批次，未做任何更改" in watched(client, started.url).content.decode()


def test_annual_refused_for_a_scheme_without_a_rule_and_for_a_bad_year(client, clerk, tb_annual, tb_people):
    login(client, clerk)
    before = written()
    page = client.post("/payroll/compute/", {"scheme": "ZG", "kind": "annual", "period": "2026", "confirm": "1"})
    assert page.status_code == 200 and "自管人员没有登记年度发放规则，不能进行年度发放" in page.content.decode()
    page = client.post("/payroll/compute/", {**ANNUAL, "period": "20x6", "confirm": "1"})
    assert "年度 20x6 不正确，应为四位年份，例如 2026" in page.content.decode()
    assert written() == before


def test_without_an_annual_rule_only_the_monthly_run_is_offered(client, clerk, tb_people):
    before_rules = schemes._registry.get("TB")
    schemes.unregister("TB")  # as on a site where no scheme registered a yearly rule
    try:
        login(client, clerk)
        form = client.get("/payroll/compute/").content.decode()
        assert 'value="annual"' not in form and "可进行年度发放的险种" not in form
        before = written()
        page = client.post("/payroll/compute/", {**ANNUAL, "confirm": "1"}).content.decode()
        assert "选择一个有效的选项" in page
        assert written() == before
    finally:  # the land_subsidy app registers TB's rule: later tests in this process need it back
        if before_rules is not None:
            schemes.register("TB", before_rules)
