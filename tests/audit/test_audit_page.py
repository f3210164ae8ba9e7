"""The audit page, its export and the API show every kind of recorded event (one of each audited write
of the system is made here), and mask sensitive values in them for users without 查看敏感信息.

An integration test across every app, so it lives with the other cross-app tests, not in common (the
bottom layer may not import the apps above it: an import-linter contract)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from shebao.accounts.models import ApiToken
from shebao.accounts.services import (
    api_token_create,
    api_token_revoke,
    user_authenticate,
    user_change_password,
    user_create,
    user_unlock,
)
from shebao.accounts.tests.factories import make_person as registry_person
from shebao.accounts.tests.factories import make_user
from shebao.bank.models import BankTemplate
from shebao.bank.services import bank_export, bank_reissue, bank_return_import
from shebao.bank.tests.helpers import bank_answer
from shebao.benefits.services import (
    adjustment_create,
    benefit_amount_set,
    enrollment_suspend,
    enrollment_update,
)
from shebao.benefits.tests.factories import enroll, make_person, zg
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine
from shebao.payroll.services import (
    payroll_line_write_off,
    payroll_oneoff_create,
    payroll_run_approve,
    payroll_run_compute,
    payroll_run_recompute,
)
from shebao.registry.services import bank_account_set, person_update
from shebao.rural_pension.services import (
    credited_rate_set,
    rural_account_update,
    rural_refund_rollback,
    rural_refund_settle,
)
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, set_rates
from shebao.self_managed.roster import COLUMNS
from shebao.self_managed.services import flex_payment_create, roster_import
from shebao.self_managed.tests.test_roster import row as roster_row

pytestmark = pytest.mark.django_db

ON = dt.date(2026, 3, 20)
LEGACY_ACCOUNT = "6217001234567890123"
CARD = "6222020000000001"


def _every_kind_of_write():
    """One of each audited write; → the persons involved."""
    clerk = make_user("aud_clerk", roles=("clerk",), all_regions=True, sensitive=True)
    reviewer = make_user("aud_rev", roles=("reviewer",), all_regions=True, sensitive=True)
    # registry: person create (in make_person), change, bank account set
    paid = make_person("甲", account=CARD)
    failed = make_person("乙", account="6222020000000002")
    person_update(user=clerk, person=paid, reason="更正", mobile="13812341234", residence_address="浒山街道南门路 12 号")
    bank_account_set(user=clerk, person=failed, bank="ABC", account_number="6228480000000009", holder_name="乙",
                     valid_from=dt.date(2024, 6, 1), reason="换卡")
    # benefits: enrollment create, amount change, status change, adjustment
    e_paid = enroll(paid, user=clerk)
    e_failed = enroll(failed, user=clerk, items={"basic": "1000.00"})
    written_off = make_person("丁", account="6222020000000004")
    enroll(written_off, user=clerk, items={"basic": "500.00"})
    benefit_amount_set(enrollment=e_paid, item="basic", amount="2100.00", from_month="2025-06", user=clerk)
    enrollment_update(enrollment=e_failed, user=clerk, reason="更正", note="备注")
    adjustment_create(enrollment=e_paid, kind="arrears", total="300.00", reason="补发", user=clerk)
    late = registry_person(name="丙", mobile="13900001111", residence_address="附海镇东路 3 号")
    e_late = enroll(late, user=clerk)
    enrollment_suspend(enrollment=e_late, from_month="2026-03", reason="no_cert", user=clerk)
    # payroll compute / approve, bank export / return import, write-off, reissue
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    run = payroll_run_approve(run=run, user=reviewer)
    template = BankTemplate.objects.get(code="standard")
    for bank_file in bank_export(runs=[run], template=template, user=clerk, on=ON):
        failing = {ln.seq: "户名不符" for ln in bank_file.lines.filter(
            account_number__in=["6228480000000009", "6222020000000004"])}
        bank_return_import(data=bank_answer(bank_file, failing), filename=f"回盘{bank_file.pk}.txt", user=clerk)
    payroll_line_write_off(line=PayrollLine.objects.get(run=run, person=written_off, status="failed"), user=reviewer,
                           reason="核销")
    bank_reissue(run=run, user=clerk)
    # rural: rate, account change (legacy account number), refund, rollback
    set_rates()
    credited_rate_set(user=clerk, year=2019, rate="0.0250", reason="公布", recompute=False)
    account = make_account(flows=HAND_FLOWS)
    rural_account_update(user=clerk, account=account, reason="更正账号", legacy_bank="农行",
                         legacy_account_number=LEGACY_ACCOUNT)
    doc = rural_refund_settle(account=account, on=ON, pay_method="cash", user=clerk)
    rural_refund_rollback(document=doc, user=clerk, reason="办错")
    # 自管: roster import (花名册), flexible payment
    csv = ",".join(COLUMNS) + "\r\n" + ",".join(roster_row()) + "\r\n"
    roster_import(file_name="花名册.csv", data=csv.encode("utf-8-sig"), user=clerk)
    flex_payment_create(person=paid, amount="88.00", reason="慰问", user=clerk, period="2026-04")
    # payroll: a monthly run recomputed, a one-off run
    payroll_run_recompute(run=payroll_run_compute(scheme=zg(), period="2026-04", user=clerk), user=clerk)
    payroll_oneoff_create(scheme=zg(), items=[(paid, "10.00", "零星")], user=clerk, period="2026-05")
    # accounts: user create, password change, token create/revoke, login ok/failed, unlock
    new = user_create(actor=None, username="aud_new", full_name="新用户", password="Xy!23456789abc", roles=["clerk"],
                      all_regions=True)
    user_change_password(user=new, old_password="Xy!23456789abc", new_password="Zq!98765432xyz", actor=new)
    api_token_create(user=clerk, name="对账")
    api_token_revoke(token=ApiToken.objects.get(user=clerk, name="对账"), actor=clerk)
    user_authenticate(username="aud_new", password="Zq!98765432xyz", ip="192.0.2.9")
    user_authenticate(username="aud_new", password="wrong", ip="192.0.2.9")
    user_unlock(user=new, actor=clerk)
    return [paid, failed, late, account.person]


def test_every_kind_of_event_renders_on_the_page_its_export_and_the_api():
    _every_kind_of_write()
    events = list(AuditEvent.objects.order_by("id"))
    kinds = {(e.object_type, e.action) for e in events}
    for must in [("registry.person", "create"), ("registry.person", "update"), ("registry.bankaccount", "update"),
                 ("benefits.enrollment", "create"), ("benefits.enrollment", "suspend"), ("benefits.adjustment", "create"),
                 ("payroll.payrollrun", "payroll_compute"), ("payroll.payrollrun", "payroll_approve"),
                 ("bank.bankfile", "bank_export"), ("bank.returnfile", "bank_return"),
                 ("rural_pension.ruraldocument", "rural_refund"), ("rural_pension.ruraldocument", "rural_rollback"),
                 ("rural_pension.creditedrate", "create"), ("rural_pension.ruralaccount", "update"),
                 ("accounts.user", "create"), ("accounts.apitoken", "create"), ("accounts.user", "login_ok"),
                 ("accounts.user", "login_failed"), ("accounts.user", "password_change"), ("accounts.user", "unlock"),
                 ("accounts.apitoken", "revoke"), ("self_managed.rosterimport", "roster_import"),
                 ("payroll.payrollrun", "payroll_recompute"), ("payroll.payrollrun", "payroll_oneoff"),
                 ("benefits.benefitamount", "update"), ("benefits.enrollment", "update"),
                 ("payroll.payrollline", "payroll_write_off"), ("payroll.payrollrun", "payroll_reissue")]:
        assert must in kinds, (must, sorted(kinds))
    it = make_user("aud_it", roles=("it_admin",), all_regions=True, sensitive=True)
    client = Client()
    client.force_login(it)
    page = client.get("/audit/", {"per_page": 500})
    assert page.status_code == 200
    html = page.content.decode()
    for e in events:
        assert e.summary.replace("&", "&amp;")[:40] in html.replace("&#x27;", "'"), e.summary

    export = client.get("/audit/", {"export": "xlsx"})
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(export.streaming_content))).active
    cells = {str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None}
    for e in events:
        if e.summary:
            assert e.summary in cells, e.summary

    from shebao.accounts.services import api_token_create as mint

    key = mint(user=it, name="测试")
    api = Client().get("/api/v1/audit/events", {"page_size": 200}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.status_code == 200
    got = {item["id"] for item in api.json()["items"]}
    assert {e.pk for e in events} <= got


def test_sensitive_values_in_event_details_are_masked_without_the_right():
    _every_kind_of_write()
    plain = make_user("aud_it_plain", roles=("it_admin",), all_regions=True, sensitive=False)
    sees = make_user("aud_it_sens", roles=("it_admin",), all_regions=True, sensitive=True)
    full_id = AuditEvent.objects.filter(object_type="registry.person", action="create").first().after["id_number"]
    secrets = [LEGACY_ACCOUNT, full_id, "13812341234", "13900001111", "6228480000000009", "浒山街道南门路 12 号",
               "附海镇东路 3 号"]

    def views(user):
        client = Client()
        client.force_login(user)
        html = client.get("/audit/", {"per_page": 500}).content.decode()
        export = b"".join(client.get("/audit/", {"export": "xlsx"}).streaming_content)
        sheet = load_workbook(io.BytesIO(export)).active
        cells = " ".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None)
        key = api_token_create(user=user, name="t")
        api = Client().get("/api/v1/audit/events", {"page_size": 200}, HTTP_AUTHORIZATION=f"Bearer {key}")
        return {"page": html, "export": cells, "api": api.content.decode()}

    masked = views(plain)
    for where, text in masked.items():
        for secret in secrets:
            assert secret not in text, (where, secret)
    assert "6217***********0123" in masked["page"] and "6217***********0123" in masked["export"]
    assert "6217***********0123" in masked["api"]
    assert "浒山街道南门****" in masked["page"]
    shown = views(sees)
    for where, text in shown.items():
        for secret in [LEGACY_ACCOUNT, "13812341234", "6228480000000009"]:
            assert secret in text, (where, secret)
