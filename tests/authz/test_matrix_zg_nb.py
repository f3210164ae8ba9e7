"""The authorization matrix of 自管人员 (/zg/, ``shebao zg``), 老农保 (/nb/, ``shebao rural``, its jobs) and
``shebao benefits raise``.

Every ZG page is scheme ZG and every NB page scheme NB: an NB-only clerk is refused on /zg/ and a ZG-only
clerk on /nb/. Objects (a person, an account, a 结算单) belong to a person of 附海镇 unless the row says
``home``: 浒山街道's town clerk gets 404 for them. Acts over the whole county (批量调待, 记账利率, the legacy
import) need 全市范围. POST rows are sent without their one-time token: an identity that passes the rule
gets "表单已过期" (a redirect or the page again) and nothing is written, so the rows test the check and
never the write; a refused identity gets 403 and nothing is written either.

Beyond the rule, this file checks that no page of the matrix shows a full 身份证号 of the world's persons
to a user without 查看敏感信息, and that the search boxes and exports stay inside the user's towns."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from shebao.benefits.management.commands import benefits as benefits_cmd
from shebao.benefits.models import Adjustment, Enrollment, RaiseRule
from shebao.benefits.services import enrollment_create, scheme_get
from shebao.common.models import AuditEvent, Job
from shebao.registry.models import Person
from shebao.registry.services import bank_account_set
from shebao.rural_pension import jobs as nb_jobs
from shebao.rural_pension.management.commands import rural as rural_cmd
from shebao.rural_pension.models import CreditedRate, ImportBatch, RuralAccount, RuralDocument
from shebao.rural_pension.services import rural_refund_settle, rural_years_recompute
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, set_rates
from shebao.rural_pension.views import (
    EDIT_RULE,
    IMPORT_RULE,
    RATES_SET_RULE,
    REFUND_RULE,
    ROLLBACK_RULE,
)
from shebao.rural_pension.views import VIEW_RULE as NB_VIEW
from shebao.self_managed.management.commands import zg as zg_cmd
from shebao.self_managed.models import FlexPayment, Income, RosterImport
from shebao.self_managed.permissions import INCOME_ADD_RULE, INCOME_VIEW_RULE, MANAGE_RULE, RAISE_VIEW_RULE
from shebao.self_managed.permissions import VIEW_RULE as ZG_VIEW
from shebao.self_managed.services import roster_upload
from shebao.self_managed.tests.make_samples import PEOPLE
from tests.authz.harness import (
    FOREIGN_TOWN,
    HOME_TOWN,
    IDENTITIES,
    Entry,
    client_for,
    expected,
    make_identities,
    run_page_row,
)

ROSTER_SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "zg_roster_sample.xlsx"
NB_SAMPLES = Path(nb_jobs.__file__).parent / "samples"


# --------------------------------------------------------------------------------------------------
# the world


@dataclasses.dataclass
class World:
    users: dict
    zg_foreign: Person
    zg_home: Person
    nb_foreign: RuralAccount
    nb_home: RuralAccount
    nb_refunded: RuralAccount
    doc: RuralDocument
    batch: RosterImport
    import_job: Job
    import_batch: ImportBatch
    tmp: Path


def _person(name: str, number: str, town: str) -> Person:
    from shebao.web.tests.helpers import make_person

    person = make_person(name, number=number, town_name=town, mobile="13805740000")
    bank_account_set(user=None, person=person, bank="ICBC", account_number="6222021234567890128", holder_name=name,
                     valid_from=dt.date(2024, 1, 1))
    return person


def _zg(person: Person, user) -> Person:
    enrollment_create(person=person, scheme=scheme_get("ZG"), start_month="2025-01", user=user,
                      items={"basic": "2000.00", "extra": "150.00"})
    return person


def build_world(tmp_path) -> World:
    from shebao.web.tests.helpers import id_number

    users = make_identities()
    clerk = users["clerk"]
    zg_foreign = _zg(_person("附海甲", id_number(dt.date(1950, 3, 1)), FOREIGN_TOWN), clerk)
    zg_home = _zg(_person("浒山乙", id_number(dt.date(1951, 4, 2)), HOME_TOWN), clerk)
    set_rates()
    nb_foreign = make_account(_person("附海丙", id_number(dt.date(1962, 3, 5)), FOREIGN_TOWN), flows=HAND_FLOWS)
    nb_home = make_account(_person("浒山丁", id_number(dt.date(1962, 5, 6)), HOME_TOWN), flows=HAND_FLOWS)
    nb_refunded = make_account(_person("附海戊", id_number(dt.date(1963, 7, 8)), FOREIGN_TOWN), flows=HAND_FLOWS)
    rural_years_recompute()
    doc = rural_refund_settle(account=nb_refunded, on=dt.date(2024, 6, 15), pay_method="cash", user=clerk)
    batch = roster_upload(file_name=ROSTER_SAMPLE.name, data=ROSTER_SAMPLE.read_bytes(), user=clerk)
    import_job = Job.objects.create(kind="rural_import", title="试运行", state=Job.State.DONE,
                                    created_by=users["it_admin"], params={"directory": str(NB_SAMPLES), "dry_run": True})
    import_batch = ImportBatch.objects.create(source=str(NB_SAMPLES), created_by=users["it_admin"])
    return World(users, zg_foreign, zg_home, nb_foreign, nb_home, nb_refunded, doc, batch, import_job, import_batch,
                 tmp_path)


def written() -> tuple:
    """What any entry of this area may write."""
    return (AuditEvent.objects.count(), Enrollment.objects.count(), Adjustment.objects.count(),
            RaiseRule.objects.count(), FlexPayment.objects.count(), Income.objects.count(),
            RosterImport.objects.count(), RosterImport.objects.filter(state="applied").count(),
            RuralDocument.objects.count(), RuralDocument.objects.filter(state="settled").count(),
            RuralAccount.objects.filter(status="refunded").count(), CreditedRate.objects.count(),
            Job.objects.count(), Person.objects.count())


# --------------------------------------------------------------------------------------------------
# the rows


def zg_p(home=False):
    return lambda w: {"pk": (w.zg_home if home else w.zg_foreign).pk}


def nb_a(home=False):
    return lambda w: {"pk": (w.nb_home if home else w.nb_foreign).pk}


def doc_n(w):
    return {"number": w.doc.number}


ON = {"on": "2024-06-15", "pay": "cash"}

ZG_ROWS = [
    # POST rows first: a page whose writes need more than its page rule (the last row of a name is the page's)
    Entry("self_managed:flex", MANAGE_RULE, method="POST", allowed_status=(400,),
          data=lambda w: {"id_number": w.zg_foreign.id_number, "amount": "1.00", "reason": "x"}),
    Entry("self_managed:income", INCOME_ADD_RULE, method="POST",
        data=lambda w: {"id_number": w.zg_foreign.id_number, "kind": "overpayment", "amount": "1.00",
                        "received_on": "2026-01-05", "source": "x"}),
    Entry("self_managed:roster", MANAGE_RULE, method="POST", data=lambda w: {}),
    Entry("self_managed:person_list", ZG_VIEW),
    Entry("self_managed:person_list", ZG_VIEW, query={"export": "xlsx"}, note="导出Excel"),
    Entry("self_managed:person_list", ZG_VIEW, query={"export": "csv"}, note="导出CSV"),
    Entry("self_managed:enroll", MANAGE_RULE, query={"q": "附海"}),
    Entry("self_managed:enroll", MANAGE_RULE, query=lambda w: {"person": w.zg_foreign.pk}, town_scoped=True,
          note="选择已登记人员：不带身份证号"),
    Entry("self_managed:enroll", MANAGE_RULE, query=lambda w: {"person": w.zg_home.pk}, town_scoped=True, home=True),
    Entry("self_managed:enroll", MANAGE_RULE, method="POST",
          data=lambda w: {"person": w.zg_foreign.pk, "start_month": "2026-01", "service_years": "0"},
          town_scoped=True),
    Entry("self_managed:person", ZG_VIEW, args=zg_p(), town_scoped=True),
    Entry("self_managed:person", ZG_VIEW, args=zg_p(home=True), town_scoped=True, home=True),
    Entry("self_managed:terminate", MANAGE_RULE, args=zg_p(), town_scoped=True),
    Entry("self_managed:terminate", MANAGE_RULE, args=zg_p(), town_scoped=True, method="POST",
          data=lambda w: {"reason": "exit_other", "last_month": "2026-03", "confirm": "1"}),
    Entry("self_managed:status", MANAGE_RULE, args=zg_p(), town_scoped=True),
    Entry("self_managed:status", MANAGE_RULE, args=zg_p(), town_scoped=True, method="POST",
          data=lambda w: {"reason": "no_cert", "from_month": "2026-02"}),
    Entry("self_managed:amount", MANAGE_RULE, args=zg_p(), town_scoped=True),
    Entry("self_managed:amount", MANAGE_RULE, args=zg_p(), town_scoped=True, method="POST",
          data=lambda w: {"item": "basic", "amount": "2100.00", "from_month": "2026-02", "note": "x"}),
    Entry("self_managed:adjust", MANAGE_RULE, args=zg_p(), town_scoped=True),
    Entry("self_managed:adjust", MANAGE_RULE, args=zg_p(), town_scoped=True, method="POST",
          data=lambda w: {"kind": "arrears", "total": "1000.00", "reason": "补发"}),
    Entry("self_managed:adjust", MANAGE_RULE, args=zg_p(home=True), town_scoped=True, home=True),
    Entry("self_managed:benefits", ZG_VIEW),
    Entry("self_managed:benefits", ZG_VIEW, query={"export": "xlsx"}),
    Entry("self_managed:raise", RAISE_VIEW_RULE),
    Entry("self_managed:query", ZG_VIEW, query={"q": "附海"}),
    Entry("self_managed:query_person", ZG_VIEW, args=zg_p(), town_scoped=True),
    Entry("self_managed:query_person", ZG_VIEW, args=zg_p(home=True), town_scoped=True, home=True),
    Entry("self_managed:roster", ZG_VIEW),
    Entry("self_managed:roster_export", ZG_VIEW),
    Entry("self_managed:roster_export", ZG_VIEW, query={"format": "csv"}),
    # the batch is its uploader's (the world's clerk): see test_roster_batch_is_its_uploaders
    Entry("self_managed:roster_batch", MANAGE_RULE, args=lambda w: {"pk": w.batch.pk}),
    Entry("self_managed:roster_batch_confirm", MANAGE_RULE, args=lambda w: {"pk": w.batch.pk}, method="POST",
          data=lambda w: {}),
    Entry("self_managed:flex", ZG_VIEW),
    Entry("self_managed:flex", ZG_VIEW, query={"f_export": "xlsx"}),
    Entry("self_managed:income", INCOME_VIEW_RULE),
    Entry("self_managed:income", INCOME_VIEW_RULE, query={"i_export": "xlsx"}),
]

NB_ROWS = [
    Entry("rural:account_list", NB_VIEW),
    Entry("rural:account_list", NB_VIEW, query={"export": "xlsx"}),
    Entry("rural:account_list", NB_VIEW, query={"q": "附海"}),
    Entry("rural:pick", EDIT_RULE, args=lambda w: {"purpose": "edit"}),
    Entry("rural:pick", REFUND_RULE, args=lambda w: {"purpose": "refund"}),
    Entry("rural:pick", REFUND_RULE, args=lambda w: {"purpose": "benefit"}),
    Entry("rural:pick", REFUND_RULE, args=lambda w: {"purpose": "heir"}),
    Entry("rural:pick", REFUND_RULE, args=lambda w: {"purpose": "death"}, query={"export": "xlsx"}),
    Entry("rural:pick", NB_VIEW, args=lambda w: {"purpose": "years"}),
    Entry("rural:account_detail", NB_VIEW, args=nb_a(), town_scoped=True),
    Entry("rural:account_detail", NB_VIEW, args=nb_a(home=True), town_scoped=True, home=True),
    Entry("rural:account_detail", NB_VIEW, args=nb_a(), town_scoped=True, query={"tab": "refund"}),
    Entry("rural:account_years", NB_VIEW, args=nb_a(), town_scoped=True),
    Entry("rural:account_edit", EDIT_RULE, args=nb_a(), town_scoped=True),
    Entry("rural:account_edit", EDIT_RULE, args=nb_a(), town_scoped=True, method="POST",
          data=lambda w: {"name": w.nb_foreign.person.name, "town": w.nb_foreign.town_id, "enrolled_on": "2019-11-01",
                          "status": "paying", "reason": "x", "confirm": "1"}),
    Entry("rural:refund", REFUND_RULE, args=nb_a(), town_scoped=True),
    Entry("rural:refund_quote", REFUND_RULE, args=nb_a(), town_scoped=True, query=ON),
    Entry("rural:refund_quote", REFUND_RULE, args=nb_a(home=True), town_scoped=True, home=True, query=ON),
    Entry("rural:refund_settle", REFUND_RULE, args=nb_a(), town_scoped=True, method="POST",
          data=lambda w: {**ON, "amount": "3001.45", "confirm": "1"}),
    Entry("rural:benefit", REFUND_RULE, args=nb_a(), town_scoped=True),
    Entry("rural:benefit_quote", REFUND_RULE, args=nb_a(), town_scoped=True, query={"start": "2024-07"}),
    Entry("rural:benefit_confirm", REFUND_RULE, args=nb_a(), town_scoped=True, method="POST",
          data=lambda w: {"start": "2024-07", "monthly": "25.95", "confirm": "1"}),
    Entry("rural:heir", REFUND_RULE, args=nb_a(), town_scoped=True, query={"q": "浒山"}),
    Entry("rural:heir", REFUND_RULE, args=nb_a(), town_scoped=True, method="POST",
          data=lambda w: {"heir": w.zg_foreign.pk, "reason": "x", "confirm": "1"}),
    Entry("rural:death", REFUND_RULE, args=nb_a(), town_scoped=True),
    Entry("rural:death_quote", REFUND_RULE, args=nb_a(), town_scoped=True,
          query={"death_date": "2024-06-01", **ON}),
    Entry("rural:death_settle", REFUND_RULE, args=nb_a(), town_scoped=True, method="POST",
          data=lambda w: {"death_date": "2024-06-01", **ON, "heir": w.zg_foreign.pk, "amount": "3001.45",
                          "confirm": "1"}),
    Entry("rural:document_list", NB_VIEW),
    Entry("rural:document_list", NB_VIEW, query={"export": "xlsx"}),
    Entry("rural:document_detail", NB_VIEW, args=doc_n, town_scoped=True),
    Entry("rural:document_pdf", REFUND_RULE, args=doc_n, town_scoped=True),
    Entry("rural:document_rollback", ROLLBACK_RULE, args=doc_n, town_scoped=True),
    Entry("rural:document_rollback", ROLLBACK_RULE, args=doc_n, town_scoped=True, method="POST",
          data=lambda w: {"reason": "x", "confirm": "1"}),
    Entry("rural:rollback_list", ROLLBACK_RULE),
    Entry("rural:rollback_list", ROLLBACK_RULE, query={"export": "xlsx"}),
    Entry("rural:rates", RATES_SET_RULE, method="POST", data=lambda w: {"year": 2022, "rate": "0.0100", "reason": "x", "confirm": "1"}),
    Entry("rural:rates", NB_VIEW),
    Entry("rural:coefficients", RATES_SET_RULE, method="POST", data=lambda w: {"from_month": "2027-01", "coefficient": "0.009", "reason": "x",
                                         "confirm": "1"}),
    Entry("rural:coefficients", NB_VIEW),
    Entry("rural:import_start", IMPORT_RULE),
    Entry("rural:import_start", IMPORT_RULE, method="POST", data=lambda w: {"directory": str(NB_SAMPLES)}),
    Entry("rural:import_job", IMPORT_RULE, args=lambda w: {"pk": w.import_job.pk}),
    Entry("rural:import_commit", IMPORT_RULE, args=lambda w: {"pk": w.import_job.pk}, method="POST",
          data=lambda w: {"confirm": "1"}),
    Entry("rural:import_batch", IMPORT_RULE, args=lambda w: {"pk": w.import_batch.pk}),
]


def _doc_arg(w):
    return [w.doc.number]


CMD_ROWS = [
    Entry("zg import", zg_cmd.IMPORT_RULE, args=lambda w: [str(ROSTER_SAMPLE), "--dry-run"]),
    Entry("zg export", zg_cmd.EXPORT_RULE, args=lambda w: [str(w.tmp / "roster.csv")]),
    Entry("rural import", rural_cmd.IMPORT_RULE, args=lambda w: [str(NB_SAMPLES), "--dry-run"]),
    Entry("rural quote", rural_cmd.QUOTE_RULE, args=lambda w: ["--id", w.nb_foreign.person.id_number,
                                                                "--date", "2024-06-15"]),
    # an amount other than the quote's: refused by the service after the check, so nothing is written
    Entry("rural refund", rural_cmd.REFUND_RULE, town_scoped=True,
          args=lambda w: ["--id", w.nb_foreign.person.id_number, "--date", "2024-06-15", "--pay", "cash",
                          "--amount", "0.01"]),
    Entry("rural rollback", rural_cmd.ROLLBACK_RULE, town_scoped=True,
          args=lambda w: [w.doc.number, "--reason", ""]),
    Entry("rural print", rural_cmd.PRINT_RULE, town_scoped=True,
          args=lambda w: [w.doc.number, "--out", str(w.tmp / "doc.pdf")]),
    Entry("rural rate", rural_cmd.RATE_RULE, args=lambda w: ["--year", "2022", "--rate", "abc"]),
    Entry("rural recompute", rural_cmd.RECOMPUTE_RULE, args=lambda w: []),
    Entry("rural payouts", rural_cmd.PAYOUTS_RULE, args=lambda w: ["--period", "2001-01"]),
    Entry("benefits raise", benefits_cmd.RAISE_RULE, scheme="ZG",
          args=lambda w: [str(w.tmp / "raise.json"), "--apply-month", "2026-03", "--dry-run"]),
]

JOB_ROWS = [
    Entry("job rural_import", nb_jobs.IMPORT_RULE),
    Entry("job rural_recompute", nb_jobs.RECOMPUTE_RULE),
]

ROWS = ZG_ROWS + NB_ROWS + CMD_ROWS
PAGE_ROWS = ZG_ROWS + NB_ROWS


# --------------------------------------------------------------------------------------------------
# pages


def resolved(entry: Entry, world: World) -> Entry:
    """The row with a query that depends on the world worked out."""
    if callable(entry.query):
        return dataclasses.replace(entry, query=entry.query(world))
    return entry


@pytest.fixture
def world(db, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_world(tmp_path)


ROSTER_BATCH = {"self_managed:roster_batch", "self_managed:roster_batch_confirm"}


def test_page_rows(world):
    """Every page row as every identity (one world for all: the rows write nothing)."""
    problems = []
    for entry in PAGE_ROWS:
        if entry.name in ROSTER_BATCH:
            continue
        before = written()
        problems += run_page_row(resolved(entry, world), world, world.users)
        if entry.method == "POST" and written() != before:  # refused, or sent without its token
            problems.append(f"{entry.id}: wrote")
    assert problems == []


def test_roster_batch_is_its_uploaders(world):
    """The rule decides for everyone but the other 经办 users, who see no batch of another's (404)."""
    before = written()
    uploader = "clerk"
    for entry in [r for r in PAGE_ROWS if r.name in ROSTER_BATCH]:
        others = [i for i in IDENTITIES if i.name != uploader and expected(i, entry) == "ok"]
        assert run_page_row(entry, world, world.users,
                            identities=[i for i in IDENTITIES if i not in others]) == []
        url = reverse(entry.name, kwargs=entry.args(world))
        for ident in others:
            client = client_for(world.users, ident)
            response = client.get(url) if entry.method == "GET" else client.post(url, {})
            assert response.status_code == 404, (entry.id, ident.name)
    assert written() == before


