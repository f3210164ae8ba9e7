"""Reads of the 土保补贴 subsystem: the persons a user may see, a person's yearly payments, the yearly runs
and their roster (年度发放明细) with each line's final outcome after re-issues (二次报盘)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import OuterRef, QuerySet, Subquery

from shebao.common import policy
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.registry.models import BankAccount

SCHEME = "TB"


def subsidy_persons(*, user) -> QuerySet[SubsidyPerson]:
    """土保补贴人员 the user may see (their towns), with the current account's bank and number."""
    account = BankAccount.objects.filter(person=OuterRef("person_id"), valid_to__isnull=True)
    return (policy.scope_town(SubsidyPerson.objects.all(), user, "person__town_id")
            .select_related("person", "person__town", "category", "enrollment")
            .annotate(bank=Subquery(account.values("bank")[:1]),
                      account_number=Subquery(account.values("account_number")[:1])))


def categories() -> list[SubsidyCategory]:
    return list(SubsidyCategory.objects.all())


def rules() -> list[SubsidyRule]:
    return list(SubsidyRule.objects.select_related("category", "created_by"))


def annual_runs() -> QuerySet[PayrollRun]:
    return PayrollRun.objects.filter(scheme__code=SCHEME, kind=PayrollRun.Kind.ANNUAL).order_by("-period")


def person_lines(person_id: int) -> list[PayrollLine]:
    """Every TB payroll line of a person (yearly runs and their re-issues), newest first."""
    return list(PayrollLine.objects.filter(person_id=person_id, run__scheme__code=SCHEME)
                .select_related("run").order_by("-run__period", "-run_id"))


def _descendant_runs(run: PayrollRun) -> list[int]:
    ids, frontier = [run.pk], [run.pk]
    while frontier:
        frontier = list(PayrollRun.objects.filter(parent_run_id__in=frontier).values_list("id", flat=True))
        ids += frontier
    return ids


@dataclass
class RosterRow:
    seq: int
    town: str
    town_sort: int
    name: str
    id_number: str
    category: str
    gross: Decimal
    deductions: Decimal
    net: Decimal
    bank: str
    account_number: str
    outcome: str  # 待发 / 已报盘 / 已支付 / 失败 / 已核销 (after re-issues)
    paid: Decimal
    note: str


OUTCOME = {s.value: str(s.label) for s in PayrollLine.Status}


def roster_rows(run: PayrollRun) -> list[RosterRow]:
    """The yearly roster: one row per line of ``run``, ordered by 镇街道 then 身份证号; each line's outcome
    is that of its last re-issue (二次报盘) if it was re-issued, with the amount paid and the reason of a
    failure or write-off. Three queries whatever the size."""
    run_ids = _descendant_runs(run)
    lines = list(PayrollLine.objects.filter(run_id__in=run_ids).values(
        "id", "run_id", "seq", "person_id", "name", "id_number", "bank", "account_number", "gross", "deductions",
        "net", "status", "paid_amount", "fail_reason", "write_off_reason", "origin_line_id"))
    child = {ln["origin_line_id"]: ln for ln in lines if ln["origin_line_id"] is not None}
    originals = [ln for ln in lines if ln["run_id"] == run.pk]
    # the run's persons as a subquery, not a list of 50,000 parameters (Django prepares each one)
    info = {s["person_id"]: s for s in SubsidyPerson.objects.filter(
        person_id__in=PayrollLine.objects.filter(run_id=run.pk).values("person_id")).values(
        "person_id", "category__name", "person__town__name", "person__town__sort")}
    out = []
    for ln in originals:
        last, hops = ln, 0
        while last["id"] in child:
            last, hops = child[last["id"]], hops + 1
        s = info.get(ln["person_id"], {})
        note = last["fail_reason"] or last["write_off_reason"]
        if hops:
            note = f"二次报盘{'' if hops == 1 else f' {hops} 次'}" + (f"；{note}" if note else "")
        out.append(RosterRow(
            seq=ln["seq"], town=s.get("person__town__name", ""), town_sort=s.get("person__town__sort", 0),
            name=ln["name"], id_number=ln["id_number"], category=s.get("category__name", ""), gross=ln["gross"],
            deductions=ln["deductions"], net=ln["net"], bank=last["bank"], account_number=last["account_number"],
            outcome=OUTCOME.get(last["status"], last["status"]), paid=last["paid_amount"], note=note))
    out.sort(key=lambda r: (r.town_sort, r.town, r.id_number))
    return out


def roster_totals(rows: list[RosterRow]) -> dict:
    zero = Decimal("0.00")
    return {"count": len(rows), "gross": sum((r.gross for r in rows), zero),
            "deductions": sum((r.deductions for r in rows), zero), "net": sum((r.net for r in rows), zero),
            "paid": sum((r.paid for r in rows), zero)}


def this_year() -> int:
    return dt.date.today().year
