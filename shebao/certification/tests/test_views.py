"""The 生存认证 pages through the test client: a town clerk's due list (own town only, export, the
printable visiting list), recording a certification resumes the person and the next payroll line pays
the 补发; a second submit of the same form writes nothing; death page; import upload with preview."""

import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse

from shebao.benefits.models import Enrollment
from shebao.benefits.services import enrollment_create, scheme_get
from shebao.certification.models import Certification
from shebao.certification.services import certification_record, certification_sweep
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine
from shebao.payroll.services import payroll_run_approve, payroll_run_compute
from shebao.web.tests.helpers import id_number, make_person, make_user, once, post_twice_in_turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    clerk = make_user("c_clerk", all_regions=True)
    reviewer = make_user("c_rev", roles=("reviewer",), all_regions=True)
    town_clerk = make_user("c_town", towns=["浒山街道"])
    home = make_person("浒山甲", number=id_number(dt.date(1950, 3, 1)), mobile="13800000001")
    foreign = make_person("附海乙", town_name="附海镇", number=id_number(dt.date(1951, 4, 2)))
    for p in (home, foreign):
        enrollment_create(person=p, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                          items={"basic": "2000.00", "extra": "150.00"})
        certification_record(p, dt.date(2025, 2, 10), "社区上门", clerk)
    for period in ("2026-01", "2026-02", "2026-03"):
        payroll_run_approve(run=payroll_run_compute(scheme=scheme_get("ZG"), period=period, user=clerk), user=reviewer)
    certification_sweep(on=dt.date(2026, 3, 5), user=clerk)  # both suspended from 2026-04
    payroll_run_approve(run=payroll_run_compute(scheme=scheme_get("ZG"), period="2026-04", user=clerk), user=reviewer)
    return {"clerk": clerk, "reviewer": reviewer, "town": town_clerk, "home": home, "foreign": foreign}


