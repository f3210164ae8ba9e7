"""The authorization matrix of 社会化管理 / 生存认证 (/shgl/, ``shebao certification``, ``shebao person``).

The rules name no scheme (a certification concerns a person of any scheme); persons are limited to
the user's towns: the world's persons are of 附海镇 unless the row says ``home`` (浒山街道's town clerk
gets 404 for them). 死亡减员 ends every scheme the person is in, so the user must hold those schemes too
(the world's persons are 自管人员: the NB-only clerk is refused). The sweep and the file import reach the
whole county: 全市范围. POST rows are sent without their one-time token: nothing is written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.benefits.models import Adjustment, Enrollment, Suspension
from shebao.benefits.services import enrollment_create, scheme_get
from shebao.certification.management.commands import certification as cert_cmd
from shebao.certification.management.commands import person as person_cmd
from shebao.certification.models import Certification
from shebao.certification.permissions import COMMUNITY_RULE, DEATH_RULE, IMPORT_RULE, RECORD_RULE, VIEW_RULE
from shebao.certification.services import certification_record
from shebao.common.models import AuditEvent
from shebao.registry.models import Person
from tests.authz.harness import (
    FOREIGN_TOWN,
    HOME_TOWN,
    IDENTITIES,
    Entry,
    expected,
    make_identities,
    run_page_row,
)


@dataclasses.dataclass
class World:
    users: dict
    foreign: Person
    home: Person
    tmp: Path
    foreign_community: object = None
    home_community: object = None
    certs: dict = dataclasses.field(default_factory=dict)  # "foreign"/"home" → a certification with a photo
    contacts: dict = dataclasses.field(default_factory=dict)  # "foreign"/"home" → a 家属 contact


def build_world(tmp_path) -> World:
    from shebao.certification.demo import demo_png
    from shebao.certification.services import contact_add
    from shebao.web.tests.helpers import id_number, make_person

    users = make_identities()
    clerk = users["clerk"]
    people, certs, contacts = [], {}, {}
    for key, name, number, town in (("foreign", "附海认证", id_number(dt.date(1950, 3, 1)), FOREIGN_TOWN),
                                    ("home", "浒山认证", id_number(dt.date(1951, 4, 2)), HOME_TOWN)):
        p = make_person(name, number=number, town_name=town)
        enrollment_create(person=p, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                          items={"basic": "2000.00"})
        certification_record(p, dt.date(2025, 3, 1), "社区上门", clerk)
        photo = io.BytesIO(demo_png(__import__("random").Random(2), 8, 4))
        photo.name = "照片.png"
        certs[key] = certification_record(p, dt.date(2025, 9, 1), "经办机构", clerk, attachment=photo).certification
        contacts[key] = contact_add(person=p, user=clerk, name=f"{name}家属", relation="family", phone="13900000001")
        people.append(p)
    (tmp_path / "cert.csv").write_text(f"身份证号,姓名,认证日期\n{people[0].id_number},附海认证,2026-01-05\n",
                                       encoding="utf-8")
    from shebao.accounts.tests.factories import town
    from shebao.registry.models import Region

    foreign_c = Region.objects.filter(parent=town(FOREIGN_TOWN), level="community").first()
    home_c = Region.objects.filter(parent=town(HOME_TOWN), level="community").first()
    return World(users, people[0], people[1], tmp_path, foreign_c, home_c, certs, contacts)


def written() -> tuple:
    from shebao.certification.models import PersonContact, SocialProfile

    return (AuditEvent.objects.count(), Certification.objects.count(), Suspension.objects.count(),
            Adjustment.objects.count(), Enrollment.objects.filter(payment_status="terminated").count(),
            Person.objects.filter(death_date__isnull=False).count(), SocialProfile.objects.count(),
            PersonContact.objects.filter(active=True).count(),
            list(Person.objects.order_by("pk").values_list("mobile", "community_id")))


def p(home=False):
    return lambda w: {"pk": (w.home if home else w.foreign).pk}


PAGE_ROWS = [
    Entry("certification:list", VIEW_RULE),
    Entry("certification:list", VIEW_RULE, query={"export": "xlsx"}),
    Entry("certification:list", VIEW_RULE, query={"method": "community", "on_from": "2025-01-01"}),
    Entry("certification:due", VIEW_RULE),
    Entry("certification:due", VIEW_RULE, query={"state": "overdue"}),
    Entry("certification:due", VIEW_RULE, query={"state": "due", "days": "90", "export": "xlsx"}),
    Entry("certification:due", VIEW_RULE, query={"print": "1"}, note="打印走访名单"),
    Entry("certification:person", VIEW_RULE, args=p(), town_scoped=True),
    Entry("certification:person", VIEW_RULE, args=p(home=True), town_scoped=True, home=True),
    Entry("certification:record", RECORD_RULE, args=p(), town_scoped=True),
    Entry("certification:record", RECORD_RULE, args=p(home=True), town_scoped=True, home=True),
    Entry("certification:record", RECORD_RULE, args=p(), town_scoped=True, method="POST",
          data=lambda w: {"certified_on": "2026-01-05", "method": "office"}),
    Entry("certification:death", DEATH_RULE, args=p(), town_scoped=True, scheme="ZG"),
    Entry("certification:death", DEATH_RULE, args=p(home=True), town_scoped=True, home=True, scheme="ZG"),
    Entry("certification:death", DEATH_RULE, args=p(), town_scoped=True, scheme="ZG", method="POST",
          data=lambda w: {"death_date": "2026-01-05", "source": "x", "confirm": "1"}),
    Entry("certification:contact", COMMUNITY_RULE, args=p(), town_scoped=True),
    Entry("certification:contact", COMMUNITY_RULE, args=p(), town_scoped=True, method="POST",
          data=lambda w: {"name": "家属", "relation": "family", "phone": "13900000000"}),
    Entry("certification:stats", VIEW_RULE),
    Entry("certification:stats", VIEW_RULE, query={"export": "xlsx"}),
    Entry("certification:communities", VIEW_RULE),
    Entry("certification:communities", VIEW_RULE, query={"all": "1"}),
    # saving needs 维护村社区: checked inside the page (a viewer's POST is refused with 403)
    Entry("certification:community", COMMUNITY_RULE, args=lambda w: {"pk": w.home_community.pk},
          town_scoped=True, home=True, method="POST", data=lambda w: {"contact_name": "x"}),
    Entry("certification:community", VIEW_RULE, args=lambda w: {"pk": w.foreign_community.pk}, town_scoped=True),
    Entry("certification:community", VIEW_RULE, args=lambda w: {"pk": w.home_community.pk}, town_scoped=True,
          home=True),
    # 人员维护: the list and a person's page read with the view right; saving needs 维护村社区信息与人员联系人
    # (checked inside the page: a viewer's POST is 403)
    Entry("certification:persons", VIEW_RULE),
    Entry("certification:persons", VIEW_RULE, query={"gap": "no_contact", "living": "none", "export": "xlsx"}),
    Entry("certification:maintain", COMMUNITY_RULE, args=p(), town_scoped=True, method="POST",
          data=lambda w: {"living": "home", "mobile": "13900000002"}),
    Entry("certification:maintain", COMMUNITY_RULE, args=p(home=True), town_scoped=True, home=True, method="POST",
          data=lambda w: {"living": "care", "living_place": "颐养院"}),
    Entry("certification:maintain", VIEW_RULE, args=p(), town_scoped=True),
    Entry("certification:maintain", VIEW_RULE, args=p(home=True), town_scoped=True, home=True),
    Entry("certification:contact_stop", COMMUNITY_RULE, town_scoped=True, method="POST",
          args=lambda w: {"pk": w.foreign.pk, "contact_pk": w.contacts["foreign"].pk}),
    Entry("certification:contact_stop", COMMUNITY_RULE, town_scoped=True, home=True,
          args=lambda w: {"pk": w.home.pk, "contact_pk": w.contacts["home"].pk}),
    # 认证附件: the list, and a download found through the user's scope
    Entry("certification:attachments", VIEW_RULE),
    Entry("certification:attachments", VIEW_RULE, query={"method": "office", "export": "xlsx"}),
    Entry("certification:attachment", VIEW_RULE, args=lambda w: {"pk": w.certs["foreign"].pk}, town_scoped=True),
    Entry("certification:attachment", VIEW_RULE, args=lambda w: {"pk": w.certs["home"].pk}, town_scoped=True,
          home=True),
    Entry("certification:import", IMPORT_RULE),
    Entry("certification:import", IMPORT_RULE, method="POST",
          data=lambda w: {"token": "abc123", "method": "mobile", "name": "x.csv"}),
]

CMD_ROWS = [
    Entry("certification sweep", cert_cmd.SWEEP, args=lambda w: ["--on", "2025-06-01"]),
    Entry("certification import", cert_cmd.IMPORT,
          args=lambda w: [str(w.tmp / "cert.csv"), "--method", "银行", "--dry-run"]),
    # a date of death in the future: refused by the service after the check, so nothing is written
    Entry("person death", person_cmd.DEATH, town_scoped=True, scheme="ZG",
          args=lambda w: ["--id", w.foreign.id_number, "--date", "2999-01-01"]),
]

ROWS = PAGE_ROWS + CMD_ROWS


@pytest.fixture
def world(db, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_world(tmp_path)


def test_page_rows(world):
    problems = []
    for entry in PAGE_ROWS:
        if callable(entry.query):  # pragma: no cover - no row has one
            entry = dataclasses.replace(entry, query=entry.query(world))
        before = written()
        problems += run_page_row(entry, world, world.users)
        if entry.method == "POST" and written() != before:
            problems.append(f"{entry.id}: wrote")
    assert problems == []


def _run(name: str, argv: list[str], username: str | None) -> tuple[str, str]:
    command, sub = name.split(" ", 1)
    extra = ["--as", username] if username else []
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, sub, *argv, *extra, stdout=out, stderr=err)
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
            if got == "denied":
                assert any(s in text for s in ("您没有", "全市范围", "管辖范围")), text
                if written() != before:
                    problems.append(f"{entry.name} as {ident.name}: refused but wrote")
    assert problems == []


def test_lists_stay_in_the_users_towns(world):
    from tests.authz.harness import client_for

    client = client_for(world.users, next(i for i in IDENTITIES if i.name == "town_clerk"))
    for url in ("/shgl/certification/", "/shgl/certification/due/", "/shgl/certification/due/?print=1"):
        body = client.get(url).content.decode()
        assert world.foreign.name not in body, url
        assert world.home.name in body, url


def test_a_community_worker_is_limited_to_their_community(world):
    """社区专管员 of one 浒山街道 community: the certification pages of their community's persons; every
    other person (another community of the same town, another town) looks missing; nothing else."""
    from django.test import Client

    from shebao.certification.services import community_worker_assign
    from shebao.web.tests.helpers import make_user

    Person.objects.filter(pk=world.home.pk).update(community=world.home_community)
    worker = make_user("cw_matrix", roles=("community",))
    community_worker_assign(worker=worker, communities=[world.home_community], actor=world.users["clerk"])
    client = Client(raise_request_exception=False)
    client.force_login(worker, backend="shebao.accounts.backends.LockoutModelBackend")
    home, foreign = world.home.pk, world.foreign.pk
    want = {
        f"/shgl/certification/person/{home}/": 200, f"/shgl/certification/person/{home}/record/": 200,
        f"/shgl/certification/person/{foreign}/record/": 404, f"/shgl/certification/person/{home}/death/": 403,
        f"/shgl/certification/person/{home}/contact/": 403, "/shgl/certification/import/": 403,
        f"/shgl/communities/{world.home_community.pk}/": 200, f"/shgl/communities/{world.foreign_community.pk}/": 404,
        "/shgl/certification/": 200, "/shgl/certification/due/": 200, "/shgl/certification/stats/": 200, "/zg/": 403, "/nb/": 403, "/persons/": 403,
        "/payroll/": 403,
        "/shgl/persons/": 200, f"/shgl/persons/{home}/": 200, f"/shgl/persons/{foreign}/": 404,
        f"/shgl/persons/{home}/contacts/{world.contacts['home'].pk}/stop/": 403,
        "/shgl/certification/attachments/": 200,
        f"/shgl/certification/{world.certs['home'].pk}/attachment/": 200,
        f"/shgl/certification/{world.certs['foreign'].pk}/attachment/": 404,
    }
    got = {url: client.get(url).status_code for url in want}
    assert got == want
    body = client.get("/shgl/certification/due/").content.decode()
    assert world.home.name in body and world.foreign.name not in body
    # the commands refuse them (no permission of any command)
    with pytest.raises(CommandError, match="您没有此功能的权限"):
        call_command("person", "death", "--id", world.home.id_number, "--date", "2026-01-01", "--as", "cw_matrix")
    with pytest.raises(CommandError, match="您没有此功能的权限"):
        call_command("certification", "sweep", "--on", "2026-01-01", "--as", "cw_matrix")
