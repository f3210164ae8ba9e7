"""The authorization matrix of 养老保障 (/bz/, ``shebao bz``). Every rule is scheme BZ (the NB-only and
ZG-only clerks are refused); persons are limited to the user's towns (the world's person is of 附海镇
unless the row says ``home``); 到龄转换 and 增资 reach the whole county (全市范围); 待遇核准 is a
reviewer's. POST rows are sent without their one-time token: nothing is written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.common.models import AuditEvent
from shebao.pension_security.management.commands import bz as bz_cmd
from shebao.pension_security.models import Category, CategoryStandard, Member, Proposal
from shebao.pension_security.permissions import (
    APPROVE_RULE,
    CATEGORY_RULE,
    COUNTY_VIEW_RULE,
    MANAGE_RULE,
    VIEW_RULE,
)
from shebao.pension_security.services import bz_settle, member_register, proposal_approve, proposal_create
from shebao.registry.models import Person
from tests.authz.harness import (
    FOREIGN_TOWN,
    HOME_TOWN,
    IDENTITIES,
    Entry,
    expected,
    make_identities,
    run_api_row,
    run_page_row,
)


@dataclasses.dataclass
class World:
    users: dict
    foreign: Person
    home: Person
    proposal: Proposal
    settlement: object
    tmp: Path


def build_world(tmp_path) -> World:
    from shebao.benefits.tests.factories import make_user
    from shebao.web.tests.helpers import id_number, make_person

    users = make_identities()
    clerk, rev = users["clerk"], make_user("mx_rev_bz", reviewer=True)
    cat = Category.objects.get(code="land")
    foreign = make_person("附海保障", number=id_number(dt.date(1980, 3, 1)), town_name=FOREIGN_TOWN)
    home = make_person("浒山保障", number=id_number(dt.date(1981, 4, 2)), town_name=HOME_TOWN)
    m1 = member_register(user=clerk, category=cat, person=foreign)
    m2 = member_register(user=clerk, category=cat, person=home)
    proposal_approve(proposal=proposal_create(member=m2, user=clerk, start_month="2025-01"), user=rev)
    settlement = bz_settle(member=Member.objects.get(pk=m2.pk), reason="withdrawal", on=dt.date(2025, 6, 30),
                           user=clerk)
    proposal = proposal_create(member=m1, user=clerk, start_month="2025-01")
    (tmp_path / "bz.csv").write_text("身份证号,姓名,类别,镇街道,联系电话,开户银行,银行账号,户名,缴费方式,缴费日期,缴费金额,备注\n"
                                     f"{foreign.id_number},附海保障,被征地人员养老保障,{FOREIGN_TOWN},,,,,缴费,2020-01-01,100.00,\n",
                                     encoding="utf-8")
    return World(users, foreign, home, proposal, settlement, tmp_path)


def written() -> tuple:
    return (AuditEvent.objects.count(), Proposal.objects.filter(state="proposed").count(), Member.objects.count(),
            Category.objects.count(), CategoryStandard.objects.count())


def cat(w):
    return {"pk": Category.objects.get(code="land").pk}


def std(w):
    return {"pk": CategoryStandard.objects.filter(category__code="elder").order_by("pk").first().pk}


def p(home=False):
    return lambda w: {"pk": (w.home if home else w.foreign).pk}


PAGE_ROWS = [
    Entry("pension_security:person_list", VIEW_RULE),
    Entry("pension_security:person_list", VIEW_RULE, query={"export": "xlsx"}),
    Entry("pension_security:register", MANAGE_RULE),
    Entry("pension_security:register", MANAGE_RULE, method="POST", data=lambda w: {"q": "x"}),
    Entry("pension_security:person", VIEW_RULE, args=p(), town_scoped=True),
    Entry("pension_security:person", VIEW_RULE, args=p(home=True), town_scoped=True, home=True),
    Entry("pension_security:propose", MANAGE_RULE, args=p(), town_scoped=True),
    Entry("pension_security:propose", MANAGE_RULE, args=p(), town_scoped=True, method="POST",
          data=lambda w: {"start_month": "2026-01"}),
    Entry("pension_security:paid_in", MANAGE_RULE, args=p(), town_scoped=True),
    Entry("pension_security:status", MANAGE_RULE, args=p(), town_scoped=True),
    Entry("pension_security:adjust", MANAGE_RULE, args=p(), town_scoped=True),
    Entry("pension_security:settle", MANAGE_RULE, args=p(), town_scoped=True),
    Entry("pension_security:approvals", VIEW_RULE),
    Entry("pension_security:decide", APPROVE_RULE, args=lambda w: {"pk": w.proposal.pk}, town_scoped=True,
          method="POST", data=lambda w: {"decision": "approve"}),
    Entry("pension_security:conversions", COUNTY_VIEW_RULE),
    Entry("pension_security:suspensions", VIEW_RULE),
    Entry("pension_security:adjustments", VIEW_RULE),
    Entry("pension_security:raise", COUNTY_VIEW_RULE),
    Entry("pension_security:payable", VIEW_RULE),
    Entry("pension_security:payable", VIEW_RULE, query={"export": "xlsx"}),
    Entry("pension_security:reports", VIEW_RULE),
    Entry("pension_security:reports", VIEW_RULE, query={"export": "xlsx"}),
    Entry("pension_security:settlements", VIEW_RULE),
    Entry("pension_security:settlement_pdf", VIEW_RULE, args=lambda w: {"number": w.settlement.number},
          town_scoped=True, home=True),
    Entry("pension_security:roster", VIEW_RULE),
    Entry("pension_security:roster_export", VIEW_RULE),
    Entry("pension_security:roster_batch", MANAGE_RULE, args=lambda w: {"pk": 999999}, allowed_status=(404,)),
    Entry("pension_security:roster_batch_confirm", MANAGE_RULE, args=lambda w: {"pk": 999999}, method="POST",
          allowed_status=(404,)),
    # 类别与标准: read by every BZ user; maintained with 维护养老保障类别与标准 (the reviewer's), 全市范围
    Entry("pension_security:categories", VIEW_RULE),
    Entry("pension_security:categories", VIEW_RULE, query={"export": "xlsx"}),
    Entry("pension_security:category", VIEW_RULE, args=cat),
    Entry("pension_security:category", VIEW_RULE, args=cat, query={"s_export": "xlsx"}),
    Entry("pension_security:category_add", CATEGORY_RULE),
    Entry("pension_security:category_add", CATEGORY_RULE, method="POST",
          data=lambda w: {"code": "mx", "name": "矩阵类别", "conversion_age_male": "60", "conversion_age_female": "55",
                          "refund_paid_in_rate": "1", "refund_received_rate": "1", "refund_floor": "0"}),
    Entry("pension_security:category_edit", CATEGORY_RULE, args=cat),
    Entry("pension_security:category_edit", CATEGORY_RULE, args=cat, method="POST",
          data=lambda w: {"name": "改名", "conversion_age_male": "61", "conversion_age_female": "55",
                          "refund_paid_in_rate": "1", "refund_received_rate": "1", "refund_floor": "0",
                          "reason": "矩阵"}),
    Entry("pension_security:category_active", CATEGORY_RULE, args=cat, method="POST",
          data=lambda w: {"active": "0", "reason": "矩阵"}),
    Entry("pension_security:standard_add", CATEGORY_RULE, args=cat),
    Entry("pension_security:standard_add", CATEGORY_RULE, args=cat, method="POST",
          data=lambda w: {"phase": "subsidy", "from_month": "2030-01", "amount": "400.00"}),
    Entry("pension_security:standard_edit", CATEGORY_RULE, args=std),
    Entry("pension_security:standard_edit", CATEGORY_RULE, args=std, method="POST",
          data=lambda w: {"amount": "1.00", "reason": "矩阵"}),
]

# the read-only API (/api/v1/bz): the pages' VIEW_RULE; one person's routes are town-scoped (附海镇)
API_ROWS = [
    Entry("api GET /api/v1/bz/categories", VIEW_RULE),
    Entry("api GET /api/v1/bz/persons", VIEW_RULE),
    Entry("api GET /api/v1/bz/persons/{person_id}", VIEW_RULE, args=lambda w: {"person_id": w.foreign.pk},
          town_scoped=True),
    Entry("api GET /api/v1/bz/persons/{person_id}", VIEW_RULE, args=lambda w: {"person_id": w.home.pk},
          town_scoped=True, home=True),
    Entry("api GET /api/v1/bz/persons/{person_id}/payable", VIEW_RULE, args=lambda w: {"person_id": w.foreign.pk},
          town_scoped=True),
    Entry("api GET /api/v1/bz/payable", VIEW_RULE),
]

CMD_ROWS = [
    Entry("bz import", bz_cmd.IMPORT_RULE, args=lambda w: [str(w.tmp / "bz.csv"), "--dry-run"]),
    Entry("bz convert", bz_cmd.CONVERT_RULE, args=lambda w: ["--month", "2026-01", "--dry-run"]),
    Entry("bz export", bz_cmd.EXPORT_RULE, args=lambda w: [str(w.tmp / "out.csv")]),
]

ROWS = PAGE_ROWS + API_ROWS + CMD_ROWS


@pytest.fixture
def world(db, tmp_path):
    return build_world(tmp_path)


def test_page_rows(world):
    problems = []
    for entry in PAGE_ROWS:
        before = written()
        rows = run_page_row(entry, world, world.users)
        if entry.allowed_status == (404,):  # a missing batch: every allowed identity answers 404 ("denied")
            rows = [r for r in rows if "expected ok, got denied" not in r]
        problems += rows
        if entry.method == "POST" and written() != before:
            problems.append(f"{entry.id}: wrote")
    assert problems == []


def test_api_rows(world):
    problems = []
    for entry in API_ROWS:
        problems += run_api_row(entry, world, world.users)
    assert problems == []


def test_every_bz_api_operation_has_a_row():
    from tests.authz.test_completeness import api_operations

    ours = sorted(op for op, _m, path in api_operations() if path.startswith("/api/v1/bz/"))
    assert sorted({r.name for r in API_ROWS}) == ours


def _run(name: str, argv: list[str], username: str | None) -> tuple[str, str]:
    command, sub = name.split(" ", 1)
    out = io.StringIO()
    try:
        call_command(command, sub, *argv, *(["--as", username] if username else []), stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        if username and str(exc).startswith(f"用户 {username}："):
            return "denied", str(exc)
        return "ok", str(exc)
    return "ok", out.getvalue()


def test_command_rows(world):
    problems = []
    for entry in CMD_ROWS:
        for ident in IDENTITIES:
            if ident.anonymous:
                continue
            before = written()
            got, text = _run(entry.name, entry.args(world), world.users[ident.name].username)
            want = expected(ident, entry)
            if got != want:
                problems.append(f"{entry.name} as {ident.name}: expected {want}, got {got} ({text[:200]})")
            if written() != before:
                problems.append(f"{entry.name} as {ident.name}: wrote")
    assert problems == []
