"""土保补贴 yearly roster through the bank, in the browser: from 年度发放明细 a clerk computes the TB yearly
run of 2026 (年度发放), a reviewer (another session) approves it, the clerk exports it with the standard
template and downloads the files, the bank's answer fails one line (户名不符), the clerk corrects that
person's account and re-issues (入账失败人员二次报盘), the reviewer approves the re-issue, the clerk exports
it and imports a return marking it paid. The roster page then shows everyone 已支付 and its xlsx says so.
Screenshots of each step go to test-artifacts/ (tb-*)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from shebao.accounts.services import user_create
from shebao.benefits.models import Scheme
from shebao.benefits.services import enrollment_create
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.registry.services import bank_account_set
from shebao.web.tests.helpers import id_number, make_person
from tests.browser import test_payroll_bank_flow as flow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = flow.PASSWORD
worker = flow.worker


def seed():
    tb = Scheme.objects.get(code="TB")
    clerk = user_create(actor=None, username="jingban", full_name="王经办", password=PASSWORD, roles=["clerk"],
                        all_regions=True, must_change_password=False)
    user_create(actor=None, username="shenhe", full_name="李审核", password=PASSWORD, roles=["reviewer"],
                all_regions=True, must_change_password=False)
    one = SubsidyCategory.objects.create(code="A", name="征地补贴一类")
    SubsidyRule.objects.create(category=one, from_year=2020, amount="1440.00", min_age_male=60, min_age_female=55,
                               created_by=clerk)
    people = [("陈国华", dt.date(1948, 3, 2), True, "ICBC", "6222021001000000011"),
              ("周美玲", dt.date(1962, 7, 19), False, "ICBC", "6222021001000000029"),
              ("孙建军", dt.date(1958, 11, 8), True, "CXRCB", "6230910000000000037"),
              ("钱小军", dt.date(1980, 1, 8), True, "CXRCB", "6230910000000000045")]  # 46: not entitled
    out = []
    for n, (name, born, male, bank, account) in enumerate(people):
        person = make_person(name, number=id_number(born, male=male, seq=500 + n))
        bank_account_set(user=clerk, person=person, bank=bank, account_number=account, holder_name=name,
                         valid_from=dt.date(2020, 1, 1))
        enrollment = enrollment_create(person=person, scheme=tb, start_month="2021-01", user=clerk)
        out.append(SubsidyPerson.objects.create(enrollment=enrollment, person=person, category=one))
    return out


def test_tb_yearly_roster_to_a_bank_file_and_a_return(ui, worker, tmp_path):
    from playwright.sync_api import expect

    seed()
    # 1. the clerk computes the 2026 yearly run from 年度发放明细
    clerk = ui.login("jingban", PASSWORD)
    clerk.goto(f"{ui.base_url}/tb/runs/")
    expect(clerk.locator("#tb-runs")).to_contain_text("尚无年度发放")
    ui.shot(clerk, "tb-01-runs-empty")
    clerk.click("main >> text=计算年度发放")
    clerk.select_option("select[name=scheme]", "TB")
    clerk.select_option("select[name=kind]", "annual")
    clerk.fill("input[name=period]", "2026")
    clerk.click("form.form button[type=submit]")
    expect(clerk.locator(".confirm-box")).to_contain_text("土保补贴 2026 年")
    ui.shot(clerk, "tb-02-compute-confirm")
    clerk.click("#confirm-compute")
    expect(clerk.locator(".messages")).to_contain_text("已计算 土保补贴 2026 年度发放")
    expect(clerk.locator(".messages")).to_contain_text("实发 4,320.00 元")
    run = PayrollRun.objects.get(kind="annual")
    assert run.line_count == 3
    ui.shot(clerk, "tb-03-run-computed")

    # 2. the reviewer approves in another session
    reviewer = ui.login("shenhe", PASSWORD)
    reviewer.goto(f"{ui.base_url}/payroll/{run.pk}/")
    reviewer.click("#btn-approve")
    expect(reviewer.locator(".confirm-box")).to_contain_text("4,320.00")
    reviewer.click("#confirm-action")
    expect(reviewer.locator(".messages")).to_contain_text("已审核")

    # 3. 报盘: one file per bank, downloaded as the page offers them
    clerk.goto(f"{ui.base_url}/bank/export/?run={run.pk}")
    flow.export_and_download(clerk, ui, run.pk, "tb-04")
    payment = {}
    for f in flow.run_files(run):
        clerk.goto(f"{ui.base_url}/bank/files/{f.pk}/")
        with clerk.expect_download() as info:
            clerk.click("#download-file")
        payment[f.bank] = Path(info.value.path()).read_bytes()
    assert set(payment) == {"ICBC", "CXRCB"}

    # 4. 回盘: 周美玲 fails (户名不符), the rest paid
    flow.upload_return(clerk, ui, flow.bank_return(payment["ICBC"], {"周美玲": "户名不符"}), "icbc.txt", tmp_path, "tb-05")
    flow.upload_return(clerk, ui, flow.bank_return(payment["CXRCB"], {}), "cxrcb.txt", tmp_path, "tb-06")
    clerk.goto(f"{ui.base_url}/tb/runs/{run.pk}/")
    expect(clerk.locator("#tb-roster")).to_contain_text("失败")
    expect(clerk.locator("#tb-roster")).to_contain_text("户名不符")
    ui.shot(clerk, "tb-07-roster-failed")

    # 5. 入账失败人员: correct the account, 二次报盘
    clerk.goto(f"{ui.base_url}/tb/runs/")
    clerk.click("main .page-actions >> text=入账失败人员")
    expect(clerk.locator("#tbl-failed-results")).to_contain_text("周美玲")
    clerk.click("#tbl-failed-results >> text=更正账户")
    clerk.click("main .page-actions >> text=变更支付账户")
    clerk.select_option("select[name=bank]", "ABC")
    clerk.fill("input[name=account_number]", "6228480329000000015")
    clerk.fill("input[name=holder_name]", "周美玲")
    clerk.fill("textarea[name=reason]", "银行回盘：户名不符，本人提供新卡")
    clerk.click("form.form button[type=submit]")
    expect(clerk.locator(".messages")).to_contain_text("已变更 周美玲 的支付账户")
    clerk.goto(f"{ui.base_url}/bank/failed/")
    clerk.click("#tbl-failed-results >> text=二次报盘")
    expect(clerk.locator(".confirm-box")).to_contain_text("1 笔失败明细")
    ui.shot(clerk, "tb-08-reissue-confirm")
    clerk.click("#confirm-action")
    expect(clerk.locator(".messages")).to_contain_text("已生成二次报盘批次")
    reissue = PayrollRun.objects.get(kind="reissue")
    assert PayrollLine.objects.get(run=reissue).account_number == "6228480329000000015"

    # 6. the reviewer approves the re-issue; exported and paid
    reviewer.goto(f"{ui.base_url}/payroll/{reissue.pk}/")
    reviewer.click("#btn-approve")
    reviewer.click("#confirm-action")
    expect(reviewer.locator(".messages")).to_contain_text("已审核")
    again = flow.export_and_download(clerk, ui, reissue.pk, "tb-09")
    flow.upload_return(clerk, ui, flow.bank_return(again, {}), "abc.txt", tmp_path, "tb-10")

    # 7. the roster: everyone paid, the xlsx says so
    clerk.goto(f"{ui.base_url}/tb/runs/")
    expect(clerk.locator("#tb-runs")).to_contain_text("已完成")
    ui.shot(clerk, "tb-11-runs")
    clerk.click("#tb-runs >> text=明细")
    expect(clerk.locator("#tb-roster")).not_to_contain_text("失败")
    expect(clerk.locator("#tb-roster")).to_contain_text("二次报盘")
    expect(clerk.locator("main")).to_contain_text("已支付 4,320.00 元")
    ui.shot(clerk, "tb-12-roster-paid", full_page=True)
    with clerk.expect_download() as info:
        clerk.click("main .page-actions >> text=导出Excel")
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(Path(info.value.path()).read_bytes())).get_sheet_by_index(0)
    rows = sheet.to_python()
    assert rows[0][0] == "慈溪市土保补贴人员 2026 年度发放明细"
    assert [r[10] for r in rows[3:] if r[0] != ""] == ["已支付"] * 3
    assert rows[-1][2:8] == ["合计", "3 人", "", 4320.0, 0.0, 4320.0]
    run.refresh_from_db()
    reissue.refresh_from_db()
    assert (run.state, reissue.state, run.net) == ("completed", "completed", Decimal("4320.00"))
