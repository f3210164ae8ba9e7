"""In headless Chromium at 1366×768: a clerk enters an expenditure to a registered payee, finance confirms
its arrival (a wrong amount first: the difference is shown), a reviewer reviews it (locked) and reverses
it; the report nets it to zero. Screenshots go to test-artifacts/ for a look."""

import datetime as dt
import os
from pathlib import Path

import pytest

from shebao.web.tests.helpers import make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "Passw0rd!x"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _seed():
    """A transactional test that ran before may have flushed the migration-seeded rows: put back what
    this test uses (a bank, the business type)."""
    from shebao.finance.models import BusinessType
    from shebao.finance.services import type_save
    from shebao.registry.models import Bank
    from shebao.registry.services import bank_save

    if not Bank.objects.filter(code="ICBC").exists():
        bank_save(user=None, code="ICBC", name="中国工商银行", account_min_length=16, account_max_length=19, create=True)
    if not BusinessType.objects.filter(code="TB_TO_SI_SUBSIDY").exists():
        type_save(user=None, code="TB_TO_SI_SUBSIDY", name="土保转社保政府补助支出", direction="expenditure",
                  subject_code="5401", subject_name="转移支出—土保转社保政府补助", create=True)


def _login(browser, url, username):
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".topbar .user-name")).to_have_text(username.upper())
    return page


def test_expenditure_arrival_review_reverse(live_server):
    from playwright.sync_api import expect, sync_playwright

    from shebao.finance.models import Entry
    from shebao.registry.services import payee_create

    ARTIFACTS.mkdir(exist_ok=True)
    _seed()
    for name, role in (("tsclerk", "clerk"), ("tsfin", "finance"), ("tsrev", "reviewer")):
        make_user(name, roles=(role,), all_regions=True)
    payee = payee_create(user=None, name="慈溪市财政局", bank="ICBC", account_number="6222020000000077")
    today = dt.date.today().isoformat()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        clerk = _login(browser, live_server.url, "tsclerk")
        clerk.goto(f"{live_server.url}/ts/expenditure/")
        clerk.select_option("#entry-form select[name=type]", label="土保转社保政府补助支出")
        clerk.fill("#entry-form input[name=payee_code]", payee.code)
        clerk.fill("#entry-form input[name=amount]", "12345.67")
        clerk.fill("#entry-form input[name=occurred_on]", today)
        clerk.fill("#entry-form input[name=voucher_no]", "记-0001")
        clerk.screenshot(path=str(ARTIFACTS / "ts-1-enter.png"), full_page=True)
        clerk.click("#entry-form button[type=submit]")
        expect(clerk.locator("#entry-state")).to_have_text("待到账确认")
        expect(clerk.locator("#entry-amount")).to_have_text("12,345.67")
        entry = Entry.objects.get()
        record = f"{live_server.url}/ts/e/{entry.pk}/"

        fin = _login(browser, live_server.url, "tsfin")
        fin.goto(record)
        fin.fill("#arrival-form input[name=arrival_on]", today)
        fin.fill("#arrival-form input[name=amount]", "12345.00")
        fin.click("#arrival-form button[type=submit]")
        expect(fin.locator("main")).to_contain_text("相差 -0.67 元，未确认")
        fin.screenshot(path=str(ARTIFACTS / "ts-2-arrival-refused.png"), full_page=True)
        fin.fill("#arrival-form input[name=amount]", "12345.67")
        fin.click("#arrival-form button[type=submit]")
        expect(fin.locator("#entry-state")).to_have_text("已到账待复核")

        rev = _login(browser, live_server.url, "tsrev")
        rev.goto(record)
        rev.click("#review-form button[type=submit]")
        expect(rev.locator("#entry-state")).to_have_text("已复核")
        rev.screenshot(path=str(ARTIFACTS / "ts-3-reviewed.png"), full_page=True)
        clerk.goto(record)
        expect(clerk.locator("main")).not_to_contain_text("删除记录")
        expect(clerk.locator(f"a[href$='/ts/e/{entry.pk}/edit/']")).to_have_count(0)

        rev.fill("#reverse-form input[name=reason]", "重复录入")
        rev.click("#reverse-form button[type=submit]")
        expect(rev.locator("main")).to_contain_text("红冲原记录")
        expect(rev.locator("#entry-amount")).to_have_text("-12,345.67")
        rev.screenshot(path=str(ARTIFACTS / "ts-4-reversal.png"), full_page=True)
        # the reversal is reviewed by another user than the one who made it
        fin.goto(f"{live_server.url}/ts/e/{Entry.objects.get(reversal_of=entry).pk}/")
        fin.click("#review-form button[type=submit]")
        expect(fin.locator("#entry-state")).to_have_text("已复核")
        fin.goto(f"{live_server.url}/ts/report/?period={today[:7]}")
        expect(fin.locator("#expenditure-total")).to_have_text("2 笔 · 0.00")
        # the chart is drawn by the shared start-up (web/charts.js) from the page's JSON
        expect(fin.locator("#ts-chart[data-drawn='1']")).to_have_count(1)
        assert fin.evaluate("() => window.Chart.getChart('ts-chart').data.datasets.map(d => d.label)") == [
            "支出·土保转社保政府补助支出"]
        fin.screenshot(path=str(ARTIFACTS / "ts-5-report.png"), full_page=True)
        browser.close()
