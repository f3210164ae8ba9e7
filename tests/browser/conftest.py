"""Helpers for the browser tests: headless Debian Chromium through Playwright's sync API against
pytest-django's ``live_server``; screenshots at the agency's 1366×768 into test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body are fine
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture
def chromium():
    """A launched headless Chromium (closed after the test)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def logged_in_page(browser, base_url: str, username: str, password: str):
    """A new browser context (its own session) with a page logged in as the user."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator(".topbar .user-name")).to_be_visible()
    return page


def shot(page, name: str, *, full_page: bool = False) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


class Ui:
    """What a browser test needs: log a user in (own context), take a screenshot."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url

    def login(self, username: str, password: str):
        return logged_in_page(self.browser, self.base_url, username, password)

    shot = staticmethod(shot)


@pytest.fixture
def ui(chromium, live_server):
    return Ui(chromium, live_server.url)
