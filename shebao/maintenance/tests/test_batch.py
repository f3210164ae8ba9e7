"""批量数据处理: a file of corrections is checked row by row, approved by another user and applied in one
transaction through person_update — nothing while a row is in error, unless only the clean rows are
chosen."""

from __future__ import annotations

import datetime as dt

import pytest

from shebao.common.models import AuditEvent
from shebao.maintenance.batch import batch_approve, batch_refuse, batch_upload
from shebao.maintenance.models import CorrectionBatch
from shebao.maintenance.services import CorrectionError
from shebao.registry.models import Person
from shebao.registry.services import person_update
from shebao.web.tests.helpers import id_number, make_person, make_user, once

pytestmark = pytest.mark.django_db

ID_A = id_number(dt.date(1950, 3, 1))
ID_B = id_number(dt.date(1951, 4, 2))
ID_C = id_number(dt.date(1952, 5, 3))  # not registered


@pytest.fixture
def clerk():
    return make_user("bclerk", roles=["clerk"], all_regions=True)


@pytest.fixture
def reviewer():
    return make_user("brev", roles=["reviewer"], all_regions=True)


@pytest.fixture
def persons():
    return (make_person("甲一", number=ID_A, town_name="附海镇", mobile="13800000001"),
            make_person("乙二", number=ID_B, town_name="浒山街道", residence_address="旧址"))


def csv(rows) -> bytes:
    return "\r\n".join(",".join(r) for r in [["身份证号", "字段", "新值", "姓名"], *rows]).encode("gb18030")


def state(persons):
    return (list(Person.objects.filter(pk__in=[p.pk for p in persons]).order_by("pk")
                 .values("name", "mobile", "residence_address", "death_date")), AuditEvent.objects.count())


GOOD = [[ID_A, "手机", "13900000001", "甲一"], [ID_B[:6] + ID_B[8:17], "居住地址", "新址 1 号", ""]]


def test_the_preview_shows_each_rows_current_and_new_value_or_its_error(clerk, persons):
    b = batch_upload(user=clerk, file_name="fix.csv", reason="核对户籍", data=csv([
        *GOOD, [ID_C, "手机", "1", ""], [ID_A, "性别", "女", ""], [ID_B, "姓名", "乙二", ""],
        ["12345", "手机", "1", ""], [ID_A, "手机", "13900000002", ""], [ID_B, "死亡日期", "2026-02-30", "丙"]]))
    got = [(r["line"], r["status"], r["current"], r["new"], r["error"]) for r in b.rows]
    assert got == [
        (2, "ok", "13800000001", "13900000001", ""),
        (3, "ok", "旧址", "新址 1 号", ""),   # a 15-digit number finds its person
        (4, "error", "", "1", f"身份证号 {ID_C} 未登记或不在您的管辖范围内"),
        (5, "error", "", "女", "字段“性别”不能批量更正（可用：姓名、户籍地址、居住地址、手机、固定电话、死亡日期、备注）"),
        (6, "unchanged", "乙二", "乙二", ""),
        (7, "error", "", "1", "身份证号 12345 应为 18 位（或旧的 15 位），实际 5 位"),
        (8, "error", "", "13900000002", "同一人的手机重复（每人每个字段一行）"),
        (9, "error", "", "2026-02-30", "姓名“丙”与登记的不一致"),
    ]
    assert (b.row_count, b.error_count, b.state) == (8, 5, "open")


def test_a_batch_with_one_bad_row_applies_nothing_and_says_why(clerk, reviewer, persons):
    b = batch_upload(user=clerk, file_name="fix.csv", reason="核对", data=csv([*GOOD, [ID_C, "手机", "1", ""]]))
    before = state(persons)
    with pytest.raises(CorrectionError, match="有 1 行错误，没有更正任何数据；如只更正无误的 2 行，请勾选“只更正无误的行”后再通过"):
        batch_approve(batch=b, user=reviewer)
    assert state(persons) == before
    assert CorrectionBatch.objects.get(pk=b.pk).state == "open"