def test_no_full_id_number_on_any_page_without_the_sensitive_right(world):
    """Every GET row of the matrix, as each identity without 查看敏感信息 that may open it: no full 身份证号
    of the world's persons in the HTML (or in an export's cells). The enroll page with a chosen person put
    it into an input's value before."""
    from python_calamine import CalamineWorkbook

    numbers = set(Person.objects.values_list("id_number", flat=True)) | {p[0] for p in PEOPLE}
    seen = 0
    for entry in PAGE_ROWS:
        if entry.method != "GET":
            continue
        entry = resolved(entry, world)
        url = reverse(entry.name, kwargs=entry.args(world) if entry.args else {})
        for name in ("clerk", "reviewer", "it_admin", "town_clerk", "zg_clerk", "nb_clerk"):
            ident = next(i for i in IDENTITIES if i.name == name)
            if expected(ident, entry) != "ok" or (entry.name in ROSTER_BATCH and name != "clerk"):
                continue
            response = client_for(world.users, ident).get(url, entry.query)
            assert response.status_code < 400, (entry.id, name, response.status_code)
            kind = response.get("Content-Type", "")
            if "spreadsheetml" in kind:
                book = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(response.streaming_content)
                                                                 if response.streaming else response.content))
                text = "\n".join(str(c) for s in book.sheet_names for row in book.get_sheet_by_name(s).to_python()
                                 for c in row)
            elif "pdf" in kind:
                continue  # the 结算单 PDF: masked by the service (rural tests)
            else:
                text = (b"".join(response.streaming_content) if response.streaming else response.content).decode()
            leaked = [n for n in numbers if n in text]
            assert not leaked, (entry.id, entry.query, name, leaked)
            seen += 1
    assert seen > 80


