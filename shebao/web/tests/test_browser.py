"""The shell in headless Chromium at 1366×768: "/" focuses the global search, live results, the list
filters and sorts in place (htmx) with the state in the URL, 建设中 pages; screenshots go to
test-artifacts/ for a look."""

import datetime as dt
import os
from pathlib import Path

import pytest

from shebao.web.tests.helpers import id_number, make_person, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_shell_search_list_and_wip(live_server):
    from playwright.sync_api import expect, sync_playwright

    from shebao.registry.models import Region
    from shebao.registry.regions_data import seed_regions

    ARTIFACTS.mkdir(exist_ok=True)
    # a transactional test that ran before this one flushed the migration-seeded regions: put them back
    seed_regions(Region)
    for i in range(60):
        make_person(f"测试{i:02d}", number=id_number(dt.date(1940 + i % 30, 1 + i % 12, 1 + i % 27), male=i % 2 == 0),
                    town_name="浒山街道" if i % 3 else "古塘街道", mobile=f"1381234{i:04d}")
    target = make_person("张三丰", number=id_number(dt.date(1946, 8, 15)))
    make_user("clerkb", towns=["浒山街道", "古塘街道"])

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "clerkb")
        page.fill("input[name=password]", "Passw0rd!x")
        page.click("button[type=submit]")
        expect(page.locator(".topbar .user-name")).to_have_text("CLERKB")
        expect(page.locator("main")).to_contain_text("暂无待办")
        page.screenshot(path=str(ARTIFACTS / "web-1-home.png"))

        # "/" from anywhere (not while typing) focuses the global search; live results appear
        page.locator("h1").click()
        page.keyboard.press("/")
        expect(page.locator("#global-search")).to_be_focused()
        page.keyboard.type("zsf")
        expect(page.locator("#global-search-results")).to_contain_text("张三丰")
        page.screenshot(path=str(ARTIFACTS / "web-2-suggest.png"))
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/persons/{target.pk}/")
        expect(page.locator("main")).to_contain_text("未参加任何险种")
        page.screenshot(path=str(ARTIFACTS / "web-3-person.png"), full_page=True)

        # the list: live filter, sort by clicking a header, state kept in the URL
        page.goto(f"{live_server.url}/persons/")
        expect(page.locator(".table-toolbar .total")).to_have_text("共 61 条")
        page.fill("#persons-q", "测试1")
        expect(page.locator(".table-toolbar .total")).to_have_text("共 10 条")
        assert "q=%E6%B5%8B%E8%AF%951" in page.url and "town=" not in page.url  # empty filters left out
        page.click("th a:has-text('姓名')")
        expect(page.locator("table.data tbody tr").first).to_contain_text("测试19")
        assert "sort=-name" in page.url
        page.select_option("#persons-sex", "F")
        expect(page.locator(".table-toolbar .total")).to_have_text("共 5 条")
        assert "sort=-name" in page.url and "sex=F" in page.url
        expect(page.locator("table.data tbody tr").first).to_contain_text("测试19")
        page.screenshot(path=str(ARTIFACTS / "web-4-list.png"))

        # a menu entry not built yet says so (every entry of the agency's menu is built: one stands in)
        from shebao.web import menu

        stand_in = menu.add_entry("legacy", "legacy.unbuilt", "旧档案核对", order=999)
        try:
            page.reload()
            page.click("summary:has-text('原遗留养老系统')")
            page.click("a:has-text('旧档案核对')")
            expect(page.locator("main")).to_contain_text("尚未建成")
            page.screenshot(path=str(ARTIFACTS / "web-5-wip.png"))
        finally:
            menu._GROUPS["legacy"].entries.remove(stand_in)
            menu._changed()
        browser.close()


