"""A reviewed record's attachments are locked by the database (``finance_attachment_locked``) as the record
is: raw SQL cannot add, change or delete them. A business type's accounting subject code is required and
of the chart's form (service and CHECK), and 待财务确认 until a finance user confirms it (audited); a
changed subject drops the confirmation, also when the change comes from raw SQL."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from shebao.accounts.tests.factories import logged_in
from shebao.common.models import AuditEvent
from shebao.finance.models import Attachment, BusinessType, Entry
from shebao.finance.services import (
    FinanceError,
    attachment_add,
    attachment_delete,
    entry_confirm_arrival,
    entry_create,
    entry_review,
    type_by_code,
    type_confirm_subject,
    type_save,
)
from shebao.web.tests.helpers import make_user, once

ON = dt.date(2026, 3, 10)
PDF = b"%PDF-1.4 scan"


@pytest.fixture
def users(db):
    return {"clerk": make_user("lk_clerk", roles=("clerk",), all_regions=True),
            "finance": make_user("lk_fin", roles=("finance",), all_regions=True),
            "finance2": make_user("lk_fin2", roles=("finance",), all_regions=True),
            "reviewer": make_user("lk_rev", roles=("reviewer",), all_regions=True)}


def _reviewed(users) -> tuple[Entry, Attachment]:
    entry = entry_create(user=users["clerk"], type=type_by_code("EXTRA_FUND_RECOVERY"), amount="300.00",
                         occurred_on=ON)
    att = attachment_add(entry=entry, user=users["clerk"], file_name="到账回单.pdf", data=PDF)
    entry_confirm_arrival(entry=entry, user=users["finance"], arrival_on=ON, amount="300.00")
    entry_review(entry=entry, user=users["reviewer"])
    return entry, att


def _attachments(entry: Entry) -> list:
    return list(Attachment.objects.filter(entry=entry).order_by("pk").values_list("pk", "file_name", "sha256"))


# --------------------------------------------------------------------------------------------------
# attachments of a reviewed record


def test_raw_sql_cannot_insert_update_or_delete_a_reviewed_records_attachment(users):
    entry, att = _reviewed(users)
    before = _attachments(entry)
    sha = hashlib.sha256(b"%PDF-1.4 forged").hexdigest()
    with pytest.raises(IntegrityError, match=f"收支记录 {entry.number} 已复核，附件不能添加、修改或删除"), \
            transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("""INSERT INTO finance_attachment (entry_id, file_name, content_type, size, sha256, content,
                              uploaded_by_id, uploaded_at)
                          VALUES (%s, 'forged.pdf', 'application/pdf', 15, %s, %s, %s, now())""",
                       [entry.pk, sha, b"%PDF-1.4 forged", users["clerk"].pk])
    with pytest.raises(IntegrityError, match="已复核，附件不能添加、修改或删除"), \
            transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE finance_attachment SET content = %s, sha256 = %s WHERE id = %s",
                       [b"%PDF-1.4 forged", sha, att.pk])
    with pytest.raises(IntegrityError, match="已复核，附件不能添加、修改或删除"), \
            transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM finance_attachment WHERE id = %s", [att.pk])
    with pytest.raises(IntegrityError, match="已复核"), transaction.atomic():  # the ORM is no way round
        Attachment.objects.filter(pk=att.pk).delete()
    assert _attachments(entry) == before
    assert bytes(Attachment.objects.get(pk=att.pk).content) == PDF


def test_an_attachment_cannot_be_moved_onto_or_off_a_reviewed_record(users):
    entry, att = _reviewed(users)
    open_entry = entry_create(user=users["clerk"], type=type_by_code("EXTRA_FUND_RECOVERY"), amount="10.00",
                              occurred_on=ON)
    loose = attachment_add(entry=open_entry, user=users["clerk"], file_name="b.pdf", data=PDF)
    with pytest.raises(IntegrityError, match=f"收支记录 {entry.number} 已复核"), transaction.atomic():
        Attachment.objects.filter(pk=loose.pk).update(entry=entry)  # onto the reviewed record
    with pytest.raises(IntegrityError, match=f"收支记录 {entry.number} 已复核"), transaction.atomic():
        Attachment.objects.filter(pk=att.pk).update(entry=open_entry)  # off it
    assert Attachment.objects.get(pk=loose.pk).entry_id == open_entry.pk
    assert Attachment.objects.get(pk=att.pk).entry_id == entry.pk


def test_before_review_attachments_still_come_and_go_and_the_service_refuses_after(users):
    entry = entry_create(user=users["clerk"], type=type_by_code("EXTRA_FUND_RECOVERY"), amount="20.00",
                         occurred_on=ON)
    att = attachment_add(entry=entry, user=users["clerk"], file_name="a.pdf", data=PDF)
    with connection.cursor() as cursor:  # not reviewed: the trigger lets a change through
        cursor.execute("UPDATE finance_attachment SET file_name = 'a2.pdf' WHERE id = %s", [att.pk])
    attachment_delete(attachment=Attachment.objects.get(pk=att.pk), user=users["clerk"])
    assert not Attachment.objects.filter(entry=entry).exists()
    att = attachment_add(entry=entry, user=users["clerk"], file_name="b.pdf", data=PDF)
    entry_confirm_arrival(entry=entry, user=users["finance"], arrival_on=ON, amount="20.00")
    entry_review(entry=entry, user=users["reviewer"])
    events = AuditEvent.objects.count()
    with pytest.raises(FinanceError, match="已复核的记录不能删除附件"):
        attachment_delete(attachment=att, user=users["clerk"])
    assert Attachment.objects.filter(pk=att.pk).exists() and AuditEvent.objects.count() == events


# --------------------------------------------------------------------------------------------------
# accounting subjects


def test_seeded_subjects_wait_for_finance_and_the_code_is_checked(users):
    assert BusinessType.objects.filter(subject_confirmed_by__isnull=False).count() == 0
    assert BusinessType.objects.count() >= 8
    before = list(BusinessType.objects.order_by("pk").values_list("code", "subject_code", "subject_name"))
    events = AuditEvent.objects.count()
    for code, message in [("", "请填写会计科目代码和名称"), ("54A1", "会计科目代码 54A1 无效"),
                          ("540", "会计科目代码 540 无效"), ("54011", "会计科目代码 54011 无效"),
                          ("5401010101010", "会计科目代码 5401010101010 无效")]:
        with pytest.raises(FinanceError) as exc:
            type_save(user=users["finance"], code="TB_TO_SI_SUBSIDY", name="土保转社保政府补助支出",
                      direction="expenditure", subject_code=code, subject_name="转移支出", scheme=None)
        assert message in str(exc.value)
    with pytest.raises(IntegrityError, match="finance_type_subject_code_form"), transaction.atomic():
        BusinessType.objects.filter(code="TB_TO_SI_SUBSIDY").update(subject_code="X1")
    assert list(BusinessType.objects.order_by("pk").values_list("code", "subject_code", "subject_name")) == before
    assert AuditEvent.objects.count() == events


def test_finance_confirms_a_subject_audited_and_a_change_unconfirms_it(users):
    t = type_by_code("EXTRA_FUND_RECOVERY")
    with pytest.raises(FinanceError, match="您没有确认会计科目的权限"):
        type_confirm_subject(user=users["clerk"], type=t, subject_code=t.subject_code)
    with pytest.raises(FinanceError, match="会计科目已变更为 4401，请刷新后核对再确认"):
        type_confirm_subject(user=users["finance"], type=t, subject_code="4409")
    assert not type_by_code("EXTRA_FUND_RECOVERY").subject_confirmed
    assert not AuditEvent.objects.filter(action="finance_subject_confirm").exists()

    t = type_confirm_subject(user=users["finance"], type=t, subject_code="4401")
    assert t.subject_confirmed and t.subject_confirmed_by == users["finance"]
    event = AuditEvent.objects.get(action="finance_subject_confirm")
    assert "确认特殊业务类型 EXTRA_FUND_RECOVERY 统筹外经费收回 的会计科目 4401" in event.summary
    assert event.before["subject_confirmed_by_id"] is None and event.after["subject_confirmed_by_id"] == users["finance"].pk
    with pytest.raises(FinanceError, match="已确认"):
        type_confirm_subject(user=users["finance2"], type=t, subject_code="4401")

    # another change than the subject keeps the confirmation
    type_save(user=users["finance"], code="EXTRA_FUND_RECOVERY", name="统筹外经费收回", direction="income",
              subject_code="4401", subject_name=t.subject_name, note="说明改了")
    assert type_by_code("EXTRA_FUND_RECOVERY").subject_confirmed
    # a new subject code is finance's to confirm again
    type_save(user=users["finance"], code="EXTRA_FUND_RECOVERY", name="统筹外经费收回", direction="income",
              subject_code="440102", subject_name="其他收入—统筹外经费收回")
    t = type_by_code("EXTRA_FUND_RECOVERY")
    assert (t.subject_code, t.subject_confirmed, t.subject_confirmed_at) == ("440102", False, None)
    assert "会计科目已变更，待财务确认" in AuditEvent.objects.filter(action="update").latest("pk").summary
    t = type_confirm_subject(user=users["finance2"], type=t, subject_code="440102")
    assert t.subject_confirmed_by == users["finance2"]
    # the database drops a confirmation when the subject changes by any other way
    BusinessType.objects.filter(pk=t.pk).update(subject_name="其他收入—改名")
    assert not type_by_code("EXTRA_FUND_RECOVERY").subject_confirmed
    with pytest.raises(IntegrityError, match="finance_type_subject_confirmed_both"), transaction.atomic():
        BusinessType.objects.filter(pk=t.pk).update(subject_confirmed_by=users["finance"])


def test_types_page_marks_unconfirmed_subjects_and_confirms_one(users):
    fin = logged_in(users["finance"])
    page = fin.get(reverse("finance:types")).content.decode()
    n = BusinessType.objects.count()
    assert f"{n} 个业务类型的会计科目待财务确认" in page and page.count("待财务确认</span>") == n
    r = fin.post(reverse("finance:type_confirm", args=["TB_TO_SI_SUBSIDY"]), once({"subject_code": "5401"}),
                 follow=True)
    page = r.content.decode()
    assert "已确认 土保转社保政府补助支出 的会计科目 5401" in page
    assert f"{n - 1} 个业务类型的会计科目待财务确认" in page and page.count("已确认</span>") == 1
    # a stale page (the code changed since it was shown) confirms nothing
    r = fin.post(reverse("finance:type_confirm", args=["BANK_RETURN"]), once({"subject_code": "4401"}), follow=True)
    assert "会计科目已变更为 4405，请刷新后核对再确认" in r.content.decode()
    assert not type_by_code("BANK_RETURN").subject_confirmed
    # the record page, the report and the voucher say so too
    entry = entry_create(user=users["clerk"], type=type_by_code("BANK_RETURN"), amount="5.00", occurred_on=ON)
    assert "待财务确认" in fin.get(reverse("finance:entry", args=[entry.pk])).content.decode()
    report = fin.get(reverse("finance:report"), {"period": "2026-03"}).content.decode()
    assert "4405 其他收入—银行退回 <span class=\"tag warn\">待财务确认</span>" in report


def test_a_change_of_only_the_payee_or_the_scheme_is_saved_and_audited(users):
    """The audit snapshots name the foreign keys (type, payee, person, scheme …): a change of only one of
    them is a change — saved, and in the audit's before/after."""
    from shebao.finance.services import entry_update
    from shebao.registry.services import payee_create

    a = payee_create(user=users["clerk"], name="慈溪市财政局", bank="ICBC", account_number="6222020000000077")
    b = payee_create(user=users["clerk"], name="慈溪市土地储备中心", bank="ICBC", account_number="6222020000000088")
    entry = entry_create(user=users["clerk"], type=type_by_code("TB_TO_SI_SUBSIDY"), amount="10.00", occurred_on=ON,
                         payee=a)
    entry_update(entry=entry, user=users["clerk"], payee=b, reason="收款方选错")
    entry.refresh_from_db()
    assert entry.payee_id == b.pk
    event = AuditEvent.objects.filter(action="update").latest("pk")
    assert (event.before["payee_id"], event.after["payee_id"]) == (a.pk, b.pk)
    type_save(user=users["finance"], code="TB_TO_SI_SUBSIDY", name="土保转社保政府补助支出", direction="expenditure",
              subject_code="5401", subject_name="转移支出—土保转社保政府补助", scheme=None)
    t = type_by_code("TB_TO_SI_SUBSIDY")
    assert t.scheme_id is None
    event = AuditEvent.objects.filter(action="update").latest("pk")
    assert event.before["scheme_id"] is not None and event.after["scheme_id"] is None


