"""生存认证 in headless Chromium at 1366×768: a 社区专管员's due list (their community only) → the person →
record a certification with a photo → the person's status is 正常 again and the next payroll line pays
the month and the 补发 of the withheld month; the photo downloads under its name; 人员维护 lists their
community only and shows them the person's data without the form; screenshots go to test-artifacts/."""

import datetime as dt
import importlib
import os
import random
from decimal import Decimal as D
from pathlib import Path

import pytest

from shebao.web.tests.helpers import id_number, make_person, make_user

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _seed() -> None:
    """A transactional test that ran before this one flushed the migration-seeded rows: put them back."""
    from django.apps import apps

    from shebao.registry.models import Region
    from shebao.registry.regions_data import seed_regions

    seed_regions(Region)
    importlib.import_module("shebao.benefits.migrations.0002_seed").seed(apps, None)


def test_community_worker_certifies_from_the_due_list(live_server, settings, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from shebao.accounts.tests.factories import town
    from shebao.benefits.models import Enrollment
    from shebao.benefits.services import enrollment_create, scheme_get
    from shebao.certification.demo import demo_png
    from shebao.certification.services import (
        certification_record,
        certification_sweep,
        community_worker_assign,
    )
    from shebao.payroll.models import PayrollLine
    from shebao.payroll.services import payroll_run_approve, payroll_run_compute
    from shebao.registry.models import Region

    ARTIFACTS.mkdir(exist_ok=True)
    settings.MEDIA_ROOT = str(tmp_path)  # the photo's file
    _seed()
    hushan = town("浒山街道")
    ours, other = list(Region.objects.filter(parent=hushan, level="community").order_by("sort")[:2])
    clerk = make_user("bclerk", all_regions=True)
    reviewer = make_user("breviewer", roles=("reviewer",), all_regions=True)
    worker = make_user("bworker", roles=("community",))
    community_worker_assign(worker=worker, communities=[ours], actor=clerk)
    target = make_person("认证甲", number=id_number(dt.date(1948, 6, 1)), community=ours, mobile="13800001111")
    neighbour = make_person("认证乙", number=id_number(dt.date(1949, 7, 2)), community=other)
    for p in (target, neighbour):
        enrollment_create(person=p, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                          items={"basic": "2000.00", "extra": "150.00"})
        certification_record(p, dt.date(2025, 2, 10), "社区上门", clerk)
    for period in ("2026-01", "2026-02", "2026-03"):
        payroll_run_approve(run=payroll_run_compute(scheme=scheme_get("ZG"), period=period, user=clerk),
                            user=reviewer)
    certification_sweep(on=dt.date(2026, 3, 5), user=clerk)  # both suspended from 2026-04
    payroll_run_approve(run=payroll_run_compute(scheme=scheme_get("ZG"), period="2026-04", user=clerk), user=reviewer)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page.set_default_timeout(60_000)  # a shared, busy machine: the live server's first page is slow
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "bworker")
        page.fill("input[name=password]", "Passw0rd!x")
        page.click("button[type=submit]")
        expect(page.locator(".topbar .user-name")).to_have_text("BWORKER")

        page.goto(f"{live_server.url}/shgl/certification/due/?state=suspended")
        expect(page.locator("main")).to_contain_text("认证甲")
        expect(page.locator("main")).not_to_contain_text("认证乙")
        page.screenshot(path=str(ARTIFACTS / "cert-1-due.png"), full_page=True)

        page.click("#cert-due a:has-text('认证甲')")
        page.wait_for_url(f"**/shgl/certification/person/{target.pk}/")
        expect(page.locator("#cert-status")).to_contain_text("未提供生存证明")
        page.fill("input[name=certified_on]", "2026-05-06")
        page.select_option("select[name=method]", "community")
        page.fill("input[name=place]", "社区服务中心")
        page.set_input_files("input[name=attachment]", files=[
            {"name": "家访照片.png", "mimeType": "image/png", "buffer": demo_png(random.Random(3))}])
        page.click("button:has-text('登记认证')")
        expect(page.locator("main")).to_contain_text("2026-05 起恢复发放，补发 2150.00 元（1 个月）")
        expect(page.locator("#cert-status")).to_contain_text("正常")
        expect(page.locator("main")).to_contain_text("2026-05-06")
        page.screenshot(path=str(ARTIFACTS / "cert-2-recorded.png"), full_page=True)
        # the photo: linked from the history, downloaded under its own name
        with page.expect_download() as download:
            page.click("a:has-text('家访照片.png')")
        assert download.value.suggested_filename == "家访照片.png"

        # 人员维护: their community's persons only; the person's page reads, the form is not theirs
        page.goto(f"{live_server.url}/shgl/persons/")
        expect(page.locator("#shgl-persons")).to_contain_text("认证甲")
        expect(page.locator("#shgl-persons")).not_to_contain_text("认证乙")
        page.click("#shgl-persons a:has-text('认证甲')")
        expect(page.locator("#social-facts")).to_contain_text(ours.name)
        expect(page.locator("#social-form")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "cert-3-maintain.png"), full_page=True)

        # the next payroll: the month and the withheld month's 补发 on one line
        run = payroll_run_compute(scheme=scheme_get("ZG"), period="2026-05", user=clerk)
        line = PayrollLine.objects.get(run=run, person_id=target.pk)
        assert line.gross == D("4300.00")
        assert not PayrollLine.objects.filter(run=run, person_id=neighbour.pk).exists()
        assert Enrollment.objects.get(person=target).payment_status == "active"
        browser.close()
