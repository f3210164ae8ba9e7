"""The authorization matrix of 数据维护 (/maint/, ``shebao compare``).

Correction requests: a clerk proposes (``maintenance.add_correctionrequest``), a reviewer decides
(``accounts.review``); lists and details need ``maintenance.view_correctionrequest``. The world's request
and person belong to 附海镇 unless the row says ``home``: 浒山街道's town clerk and town reviewer get 404.
POST rows are sent without their one-time token: an identity that passes the rule gets "表单已过期" and
nothing is written; a refused identity gets 403 and nothing is written either. 数据比对 reads two
uploaded files (``maintenance.compare_files``), writes nothing; comparing two database tables needs the
same right and 全市范围; ``shebao compare`` (files or ``table:`` tables) is the operator's."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.benefits.services import enrollment_create, scheme_get
from shebao.common.models import AuditEvent
from shebao.maintenance.batch import batch_upload
from shebao.maintenance.management.commands import compare as compare_cmd
from shebao.maintenance.models import ConvertLayout, CorrectionBatch, CorrectionRequest, SavedQuery
from shebao.maintenance.permissions import (
    BATCH_DECIDE_RULE,
    COMPARE_RULE,
    COMPARE_TABLES_RULE,
    DECIDE_RULE,
    PROPOSE_RULE,
    QUERY_MANAGE_RULE,
    QUERY_RUN_RULE,
    VIEW_RULE,
)
from shebao.maintenance.services import correction_propose, layout_save, query_save
from shebao.registry.models import BankAccount, Person
from shebao.registry.services import bank_account_set
from tests.authz.harness import FOREIGN_TOWN, HOME_TOWN, Entry, make_identities, run_page_row


class World:
    def __init__(self, users, foreign, home, req, home_req, batch, tmp):
        self.users, self.foreign, self.home, self.req, self.home_req, self.tmp = users, foreign, home, req, home_req, tmp
        self.batch = batch
        self.query = query_save(user=users["it_admin"], name="各镇街道人数", source="persons", dimensions=["town"],
                                measures=["count"], parameters=["town"])


def _person(name: str, born: dt.date, town: str, clerk) -> Person:
    from shebao.web.tests.helpers import id_number, make_person

    person = make_person(name, number=id_number(born), town_name=town, mobile="13805740000")
    bank_account_set(user=None, person=person, bank="ICBC", account_number="6222021234567890128", holder_name=name,
                     valid_from=dt.date(2024, 1, 1))
    enrollment_create(person=person, scheme=scheme_get("ZG"), start_month="2025-01", user=clerk,
                      items={"basic": "2000.00"})
    return person


def build_world(tmp_path) -> World:
    users = make_identities()
    clerk = users["clerk"]
    foreign = _person("附海更", dt.date(1950, 3, 1), FOREIGN_TOWN, clerk)
    home = _person("浒山更", dt.date(1951, 4, 2), HOME_TOWN, clerk)
    req = correction_propose(user=clerk, person=foreign, kind="account", field="", reason="换卡",
                             new_value={"bank": "ICBC", "account_number": "6222021234567890136"},
                             attachment_name="证明.pdf", attachment=b"%PDF-1.4")
    home_req = correction_propose(user=clerk, person=home, kind="person", field="notes", reason="补记",
                                  new_value={"value": "补记"})
    batch = batch_upload(user=clerk, file_name="fix.csv", reason="核对", data=(
        f"身份证号,字段,新值\r\n{foreign.id_number},备注,批量\r\n{home.id_number},备注,批量\r\n").encode())
    (tmp_path / "a.csv").write_text("身份证号,金额\r\n330282195003010011,1\r\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("身份证号,金额\r\n330282195003010011,2\r\n", encoding="utf-8")
    return World(users, foreign, home, req, home_req, batch, tmp_path)


def written() -> tuple:
    return (AuditEvent.objects.count(), CorrectionRequest.objects.count(), CorrectionBatch.objects.count(),
            ConvertLayout.objects.count(), SavedQuery.objects.count(),
            CorrectionBatch.objects.filter(state="open").count(),
            CorrectionRequest.objects.filter(state="open").count(), BankAccount.objects.count(),
            list(Person.objects.order_by("pk").values_list("notes", flat=True)))


def req_pk(home=False):
    return lambda w: {"pk": (w.home_req if home else w.req).pk}


PAGE_ROWS = [
    Entry("maintenance:corrections", VIEW_RULE),
    Entry("maintenance:corrections", VIEW_RULE, query={"export": "xlsx"}, note="导出Excel"),
    Entry("maintenance:corrections", VIEW_RULE, query={"state": "open", "q": "附海"}),
    Entry("maintenance:correction_new", PROPOSE_RULE, query={"q": "附海"}),
    Entry("maintenance:correction_new", PROPOSE_RULE, method="POST", town_scoped=True,
          data=lambda w: {"person": w.foreign.pk, "target": "person:notes", "value": "x", "reason": "x"}),
    Entry("maintenance:correction", VIEW_RULE, args=req_pk(), town_scoped=True),
    Entry("maintenance:correction", VIEW_RULE, args=req_pk(home=True), town_scoped=True, home=True),
    Entry("maintenance:correction_attachment", VIEW_RULE, args=req_pk(), town_scoped=True),
    Entry("maintenance:correction_decide", DECIDE_RULE, args=req_pk(), town_scoped=True, method="POST",
          data=lambda w: {"action": "approve"}),
    Entry("maintenance:correction_decide", DECIDE_RULE, args=req_pk(home=True), town_scoped=True, home=True,
          method="POST", data=lambda w: {"action": "refuse", "note": "x"}),
    # a batch is visible to county-wide users and to its uploader (the world's clerk): a town user's 404
    Entry("maintenance:batch", PROPOSE_RULE, method="POST", data=lambda w: {"reason": "x"}),
    Entry("maintenance:batch", VIEW_RULE),
    Entry("maintenance:batch_detail", VIEW_RULE, args=lambda w: {"pk": w.batch.pk}, town_scoped=True),
    Entry("maintenance:batch_detail", VIEW_RULE, args=lambda w: {"pk": w.batch.pk}, town_scoped=True,
          query={"export": "xlsx"}),
    Entry("maintenance:batch_decide", BATCH_DECIDE_RULE, args=lambda w: {"pk": w.batch.pk}, method="POST",
          data=lambda w: {"action": "approve", "clean_only": "on"}),
    Entry("maintenance:queries", QUERY_RUN_RULE),
    Entry("maintenance:query_new", QUERY_MANAGE_RULE, method="POST", data=lambda w: {"name": "x"}),
    Entry("maintenance:query_new", QUERY_MANAGE_RULE),
    Entry("maintenance:query_run", QUERY_RUN_RULE, args=lambda w: {"pk": w.query.pk}),
    Entry("maintenance:query_run", QUERY_RUN_RULE, args=lambda w: {"pk": w.query.pk}, query={"export": "xlsx"}),
    Entry("maintenance:query_edit", QUERY_MANAGE_RULE, args=lambda w: {"pk": w.query.pk}),
    Entry("maintenance:convert", COMPARE_RULE, method="POST",
          data=lambda w: {"action": "save", "name": "x", "spec": "a = b"}),
    Entry("maintenance:convert", COMPARE_RULE, method="POST", data=lambda w: {"action": "run", "fmt": "csv"}),
    Entry("maintenance:convert", COMPARE_RULE),
    Entry("maintenance:compare", COMPARE_RULE, method="POST", data=lambda w: {"keys": "身份证号"}),
    Entry("maintenance:compare", COMPARE_RULE),
    # two tables: the whole county's rows (live persons in the user's towns, the other side not): county-wide
    Entry("maintenance:compare_tables", COMPARE_TABLES_RULE),
    Entry("maintenance:compare_tables", COMPARE_TABLES_RULE,
          query={"a": "live.persons", "b": "live.persons", "keys": "身份证号"}),
]
# a person row the GET of the propose page names (its own person parameter): in scope or 404
SCOPED_GETS = [
    Entry("maintenance:correction_new", PROPOSE_RULE, query={"person": "FOREIGN"}, town_scoped=True),
    Entry("maintenance:correction_new", PROPOSE_RULE, query={"person": "HOME"}, town_scoped=True, home=True),
]
LAYOUT_GETS = [Entry("maintenance:convert", COMPARE_RULE, query={"layout": "WORLD"}, note="修改保存的格式")]
CMD_ROWS = [
    Entry("compare", compare_cmd.COMPARE_RULE,
          args=lambda w: [str(w.tmp / "a.csv"), str(w.tmp / "b.csv"), "--key", "身份证号", "--json"]),
]
ROWS = LAYOUT_GETS + PAGE_ROWS + SCOPED_GETS + CMD_ROWS


@pytest.fixture
def world(db, tmp_path):
    return build_world(tmp_path)


def test_page_rows(world):
    import dataclasses

    problems = []
    rows = PAGE_ROWS + [dataclasses.replace(e, query={"person": (world.foreign if e.query["person"] == "FOREIGN"
                                                                 else world.home).pk}) for e in SCOPED_GETS]
    layout = layout_save(user=world.users["clerk"], name="银行代发", spec="身份证号 = 身份证号")
    rows += [dataclasses.replace(e, query={"layout": str(layout.pk)}) for e in LAYOUT_GETS]
    for entry in rows:
        before = written()
        problems += run_page_row(entry, world, world.users)
        if entry.method == "POST" and written() != before:
            problems.append(f"{entry.id}: wrote")
    assert problems == []


def test_command_rows(world):
    for entry in CMD_ROWS:
        assert entry.rule.public  # the operator at the server: no --as
        out = io.StringIO()
        call_command(entry.name, *entry.args(world), stdout=out)
        assert '"only_a": 0, "only_b": 0, "changed": 1' in out.getvalue()
    with pytest.raises(CommandError):
        call_command("compare", str(world.tmp / "a.csv"), str(world.tmp / "b.csv"), "--as", "x")


def test_compare_rule_is_held_by_the_roles_that_maintain_data():
    from shebao.accounts.roles import MAINT_COMPARE, ROLE_PERMISSIONS

    assert [r for r, perms in ROLE_PERMISSIONS.items() if MAINT_COMPARE in perms] == [
        "clerk", "reviewer", "it_admin"]
    assert COMPARE_RULE.perms == (MAINT_COMPARE,)
