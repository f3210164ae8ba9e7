"""The approval page (issue 17): the risk list and the comparison with the scheme's previous run (exact
figures), the release page (a reviewer, a reason, safe twice), the compute confirm's and the command's
warning for months never computed, and the run page's per-file return states."""

import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.urls import reverse

from shebao.bank.models import BankTemplate
from shebao.bank.services import bank_export, bank_return_import
from shebao.bank.tests.helpers import bank_answer
from shebao.benefits.services import adjustment_create, benefit_amount_set, enrollment_terminate
from shebao.benefits.tests.factories import enroll, make_person, zg
from shebao.common.models import AuditEvent
from shebao.payroll.models import LineRisk, PayrollLine
from shebao.payroll.selectors import payroll_missing_months, payroll_run_compare
from shebao.payroll.services import payroll_lines_apply_results, payroll_run_approve, payroll_run_compute
from shebao.payroll.tests.helpers import make_user, once
from shebao.web.tests.helpers import post_twice_in_turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(db):
    return make_user("clerk1", roles=("clerk",))


@pytest.fixture
def reviewer(db):
    return make_user("rev1", roles=("reviewer",))


@pytest.fixture
def months(clerk, reviewer):
    """2026-01 approved (甲 乙 丙 丁 戊), then: 己 enrolled from 2026-02, 乙 terminated after 2026-01, 丙 raised
    by 100.00 from 2026-02, 丁 a 补发 of 300.00, 戊 a 扣减 of 50.00 — and 2026-02 computed."""
    people = {n: make_person(n, account=f"62220200000001{i:02d}") for i, n in enumerate("甲乙丙丁戊己")}
    enrollments = {n: enroll(people[n], user=clerk, items={"basic": "1000.00"}) for n in "甲乙丙丁戊"}
    jan = payroll_run_approve(run=payroll_run_compute(scheme=zg(), period="2026-01", user=clerk), user=reviewer)
    enroll(people["己"], user=clerk, start="2026-02", items={"basic": "800.00"})
    enrollment_terminate(enrollment=enrollments["乙"], reason="transfer", last_month="2026-01", user=clerk)
    benefit_amount_set(enrollment=enrollments["丙"], item="basic", amount="1100.00", from_month="2026-02", user=clerk)
    adjustment_create(enrollment=enrollments["丁"], kind="arrears", total="300.00", reason="补发", user=clerk)
    adjustment_create(enrollment=enrollments["戊"], kind="deduction", total="50.00", reason="扣回", user=clerk)
    feb = payroll_run_compute(scheme=zg(), period="2026-02", user=clerk)
    return jan, feb, people


def test_compare_with_the_previous_run_exact(months):
    jan, feb, _ = months
    c = payroll_run_compare(run=feb)
    assert c["previous"].pk == jan.pk and c["months_between"] == 1
    g = c["groups"]
    assert [(r["name"], r["prev_net"], r["net"], r["causes"]) for r in g["added"]["rows"]] == [
        ("己", None, D("800.00"), ["new"])]
    assert [(r["name"], r["prev_net"], r["net"], r["causes"]) for r in g["stopped"]["rows"]] == [
        ("乙", D("1000.00"), None, ["ended"])]
    changed = sorted((r["name"], r["prev_net"], r["net"], tuple(r["causes"])) for r in g["changed"]["rows"])
    assert changed == [("丁", D("1000.00"), D("1300.00"), ("arrears",)), ("丙", D("1000.00"), D("1100.00"), ("raise",)),
                       ("戊", D("1000.00"), D("950.00"), ("deduction",))]
    assert (g["added"]["n"], g["stopped"]["n"], g["changed"]["n"]) == (1, 1, 3)
    assert (g["added"]["delta"], g["stopped"]["delta"], g["changed"]["delta"]) == (D("800.00"), D("-1000.00"),
                                                                                    D("350.00"))
    assert g["changed"]["counts"] == {"raise": 1, "arrears": 1, "deduction": 1}
    assert g["added"]["counts"] == {"new": 1, "resumed": 0, "other": 0}
    assert g["stopped"]["counts"] == {"ended": 1, "suspended": 0, "other": 0}
    assert [(i["kind"], i["name"], i["previous"], i["current"], i["delta"]) for i in c["items"]] == [
        ("item", "基本养老金", D("5000.00"), D("4900.00"), D("-100.00")),
        ("arrears", "", D("0.00"), D("300.00"), D("300.00")),
        ("deduction", "", D("0.00"), D("50.00"), D("50.00"))]
    assert {t["field"]: (t["previous"], t["current"]) for t in c["totals"]} == {
        "line_count": (5, 5), "gross": (D("5000.00"), D("5200.00")), "deductions": (D("0.00"), D("50.00")),
        "net": (D("5000.00"), D("5150.00"))}
    # limited lists, the counts stay whole
    small = payroll_run_compare(run=feb, limit=1)["groups"]["changed"]
    assert (small["n"], len(small["rows"])) == (3, 1)
    assert payroll_run_compare(run=jan) is None  # the scheme's first run