def test_only_the_clean_rows_apply_when_so_chosen_in_one_transaction_audited(clerk, reviewer, persons):
    b = batch_upload(user=clerk, file_name="fix.csv", reason="核对", data=csv([*GOOD, [ID_C, "手机", "1", ""]]))
    last = AuditEvent.objects.order_by("-id").first().pk
    done = batch_approve(batch=b, user=reviewer, clean_only=True)
    a, bb = (Person.objects.get(pk=p.pk) for p in persons)
    assert (a.mobile, bb.residence_address) == ("13900000001", "新址 1 号")
    events = list(AuditEvent.objects.filter(pk__gt=last).order_by("id"))
    assert [(e.person_id, e.after) for e in events] == [(a.pk, {"mobile": "13900000001"}),
                                                        (bb.pk, {"residence_address": "新址 1 号"})]
    assert events[0].reason == f"批量更正 {b.number} 第 2 行：核对（申请人 BCLERK，审核人 BREV）"
    assert (done.state, done.applied_count, done.clean_only) == ("applied", 2, True)
    assert [r["status"] for r in done.rows] == ["applied", "applied", "error"]


def test_the_uploader_cannot_approve_and_a_value_changed_since_refuses_the_whole_batch(clerk, reviewer, persons):
    b = batch_upload(user=clerk, file_name="fix.csv", reason="核对", data=csv(GOOD))
    with pytest.raises(CorrectionError, match="不能审核自己上传的批量更正"):
        batch_approve(batch=b, user=clerk)
    person_update(user=clerk, person=persons[1], reason="直接", residence_address="另址")
    before = state(persons)
    with pytest.raises(CorrectionError, match="第 3 行：上传后居住地址已被修改，没有更正任何数据"):
        batch_approve(batch=b, user=reviewer)
    assert state(persons) == before  # row 2 (applied first in the loop) was rolled back with the rest
    with pytest.raises(CorrectionError, match="请填写驳回原因"):
        batch_refuse(batch=b, user=reviewer, note="")
    assert batch_refuse(batch=b, user=reviewer, note="重新核对").state == "refused"


@pytest.mark.parametrize(("name", "data", "message"), [
    ("fix.csv", "身份证号,新值\r\n1,2".encode(), "文件缺少列：字段"),
    ("fix.pdf", b"x", "不支持的文件类型"),
    ("fix.csv", "身份证号,字段,新值\r\n".encode(), "文件没有数据行"),
])
def test_an_unreadable_file_is_refused_whole(clerk, name, data, message):
    with pytest.raises(CorrectionError, match=message):
        batch_upload(user=clerk, file_name=name, data=data, reason="x")
    assert CorrectionBatch.objects.count() == 0


def test_a_town_clerk_finds_only_persons_of_their_towns(persons):
    town_clerk = make_user("btown", roles=["clerk"], towns=["浒山街道"])
    b = batch_upload(user=town_clerk, file_name="fix.csv", reason="x", data=csv(GOOD))
    assert [r["status"] for r in b.rows] == ["error", "ok"]
    assert b.rows[0]["error"] == f"身份证号 {ID_A} 未登记或不在您的管辖范围内"


def test_the_pages_upload_preview_and_approve(client, clerk, reviewer, persons):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(clerk)
    response = client.post("/maint/batch/", once({"file": SimpleUploadedFile("fix.csv", csv(GOOD)),
                                                  "reason": "核对"}), follow=True)
    b = CorrectionBatch.objects.get()
    html = response.content.decode()
    assert "共 2 行，错误 0 行，已更正 0 行" in html and "新址 1 号" not in html  # address masked
    assert ID_A not in html and "通过并更正" not in html
    client.force_login(reviewer)
    response = client.post(f"/maint/batch/{b.pk}/decide/", once({"action": "approve"}), follow=True)
    assert f"已通过并更正 2 行：{b.number}" in response.content.decode()
    assert Person.objects.get(pk=persons[0].pk).mobile == "13900000001"
    town_reviewer = make_user("btrev", roles=["reviewer"], towns=["浒山街道"])
    client.force_login(town_reviewer)
    assert client.get(f"/maint/batch/{b.pk}/").status_code == 404
