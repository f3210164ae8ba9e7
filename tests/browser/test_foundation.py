"""Foundation walk-through in headless Chromium: log in, search by ID suffix, name and pinyin
initials, open the person page, see masked numbers without the sensitive-data right."""

import datetime as dt
import os
from pathlib import Path

import pytest

from shebao.accounts.services import user_create
from shebao.registry.services import bank_account_set
from shebao.registry.tests.factories import id_number, make_person

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_search_open_person_masked(live_server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    number = id_number(born=dt.date(1946, 8, 15), male=True, seq=61)
    person = make_person(name="张三丰", id_number=number, mobile="13812345678")
    bank_account_set(user=None, person=person, bank="CXRCB", account_number="6222021001115704287",
                     holder_name="张三丰", valid_from=dt.date(2024, 1, 1))
    make_person(name="李四明", id_number=id_number(born=dt.date(1950, 2, 3), seq=62))
    user_create(actor=None, username="clerk2", full_name="王经办", password="Passw0rd!x", roles=["clerk"],
                all_regions=True, must_change_password=False, sensitive=False)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page.goto(f"{live_server.url}/")
        expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
        page.fill("input[name=username]", "clerk2")
        page.fill("input[name=password]", "Passw0rd!x")
        page.screenshot(path=str(ARTIFACTS / "foundation-1-login.png"))
        page.click("button[type=submit]")
        expect(page.locator("body")).to_contain_text("王经办")

        # by the last 6 digits of the 身份证号
        page.goto(f"{live_server.url}/persons/?q={number[-6:]}")
        expect(page.locator("main")).to_contain_text("张三丰")
        expect(page.locator("main")).not_to_contain_text("李四明")
        # by name
        page.goto(f"{live_server.url}/persons/?q=李四")
        expect(page.locator("main")).to_contain_text("李四明")
        # by pinyin initials, typed in the global search after pressing "/"
        page.goto(f"{live_server.url}/persons/")
        page.keyboard.press("/")
        page.keyboard.type("zsf")
        expect(page.locator("#global-search-results")).to_contain_text("张三丰")
        page.screenshot(path=str(ARTIFACTS / "foundation-2-search.png"))
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/persons/{person.pk}/")

        body = page.locator("main")
        expect(body).to_contain_text("张三丰")
        expect(body).to_contain_text(number[:6] + "********" + number[-4:])
        expect(body).to_contain_text("6222***********4287")
        expect(body).to_contain_text("138****5678")
        assert number not in body.inner_text()
        assert "6222021001115704287" not in body.inner_text()
        page.screenshot(path=str(ARTIFACTS / "foundation-3-person.png"), full_page=True)
        browser.close()
