"""The reviewer's approval in the browser (issue 17): the month's approval page shows its risk list — an
account the bank refused last month and not changed since, a 户名 that is not the person's name — and
the comparison with the previous run; the reviewer releases the 户名 line with a reason, approves; the
clerk exports: the confirm says what is held, the file carries the released line and not the refused
account, the run's files page says what was held. The reviewer has no right to see sensitive numbers:
身份证号 and accounts are masked on every page of the walk. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shebao.accounts.services import user_create
from shebao.bank.models import BankFile, BankTemplate
from shebao.bank.services import bank_export, bank_return_import
from shebao.bank.tests.helpers import bank_answer
from shebao.benefits.models import Scheme
from shebao.benefits.services import adjustment_create, enrollment_create
from shebao.payroll.models import LineRisk, PayrollLine, PayrollRun
from shebao.payroll.services import payroll_run_approve, payroll_run_compute
from shebao.registry.services import bank_account_set
from shebao.web.tests.helpers import id_number, make_person
from tests.browser.test_payroll_bank_flow import worker  # noqa: F401 - the job worker fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Passw0rd!x"
REFUSED = "6222021001000000029"  # 周美玲's card: the bank answered 已销户 in 2025-12


def seed():
    """2025-12 paid except 周美玲 (已销户); then 孙建军's card is re-registered in his son's name and 陈国华
    gets a 补发 — and 2026-01 is computed by the clerk, waiting for the reviewer."""
    zg = Scheme.objects.get(code="ZG")
    clerk = user_create(actor=None, username="jingban", full_name="王经办", password=PASSWORD, roles=["clerk"],
                        all_regions=True, must_change_password=False, sensitive=True)
    reviewer = user_create(actor=None, username="shenhe", full_name="李审核", password=PASSWORD, roles=["reviewer"],
                           all_regions=True, must_change_password=False, sensitive=False)
    people = [("陈国华", dt.date(1948, 3, 2), "6222021001000000011", "2310.00"),
              ("周美玲", dt.date(1952, 7, 19), REFUSED, "1985.50"),
              ("孙建军", dt.date(1950, 11, 8), "6222021001000000037", "2050.00")]
    persons = {}
    for n, (name, born, account, basic) in enumerate(people):
        person = make_person(name, number=id_number(born, male=n != 1, seq=500 + n))
        bank_account_set(user=clerk, person=person, bank="ICBC", account_number=account, holder_name=name,
                         valid_from=dt.date(2020, 1, 1))
        persons[name] = (person, enrollment_create(person=person, scheme=zg, start_month="2025-01", user=clerk,
                                                   items={"basic": basic}))
    december = payroll_run_approve(run=payroll_run_compute(scheme=zg, period="2025-12", user=clerk), user=reviewer)
    (f,) = bank_export(runs=[december], template=BankTemplate.objects.get(code="standard"), user=clerk,
                       on=dt.date(2025, 12, 20))
    seq = f.lines.get(name="周美玲").seq
    bank_return_import(data=bank_answer(f, {seq: "已销户"}), filename="r.txt", user=clerk)
    bank_account_set(user=clerk, person=persons["孙建军"][0], bank="ICBC", account_number="6222021001000000037",
                     holder_name="孙小军", valid_from=dt.date(2025, 12, 25), reason="子女代领")
    adjustment_create(enrollment=persons["陈国华"][1], kind="arrears", total="300.00", user=clerk,
                      reason="补发2025年12月漏发", source="经办核查")
    january = payroll_run_compute(scheme=zg, period="2026-01", user=clerk)
    return january, {name: p for name, (p, _) in persons.items()}


def test_reviewer_sees_risks_and_comparison_releases_approves_clerk_exports(ui, worker):  # noqa: F811
    from playwright.sync_api import expect

    january, persons = seed()
    assert sorted(LineRisk.objects.filter(run=january).values_list("kinds", flat=True)) == ["holder", "rejected"]

    # 1. the reviewer opens the approval page: the risk list and the comparison, numbers masked
    reviewer = ui.login("shenhe", PASSWORD)
    reviewer.goto(f"{ui.base_url}/payroll/{january.pk}/approve/")
    risks = reviewer.locator("#risk-list")
    expect(risks).to_contain_text("待放行 2 笔 4,035.50 元")
    expect(risks).to_contain_text("账户曾被银行退回")
    expect(risks).to_contain_text("已销户")
    expect(risks).to_contain_text("户名“孙小军”与姓名“孙建军”不符")
    compare = reviewer.locator("#compare")
    expect(compare).to_contain_text("上期：2025-12")
    expect(compare.locator("#compare-totals")).to_contain_text("6,345.50")  # 2025-12: 2,310 + 1,985.50 + 2,050
    expect(compare.locator("#compare-totals")).to_contain_text("6,645.50")  # 2026-01: + 补发 300
    expect(compare.locator("#compare-counts")).to_contain_text("金额变化 1")
    html = reviewer.content()
    for person in persons.values():  # no full 身份证号 for a reviewer without the sensitive right
        assert person.id_number not in html
        assert f"{person.id_number[:6]}********{person.id_number[-4:]}" in html
    assert REFUSED not in html
    # the page fits the agency's 1366-wide screen: nothing wider than the viewport
    assert reviewer.evaluate("document.documentElement.scrollWidth") <= 1366
    ui.shot(reviewer, "risks-01-approval-page", full_page=True)

    # 2. release 孙建军's line (his son's name on the card): a reason is required
    risks.locator("tr", has_text="孙建军").locator("a.btn").click()
    expect(reviewer.locator(".confirm-box")).to_contain_text("将放行批次")
    ui.shot(reviewer, "risks-02-release-form")
    reviewer.fill("textarea[name=reason]", "已电话核实：户名为其子孙小军，本人委托代领，委托书已存档")
    reviewer.click("#confirm-release")
    expect(reviewer.locator(".messages")).to_contain_text("已放行 孙建军 2,050.00 元")
    expect(reviewer).to_have_url(f"{ui.base_url}/payroll/{january.pk}/approve/")  # back where the reviewer was
    expect(risks).to_contain_text("待放行 1 笔 1,985.50 元")
    expect(risks.locator("tr", has_text="孙建军")).to_contain_text("委托书已存档")
    assert reviewer.evaluate("document.documentElement.scrollWidth") <= 1366
    ui.shot(reviewer, "risks-03-released", full_page=True)

    # 3. approve (a job): the run is 已审核
    reviewer.click("#confirm-action")
    expect(reviewer.locator(".messages")).to_contain_text("已审核")
    expect(reviewer.locator("ol.steps li.current")).to_contain_text("已审核")
    ui.shot(reviewer, "risks-04-approved")

    # 4. the clerk exports: the confirm says 1 line 1,985.50 is held, 2 lines go into the file
    clerk = ui.login("jingban", PASSWORD)
    clerk.goto(f"{ui.base_url}/bank/export/?run={january.pk}")
    clerk.click("#export-next")
    expect(clerk.locator("#export-held")).to_contain_text("其中 1 笔 1,985.50 元为未放行的风险明细")
    expect(clerk.locator("#export-held")).to_contain_text("进入报盘文件：2 笔，4,660.00 元")
    ui.shot(clerk, "risks-05-export-confirm")
    clerk.click("#confirm-export")
    expect(clerk.locator(".messages")).to_contain_text("已生成报盘文件")
    expect(clerk.locator(".messages")).to_contain_text("风险明细 1 笔 1,985.50 元未放行，已暂缓")
    ui.shot(clerk, "risks-06-exported")
    (f,) = BankFile.objects.filter(runs=january)
    with clerk.expect_download() as info:
        clerk.click("#download-file")
    content = Path(info.value.path()).read_bytes().decode("gb18030")
    assert "孙小军" in content and "陈国华" in content
    assert REFUSED not in content and "周美玲" not in content
    held = PayrollLine.objects.get(run=january, person=persons["周美玲"])
    assert (held.status, held.net) == ("failed", held.net) and held.fail_reason.startswith("风险暂缓，未报盘：")
    january.refresh_from_db()
    assert january.state == PayrollRun.State.EXPORTED

    # 5. the run's page: its file, and the held line said
    clerk.goto(f"{ui.base_url}/payroll/{january.pk}/")
    expect(clerk.locator("#run-held-out")).to_contain_text("风险明细暂缓未报盘 1 笔 1,985.50 元")
    expect(clerk.locator("#risk-summary")).to_contain_text("已放行 1 笔。")
    ui.shot(clerk, "risks-07-run-after-export", full_page=True)
