"""互联网络和安全 in headless Chromium at 1366×768: the link status page with an open incident, its
diagnosis page, a target's latency chart, and an inspection report run from the page; screenshots go to
test-artifacts/ for a look."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_status_page_incident_and_inspection_report(live_server):
    from django.utils import timezone
    from playwright.sync_api import expect, sync_playwright

    from shebao.ops.links import links_probe_due
    from shebao.ops.models import Backup, LinkTarget
    from shebao.ops.tests.helpers import closed_port, tcp_listener
    from shebao.web.tests.helpers import make_user

    ARTIFACTS.mkdir(exist_ok=True)
    make_user("opsit", roles=("it_admin",))
    port = closed_port()
    LinkTarget.objects.create(name="宁波市级平台专线", owner="ningbo", kind="tcp", host="127.0.0.1", port=port,
                              interval_seconds=60, timeout_seconds=2, failures_before_alert=2)
    LinkTarget.objects.create(name="内部DNS", owner="internal", kind="dns", host="localhost", interval_seconds=60)
    t0 = timezone.now() - dt.timedelta(minutes=5)
    with tcp_listener(port):
        links_probe_due(now=t0)
    links_probe_due(now=t0 + dt.timedelta(seconds=60))
    links_probe_due(now=t0 + dt.timedelta(seconds=120))
    stale = timezone.now() - dt.timedelta(hours=60)
    Backup.objects.create(started_at=stale, finished_at=stale, status="ok", file_name="shebao-old.dump", size=1)
    errors: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "opsit")
        page.fill("input[name=password]", "Passw0rd!x")
        page.click("button[type=submit]")
        expect(page.locator(".topbar .user-name")).to_have_text("OPSIT")

        page.goto(f"{live_server.url}/ops/links/")
        expect(page.locator("#open-incidents")).to_contain_text("宁波市级平台专线")
        expect(page.locator("#tbl-targets")).to_contain_text("中断")
        expect(page.locator("#tbl-targets")).to_contain_text("内部DNS")
        page.screenshot(path=str(ARTIFACTS / "ops-1-links.png"), full_page=True)

        page.locator("#open-incidents a").first.click()
        expect(page.locator("h1")).to_contain_text("故障诊断")
        expect(page.locator("#failing-stage")).to_have_text("TCP 连接")
        expect(page.locator("#last-good")).not_to_contain_text("没有成功的探测记录")
        page.screenshot(path=str(ARTIFACTS / "ops-2-incident.png"), full_page=True)

        page.locator("#incident-facts a").first.click()
        expect(page.locator("#latency-chart")).to_be_visible()
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('latency-chart'))")
        page.screenshot(path=str(ARTIFACTS / "ops-3-target.png"), full_page=True)

        page.goto(f"{live_server.url}/ops/inspection/")
        page.get_by_role("button", name="立即巡检").click()
        expect(page.locator("#report-items")).to_contain_text("审计链校验")
        expect(page.locator("#report-items tr[data-key=backup_age]")).to_contain_text("异常")
        expect(page.locator("#report-items tr[data-key=links]")).to_contain_text("异常")
        expect(page.locator("#report-level")).to_have_text("异常")
        page.screenshot(path=str(ARTIFACTS / "ops-4-inspection.png"), full_page=True)
        page.goto(f"{live_server.url}/ops/inspection/")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('inspection-chart'))")
        page.screenshot(path=str(ARTIFACTS / "ops-5-history.png"), full_page=True)
        browser.close()
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