def test_an_attachment_is_deleted_on_the_page_before_review_only(users):
    clerk = logged_in(users["clerk"])
    entry = entry_create(user=users["clerk"], type=type_by_code("EXTRA_FUND_RECOVERY"), amount="30.00",
                         occurred_on=ON)
    a = attachment_add(entry=entry, user=users["clerk"], file_name="a.pdf", data=PDF)
    b = attachment_add(entry=entry, user=users["clerk"], file_name="b.pdf", data=PDF)
    page = clerk.get(reverse("finance:entry", args=[entry.pk])).content.decode()
    assert reverse("finance:attachment_delete", args=[entry.pk, a.pk]) in page
    r = clerk.post(reverse("finance:attachment_delete", args=[entry.pk, a.pk]), once(), follow=True)
    assert "已删除附件 a.pdf" in r.content.decode()
    assert _attachments(entry) == [(b.pk, "b.pdf", b.sha256)]
    assert AuditEvent.objects.filter(action="finance_attach_delete", object_id=str(entry.pk)).count() == 1
    entry_confirm_arrival(entry=entry, user=users["finance"], arrival_on=ON, amount="30.00")
    entry_review(entry=entry, user=users["reviewer"])
    page = clerk.get(reverse("finance:entry", args=[entry.pk])).content.decode()
    assert reverse("finance:attachment_delete", args=[entry.pk, b.pk]) not in page
    events = AuditEvent.objects.count()
    r = clerk.post(reverse("finance:attachment_delete", args=[entry.pk, b.pk]), once(), follow=True)
    assert "已复核的记录不能删除附件" in r.content.decode()
    assert _attachments(entry) == [(b.pk, "b.pdf", b.sha256)] and AuditEvent.objects.count() == events