def test_rural_benefit_start_heir_death_settlement_and_statement(live_server):
    """老农保 receipt in the browser: a clerk opens the account of a 60+ person who still pays, starts the
    monthly benefit (试算: accumulation × 计发系数 → confirm), records the 代领人 found by name (their bank
    account masked), settles the death within the 120-month guarantee by bank, and prints the 结算单 (PDF
    saved and rasterised with pdftoppm). Screenshots rural-2*.png at 1366×768."""
    import shutil
    import subprocess
    from decimal import Decimal

    from django.utils import timezone
    from playwright.sync_api import expect, sync_playwright

    from shebao.benefits.months import month_of
    from shebao.common.money import amount_in_words, format_yuan, quantize
    from shebao.payroll.models import PayrollLine
    from shebao.registry.services import bank_account_set
    from shebao.rural_pension.models import Contribution, RuralAccount, RuralDocument
    from shebao.rural_pension.services import credited_rate_set, rural_benefit_quote, rural_years_recompute
    from shebao.web.tests.helpers import PASSWORD, town

    ARTIFACTS.mkdir(exist_ok=True)
    today = timezone.localdate()
    clerk = make_user("nbshouli", roles=("clerk",), all_regions=True)
    person = make_person("沈阿毛", number=id_number(dt.date(1961, 2, 14)), town_name="浒山街道")
    heir = make_person("沈小龙", number=id_number(dt.date(1987, 9, 3)), town_name="浒山街道")
    bank_account_set(user=clerk, person=heir, bank="ICBC", account_number="6222021001000009055", holder_name="沈小龙",
                     valid_from=dt.date(2020, 1, 1))
    account = RuralAccount.objects.create(person=person, town=town("浒山街道"), enrolled_on=dt.date(2012, 12, 1))
    for year in range(2012, today.year + 1):
        credited_rate_set(user=clerk, year=year, rate="0.0200" if year % 2 else "0.0175", reason="利率表",
                          recompute=False)
    Contribution.objects.bulk_create(
        [Contribution(account=account, month=dt.date(year, 4, 1), kind="personal", amount=Decimal("600.00"))
         for year in range(2013, 2025)]
        + [Contribution(account=account, month=dt.date(year, 10, 1), kind="collective", amount=Decimal("150.00"))
           for year in range(2013, 2025)])
    rural_years_recompute()
    start = month_of(today)
    expected = rural_benefit_quote(account=account, start_month=start)
    monthly = expected.monthly
    assert monthly == quantize(expected.accumulation * expected.coefficient) and monthly > 0
    due = quantize(monthly * 119)  # start and death this month: 1 month due, 119 guaranteed months left

    def shot(page, name, *, full_page=False):
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "nbshouli")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator(".topbar .user-name")).to_have_text("NBSHOULI")

        # 1. the account of a paying 65-year-old offers 开始领取
        page.goto(f"{live_server.url}/nb/{account.pk}/")
        expect(page.locator("#account-status")).to_have_text("缴费")
        expect(page.locator("#btn-benefit")).to_be_visible()
        shot(page, "rural-20-account-paying")

        # 2. 开始领取: the start month (this month by default) → 试算 → confirm
        page.click("#btn-benefit")
        expect(page.locator("input[name=start]")).to_have_value(f"{start:%Y-%m}")
        shot(page, "rural-21-benefit-form")
        page.click("#btn-benefit-quote")
        expect(page.locator("#benefit-base")).to_have_text(format_yuan(expected.accumulation))
        expect(page.locator("#benefit-coefficient")).to_have_text(str(expected.coefficient))
        expect(page.locator("#benefit-monthly")).to_have_text(format_yuan(monthly))
        expect(page.locator("#benefit-words")).to_have_text(amount_in_words(monthly))
        shot(page, "rural-22-benefit-quote")
        page.click("#confirm-benefit")
        expect(page.locator(".messages")).to_contain_text("已开始领取")
        expect(page.locator("#account-status")).to_have_text("领取")
        expect(page.locator("#receipt-monthly")).to_have_text(format_yuan(monthly))
        expect(page.locator("#guarantee-left")).to_have_text("119")
        shot(page, "rural-23-receiving", full_page=True)
        account.refresh_from_db()
        assert (account.status, account.monthly_benefit, account.benefit_start_month) == ("receiving", monthly, start)

        # 3. 代领人: find by name, pick, the bank account masked, a reason
        page.click("#btn-heir")
        page.fill("#heir-q", "沈小龙")
        page.click("#btn-heir-search")
        expect(page.locator("#heir-results")).to_contain_text("6222***********9055")
        page.click("#heir-results >> text=选为代领人")
        expect(page.locator("#chosen-bank")).to_contain_text("6222***********9055")
        page.fill("textarea[name=reason]", "家属到窗口申报")
        shot(page, "rural-24-heir-confirm")
        page.click("#confirm-heir")
        expect(page.locator(".messages")).to_contain_text("已登记 沈阿毛 的代领人：沈小龙")
        shot(page, "rural-25-heir-set")

        # 4. 死亡结算 within the guarantee, by bank → the 结算单
        page.click("#btn-death")
        expect(page.locator("#death-heir")).to_contain_text("沈小龙")
        page.fill("input[name=death_date]", today.isoformat())
        page.check("input[name=pay][value=bank]")
        shot(page, "rural-26-death-form")
        page.click("#btn-death-quote")
        expect(page.locator("#death-months")).to_have_text("119")
        expect(page.locator("#death-amount")).to_have_text(format_yuan(due))
        expect(page.locator("#death-words")).to_have_text(amount_in_words(due))
        shot(page, "rural-27-death-quote")
        page.click("#confirm-death")
        expect(page.locator(".messages")).to_contain_text("已办理死亡结算")
        doc = RuralDocument.objects.get()
        assert (doc.kind, doc.amount, doc.pay_method, doc.payee_id) == ("death_guarantee", due, "bank", heir.pk)
        line = PayrollLine.objects.get(pk=doc.payroll_line_id)
        assert (line.person_id, line.account_number, line.net) == (heir.pk, "6222021001000009055", due)
        expect(page.locator("main h1")).to_contain_text(doc.number)
        expect(page.locator("#doc-amount")).to_have_text(format_yuan(due))
        shot(page, "rural-28-death-settled", full_page=True)
        account.refresh_from_db()
        assert account.status == "terminated" and account.heir_id == heir.pk

        # 5. the 结算单 PDF behind the print button
        href = page.locator("#btn-print").get_attribute("href")
        response = page.request.get(f"{live_server.url}{href}")
        assert response.status == 200 and response.headers["content-type"] == "application/pdf"
        pdf = response.body()
        assert pdf.startswith(b"%PDF")
        (ARTIFACTS / "rural-29-death-statement.pdf").write_bytes(pdf)
        if shutil.which("pdftoppm"):
            subprocess.run(["pdftoppm", "-png", "-r", "70", "-singlefile", str(ARTIFACTS / "rural-29-death-statement.pdf"),
                            str(ARTIFACTS / "rural-29-death-statement")], check=True)
            assert (ARTIFACTS / "rural-29-death-statement.png").stat().st_size > 10_000
        page.reload()
        expect(page.locator("#btn-reprint")).to_have_text("补打结算单")  # printed once: a reprint is asked for
        expect(page.locator("#btn-view-pdf")).to_have_text("查看结算单（副本）")

        # 6. the 计发系数 table the monthly benefit came from (a clerk reads it; reviewers maintain it)
        page.click(".sidemenu >> text=计发系数")
        expect(page.locator("#coefficients-table")).to_contain_text(str(expected.coefficient))
        shot(page, "rural-30-coefficients")
        browser.close()
