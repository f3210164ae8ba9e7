"""Every /zg/ form that creates money or a record is safe to submit twice: the same form (one one-time
token) posted twice IN PARALLEL from two clients makes exactly one write, and the second submit is told
so in Chinese. (Before the token, two parallel 补发 POSTs made two 1,000-yuan arrears, and the next run
paid both.)

These tests commit (``transaction=True``): each request runs in its own thread with its own database
connection, as two browser tabs would."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from shebao.benefits.models import Adjustment, BenefitAmount, Enrollment, RaiseRule, StatusChange
from shebao.benefits.services import enrollment_create, scheme_get
from shebao.common.models import AuditEvent
from shebao.common.once import REPEATED
from shebao.registry.models import Person, Region
from shebao.registry.services import bank_account_set
from shebao.self_managed.models import FlexPayment, Income, RosterImport
from shebao.self_managed.services import roster_upload
from shebao.web.tests.helpers import (
    id_number,
    make_person,
    make_user,
    post_twice_in_parallel,
    post_twice_in_turn,
)

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = Path(__file__).resolve().parents[3] / "docs" / "samples" / "zg_roster_sample.xlsx"


def zg_person(user, name="王阿三", *, born=dt.date(1950, 3, 1)):
    person = make_person(name, number=id_number(born), town_name="浒山街道")
    bank_account_set(user=user, person=person, bank="ICBC", account_number="6222021234567890128", holder_name=name,
                     valid_from=dt.date(2024, 1, 1))
    enrollment_create(person=person, scheme=scheme_get("ZG"), start_month="2025-01", user=user,
                      items={"basic": "2000.00", "extra": "150.00"})
    return person


def _adjust(clerk):
    person = zg_person(clerk)
    e = Enrollment.objects.get(person=person)
    return (f"/zg/p/{person.pk}/adjust/",
            {"kind": "arrears", "total": "1000.00", "reason": "补发", "source": "文件"},
            lambda: [(a.kind, a.total, a.remaining) for a in Adjustment.objects.filter(enrollment=e)],
            [("arrears", D("1000.00"), D("1000.00"))])


def _enroll(clerk):
    number = id_number(dt.date(1949, 8, 8))
    town = Region.objects.get(name="坎墩街道").pk
    return ("/zg/enroll/",
            {"id_number": number, "name": "新来的", "town": town, "mobile": "", "start_month": "2026-01",
             "service_years": "0", "bank": "", "account_number": "", "holder_name": "", "item_basic": "1888.00",
             "note": ""},
            lambda: (Person.objects.filter(id_number=number).count(),
                     list(BenefitAmount.objects.filter(enrollment__person__id_number=number)
                          .values_list("item__code", "amount"))),
            (1, [("basic", D("1888.00"))]))


def _terminate(clerk):
    person = zg_person(clerk)
    e = Enrollment.objects.get(person=person)
    return (f"/zg/p/{person.pk}/terminate/",
            {"reason": "exit_other", "last_month": "2026-03", "note": "转出", "confirm": "1"},
            lambda: (Enrollment.objects.get(pk=e.pk).payment_status,
                     StatusChange.objects.filter(enrollment=e).count() - 1),
            ("terminated", 1))


def _status(clerk):
    person = zg_person(clerk)
    e = Enrollment.objects.get(person=person)
    # a second suspend POST, were it let through, would meet a suspended person and resume them
    return (f"/zg/p/{person.pk}/status/",
            {"reason": "no_cert", "from_month": "2026-02", "note": ""},
            lambda: (Enrollment.objects.get(pk=e.pk).payment_status,
                     StatusChange.objects.filter(enrollment=e).count() - 1),
            ("suspended", 1))


def _amount(clerk):
    person = zg_person(clerk)
    e = Enrollment.objects.get(person=person)
    return (f"/zg/p/{person.pk}/amount/",
            {"item": "basic", "amount": "2100.00", "from_month": "2026-02", "note": "调整"},
            lambda: list(BenefitAmount.objects.filter(enrollment=e, item__code="basic").order_by("from_month")
                         .values_list("amount", "to_month")),
            [(D("2000.00"), dt.date(2026, 1, 1)), (D("2100.00"), None)])


def _flex(clerk):
    person = zg_person(clerk)
    return ("/zg/flex/", {"id_number": person.id_number, "amount": "500.00", "reason": "丧葬费", "source": ""},
            lambda: list(FlexPayment.objects.filter(person=person).values_list("amount", flat=True)),
            [D("500.00")])


def _income(clerk):
    person = zg_person(clerk)
    return ("/zg/income/",
            {"id_number": person.id_number, "kind": "overpayment", "amount": "300.00", "received_on": "2026-01-05",
             "source": "家属退回", "note": ""},
            lambda: list(Income.objects.filter(person=person).values_list("amount", flat=True)),
            [D("300.00")])


def _roster_confirm(clerk):
    batch = roster_upload(file_name=SAMPLE.name, data=SAMPLE.read_bytes(), user=clerk)
    return (f"/zg/roster/{batch.pk}/confirm/", {},
            lambda: (RosterImport.objects.get(pk=batch.pk).state,
                     AuditEvent.objects.filter(action="roster_import").count(),
                     Enrollment.objects.filter(scheme__code="ZG").count()),
            (RosterImport.State.APPLIED, 1, 5))


def _raise(clerk):
    zg_person(clerk)
    rule = {"name": "2026年调待", "scheme": "ZG", "item": "basic", "effective_month": "2026-01", "fixed": "50.00"}
    return ("/zg/raise/",
            {"rule_json": json.dumps(rule, ensure_ascii=False), "apply_month_confirm": "2026-03", "apply": "1"},
            lambda: (RaiseRule.objects.count(),
                     list(Adjustment.objects.filter(kind="arrears").values_list("total", flat=True))),
            (1, [D("100.00")]))


FORMS = {"adjust": _adjust, "enroll": _enroll, "terminate": _terminate, "status": _status, "amount": _amount,
         "flex": _flex, "income": _income, "roster_confirm": _roster_confirm, "raise": _raise}


@pytest.mark.parametrize("name", list(FORMS))
def test_the_same_form_posted_twice_in_parallel_writes_once(name):
    clerk = make_user("zg_once", roles=["clerk"], all_regions=True, sensitive=True)
    url, data, written, once_written = FORMS[name](clerk)
    pages = post_twice_in_parallel(clerk, url, data)
    assert written() == once_written, pages[0][:3000]
    assert all(p.startswith("200\n") for p in pages), [p[:2000] for p in pages]
    told = [p for p in pages if REPEATED in p]
    assert len(told) == 1, [p[:3000] for p in pages]


@pytest.mark.parametrize("name", list(FORMS))
def test_the_same_form_posted_again_after_it_was_done_is_told_it_was_a_repeat(name):
    clerk = make_user("zg_once", roles=["clerk"], all_regions=True, sensitive=True)
    url, data, written, once_written = FORMS[name](clerk)
    first, second = post_twice_in_turn(clerk, url, data)
    assert written() == once_written, first[:3000]
    assert REPEATED not in first and REPEATED in second, second[:3000]


def test_a_post_without_its_token_writes_nothing_and_says_why(client):
    clerk = make_user("zg_once2", roles=["clerk"], all_regions=True)
    person = zg_person(clerk)
    client.force_login(clerk, backend="shebao.accounts.backends.LockoutModelBackend")
    response = client.post(f"/zg/p/{person.pk}/adjust/", {"kind": "arrears", "total": "1000.00", "reason": "补发"},
                           follow=True)
    assert "表单已过期或不完整，请刷新页面后重新提交" in response.content.decode()
    assert not Adjustment.objects.exists()
