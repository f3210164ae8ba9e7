"""The authorization matrix of 社会保险特殊业务 (/ts/, ``shebao finance``). Every rule is 全市范围: a town's
clerk or reviewer is refused. POST rows are sent without their one-time token (or with a form the
service refuses after the check), so an identity that passes the rule writes nothing either."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from shebao.common.models import AuditEvent
from shebao.finance.management.commands import finance as finance_cmd
from shebao.finance.models import Attachment, BusinessType, Entry
from shebao.finance.rules import (
    ARRIVAL_RULE,
    MANAGE_RULE,
    REVIEW_PAGE_RULE,
    REVIEW_RULE,
    TYPES_RULE,
    VIEW_RULE,
)
from shebao.finance.services import attachment_add, entry_create, type_by_code
from shebao.registry.models import Payee
from shebao.registry.services import payee_create
from tests.authz.harness import Entry as Row
from tests.authz.harness import make_identities, run_api_row, run_page_row


@dataclasses.dataclass
class World:
    users: dict
    entry: Entry
    payee: Payee
    attachment: Attachment


def build_world() -> World:
    users = make_identities()
    payee = payee_create(user=users["clerk"], name="慈溪市财政局", bank="ICBC", account_number="6222020000000077")
    entry = entry_create(user=users["clerk"], type=type_by_code("TB_TO_SI_SUBSIDY"), amount="100.00",
                         occurred_on=dt.date(2026, 3, 1), payee=payee)
    att = attachment_add(entry=entry, user=users["clerk"], file_name="a.pdf", data=b"%PDF-1.4 x")
    return World(users, entry, payee, att)


def written() -> tuple:
    return (AuditEvent.objects.count(), Entry.objects.count(), Payee.objects.count(), BusinessType.objects.count(),
            BusinessType.objects.filter(subject_confirmed_by__isnull=False).count(),
            Attachment.objects.count(), tuple(Entry.objects.order_by("pk").values_list("state", "amount", "run_id")))


def e(w):
    return {"pk": w.entry.pk}


PAGE_ROWS = [
    Row("finance:expenditure", MANAGE_RULE, method="POST", data=lambda w: {"type": "x"}),
    Row("finance:expenditure", VIEW_RULE),
    Row("finance:expenditure", VIEW_RULE, query={"e_export": "xlsx"}),
    Row("finance:income", MANAGE_RULE, method="POST", data=lambda w: {"type": "x"}),
    Row("finance:income", VIEW_RULE),
    Row("finance:returned", MANAGE_RULE),
    Row("finance:returned", MANAGE_RULE, method="POST", data=lambda w: {"run": "1"}),
    Row("finance:entry", VIEW_RULE, args=e),
    Row("finance:entry_edit", MANAGE_RULE, args=e),
    Row("finance:entry_edit", MANAGE_RULE, args=e, method="POST", data=lambda w: {"amount": "x"}),
    Row("finance:entry_delete", MANAGE_RULE, args=e, method="POST", data=lambda w: {"reason": "x"}),
    Row("finance:entry_arrival", ARRIVAL_RULE, args=e, method="POST",
        data=lambda w: {"arrival_on": "2026-03-02", "amount": "100.00"}),
    Row("finance:entry_review", REVIEW_RULE, args=e, method="POST", data=lambda w: {}),
    Row("finance:entry_reverse", REVIEW_RULE, args=e, method="POST", data=lambda w: {"reason": "x"}),
    Row("finance:entry_pay", MANAGE_RULE, args=e, method="POST", data=lambda w: {}),
    Row("finance:entry_attach", MANAGE_RULE, args=e, method="POST", data=lambda w: {}),
    Row("finance:attachment", VIEW_RULE, args=lambda w: {"pk": w.entry.pk, "att": w.attachment.pk}),
    Row("finance:attachment_delete", MANAGE_RULE, args=lambda w: {"pk": w.entry.pk, "att": w.attachment.pk},
        method="POST", data=lambda w: {}, note="未复核记录的附件（无一次性令牌：不写入）"),
    Row("finance:voucher", VIEW_RULE, args=e),
    Row("finance:review", REVIEW_PAGE_RULE),
    Row("finance:payees", MANAGE_RULE, method="POST", data=lambda w: {"name": "x"}),
    Row("finance:payees", VIEW_RULE),
    Row("finance:payee", MANAGE_RULE, args=lambda w: {"code": w.payee.code}, method="POST",
        data=lambda w: {"name": "x"}),
    Row("finance:payee", VIEW_RULE, args=lambda w: {"code": w.payee.code}),
    Row("finance:report", VIEW_RULE, query={"period": "2026-03"}),
    Row("finance:report", VIEW_RULE, query={"period": "2026", "export": "xlsx"}),
    Row("finance:types", TYPES_RULE, method="POST", data=lambda w: {"code": "x"}),
    Row("finance:types", TYPES_RULE),
    Row("finance:type_confirm", TYPES_RULE, args=lambda w: {"code": "TB_TO_SI_SUBSIDY"}, method="POST",
        data=lambda w: {"subject_code": "5401"}, note="财务确认会计科目（无一次性令牌：不写入）"),
]

API_ROWS = [  # /api/v1/finance: read only, the pages' VIEW_RULE (全市范围)
    Row("api GET /api/v1/finance/entries", VIEW_RULE, query={"direction": "expenditure"}),
    Row("api GET /api/v1/finance/entries/{entry_id}", VIEW_RULE, args=lambda w: {"entry_id": w.entry.pk}),
    Row("api GET /api/v1/finance/types", VIEW_RULE),
    Row("api GET /api/v1/finance/report", VIEW_RULE, query={"period": "2026-03"}),
]

CMD_ROWS = [
    Row("finance report", finance_cmd.REPORT_RULE, args=lambda w: ["--month", "2026-03"]),
]

ROWS = PAGE_ROWS + CMD_ROWS + API_ROWS


@pytest.fixture
def world(db):
    return build_world()


def test_page_rows(world):
    problems = []
    for row in PAGE_ROWS:
        before = written()
        problems += run_page_row(row, world, world.users)
        if row.method == "POST" and written() != before:
            problems.append(f"{row.id}: wrote")
    assert problems == []


def test_api_rows(world):
    problems = []
    for row in API_ROWS:
        problems += run_api_row(row, world, world.users)
    assert problems == []


def test_every_finance_api_operation_has_a_row():
    from tests.authz.test_completeness import api_operations

    ours = sorted(op for op, _m, path in api_operations() if path.startswith("/api/v1/finance/"))
    assert sorted(r.name for r in API_ROWS) == ours


def test_report_command_is_the_operators(world, capsys):
    from django.core.management import call_command

    call_command("finance", "report", "--month", "2026-03")
    assert "支出 1 笔 100.00" in capsys.readouterr().out
