"""The 养老保障 demo step on a small registry: it tops the demo people up with valid persons of its own,
approves benefits before and after the conversion age, pays three months with a failed payment that a
二次报盘 pays after a corrected account, leaves a proposal waiting and settles a withdrawal."""

import random
from decimal import Decimal as D

import pytest
from django.db.models import F

from shebao.common.identity import parse_id_number
from shebao.common.jobs import NullProgress
from shebao.demo import steps
from shebao.demo.people import registry_people
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.pension_security import demo
from shebao.pension_security import selectors as sel
from shebao.pension_security.models import Conversion, Member, Proposal, Settlement
from shebao.registry.models import BankAccount, Person

pytestmark = pytest.mark.django_db


def test_bz_demo_tops_up_and_shows_every_state(monkeypatch):
    monkeypatch.setitem(steps.SCALES, "test", {"persons": 80})
    monkeypatch.setitem(demo.SIZES, "test", 110)
    registry_people("test", random.Random("t:registry"), NullProgress())
    before = Person.objects.count()
    line = demo.bz_demo("test", random.Random("t:bz"), NullProgress())
    assert "养老保障 110 人" in line

    members = list(Member.objects.select_related("person", "enrollment"))
    assert len(members) == 110
    added = Person.objects.count() - before
    assert added > 0 and f"新登记被征地人员 {added}" in line
    for m in members:  # valid 身份证号, sex and birth date as the number says; a current account each
        idn = parse_id_number(m.person.id_number)
        assert (idn.sex, idn.birth_date) == (m.person.sex, m.person.birth_date)
    current = set(BankAccount.objects.filter(valid_to__isnull=True).values_list("person_id", flat=True))
    assert all(m.person_id in current for m in members)
    assert len({m.person.town_id for m in members}) > 5  # across the towns

    assert {m.phase for m in members if m.enrollment_id} == {"subsidy", "pension"}
    assert Proposal.objects.filter(state="proposed").count() == 12
    assert Proposal.objects.filter(state="refused").exclude(decision_reason="").count() == 1
    assert Settlement.objects.filter(reason="withdrawal").count() == 2

    # December: failed lines, a re-issue run pays those with a corrected account
    dec = PayrollRun.objects.get(scheme__code="BZ", kind="regular", period="2025-12-01")
    reissue = PayrollRun.objects.get(scheme__code="BZ", parent_run=dec)
    failed = PayrollLine.objects.filter(run=dec, status__in=["failed", "reissued"]).count()
    assert failed >= 1 and reissue.kind == "reissue"
    paid_again = PayrollLine.objects.filter(run=reissue, status="paid")
    assert paid_again.exists()
    rows = {(r["person_id"], r["period"]): r for r in sel.payable_paid(user=None)}
    for ln in paid_again:
        r = rows[(ln.person_id, dec.period)]
        assert (r["paid"], r["owed"]) == (r["payable"], D("0.00"))
    conversions = Conversion.objects.count()
    assert f"到龄转换 {conversions} 人" in line and conversions > 0
    # each converted in the batch of its own month: nothing back-dated, no 补发 of a conversion
    assert not Conversion.objects.exclude(month=F("run_month")).filter(month__gte="2025-10-01").exists()
