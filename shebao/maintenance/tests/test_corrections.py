"""错误数据修改: correction requests proposed by one user, decided by another (a CHECK constraint), applied
through the owning app's service — the field changes, history is kept, one audit event."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from shebao.benefits.models import BenefitAmount, Enrollment
from shebao.benefits.services import enrollment_create, scheme_get
from shebao.common.models import AuditEvent
from shebao.maintenance.models import CorrectionRequest
from shebao.maintenance.services import (
    CorrectionError,
    correction_approve,
    correction_propose,
    correction_refuse,
)
from shebao.registry.models import BankAccount, Person
from shebao.registry.services import bank_account_set, person_update
from shebao.web.tests.helpers import id_number, make_person, make_user, once

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk():
    return make_user("mclerk", roles=["clerk"], all_regions=True)


@pytest.fixture
def reviewer():
    return make_user("mrev", roles=["reviewer"], all_regions=True)


@pytest.fixture
def person(clerk):
    p = make_person("陈阿四", number=id_number(dt.date(1950, 3, 1)), town_name="附海镇", mobile="13805740001",
                    residence_address="附海镇海晏村")
    bank_account_set(user=None, person=p, bank="ICBC", account_number="6222021234567890128", holder_name="陈阿四",
                     valid_from=dt.date(2024, 1, 1))
    enrollment_create(person=p, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                      items={"basic": "2000.00", "extra": "150.00"})
    return p


def snapshot_all(person):
    p = Person.objects.get(pk=person.pk)
    return ({f.attname: getattr(p, f.attname) for f in Person._meta.concrete_fields if f.attname != "updated_at"},
            list(BankAccount.objects.filter(person=person).order_by("id").values()),
            list(BenefitAmount.objects.filter(enrollment__person=person).order_by("id").values()),
            list(Enrollment.objects.filter(person=person).values("service_years", "note")),
            AuditEvent.objects.count())


def propose_mobile(clerk, person, value="13905749999"):
    return correction_propose(user=clerk, person=person, kind="person", field="mobile", new_value={"value": value},
                              reason="本人来电更正手机号")


def test_a_correction_approved_by_its_proposer_is_refused_and_nothing_changes(clerk, person):
    req = propose_mobile(clerk, person)
    before = snapshot_all(person)
    with pytest.raises(CorrectionError, match="不能审核自己提出的更正申请，须由另一位用户审核"):
        correction_approve(request=req, user=clerk)
    with pytest.raises(CorrectionError, match="不能审核自己提出的更正申请"):
        correction_refuse(request=req, user=clerk, note="撤回")
    assert snapshot_all(person) == before
    req.refresh_from_db()
    assert (req.state, req.decided_by_id) == ("open", None)


def test_the_database_refuses_a_decider_who_is_the_proposer(clerk, person):
    req = propose_mobile(clerk, person)
    with pytest.raises(IntegrityError, match="correction_decider_not_proposer"), transaction.atomic():
        CorrectionRequest.objects.filter(pk=req.pk).update(state="applied", decided_by=clerk,
                                                           decided_at=timezone.now())
    with pytest.raises(IntegrityError, match="correction_decided_iff_closed"), transaction.atomic():
        CorrectionRequest.objects.filter(pk=req.pk).update(state="applied")


def test_an_approved_correction_changes_exactly_the_field_keeps_history_and_writes_one_audit_event(
        clerk, reviewer, person):
    req = propose_mobile(clerk, person)
    assert req.current_value == {"value": "13805740001"} and req.new_value == {"value": "13905749999"}
    fields, accounts, amounts, enrollments, events = snapshot_all(person)
    last = AuditEvent.objects.order_by("-id").first().pk
    correction_approve(request=req, user=reviewer, note="核实无误")
    after_fields, after_accounts, after_amounts, after_enrollments, _ = snapshot_all(person)
    assert after_fields == {**fields, "mobile": "13905749999"}
    assert (after_accounts, after_amounts, after_enrollments) == (accounts, amounts, enrollments)
    new_events = list(AuditEvent.objects.filter(pk__gt=last))
    assert len(new_events) == 1
    event = new_events[0]
    assert (event.person_id, event.user_id, event.action) == (person.pk, reviewer.pk, "update")
    assert event.before == {"mobile": "13805740001"} and event.after == {"mobile": "13905749999"}
    assert event.reason == f"更正申请 {req.number}：本人来电更正手机号（申请人 MCLERK，审核人 MREV）"
    req.refresh_from_db()
    assert (req.state, req.decided_by_id, req.decision_note) == ("applied", reviewer.pk, "核实无误")
    with pytest.raises(CorrectionError, match=f"更正申请 {req.number} 已已更正，不能再审核"):
        correction_approve(request=req, user=make_user("mrev2", roles=["reviewer"], all_regions=True))


def test_an_account_correction_closes_the_old_account_through_the_registry(clerk, reviewer, person):
    req = correction_propose(user=clerk, person=person, kind="account", field="", reason="银行卡换卡",
                             new_value={"bank": "ICBC", "account_number": "6222 0212 3456 7890 136",
                                        "valid_from": "2026-02-01"})
    assert req.new_value["account_number"] == "6222021234567890136" and req.new_value["holder_name"] == "陈阿四"
    correction_approve(request=req, user=reviewer)
    accounts = list(BankAccount.objects.filter(person=person).order_by("id"))
    assert [(a.account_number, a.valid_from, a.valid_to) for a in accounts] == [
        ("6222021234567890128", dt.date(2024, 1, 1), dt.date(2026, 1, 31)),
        ("6222021234567890136", dt.date(2026, 2, 1), None)]


def test_an_amount_and_an_enrollment_correction_go_through_the_benefits_services(clerk, reviewer, person):
    enrollment = Enrollment.objects.get(person=person)
    amount = correction_propose(user=clerk, person=person, kind="amount", field="basic", enrollment=enrollment,
                                new_value={"amount": "2100", "from_month": "2026-03"}, reason="核定有误")
    assert amount.current_value == {"amount": "2000.00", "from_month": "2025-01"}
    years = correction_propose(user=clerk, person=person, kind="enrollment", field="service_years",
                               enrollment=enrollment, new_value={"value": "31.5"}, reason="工龄漏算")
    correction_approve(request=amount, user=reviewer)
    correction_approve(request=years, user=reviewer)
    ranges = list(BenefitAmount.objects.filter(enrollment=enrollment, item__code="basic").order_by("from_month")
                  .values_list("amount", "from_month", "to_month"))
    assert ranges == [(D("2000.00"), dt.date(2025, 1, 1), dt.date(2026, 2, 1)), (D("2100.00"), dt.date(2026, 3, 1), None)]
    assert Enrollment.objects.get(pk=enrollment.pk).service_years == D("31.50")


def test_a_refusal_needs_a_reason_and_changes_nothing(clerk, reviewer, person):
    req = propose_mobile(clerk, person)
    before = snapshot_all(person)
    with pytest.raises(CorrectionError, match="请填写驳回原因"):
        correction_refuse(request=req, user=reviewer, note=" ")
    correction_refuse(request=req, user=reviewer, note="号码与本人确认不符")
    assert snapshot_all(person) == before
    req.refresh_from_db()
    assert (req.state, req.decision_note) == ("refused", "号码与本人确认不符")


@pytest.mark.parametrize(("kind", "field", "value", "message"), [
    ("person", "mobile", {"value": "13805740001"}, "新值与现值相同，无需更正（手机）"),
    ("person", "id_number", {"value": "x"}, "不能更正的字段：id_number"),
    ("person", "death_date", {"value": "1900-01-01"}, "死亡日期 1900-01-01 不合理"),
    ("person", "death_date", {"value": "2026-13-01"}, "死亡日期 2026-13-01 不是有效日期"),
    ("account", "", {"bank": "ICBC", "account_number": "12"}, "ICBC|工商|位"),
    ("amount", "basic", {"amount": "-5", "from_month": "2026-03"}, "月金额不能为负数"),
    ("amount", "nope", {"amount": "5", "from_month": "2026-03"}, "没有待遇项目 nope"),
])
def test_a_bad_proposal_is_refused_in_chinese_and_nothing_is_written(clerk, person, kind, field, value, message):
    enrollment = Enrollment.objects.get(person=person) if kind == "amount" else None
    before = (snapshot_all(person), CorrectionRequest.objects.count())
    with pytest.raises(CorrectionError, match=message):
        correction_propose(user=clerk, person=person, kind=kind, field=field, new_value=value, reason="x",
                           enrollment=enrollment)
    assert (snapshot_all(person), CorrectionRequest.objects.count()) == before


def test_no_reason_a_second_open_request_or_a_foreign_town_is_refused(clerk, person):
    with pytest.raises(CorrectionError, match="请填写更正原因"):
        correction_propose(user=clerk, person=person, kind="person", field="mobile", new_value={"value": "1"},
                           reason="")
    first = propose_mobile(clerk, person)
    with pytest.raises(CorrectionError, match=f"该人员的手机已有待审核的更正申请 {first.number}"):
        propose_mobile(clerk, person, "13905740000")
    town_clerk = make_user("mtown", roles=["clerk"], towns=["浒山街道"])
    with pytest.raises(CorrectionError, match="该人员不在您的管辖范围内"):
        correction_propose(user=town_clerk, person=person, kind="person", field="notes", new_value={"value": "x"},
                           reason="x")
    nb_clerk = make_user("mnb", roles=["clerk"], all_regions=True)
    nb_clerk.all_schemes, nb_clerk.schemes = False, ["NB"]
    nb_clerk.save()
    with pytest.raises(CorrectionError, match="您没有ZG险种的权限"):
        correction_propose(user=nb_clerk, person=person, kind="amount", field="basic",
                           enrollment=Enrollment.objects.get(person=person),
                           new_value={"amount": "1", "from_month": "2026-03"}, reason="x")
    assert CorrectionRequest.objects.count() == 1


def test_a_value_changed_after_the_proposal_is_not_overwritten(clerk, reviewer, person):
    req = propose_mobile(clerk, person)
    person_update(user=clerk, person=person, reason="直接修改", mobile="13700000000")
    before = snapshot_all(person)
    with pytest.raises(CorrectionError, match="提出申请后手机已被修改，请驳回此申请后重新申请"):
        correction_approve(request=req, user=reviewer)
    assert snapshot_all(person) == before
    assert CorrectionRequest.objects.get(pk=req.pk).state == "open"


def test_a_reviewer_out_of_the_persons_town_cannot_decide(clerk, person):
    req = propose_mobile(clerk, person)
    town_reviewer = make_user("mtrev", roles=["reviewer"], towns=["浒山街道"])
    before = snapshot_all(person)
    with pytest.raises(CorrectionError, match="该人员不在您的管辖范围内"):
        correction_approve(request=req, user=town_reviewer)
    assert snapshot_all(person) == before


# --------------------------------------------------------------------------------------------------
# pages


def test_propose_and_approve_through_the_pages_and_see_it_on_the_persons_history(client, clerk, reviewer, person):
    client.force_login(clerk)
    assert "陈阿四" in client.get("/maint/corrections/new/", {"q": "陈阿四"}).content.decode()
    page = client.get("/maint/corrections/new/", {"person": person.pk}).content.decode()
    assert 'value="person:mobile"' in page and 'value="amount:' in page
    response = client.post("/maint/corrections/new/", once({
        "person": person.pk, "target": "person:residence_address", "value": "附海镇新村 8 号",
        "reason": "搬迁"}), follow=True)
    req = CorrectionRequest.objects.get()
    assert response.redirect_chain[-1][0] == f"/maint/corrections/{req.pk}/"
    html = response.content.decode()
    assert "已提交更正申请" in html and "须由另一位用户审核" in html and "通过并更正" not in html
    # the proposer's approve POST is refused by the service
    client.post(f"/maint/corrections/{req.pk}/decide/", once({"action": "approve"}))  # clerk lacks 审核 → 403
    assert CorrectionRequest.objects.get().state == "open"
    client.force_login(reviewer)
    html = client.get(f"/maint/corrections/{req.pk}/").content.decode()
    assert "通过并更正" in html and "附海镇新村" not in html  # address masked without 查看敏感信息
    response = client.post(f"/maint/corrections/{req.pk}/decide/", once({"action": "approve", "note": "可"}),
                           follow=True)
    assert "已通过并更正" in response.content.decode()
    assert Person.objects.get(pk=person.pk).residence_address == "附海镇新村 8 号"
    history = client.get(f"/persons/{person.pk}/").content.decode()
    assert f"更正申请 {req.number}：搬迁" in history
    listing = client.get("/maint/corrections/", {"state": "applied"}).content.decode()
    assert req.number in listing
    # the field by its name (居住地址, not residence_address), the users by their names
    assert ">居住地址<" in listing and "residence_address" not in listing
    assert ">MCLERK<" in listing and ">MREV<" in listing


def test_the_propose_form_is_safe_to_submit_twice(clerk, person):
    from shebao.web.tests.helpers import post_twice_in_turn

    pages = post_twice_in_turn(clerk, "/maint/corrections/new/", {
        "person": person.pk, "target": "person:notes", "value": "补记", "reason": "补记备注"})
    assert CorrectionRequest.objects.count() == 1
    assert "此表单已经提交过" in pages[1]


def test_a_town_clerk_sees_no_request_of_another_town(clerk, person, client):
    req = propose_mobile(clerk, person)
    client.force_login(make_user("mtown2", roles=["clerk"], towns=["浒山街道"]))
    assert client.get(f"/maint/corrections/{req.pk}/").status_code == 404
    assert req.number not in client.get("/maint/corrections/").content.decode()
    assert client.get("/maint/corrections/new/", {"person": person.pk}).status_code == 404


def test_an_attachment_is_kept_and_downloaded(clerk, reviewer, person, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(clerk)
    client.post("/maint/corrections/new/", once({
        "person": person.pk, "target": "person:notes", "value": "x", "reason": "附证明",
        "attachment": SimpleUploadedFile("证明.pdf", b"%PDF-1.4 test")}))
    req = CorrectionRequest.objects.get()
    assert req.attachment_name == "证明.pdf"
    response = client.get(f"/maint/corrections/{req.pk}/attachment/")
    assert response.content == b"%PDF-1.4 test" and "attachment;" in response["Content-Disposition"]
    client.post("/maint/corrections/new/", once({
        "person": person.pk, "target": "person:mobile", "value": "13900000000", "reason": "x",
        "attachment": SimpleUploadedFile("a.exe", b"MZ")}))
    assert CorrectionRequest.objects.count() == 1