def test_search_boxes_lists_and_exports_stay_in_the_users_towns(world):
    """浒山街道's clerk: the 附海镇 persons are not found by any search box and are in no list or export."""
    client = client_for(world.users, next(i for i in IDENTITIES if i.name == "town_clerk"))
    foreign = [world.zg_foreign.name, world.nb_foreign.person.name, world.nb_refunded.person.name]
    home = {"/zg/": world.zg_home.name, "/nb/": world.nb_home.person.name}
    pages = {
        "/zg/": {}, "/zg/?export=csv": {}, "/zg/query/": {"q": "附海"}, "/zg/enroll/": {"q": "附海"},
        "/zg/benefits/?state=pending": {}, "/zg/roster/export/?format=csv": {},
        "/nb/": {}, "/nb/?export=csv": {}, "/nb/find/refund/": {"q": "附海"}, "/nb/find/years/": {},
        "/nb/documents/": {}, "/nb/documents/?export=csv": {}, "/nb/rollback/": {},
        reverse("rural:heir", args=[world.nb_home.pk]): {"q": "附海"},
    }
    for url, query in pages.items():
        response = client.get(url, query)
        assert response.status_code == 200, url
        body = response.content.decode() if not response.streaming else b"".join(response.streaming_content).decode()
        assert not [n for n in foreign if n in body], url
    for url, name in home.items():
        assert name in client.get(url).content.decode(), url
    # the ZG-only and NB-only clerks: the other scheme's whole subsystem is refused
    zg_only = client_for(world.users, next(i for i in IDENTITIES if i.name == "zg_clerk"))
    nb_only = client_for(world.users, next(i for i in IDENTITIES if i.name == "nb_clerk"))
    assert nb_only.get("/zg/?export=xlsx").status_code == 403
    assert zg_only.get("/nb/?export=xlsx").status_code == 403


