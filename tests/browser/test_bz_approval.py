"""养老保障 待遇核准 in the browser: a clerk proposes a benefit on the person's page, cannot approve it
(the approval list says another user must); a reviewer logs in, approves it on 待遇核准 — the person is
enrolled in BZ with the category's 生活补助 and the proposal shows 已核准 in the person's history.
Screenshots go to test-artifacts/bz-*.png at 1366×768."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from shebao.benefits.models import BenefitAmount
from shebao.pension_security.models import Category, Member, Proposal
from shebao.pension_security.services import member_register
from shebao.web.tests.helpers import PASSWORD, id_number, make_person, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_proposes_reviewer_approves(ui):
    from playwright.sync_api import expect

    clerk = make_user("bzjingban", roles=("clerk",), all_regions=True)
    make_user("bzshenhe", roles=("reviewer",), all_regions=True)
    person = make_person("钱保障", number=id_number(dt.date(1975, 6, 30)), town_name="浒山街道")
    member_register(user=clerk, category=Category.objects.get(code="land"), person=person)

    page = ui.login("bzjingban", PASSWORD)
    page.goto(f"{ui.base_url}/bz/p/{person.pk}/")
    expect(page.locator("h1")).to_contain_text("钱保障")
    page.get_by_role("link", name="申报待遇").click()
    page.fill("input[name=start_month]", "2026-01")
    page.get_by_role("button", name="确定").click()
    expect(page.locator("body")).to_contain_text("待另一人核准")
    page.goto(f"{ui.base_url}/bz/approvals/")
    row = page.locator("#bz-approvals tbody tr", has_text="钱保障")
    expect(row).to_contain_text("本人申报，须由他人核准")
    expect(row.get_by_role("button", name="核准")).to_have_count(0)
    ui.shot(page, "bz-approvals-clerk")

    page = ui.login("bzshenhe", PASSWORD)
    page.goto(f"{ui.base_url}/bz/approvals/")
    row = page.locator("#bz-approvals tbody tr", has_text="钱保障")
    expect(row).to_contain_text("320.00")
    ui.shot(page, "bz-approvals-reviewer")
    row.locator("input[name=reason]").fill("材料齐全")
    row.get_by_role("button", name="核准").click()
    expect(page.locator("body")).to_contain_text("已核准 钱保障 的待遇")
    page.goto(f"{ui.base_url}/bz/p/{person.pk}/")
    expect(page.locator("#bz-proposals")).to_contain_text("已核准")
    ui.shot(page, "bz-person", full_page=True)

    member = Member.objects.get(person=person)
    proposal = Proposal.objects.get(member=member)
    assert (proposal.state, proposal.decided_by.username, proposal.decision_reason) == ("approved", "bzshenhe", "材料齐全")
    assert list(BenefitAmount.objects.filter(enrollment=member.enrollment).values_list("item__code", "amount")) == [
        ("living", Decimal("320.00"))]
