"""人员维护 (a person's 社会化管理 data), 认证附件 (list and download), the single-object checks that know
communities (a 社区专管员 is refused another community's person like a clerk another town's), the user
page's 负责的村社区 and the statistics' 数据比对 share. Every refusal: the Chinese reason and nothing
written."""

import datetime as dt
import io
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shebao.accounts.tests.factories import town
from shebao.benefits.services import enrollment_create, scheme_get
from shebao.certification.demo import demo_png
from shebao.certification.models import Certification, PersonContact, SocialProfile
from shebao.certification.services import (
    CertificationError,
    attachment_check,
    attachment_safe_name,
    certification_record,
    community_worker_assign,
    contact_add,
)
from shebao.common import policy
from shebao.common.models import AuditEvent
from shebao.common.safefile import read_table
from shebao.registry.models import Person, Region
from shebao.web.tests.helpers import id_number, make_person, make_user, once

pytestmark = pytest.mark.django_db

PNG = demo_png(__import__("random").Random(1), 8, 4)


def client_of(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def communities(town_name: str, n: int = 2) -> list[Region]:
    return list(Region.objects.filter(parent=town(town_name), level="community").order_by("sort")[:n])


@pytest.fixture
def world(db, settings, tmp_path):
    """浒山街道: 社区A甲 (community A), 社区B乙 (community B), 无社区丙 (no community); 附海镇: 附海丁. A county
    clerk, a 浒山 town clerk, a 附海 town clerk, a 社区专管员 of A, a reviewer (view only)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    a, b = communities("浒山街道")
    fuhai_c = communities("附海镇", 1)[0]
    clerk = make_user("m_clerk", all_regions=True, sensitive=True)
    people = {}
    for key, name, born, town_name, community, mobile in (
            ("a", "社区A甲", dt.date(1950, 3, 1), "浒山街道", a, "13800000001"),
            ("b", "社区B乙", dt.date(1951, 4, 2), "浒山街道", b, ""),
            ("none", "无社区丙", dt.date(1952, 5, 3), "浒山街道", None, "13800000003"),
            ("fuhai", "附海丁", dt.date(1953, 6, 4), "附海镇", fuhai_c, "13800000004")):
        p = make_person(name, number=id_number(born), town_name=town_name, community=community, mobile=mobile,
                        residence_address=f"{town_name}某路{born.month}号")
        enrollment_create(person=p, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                          items={"basic": "2000.00"})
        people[key] = p
    worker = make_user("m_worker", roles=("community",))
    community_worker_assign(worker=worker, communities=[a], actor=clerk)
    return {"clerk": clerk, "town": make_user("m_town", towns=["浒山街道"]),
            "fuhai_clerk": make_user("m_fuhai", towns=["附海镇"]), "worker": worker,
            "reviewer": make_user("m_rev", roles=("reviewer",), all_regions=True),
            "ca": a, "cb": b, "fuhai_c": fuhai_c, **people}


def response_bytes(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def written() -> tuple:
    return (AuditEvent.objects.count(), Certification.objects.count(), SocialProfile.objects.count(),
            PersonContact.objects.filter(active=True).count(),
            list(Person.objects.order_by("pk").values_list("community_id", "mobile", "phone")))


# ------------------------------------------------------------------------------------------------
# the policy layer: one object's scope


def test_single_object_checks_know_communities(world):
    from shebao.certification.permissions import RECORD_RULE

    worker, town_clerk, clerk = world["worker"], world["town"], world["clerk"]
    persons = [world[k] for k in ("a", "b", "none", "fuhai")]
    assert [policy.person_allowed(worker, p) for p in persons] == [True, False, False, False]
    assert [policy.person_allowed(town_clerk, p) for p in persons] == [True, True, True, False]
    assert [policy.person_allowed(clerk, p) for p in persons] == [True, True, True, True]
    # a town reached only through a community: passes with that community only
    hushan = town("浒山街道").pk
    assert policy.town_allowed(worker, hushan) is False
    assert policy.town_allowed(worker, hushan, world["a"].community_id) is True
    assert policy.town_allowed(worker, hushan, world["b"].community_id) is False
    assert policy.denial(worker, RECORD_RULE, town_id=hushan, community_id=world["b"].community_id,
                         check_town=True) == policy.NO_TOWN
    assert policy.denial(worker, RECORD_RULE, town_id=hushan, community_id=world["a"].community_id,
                         check_town=True) is None
    # the same refusal as a clerk of another town
    assert policy.denial(world["fuhai_clerk"], RECORD_RULE, town_id=hushan, community_id=world["a"].community_id,
                         check_town=True) == policy.NO_TOWN
    # a worker who also holds a whole town passes every person of it
    worker.regions.add(town("附海镇"))
    worker = type(worker).objects.get(pk=worker.pk)
    assert [policy.person_allowed(worker, p) for p in persons] == [True, False, False, True]


def test_a_community_worker_is_refused_every_object_outside_their_community(world):
    """Each object type a 社区专管员 can reach by its id — a person's 生存认证 page and form, the 人员维护
    page, a certification's attachment, a community — inside their community: 200; another community
    of the same town, or another town: 404, as for a clerk of another town; nothing written."""
    clerk = world["clerk"]
    certs = {}
    for key in ("a", "b", "fuhai"):
        upload = io.BytesIO(PNG)
        upload.name = "照片.png"
        certs[key] = certification_record(world[key], dt.date(2026, 1, 5), "社区上门", clerk,
                                          attachment=upload).certification

    def urls(key):
        pk = world[key].pk
        return [reverse("certification:person", args=[pk]), reverse("certification:record", args=[pk]),
                reverse("certification:maintain", args=[pk]),
                reverse("certification:attachment", args=[certs[key].pk])]

    def codes(user, url_list):
        c = client_of(user)
        return [c.get(u).status_code for u in url_list]

    worker = world["worker"]
    assert codes(worker, urls("a")) == [200, 200, 200, 200]
    # their form starts at 社区上门 (a clerk's at the first method)
    page = client_of(worker).get(urls("a")[0]).content.decode()
    assert '<option value="community" selected>' in page
    assert '<option value="community" selected>' not in client_of(world["town"]).get(urls("a")[0]).content.decode()
    assert codes(worker, urls("b")) == [404, 404, 404, 404]
    assert codes(worker, urls("fuhai")) == [404, 404, 404, 404]
    assert codes(world["fuhai_clerk"], urls("a")) == [404, 404, 404, 404]
    community = lambda r: reverse("certification:community", args=[r.pk])  # noqa: E731
    assert codes(worker, [community(world["ca"]), community(world["cb"]), community(world["fuhai_c"])]) == \
        [200, 404, 404]
    # a POST for another community's person: 404, nothing written
    before = written()
    r = client_of(worker).post(reverse("certification:record", args=[world["b"].pk]),
                               once({"certified_on": "2026-02-01", "method": "community"}))
    assert r.status_code == 404
    assert written() == before
    # the lists: their community only
    c = client_of(worker)
    for url in (reverse("certification:persons"), reverse("certification:attachments")):
        body = c.get(url).content.decode()
        assert "社区A甲" in body and "社区B乙" not in body and "无社区丙" not in body and "附海丁" not in body, url


# ------------------------------------------------------------------------------------------------
# 人员维护


def test_the_person_list_filters_sorts_and_exports(world):
    clerk = world["clerk"]
    from shebao.certification.services import person_social_save

    person_social_save(person=world["b"], user=clerk, visit_address="浒山街道新址8号", living="care",
                       living_place="浒山颐养院", visit_note="")
    contact_add(person=world["a"], user=clerk, name="社区A甲之子", relation="family", phone="13900000009")
    c = client_of(world["town"])
    url = reverse("certification:persons")

    def names(**query):
        r = c.get(url, query)
        assert r.status_code == 200
        return [row.data["name"] for row in r.context["table"].rows]

    assert names() == ["社区A甲", "社区B乙", "无社区丙"]  # 浒山 only, by pinyin: she, she, wu
    assert names(gap="no_community") == ["无社区丙"]
    assert names(gap="no_contact") == ["社区B乙", "无社区丙"]
    assert names(gap="no_mobile") == ["社区B乙"]
    assert names(gap="away") == ["社区B乙"]
    assert names(living="none") == ["社区A甲", "无社区丙"]
    assert names(living="care") == ["社区B乙"]
    assert names(community=str(world["ca"].pk)) == ["社区A甲"]
    assert names(sort="-contacts") == ["社区A甲", "无社区丙", "社区B乙"]  # ties: the later registered first
    assert names(q="无社区") == ["无社区丙"]
    r = c.get(url, {"living": "nonsense"})
    assert "没有“nonsense”这一选项" in r.content.decode()
    # the export: the same rows; the town clerk has no 查看敏感信息: numbers, phones and addresses masked
    export = c.get(url, {"export": "xlsx", "sort": "name"})
    assert "spreadsheetml" in export["Content-Type"]
    table = read_table("x.xlsx", response_bytes(export))
    assert table[0] == ["姓名", "身份证号", "镇街道", "村社区", "手机", "走访地址", "居住状况", "联系人", "险种",
                        "暂停发放", "上次认证"]
    assert [row[0] for row in table[1:]] == ["社区A甲", "社区B乙", "无社区丙"]
    a_row, b_row = table[1], table[2]
    assert a_row[1] == world["a"].id_number[:6] + "********" + world["a"].id_number[-4:]
    assert a_row[4] == "138****0001" and a_row[6] == "未登记" and a_row[7] == "1"
    assert b_row[5] != "浒山街道新址8号" and b_row[5].startswith("浒山街道") and b_row[6] == "养老机构"
    # the county clerk with 查看敏感信息 sees the address kept
    full = read_table("x.xlsx", response_bytes(client_of(world["clerk"]).get(url, {"export": "xlsx", "gap": "away"})))
    assert full[1][5] == "浒山街道新址8号" and full[1][2] == "浒山街道"


def test_the_person_list_keeps_to_the_users_schemes(world):
    """A clerk kept to 老农保 sees only the persons paid in 老农保, and only that scheme of theirs."""
    from shebao.accounts.models import User
    from shebao.certification.selectors import social_persons

    enrollment_create(person=world["b"], scheme=scheme_get("NB"), start_month="2025-01", user=world["clerk"],
                      items={"basic": "300.00"})
    nb = make_user("m_nb", all_regions=True)
    User.objects.filter(pk=nb.pk).update(all_schemes=False, schemes=["NB"])
    nb = User.objects.get(pk=nb.pk)
    rows = list(social_persons(user=nb).values_list("name", "schemes"))
    assert rows == [("社区B乙", "老农保")]
    everyone = dict(social_persons(user=world["clerk"]).values_list("name", "schemes"))
    assert everyone["社区B乙"] == "自管人员、老农保" and len(everyone) == 4
    User.objects.filter(pk=nb.pk).update(schemes=[])
    assert not social_persons(user=User.objects.get(pk=nb.pk)).exists()


def test_saving_a_persons_social_data_is_audited_and_refusals_write_nothing(world):
    person, town_clerk = world["none"], world["town"]
    url = reverse("certification:maintain", args=[person.pk])
    c = client_of(world["clerk"])
    events = AuditEvent.objects.count()
    r = c.post(url, once({"community": world["cb"].pk, "mobile": "13912345678", "phone": "0574-63001234",
                          "visit_address": "浒山街道某路9号", "living": "elsewhere", "living_place": "上海市浦东新区",
                          "visit_note": "白天在子女家"}), follow=True)
    assert "无社区丙 的社会化管理信息已保存" in r.content.decode()
    person.refresh_from_db()
    assert (person.community_id, person.mobile, person.phone) == (world["cb"].pk, "13912345678", "0574-63001234")
    profile = SocialProfile.objects.get(person=person)
    assert (profile.visit_address, profile.living, profile.living_place, profile.visit_note, profile.updated_by) == \
        ("浒山街道某路9号", "elsewhere", "上海市浦东新区", "白天在子女家", world["clerk"])
    new = list(AuditEvent.objects.filter(pk__gt=0).order_by("-id")[:2])
    assert AuditEvent.objects.count() == events + 2
    assert {e.object_type for e in new} == {"registry.person", "certification.socialprofile"}
    profile_event = next(e for e in new if e.object_type == "certification.socialprofile")
    assert profile_event.after == {"visit_address": "浒山街道某路9号", "living": "elsewhere",
                                   "living_place": "上海市浦东新区", "visit_note": "白天在子女家"}
    assert profile_event.person_id == person.pk
    # the same again: nothing changed, nothing written
    events = AuditEvent.objects.count()
    r = c.post(url, once({"community": world["cb"].pk, "mobile": "13912345678", "phone": "0574-63001234",
                          "visit_address": "浒山街道某路9号", "living": "elsewhere", "living_place": "上海市浦东新区",
                          "visit_note": "白天在子女家"}), follow=True)
    assert AuditEvent.objects.count() == events
    # refusals: the reason on the page, nothing written
    cases = [
        ({"community": world["fuhai_c"].pk}, "选择一个有效的选项"),  # not a community of the person's town
        ({"mobile": "1381234"}, "手机号码“1381234”格式不正确"),
        ({"phone": "电话"}, "固定电话“电话”格式不正确"),
        ({"living": "care", "living_place": ""}, "居住状况为“养老机构”时，请填写居住地或机构"),
        ({"visit_note": "走访\u202e备注"}, "走访备注含有不可见的控制字符"),
    ]
    base = {"community": world["cb"].pk, "mobile": "13912345678", "phone": "0574-63001234",
            "visit_address": "浒山街道某路9号", "living": "elsewhere", "living_place": "上海市浦东新区",
            "visit_note": "白天在子女家"}
    for change, message in cases:
        before = written()
        r = c.post(url, once({**base, **change}))
        assert r.status_code == 200 and message in r.content.decode(), message
        assert written() == before, message
    # the service refuses a community of another town too (a form is not the only caller)
    from shebao.certification.services import person_social_save

    before = written()
    with pytest.raises(CertificationError, match="附海.* 不是 浒山街道 的村社区"):
        person_social_save(person=person, user=world["clerk"], community=world["fuhai_c"], living="home")
    assert written() == before
    # a viewer (审核员) reads the page but may not save: 403, nothing written
    before = written()
    assert client_of(world["reviewer"]).get(url).status_code == 200
    assert client_of(world["reviewer"]).post(url, once({**base, "mobile": "13900000000"})).status_code == 403
    assert written() == before
    # a clerk without 查看敏感信息 gets the phones and address masked and empty: left empty they stay
    body = client_of(town_clerk).get(url).content.decode()
    assert "13912345678" not in body and "139****5678" in body and "浒山街道某路9号" not in body
    client_of(town_clerk).post(url, once({"community": world["cb"].pk, "mobile": "", "phone": "",
                                          "visit_address": "", "living": "home", "living_place": "",
                                          "visit_note": ""}))
    person.refresh_from_db()
    profile.refresh_from_db()
    assert (person.mobile, person.phone, profile.visit_address, profile.living) == \
        ("13912345678", "0574-63001234", "浒山街道某路9号", "home")


def test_a_contact_is_stopped_from_the_maintenance_page(world):
    person = world["a"]
    contact = contact_add(person=person, user=world["clerk"], name="社区A甲之女", relation="family",
                          phone="13900000008")
    c = client_of(world["town"])
    # added from the maintenance page: back there
    r = c.post(reverse("certification:contact", args=[person.pk]),
               once({"name": "代理人甲", "relation": "agent", "phone": "13900000007", "back": "maintain"}))
    assert r.status_code == 302 and r["Location"] == reverse("certification:maintain", args=[person.pk])
    url = reverse("certification:contact_stop", args=[person.pk, contact.pk])
    events = AuditEvent.objects.count()
    r = c.post(url, once(), follow=True)
    assert "已停用联系人 社区A甲之女" in r.content.decode()
    contact.refresh_from_db()
    assert contact.active is False and AuditEvent.objects.count() == events + 1
    before = written()
    r = c.post(url, once(), follow=True)
    assert "该联系人已停用" in r.content.decode() and written() == before
    # another person's contact through this person's URL, another town's person: missing
    other = contact_add(person=world["b"], user=world["clerk"], name="社区B乙之子", relation="family",
                        phone="13900000006")
    before = written()
    assert c.post(reverse("certification:contact_stop", args=[person.pk, other.pk]), once()).status_code == 404
    assert client_of(world["fuhai_clerk"]).post(url, once()).status_code == 404
    # the 社区专管员 and the reviewer hold no 维护 right
    assert client_of(world["worker"]).post(
        reverse("certification:contact_stop", args=[person.pk, other.pk]), once()).status_code == 403
    assert written() == before


# ------------------------------------------------------------------------------------------------
# 认证附件


def test_attachment_names_and_content_are_checked():
    assert attachment_safe_name('../../evil"na\r\nme;.png', "png") == "evilname.png"
    assert attachment_safe_name("C:\\照片\\家访 照片.JPEG", "jpg") == "家访 照片.jpg"
    assert attachment_safe_name("..", "pdf") == "附件.pdf"
    assert attachment_safe_name("a" * 300 + ".png", "png") == "a" * 96 + ".png"
    info = attachment_check("scan.PDF", b"%PDF-1.7\n", 100)
    assert (info.name, info.ext, info.content_type) == ("scan.pdf", "pdf", "application/pdf")
    for name, head, size, message in (("x.png", b"%PDF-1.7", 10, "附件内容不是有效的 png 文件"),
                                      ("x.html", b"<html>", 10, "附件只能是 jpg、png 或 pdf 文件"),
                                      ("x.jpg", b"\xff\xd8\xff\xe0", 5 * 1024 * 1024 + 1, "附件不能超过 5 MB"),
                                      ("x.jpg", b"", 0, "附件是空文件")):
        with pytest.raises(CertificationError, match=message):
            attachment_check(name, head, size)


def test_an_attachment_is_stored_under_a_random_name_listed_and_downloaded(world, settings):
    person = world["a"]
    c = client_of(world["town"])
    upload = io.BytesIO(PNG)
    upload.name = "家访;照片%.png"
    r = c.post(reverse("certification:record", args=[person.pk]),
               once({"certified_on": "2026-03-02", "method": "community", "attachment": upload}), follow=True)
    assert "生存认证已登记" in r.content.decode()
    cert = Certification.objects.get(person=person, certified_on=dt.date(2026, 3, 2))
    stored = Path(cert.attachment.name)
    assert stored.parent.as_posix().startswith("certification/") and len(stored.stem) == 32 and stored.suffix == ".png"
    assert (Path(settings.MEDIA_ROOT) / cert.attachment.name).read_bytes() == PNG
    assert (cert.attachment_name, cert.attachment_type) == ("家访照片.png", "image/png")
    # listed, and linked from the person's history
    assert "家访照片.png" in c.get(reverse("certification:attachments")).content.decode()
    url = reverse("certification:attachment", args=[cert.pk])
    assert url in c.get(reverse("certification:person", args=[person.pk])).content.decode()
    events = AuditEvent.objects.count()
    r = c.get(url)
    assert r.status_code == 200 and b"".join(r.streaming_content) == PNG
    assert r["Content-Type"] == "image/png"
    assert r["Content-Disposition"] == (f"attachment; filename=\"certification-{cert.pk}.png\"; "
                                        "filename*=UTF-8''%E5%AE%B6%E8%AE%BF%E7%85%A7%E7%89%87.png")
    assert r["X-Content-Type-Options"] == "nosniff"
    event = AuditEvent.objects.order_by("-id").first()
    assert AuditEvent.objects.count() == events + 1 and event.action == "certification_attachment_download"
    assert event.person_id == person.pk
    # another town's clerk: missing, not listed, nothing written
    other = client_of(world["fuhai_clerk"])
    events = AuditEvent.objects.count()
    assert other.get(url).status_code == 404
    assert "家访照片.png" not in other.get(reverse("certification:attachments")).content.decode()
    assert AuditEvent.objects.count() == events
    # a certification without an attachment, a file gone: 404
    bare = certification_record(person, dt.date(2026, 3, 3), "经办机构", world["clerk"]).certification
    assert c.get(reverse("certification:attachment", args=[bare.pk])).status_code == 404
    (Path(settings.MEDIA_ROOT) / cert.attachment.name).unlink()
    assert c.get(url).status_code == 404


def test_a_refused_attachment_writes_nothing(world, settings):
    person = world["a"]
    c = client_of(world["town"])
    for name, data, message in (("scan.png", b"%PDF-1.4 not a png", "附件内容不是有效的 png 文件"),
                                ("page.html", b"<script>", "附件只能是 jpg、png 或 pdf 文件"),
                                ("big.jpg", b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024), "附件不能超过 5 MB")):
        upload = io.BytesIO(data)
        upload.name = name
        before = written()
        r = c.post(reverse("certification:record", args=[person.pk]),
                   once({"certified_on": "2026-03-04", "method": "office", "attachment": upload}))
        assert message in r.content.decode(), name
        assert written() == before
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


# ------------------------------------------------------------------------------------------------
# the user page: 负责的村社区 of a 社区专管员


def test_the_user_page_assigns_a_community_workers_communities(world):
    admin = make_user("m_admin", roles=("sys_admin",), all_regions=True)
    a, b = world["ca"], world["cb"]
    user = make_user("m_new", roles=("reviewer",), towns=["浒山街道"])
    c = client_of(admin)
    url = reverse("accounts:user_edit", args=[user.pk])
    assert "负责的村社区" in c.get(url).content.decode()
    base = {"full_name": "王专管", "email": "", "roles": ["community"], "regions": [], "schemes": [],
            "is_active": "on"}
    r = c.post(url, {**base, "communities": [str(a.pk), str(b.pk)]})
    assert r.status_code == 302, r.content.decode()[:2000]
    user.refresh_from_db()
    assert sorted(user.regions.values_list("pk", flat=True)) == sorted([a.pk, b.pk])
    assert user.role_codes == ["community"]
    event = AuditEvent.objects.filter(object_type="accounts.user", object_id=str(user.pk)).order_by("-id").first()
    assert event.summary == f"m_new 任社区专管员：{a.name}、{b.name}"
    assert event.after == {"role": "community", "communities": sorted([a.pk, b.pk])}
    # the page shows them selected; saving with one of them keeps exactly that one
    body = c.get(url).content.decode()
    assert f'value="{a.pk}" selected' in body and f'value="{b.pk}" selected' in body
    c.post(url, {**base, "communities": [str(b.pk)]})
    assert list(user.regions.values_list("pk", flat=True)) == [b.pk]
    assert policy.person_allowed(type(user).objects.get(pk=user.pk), world["b"]) is True
    assert policy.person_allowed(type(user).objects.get(pk=user.pk), world["a"]) is False
    # saving again unchanged writes no event of the assignment
    events = AuditEvent.objects.count()
    c.post(url, {**base, "communities": [str(b.pk)]})
    assert AuditEvent.objects.count() == events
    # refusals: the reason, nothing written
    for data, message in (({**base, "roles": ["reviewer"], "regions": [town("浒山街道").pk],
                            "communities": [str(a.pk)]}, "只有社区专管员可以选择负责的村社区"),
                          ({**base, "communities": []}, "请选择社区专管员负责的村社区"),
                          ({**base, "all_regions": "on", "communities": [str(a.pk)]}, "全市范围的用户不能限定到村社区"),
                          ({**base, "communities": ["999999"]}, "选择一个有效的选项")):
        before = (AuditEvent.objects.count(), sorted(user.regions.values_list("pk", flat=True)), user.role_codes)
        r = c.post(url, data)
        assert r.status_code == 200 and message in r.content.decode(), message
        user = type(user).objects.get(pk=user.pk)
        assert (AuditEvent.objects.count(), sorted(user.regions.values_list("pk", flat=True)), user.role_codes) \
            == before, message
    # another role: the communities go with the role
    c.post(url, {**base, "roles": ["reviewer"], "regions": [town("浒山街道").pk]})
    assert list(user.regions.values_list("pk", flat=True)) == [town("浒山街道").pk]
    # a new user made a 社区专管员 from the create page
    r = c.post(reverse("accounts:user_create"), {**base, "username": "m_created", "password1": "Xq7#pLm2!vRt",
                                                 "password2": "Xq7#pLm2!vRt", "communities": [str(a.pk)]})
    assert r.status_code == 302, r.content.decode()[:2000]
    created = type(user).objects.get(username="m_created")
    assert list(created.regions.values_list("pk", flat=True)) == [a.pk] and created.role_codes == ["community"]


# ------------------------------------------------------------------------------------------------
# statistics: the share of 数据比对


def test_the_statistics_show_the_share_of_data_comparison(world):
    from shebao.common import hooks

    today = timezone.localdate()
    clerk = world["clerk"]
    # this year in 浒山街道: two by 数据比对 (one through the 回流库's 记为认证), one at the counter
    hooks.provided("certification_recorder")(world["a"], today, method="数据比对", user=clerk, source="生存迹象")
    certification_record(world["b"], today, "数据比对", clerk)
    certification_record(world["none"], today, "经办机构", clerk)
    certification_record(world["fuhai"], today, "手机", clerk)
    c = client_of(clerk)
    r = c.get(reverse("certification:stats"))
    rows = {row["name"]: row for row in r.context["rows"]}
    assert (rows["浒山街道"]["certified"], rows["浒山街道"]["data"], str(rows["浒山街道"]["data_share"])) == (3, 2, "66.7")
    assert (rows["附海镇"]["certified"], str(rows["附海镇"]["data_share"])) == (1, "0.0")
    total = r.context["total"]
    assert (total["certified"], total["data"], str(total["data_share"])) == (4, 2, "50.0")
    body = r.content.decode()
    assert "66.7%" in body and '<td class="num" id="cert-data-share">50.0%</td>' in body
    assert r.context["chart"]["data_share"] == [66.7, 0.0]
    table = read_table("x.xlsx", response_bytes(c.get(reverse("certification:stats"), {"export": "xlsx"})))
    assert table[0][-2:] == ["本年认证合计", "数据比对占比(%)"]
    assert [(row[0], row[-2], row[-1]) for row in table[1:]] == [("浒山街道", "3", "66.7"), ("附海镇", "1", "0"),
                                                                 ("合计", "4", "50")]