# --------------------------------------------------------------------------------------------------
# commands


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
    """Each command as each identity (``--as``; console commands without it): refused with a Chinese
    reason and nothing written, or let through, as the row's rule says."""
    import json

    (world.tmp / "raise.json").write_text(json.dumps(
        {"name": "调待", "scheme": "ZG", "item": "basic", "effective_month": "2026-01", "fixed": "50.00"}),
        encoding="utf-8")
    problems = []
    for entry in CMD_ROWS:
        problems += _command_problems(entry, world)
    assert problems == []


def _command_problems(entry: Entry, world: World) -> list[str]:
    argv = entry.args(world)
    if entry.rule.public:  # the operator at the server: no --as
        got, text = _run(entry.name, argv, None)
        return [] if got == "ok" else [f"{entry.name} at the console: {text[:200]}"]
    problems = []
    for ident in IDENTITIES:
        if ident.anonymous:
            continue
        before = written()
        got, text = _run(entry.name, argv, world.users[ident.name].username)
        want = expected(ident, entry)
        if got != want:
            problems.append(f"{entry.name} as {ident.name}: expected {want}, got {got} ({text[:200]})")
        if got == "denied":
            assert any(s in text for s in ("您没有", "全市范围", "管辖范围")), text
            if written() != before:
                problems.append(f"{entry.name} as {ident.name}: refused but wrote")
    return problems