def client_of(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_due_list_is_the_users_towns_and_exports(world):
    c = client_of(world["town"])
    body = c.get(reverse("certification:due"), {"state": "suspended"}).content.decode()
    assert "浒山甲" in body and "附海乙" not in body
    assert world["home"].id_number not in body  # masked without 查看敏感信息
    export = c.get(reverse("certification:due"), {"state": "suspended", "export": "xlsx"})
    assert export.status_code == 200 and "spreadsheetml" in export["Content-Type"]
    printed = c.get(reverse("certification:due"), {"state": "suspended", "print": "1"}).content.decode()
    assert "生存认证走访名单" in printed and "浒山甲" in printed and "附海乙" not in printed
    assert c.get(reverse("certification:record", args=[world["foreign"].pk])).status_code == 404
    assert c.get(reverse("certification:due"), {"state": "nonsense"}).status_code == 200


def test_recording_a_certification_resumes_and_the_next_line_pays_the_arrears(world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    person = world["home"]
    url = reverse("certification:record", args=[person.pk])
    c = client_of(world["town"])
    assert "未提供生存证明" in c.get(url).content.decode()
    response = c.post(url, once({"certified_on": "2026-05-06", "method": "community", "place": "社区"}),
                      follow=True)
    body = response.content.decode()
    assert "2026-05 起恢复发放，补发 2150.00 元（1 个月）" in body
    e = Enrollment.objects.get(person=person)
    assert e.payment_status == "active"
    run = payroll_run_compute(scheme=scheme_get("ZG"), period="2026-05", user=world["clerk"])
    line = PayrollLine.objects.get(run=run, person_id=person.pk)
    assert line.gross == D("4300.00")
    # a future date is refused with a message, nothing written
    before = (Certification.objects.count(), AuditEvent.objects.count())
    r = c.post(url, once({"certified_on": "2999-01-01", "method": "office"}))
    assert "不能晚于今天" in r.content.decode()
    assert before == (Certification.objects.count(), AuditEvent.objects.count())


def test_the_same_certification_form_twice_writes_once(world):
    url = reverse("certification:record", args=[world["home"].pk])
    pages = post_twice_in_turn(world["town"], url, {"certified_on": "2026-05-07", "method": "office"})
    assert Certification.objects.filter(person=world["home"], certified_on=dt.date(2026, 5, 7)).count() == 1
    assert any("已经提交过" in p for p in pages)


def test_death_page_previews_then_settles(world):
    person = world["home"]
    url = reverse("certification:death", args=[person.pk])
    c = client_of(world["town"])
    r = c.post(url, once({"death_date": "2026-02-10", "source": "火化数据"}))
    assert "确认死亡减员" in r.content.decode()
    assert Enrollment.objects.get(person=person).payment_status == "suspended"
    r = c.post(url, once({"death_date": "2026-02-10", "source": "火化数据", "confirm": "1"}), follow=True)
    body = r.content.decode()
    # paid 2026-03 after a death in 2026-02: 2150.00 overpaid, nothing owed to net: all 待追回
    assert "多发 2150.00 元，从应补发中扣回 0.00 元，待追回 2150.00 元" in body
    assert Enrollment.objects.get(person=person).payment_status == "terminated"
    # a ZG-less user may not end a ZG enrollment
    nb_only = make_user("c_nb", towns=["附海镇"])
    nb_only.schemes = ["NB"]
    nb_only.all_schemes = False
    nb_only.save()
    assert client_of(nb_only).get(reverse("certification:death", args=[world["foreign"].pk])).status_code == 403


def test_import_page_previews_then_imports(world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    home = world["home"]
    c = client_of(world["clerk"])
    data = f"身份证号,姓名,认证日期\n{home.id_number},浒山甲,2026-05-02\n{home.id_number},错名,2026-05-03\n"
    upload = io.BytesIO(data.encode("utf-8"))
    upload.name = "mobile.csv"
    r = c.post(reverse("certification:import"), {"method": "mobile", "file": upload})
    body = r.content.decode()
    assert "可导入 1 行" in body and "姓名与登记不符" in body
    assert not Certification.objects.filter(certified_on=dt.date(2026, 5, 2)).exists()
    token = r.context["token"]
    r = c.post(reverse("certification:import"), once({"token": token, "method": "mobile", "name": "mobile.csv"}),
               follow=True)
    assert "新增 1 条" in r.content.decode()
    assert Certification.objects.get(certified_on=dt.date(2026, 5, 2)).method == "mobile"
    # the town clerk is not county-wide: refused
    assert client_of(world["town"]).get(reverse("certification:import")).status_code == 403


def test_a_community_worker_sees_and_certifies_only_their_community(world):
    from shebao.accounts.tests.factories import town
    from shebao.certification.services import community_worker_assign
    from shebao.registry.models import Person, Region

    hushan = town("浒山街道")
    ours, other = list(Region.objects.filter(parent=hushan, level="community").order_by("sort")[:2])
    home = world["home"]
    Person.objects.filter(pk=home.pk).update(community=ours)
    neighbour = make_person("浒山邻", number=id_number(dt.date(1952, 5, 3)), community=other)
    enrollment_create(person=neighbour, scheme=scheme_get("ZG"), start_month="2025-01", user=world["clerk"],
                      items={"basic": "1000.00"})
    worker = make_user("c_worker", roles=("community",))
    community_worker_assign(worker=worker, communities=[ours], actor=world["clerk"])
    c = client_of(worker)
    body = c.get(reverse("certification:due")).content.decode()
    assert "浒山甲" in body and "浒山邻" not in body and "附海乙" not in body
    assert c.get(reverse("certification:record", args=[neighbour.pk])).status_code == 404
    assert c.get(reverse("certification:community", args=[other.pk])).status_code == 404
    assert c.get(reverse("certification:community", args=[ours.pk])).status_code == 200
    communities = c.get(reverse("certification:communities")).content.decode()
    assert ours.name in communities and other.name not in communities
    # no other subsystem: the role holds only the certification permissions
    assert c.get("/zg/").status_code == 403
    assert c.get(reverse("certification:death", args=[home.pk])).status_code == 403
    r = c.post(reverse("certification:record", args=[home.pk]), once({"certified_on": "2026-05-06",
                                                                       "method": "community"}), follow=True)
    assert "恢复发放" in r.content.decode()
    # the town clerk still sees both
    body = client_of(world["town"]).get(reverse("certification:due")).content.decode()
    assert "浒山甲" in body and "浒山邻" in body


def test_community_info_and_person_contacts(world):
    from shebao.accounts.tests.factories import town
    from shebao.certification.models import CommunityInfo, PersonContact
    from shebao.registry.models import Region

    region = Region.objects.filter(parent=town("浒山街道"), level="community").first()
    c = client_of(world["town"])
    url = reverse("certification:community", args=[region.pk])
    r = c.post(url, once({"address": "浒山街道某路 1 号", "contact_name": "王主任", "phone": "0574-63000000"}),
               follow=True)
    assert "村社区信息已保存" in r.content.decode()
    assert CommunityInfo.objects.get(region=region).contact_name == "王主任"
    before = AuditEvent.objects.count()
    r = c.post(url, once({"phone": "电话号码"}))
    assert "格式不正确" in r.content.decode()
    assert CommunityInfo.objects.get(region=region).phone == "0574-63000000"
    assert AuditEvent.objects.count() == before
    person = world["home"]
    r = c.post(reverse("certification:contact", args=[person.pk]),
               once({"name": "浒山甲之子", "relation": "family", "relation_note": "儿子", "phone": "13900000000"}),
               follow=True)
    assert "已添加联系人" in r.content.decode()
    assert PersonContact.objects.get(person=person).relation_note == "儿子"
    r = c.post(reverse("certification:contact", args=[person.pk]),
               once({"name": "坏=名", "relation": "agent", "phone": "1"}))
    assert PersonContact.objects.filter(person=person).count() == 1
    assert client_of(world["town"]).get(reverse("certification:contact", args=[world["foreign"].pk])).status_code \
        == 404


def test_statistics_by_town_and_community(world):
    from shebao.accounts.tests.factories import town

    c = client_of(world["clerk"])
    r = c.get(reverse("certification:stats"))
    rows = {row["name"]: row for row in r.context["rows"]}
    assert (rows["浒山街道"]["receiving"], rows["浒山街道"]["suspended"]) == (1, 1)
    assert (rows["附海镇"]["receiving"], rows["附海镇"]["suspended"]) == (1, 1)
    assert 'id="cert-data"' in r.content.decode()
    r = c.get(reverse("certification:stats"), {"town": town("浒山街道").pk})
    assert [row["receiving"] for row in r.context["rows"]] == [1]
    export = c.get(reverse("certification:stats"), {"export": "xlsx"})
    assert "spreadsheetml" in export["Content-Type"]
    # the town clerk: their town only
    r = client_of(world["town"]).get(reverse("certification:stats"))
    assert [row["name"] for row in r.context["rows"]] == ["浒山街道"]


def test_the_user_page_keeps_a_community_workers_communities_while_the_role_stays(world):
    """The user form sets towns only: saving a 社区专管员 there kept dropping the 村社区 given by
    community_worker_assign (and with them the limit to those communities)."""
    from shebao.accounts.models import Role
    from shebao.accounts.services import user_update
    from shebao.accounts.tests.factories import town
    from shebao.certification.services import community_worker_assign
    from shebao.registry.models import Region

    hushan = town("浒山街道")
    ours = Region.objects.filter(parent=hushan, level="community").order_by("sort").first()
    admin = make_user("c_admin", roles=("sys_admin",), all_regions=True)
    worker = make_user("c_worker2", roles=("community",))
    community_worker_assign(worker=worker, communities=[ours], actor=world["clerk"])
    user_update(actor=admin, user=worker, full_name="王专管", roles=[Role.COMMUNITY], region_ids=[])
    assert list(worker.regions.values_list("pk", flat=True)) == [ours.pk]
    user_update(actor=admin, user=worker, full_name="王专管", roles=[Role.CLERK], region_ids=[hushan.pk])
    assert list(worker.regions.values_list("pk", flat=True)) == [hushan.pk]
