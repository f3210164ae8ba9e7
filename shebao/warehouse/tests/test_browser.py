"""The 回流库's main path in headless Chromium: load a file through the page, open the dictionary, run
the audit, open a finding's person."""

import os
from pathlib import Path

import pytest

from shebao.web.tests.helpers import id_number, make_person, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SOURCE = "浏览器测试"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_load_dictionary_audit_person(live_server, tmp_path):
    from django.db import connection
    from playwright.sync_api import expect, sync_playwright

    from shebao.registry.models import Region
    from shebao.registry.regions_data import seed_regions
    from shebao.warehouse import samples
    from shebao.warehouse.dictionary import dictionary_load
    from shebao.warehouse.models import AuditRule, WhTable

    ARTIFACTS.mkdir(exist_ok=True)
    seed_regions(Region)  # a transactional test before this one flushed the migration seeds
    import importlib

    seed = importlib.import_module("shebao.warehouse.migrations.0002_seed").seed
    from django.apps import apps

    seed(apps, None)
    user = make_user("whbrowser", roles=("it_admin",), all_regions=True)
    person = make_person("回流甲", number=id_number())
    dictionary_load(source_name=SOURCE, path=samples.dictionary_folder(tmp_path), user=user)
    AuditRule.objects.exclude(kind="name").update(active=False)
    table = WhTable.objects.get(source__name=SOURCE, name="ac01")
    upload = tmp_path / "ac01.csv"
    upload.write_text(f"aac001,aac002,aac003\nP1,{person.id_number},回流乙\n", encoding="utf-8")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            page.goto(f"{live_server.url}/accounts/login/")
            page.fill("input[name=username]", "whbrowser")
            page.fill("input[name=password]", "Passw0rd!x")
            page.click("button[type=submit]")
            expect(page.locator(".topbar .user-name")).to_have_text("WHBROWSER")

            page.goto(f"{live_server.url}/wh/loads/")
            page.select_option("#wh-load-form select[name=table]", str(table.pk))
            page.set_input_files("#wh-load-form input[name=file]", str(upload))
            page.click("#wh-load-form button[type=submit]")
            expect(page.locator("#wh-load")).to_contain_text("已装载")
            page.screenshot(path=str(ARTIFACTS / "wh-1-load.png"))

            page.goto(f"{live_server.url}/wh/")
            page.click("#wh-tables a:has-text('ac01') >> nth=-1")
            expect(page.locator("#wh-rows")).to_have_text("1")
            expect(page.locator("main")).to_contain_text("公民身份号码")
            page.screenshot(path=str(ARTIFACTS / "wh-2-dictionary.png"), full_page=True)

            page.goto(f"{live_server.url}/wh/findings/")
            page.click("#wh-run-audit")
            expect(page.locator("#wh-findings")).to_contain_text("回流乙")
            page.click(f"#wh-findings a[href='/persons/{person.pk}/']")
            page.wait_for_url(f"**/persons/{person.pk}/")
            expect(page.locator("main")).to_contain_text("回流甲")
            page.screenshot(path=str(ARTIFACTS / "wh-3-person.png"), full_page=True)
            browser.close()
    finally:
        with connection.cursor() as cursor:
            for t in WhTable.objects.filter(source__name=SOURCE):
                cursor.execute(f'DROP TABLE IF EXISTS warehouse."{t.physical}" CASCADE')