def test_approval_page_shows_comparison_and_risks(months, client, reviewer, clerk):
    jan, feb, people = months
    # 甲's account was rejected by the bank in 2026-01: on the risk list of 2026-02
    (line,) = PayrollLine.objects.filter(run=jan, person=people["甲"])
    from shebao.payroll.services import payroll_run_mark_exported

    payroll_run_mark_exported(run=jan, user=clerk)
    payroll_lines_apply_results(run=jan, results=[(line.pk, D("0.00"), False, "已销户")], user=clerk)
    from shebao.payroll.services import payroll_run_recompute

    feb = payroll_run_recompute(run=feb, user=clerk)
    client.force_login(reviewer)
    page = client.get(reverse("payroll:run_approve", args=[feb.pk])).content.decode()
    assert 'id="tbl-risks"' in page and "账户曾被银行退回" in page and "已销户" in page
    assert "待放行 1 笔 1,000.00 元" in page
    assert "新增发放 1" in page and "停发 1" in page and "金额变化 3" in page
    assert "待遇调整（增资） 1" in page and "补发 1" in page and "扣减 1" in page
    xlsx = client.get(reverse("payroll:run_approve", args=[feb.pk]), {"export": "compare"})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_release_page_reviewer_with_reason_twice_safe(months, client, reviewer, clerk):
    jan, feb, people = months
    from shebao.payroll.services import payroll_run_mark_exported, payroll_run_recompute

    (line,) = PayrollLine.objects.filter(run=jan, person=people["甲"])
    payroll_run_mark_exported(run=jan, user=clerk)
    payroll_lines_apply_results(run=jan, results=[(line.pk, D("0.00"), False, "账户冻结")], user=clerk)
    feb = payroll_run_recompute(run=feb, user=clerk)
    risky = PayrollLine.objects.get(run=feb, person=people["甲"])
    url = reverse("payroll:line_risk_release", args=[risky.pk])
    client.force_login(clerk)
    assert client.get(url).status_code == 403
    client.force_login(reviewer)
    empty = client.post(url, {"reason": "", **once()})
    assert "这个字段是必填项" in empty.content.decode() or "This field is required" in empty.content.decode()
    assert LineRisk.objects.get(line=risky).released_at is None
    first, second = post_twice_in_turn(reviewer, url, {"reason": "电话核实，账户已解冻"})
    assert first.startswith("200\n") and "已放行" in first
    assert "此表单已经提交过" in second
    assert AuditEvent.objects.filter(action="payroll_risk_release").count() == 1
    risk = LineRisk.objects.get(line=risky)
    assert (risk.released_by_id, risk.release_reason) == (reviewer.pk, "电话核实，账户已解冻")


def test_missing_months_warning_on_confirm_and_stderr(clerk, client):
    enroll(make_person("甲", account="6222020000000101"), user=clerk, start="2025-01")
    payroll_run_compute(scheme=zg(), period="2025-10", user=clerk)
    assert payroll_missing_months(scheme=zg(), period=dt.date(2025, 10, 1)) == []
    assert payroll_missing_months(scheme=zg(), period=dt.date(2026, 1, 1)) == [dt.date(2025, 11, 1),
                                                                              dt.date(2025, 12, 1)]
    client.force_login(clerk)
    page = client.post(reverse("payroll:compute"), {"scheme": "ZG", "period": "2026-01", "kind": "regular"})
    text = page.content.decode()
    assert 'id="missing-months"' in text
    assert "2025-11（1 人在册）、2025-12（1 人在册）尚未计算月度结算" in text
    out, err = io.StringIO(), io.StringIO()
    call_command("payroll", "compute", "--scheme", "ZG", "--period", "2026-01", "--as", clerk.username, "--json",
                 stdout=out, stderr=err)
    assert "警告：自管人员 2025-11（1 人在册）、2025-12（1 人在册）尚未计算月度结算" in err.getvalue()
    import json

    assert json.loads(out.getvalue())["period"] == "2026-01"  # stdout is the JSON alone
    # computing 2025-11 next: no warning (nothing before it is missing)
    err = io.StringIO()
    call_command("payroll", "compute", "--scheme", "ZG", "--period", "2025-11", "--as", clerk.username,
                 stdout=io.StringIO(), stderr=err)
    assert "警告" not in err.getvalue()


def test_run_page_per_file_states_and_export_landing(clerk, reviewer, client):
    from shebao.bank.tests.helpers import approved_run
    from shebao.bank.tests.helpers import make_person as bank_person

    people = [bank_person("甲", "6222020000000011"), bank_person("乙", "6228480000000012", bank="ABC")]
    run = approved_run([(p, "100.00") for p in people], clerk, reviewer, period="2026-01")
    files = {f.bank: f for f in bank_export(runs=[run], template=BankTemplate.objects.get(code="standard"),
                                            user=clerk, on=dt.date(2026, 1, 20))}
    bank_return_import(data=bank_answer(files["ICBC"]), filename="icbc.txt", user=clerk)
    client.force_login(clerk)
    page = client.get(reverse("payroll:run_detail", args=[run.pk])).content.decode()
    assert "部分回盘" in page
    assert 'id="tbl-run-files"' in page and "共 2 个文件：已回盘 1 个，部分回盘 0 个，未回盘 1 个。" in page
    summary = client.get(reverse("bank:run_files", args=[run.pk])).content.decode()
    assert '<tr data-state="returned">' in summary and '<tr data-state="waiting">' in summary
