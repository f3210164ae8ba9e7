"""错误数据修改 in headless Chromium: a clerk proposes a correction, a reviewer approves it in another
session, and the change is on the person's page (变更记录) with the request's number and reason."""

import datetime as dt
import os
from pathlib import Path

import pytest

from shebao.web.tests.helpers import PASSWORD, id_number, make_person, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(browser, url: str, username: str):
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN").new_page()
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".topbar .user-name")).to_have_text(username.upper())
    return page


def test_propose_approve_and_see_it_on_the_persons_history(live_server):
    from playwright.sync_api import expect, sync_playwright

    from shebao.maintenance.models import CorrectionRequest
    from shebao.registry.models import Person, Region
    from shebao.registry.regions_data import seed_regions

    ARTIFACTS.mkdir(exist_ok=True)
    seed_regions(Region)  # a transactional test before this one flushed the migration-seeded regions
    person = make_person("沈阿五", number=id_number(dt.date(1949, 5, 6)), mobile="13805741111")
    make_user("corrclerk", roles=["clerk"], all_regions=True)
    make_user("corrrev", roles=["reviewer"], all_regions=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = _login(browser, live_server.url, "corrclerk")
        page.click("summary:has-text('数据维护')")
        page.click("a:has-text('错误数据修改')")
        expect(page.locator("main")).to_contain_text("没有符合条件的记录")
        page.click("a:has-text('新建更正申请')")
        page.fill("main input[name=q]", "沈阿五")  # not the global search box
        page.click("main button:has-text('查找')")
        page.click("main a:has-text('选择')")
        page.select_option("#id_target", "person:mobile")
        page.fill("#id_value", "13905742222")
        page.fill("#id_reason", "本人到窗口更正手机号")
        page.click("button:has-text('提交更正申请')")
        expect(page.locator("main")).to_contain_text("待另一位用户审核")
        expect(page.locator("main")).not_to_contain_text("通过并更正")  # not for its proposer
        page.screenshot(path=str(ARTIFACTS / "maint-1-proposed.png"), full_page=True)
        req = CorrectionRequest.objects.get()
        assert Person.objects.get(pk=person.pk).mobile == "13805741111"  # nothing changed before approval

        review = _login(browser, live_server.url, "corrrev")
        review.goto(f"{live_server.url}/maint/corrections/?state=open")
        review.click(f"main a:has-text('{req.number}')")
        expect(review.locator("#new-value")).to_contain_text("139****2222")  # masked without 查看敏感信息
        review.fill("#id_note", "已核对身份证件")
        review.click("button:has-text('通过并更正')")
        expect(review.locator("main")).to_contain_text("已通过并更正")
        expect(review.locator("h1")).to_contain_text("已更正")
        review.click("main dl a:has-text('沈阿五')")
        review.wait_for_url(f"**/persons/{person.pk}/")
        history = review.locator("#history")
        expect(history).to_contain_text(f"更正申请 {req.number}：本人到窗口更正手机号")
        expect(history).to_contain_text("CORRREV")
        review.screenshot(path=str(ARTIFACTS / "maint-2-history.png"), full_page=True)
        browser.close()
    assert Person.objects.get(pk=person.pk).mobile == "13905742222"