def test_a_cash_refund_by_a_user_without_roles_is_refused_and_writes_nothing(world):
    """The finding: ``shebao rural refund … --as noroles`` made a cash 老农保 refund."""
    account = world.nb_foreign
    before = written()
    with pytest.raises(CommandError, match="您没有此功能的权限"):
        call_command("rural", "refund", "--id", account.person.id_number, "--date", "2024-06-15", "--pay", "cash",
                     "--as", world.users["noroles"].username)
    assert written() == before
    assert RuralAccount.objects.get(pk=account.pk).status == "paying"
    # 浒山街道's clerk may refund, but not a 附海镇 account; a ZG-only clerk not at all
    with pytest.raises(CommandError, match="该人员不在您的管辖范围内"):
        call_command("rural", "refund", "--id", account.person.id_number, "--date", "2024-06-15", "--pay", "cash",
                     "--as", world.users["town_clerk"].username)
    with pytest.raises(CommandError, match="您没有NB险种的权限"):
        call_command("rural", "refund", "--id", account.person.id_number, "--date", "2024-06-15", "--pay", "cash",
                     "--as", world.users["zg_clerk"].username)
    assert written() == before
    out = io.StringIO()
    call_command("rural", "refund", "--id", account.person.id_number, "--date", "2024-06-15", "--pay", "cash",
                 "--as", world.users["clerk"].username, stdout=out, stderr=io.StringIO())
    assert RuralDocument.objects.get(account=account).amount == RuralDocument.objects.get(pk=world.doc.pk).amount


