"""The authorization matrix of 土保补贴 (/tb/, ``shebao tb``): every page (and its exports) and command,
each as every identity of the harness.

The rules, in this test's words:
- reading (人员数据, a person, 补贴类别与标准, 年度发放 list, the import-layout export): 查看土保补贴人员, scheme TB;
- 经办 (修改补贴信息, 人员导入 and its batches): 土保补贴经办, scheme TB (persons of the user's towns);
- adding a person (人员新增; the town is checked by the import's row check): 土保补贴经办, scheme TB;
- adding, changing or disabling a category or an amount rule (every person's yearly amount): 土保补贴经办,
  scheme TB, 全市范围;
- the yearly roster (年度发放明细, page and xlsx: every town's persons): 查看土保补贴人员, scheme TB, 全市范围;
- ``shebao tb import --as``: 土保补贴经办, scheme TB; ``shebao tb export``: the server's operator.
Every person here is of 附海镇 unless the row says ``home``: 浒山街道's town clerk gets 404. The NB-only and
ZG-only clerks are refused everything. POST rows are sent without their one-time token: nothing is written
by anyone. No page or export shows a full 身份证号 or account number to a user without 查看敏感信息."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from shebao.common.models import AuditEvent
from shebao.common.policy import CONSOLE, rule
from shebao.land_subsidy.importing import COLUMNS
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule, TbImport
from shebao.land_subsidy.services import tb_upload
from shebao.land_subsidy.tests.factories import make_category, make_tb
from shebao.payroll.models import PayrollRun
from shebao.payroll.services import payroll_run_compute
from shebao.registry.models import Person
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

VIEW = rule("land_subsidy.view_tb", scheme="TB")
MANAGE = rule("land_subsidy.manage_tb", scheme="TB")
RULES = rule("land_subsidy.manage_tb", scheme="TB", county=True)
ROSTER = rule("land_subsidy.view_tb", scheme="TB", county=True)
IMPORT = rule("land_subsidy.manage_tb", scheme="TB")


@dataclasses.dataclass
class World:
    users: dict
    foreign: SubsidyPerson
    home: SubsidyPerson
    run: PayrollRun
    batch: TbImport
    tmp: Path


def build_world(tmp_path) -> World:
    users = make_identities()
    clerk = users["clerk"]
    category = make_category(user=clerk, male=None, female=None)
    foreign = make_tb("附海土保", user=clerk, category=category, town=FOREIGN_TOWN, account="6222021234567890128")
    home = make_tb("浒山土保", user=clerk, category=category, town=HOME_TOWN, account="6222021234567890136")
    run = payroll_run_compute(scheme=foreign.enrollment.scheme, period="2026", user=clerk, kind="annual")
    csv = (",".join(COLUMNS) + "\n" + ",".join([foreign.person.id_number, "附海土保", "A", "2020-01", "", "", "", "",
                                                 "", "新项目", "", ""]) + "\n").encode("utf-8")
    (tmp_path / "tb.csv").write_bytes(csv)
    batch = tb_upload(file_name="tb.csv", data=csv, user=clerk)
    return World(users, foreign, home, run, batch, tmp_path)


def written() -> tuple:
    return (AuditEvent.objects.count(), SubsidyPerson.objects.count(), SubsidyCategory.objects.count(),
            SubsidyRule.objects.count(), TbImport.objects.count(), TbImport.objects.filter(state="applied").count(),
            Person.objects.count(), PayrollRun.objects.count(),
            list(SubsidyPerson.objects.order_by("pk").values_list("category_id", "land_project", "note")))


def p(home=False):
    return lambda w: {"pk": (w.home if home else w.foreign).person_id}


PAGE_ROWS = [
    Entry("land_subsidy:person_list", VIEW),
    Entry("land_subsidy:person_list", VIEW, query={"export": "xlsx"}, note="导出Excel"),
    Entry("land_subsidy:person_list", VIEW, query={"q": "附海"}),
    Entry("land_subsidy:person_new", MANAGE, method="POST",
          data=lambda w: {"id_number": "330282195504090017", "name": "新人", "category": w.foreign.category_id,
                          "start_month": "2026-01", "bank": "ICBC", "account_number": "6222021234567890128"}),
    Entry("land_subsidy:person_new", MANAGE),
    Entry("land_subsidy:person", VIEW, args=p(), town_scoped=True),
    Entry("land_subsidy:person", VIEW, args=p(home=True), town_scoped=True, home=True),
    Entry("land_subsidy:person_edit", MANAGE, args=p(), town_scoped=True, method="POST",
          data=lambda w: {"category": w.foreign.category_id, "land_project": "改", "reason": "x"}),
    Entry("land_subsidy:person_edit", MANAGE, args=p(home=True), town_scoped=True, home=True, method="POST",
          data=lambda w: {"category": w.home.category_id, "land_project": "改", "reason": "x"}),
    Entry("land_subsidy:person_edit", MANAGE, args=p(), town_scoped=True),
    Entry("land_subsidy:status", MANAGE, args=p(), town_scoped=True, method="POST",
          data=lambda w: {"action": "suspend", "reason": "no_cert", "month": "2026-06"}),
    Entry("land_subsidy:status", MANAGE, args=p(), town_scoped=True),
    # the POST row first: the page is read by anyone who reads TB, the forms are a county-wide 经办's
    Entry("land_subsidy:categories", RULES, method="POST",
          data=lambda w: {"what": "rule", "category": w.foreign.category_id, "from_year": "2030", "amount": "1.00",
                          "reference_month": "12", "reference_day": "31"}),
    Entry("land_subsidy:categories", VIEW),
    Entry("land_subsidy:category_edit", RULES, args=lambda w: {"pk": w.foreign.category_id}, method="POST",
          data=lambda w: {"code": "A", "name": "改名", "sort": "0", "active": "on"}),
    Entry("land_subsidy:category_edit", RULES, args=lambda w: {"pk": w.foreign.category_id}),
    Entry("land_subsidy:rule_edit", RULES, args=lambda w: {"pk": w.foreign.category.rules.get().pk}, method="POST",
          data=lambda w: {"from_year": "2020", "amount": "1.00", "reference_month": "12", "reference_day": "31",
                          "note": "改"}),
    Entry("land_subsidy:rule_edit", RULES, args=lambda w: {"pk": w.foreign.category.rules.get().pk}),
    Entry("land_subsidy:import", MANAGE, method="POST", data=lambda w: {}),
    Entry("land_subsidy:import", MANAGE),
    Entry("land_subsidy:import_export", VIEW),
    # the batch is its uploader's (the world's clerk): test_import_batch_is_its_uploaders
    Entry("land_subsidy:import_batch", MANAGE, args=lambda w: {"pk": w.batch.pk}),
    Entry("land_subsidy:import_confirm", MANAGE, args=lambda w: {"pk": w.batch.pk}, method="POST",
          data=lambda w: {}),
    Entry("land_subsidy:runs", VIEW),
    Entry("land_subsidy:run_roster", ROSTER, args=lambda w: {"pk": w.run.pk}),
    Entry("land_subsidy:run_roster_xlsx", ROSTER, args=lambda w: {"pk": w.run.pk}),
]

IMPORT_RULE_ROW = Entry("tb import", IMPORT, args=lambda w: [str(w.tmp / "tb.csv"), "--dry-run"])
CMD_ROWS = [IMPORT_RULE_ROW, Entry("tb export", CONSOLE, args=lambda w: [str(w.tmp / "out.xlsx")])]
ROWS = PAGE_ROWS + CMD_ROWS
BATCH = {"land_subsidy:import_batch", "land_subsidy:import_confirm"}


@pytest.fixture
def world(db, tmp_path):
    return build_world(tmp_path)


def test_page_rows(world):
    problems = []
    for entry in PAGE_ROWS:
        if entry.name in BATCH:
            continue
        before = written()
        problems += run_page_row(entry, world, world.users)
        if entry.method == "POST" and written() != before:
            problems.append(f"{entry.id}: wrote")
    assert problems == []


def test_import_batch_is_its_uploaders(world):
    before = written()
    for entry in [r for r in PAGE_ROWS if r.name in BATCH]:
        others = [i for i in IDENTITIES if i.name != "clerk" and expected(i, entry) == "ok"]
        assert run_page_row(entry, world, world.users, identities=[i for i in IDENTITIES if i not in others]) == []
        url = reverse(entry.name, kwargs=entry.args(world))
        for ident in others:
            client = client_for(world.users, ident)
            response = client.get(url) if entry.method == "GET" else client.post(url, {})
            assert response.status_code == 404, (entry.id, ident.name)
    assert written() == before


def test_no_full_number_in_any_page_or_export_without_the_sensitive_right(world):
    from python_calamine import CalamineWorkbook

    numbers = {world.foreign.person.id_number, world.home.person.id_number, "6222021234567890128",
               "6222021234567890136"}
    seen = 0
    for entry in PAGE_ROWS:
        if entry.method != "GET":
            continue
        url = reverse(entry.name, kwargs=entry.args(world) if entry.args else {})
        for name in ("clerk", "reviewer", "it_admin", "town_clerk"):
            ident = next(i for i in IDENTITIES if i.name == name)
            if expected(ident, entry) != "ok" or (entry.name in BATCH and name != "clerk"):
                continue
            response = client_for(world.users, ident).get(url, entry.query)
            assert response.status_code == 200, (entry.id, name, response.status_code)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            if "spreadsheetml" in response.get("Content-Type", ""):
                book = CalamineWorkbook.from_filelike(io.BytesIO(body))
                text = str([book.get_sheet_by_name(s).to_python() for s in book.sheet_names])
            else:
                text = body.decode()
            assert not [n for n in numbers if n in text], (entry.id, entry.query, name)
            seen += 1
    assert seen > 20
    # the town clerk's list and export hold their own town's person only
    client = client_for(world.users, next(i for i in IDENTITIES if i.name == "town_clerk"))
    for url in ("/tb/", "/tb/?export=csv"):
        response = client.get(url)
        body = (b"".join(response.streaming_content) if response.streaming else response.content).decode("utf-8-sig")
        assert "浒山土保" in body and "附海土保" not in body, url


def _run(name: str, argv: list[str], username: str | None) -> tuple[str, str]:
    command, sub = name.split(" ", 1)
    extra = ["--as", username] if username else []
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, sub, *argv, *extra, stdout=out, stderr=err)
    except CommandError as exc:
        if username and str(exc).startswith(f"用户 {username}："):
            return "denied", str(exc)
        return "ok", out.getvalue() + str(exc)
    return "ok", out.getvalue()


def test_command_rows(world):
    problems = []
    for entry in CMD_ROWS:
        argv = entry.args(world)
        if entry.rule.public:
            got, text = _run(entry.name, argv, None)
            if got != "ok" or "已导出 2 人" not in text:
                problems.append(f"{entry.name}: {text[:200]}")
            continue
        for ident in IDENTITIES:
            if ident.anonymous:
                continue
            before = written()
            got, text = _run(entry.name, argv, world.users[ident.name].username)
            want = expected(ident, entry)
            if got != want:
                problems.append(f"{entry.name} as {ident.name}: expected {want}, got {got} ({text[:200]})")
            if written() != before:
                problems.append(f"{entry.name} as {ident.name}: a dry run wrote")
            if got == "ok" and ident.name == "town_clerk":
                assert "该人员不在您的管辖范围内" in text, text
    assert problems == []
    assert world.tmp.joinpath("out.xlsx").stat().st_size > 0

