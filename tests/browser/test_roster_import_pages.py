"""The three roster imports' pages in the browser (自管人员 花名册, 养老保障 花名册, 土保补贴人员 — one engine,
``shebao.registry.roster_import``, and one page flow, ``shebao.web.imports``): a clerk uploads a file with a
bad row — the batch page lists the row's error, offers no confirm and nothing is written; then the clean
file — the page lists what would change, confirm imports it once and says so. Screenshots go to
test-artifacts/roster-import-*.png at 1366×768."""

from __future__ import annotations

import pytest

from shebao.land_subsidy.tests.factories import make_category
from shebao.registry.models import Person
from shebao.registry.tests.test_roster_import import SCHEMES, A, B, C, csv
from shebao.web.tests.helpers import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = {"ZG": "/zg/roster/", "BZ": "/bz/roster/", "TB": "/tb/import/"}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_upload_preview_confirm(ui, scheme):
    from playwright.sync_api import expect

    clerk = make_user("rosterjingban", roles=("clerk",), all_regions=True)
    make_category("A", "征地补贴一类", user=clerk)
    importer, columns, rows, models = SCHEMES[scheme]
    batches = models[-1]
    page = ui.login("rosterjingban", PASSWORD)

    def upload(name: str, data: bytes) -> None:
        page.goto(f"{ui.base_url}{PAGES[scheme]}")
        page.set_input_files("input[type=file]", files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
        page.get_by_role("button", name="上传并检查").click()
        page.wait_for_url(lambda url: url.rstrip("/").split("/")[-1].isdigit())

    upload("bad.csv", csv(columns, rows(bad=True)))
    errors = page.locator("table[id$=errors] tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first.locator("td").first).to_have_text(str(len(rows(bad=True)) + 1))
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    assert batches.objects.get().state == "refused" and not Person.objects.filter(id_number__in=[A, B, C]).exists()
    ui.shot(page, f"roster-import-{scheme.lower()}-refused")

    upload("good.csv", csv(columns, rows(bad=False)))
    expect(page.locator("body")).to_contain_text("徐美娟")
    ui.shot(page, f"roster-import-{scheme.lower()}-preview", full_page=True)
    assert not Person.objects.filter(id_number__in=[A, B, C]).exists()
    page.get_by_role("button", name="确认导入").click()
    expect(page.locator("body")).to_contain_text("已导入：")
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    ui.shot(page, f"roster-import-{scheme.lower()}-applied")
    batch = batches.objects.order_by("-pk").first()
    assert (batch.state, batch.changed_count) == ("applied", 3)
    assert Person.objects.filter(id_number__in=[A, B, C]).count() == 3