def test_benefits_raise_checks_the_scheme_of_its_rule_file(world):
    import json

    rule = world.tmp / "nb.json"
    rule.write_text(json.dumps({"name": "NB调待", "scheme": "NB", "item": "pension", "effective_month": "2026-01",
                                "fixed": "5.00"}), encoding="utf-8")
    before = written()
    with pytest.raises(CommandError, match="您没有NB险种的权限"):
        call_command("benefits", "raise", str(rule), "--apply-month", "2026-03",
                     "--as", world.users["zg_clerk"].username)
    with pytest.raises(CommandError, match="此操作涉及全市数据"):
        call_command("benefits", "raise", str(rule), "--apply-month", "2026-03", "--dry-run",
                     "--as", world.users["town_clerk"].username)
    assert written() == before


# --------------------------------------------------------------------------------------------------
# jobs


def test_job_rows(world):
    """A job of each kind run as each identity: refused (the job fails with the reason) unless the
    identity passes the kind's rule."""
    for entry in JOB_ROWS:
        _job_row(entry, world)


def _job_row(entry: Entry, world: World) -> None:
    from shebao.common.jobs import JobError, _authorized_handler, job_kind

    kind = entry.name.split(" ", 1)[1]
    assert job_kind(kind).rule == entry.rule
    for ident in IDENTITIES:
        if ident.anonymous:
            continue
        want = expected(ident, entry)
        try:
            _authorized_handler(kind, {"directory": str(NB_SAMPLES), "dry_run": True}, world.users[ident.name])
            got = "ok"
        except JobError:
            got = "denied"
        assert got == want, ident.name
