"""The Content-Security-Policy in a real browser: the main pages of each subsystem load without a single
violation (Chromium reports each refused inline script, style or eval on the console), the list filter
still reloads on a select, and the 月末数据 chart draws."""

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


def test_pages_load_without_a_policy_violation(live_server):
    from playwright.sync_api import expect, sync_playwright

    from shebao.registry.models import Region
    from shebao.registry.regions_data import seed_regions

    seed_regions(Region)
    for i in range(6):
        make_person(f"策略{i}", number=id_number(dt.date(1950, 1, 1 + i), male=i % 2 == 0), town_name="浒山街道")
    person = make_person("策略人", number=id_number(dt.date(1946, 8, 15)))
    make_user("cspclerk", all_regions=True)

    violations: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page.on("console", lambda msg: violations.append(f"{page.url}: {msg.text}")
                if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "cspclerk")
        page.fill("input[name=password]", "Passw0rd!x")
        page.click("button[type=submit]")
        expect(page.locator(".topbar .user-name")).to_be_visible()

        page.goto(f"{live_server.url}/persons/")
        expect(page.locator(".table-toolbar .total")).to_have_text("共 7 条")
        page.select_option("#persons-sex", "F")  # the filter-change event app.js sends
        expect(page.locator(".table-toolbar .total")).to_have_text("共 3 条")
        assert "sex=F" in page.url
        page.fill("#persons-q", "策略人")
        expect(page.locator(".table-toolbar .total")).to_have_text("共 0 条")

        page.goto(f"{live_server.url}/persons/{person.pk}/")
        expect(page.locator("h1 .title-sub")).to_be_visible()
        assert page.eval_on_selector("h1 .title-sub", "e => getComputedStyle(e).fontWeight") in ("400", "normal")

        for path in ("/", "/payroll/", "/payroll/stats/", "/bank/", "/bank/returns/", "/nb/", "/zg/",
                     "/wip/ops.links/"):
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
        browser.close()
    assert not violations, "\n".join(violations)
