"""花名册 (roster) of 养老保障 persons: read a file (the one safe reader), check every row, plan what
would change, apply it in one transaction, and write the same layout back.

One row per paid-in record (缴费/一次性趸缴) of a person; a person without one has one row with the
three 缴费 columns blank. Person columns repeat on every row of the person and must agree (blank =
same as above). A new person needs 姓名 and 镇街道; a person not yet in 养老保障 needs 类别; an existing
member's 类别 must be the current one (a change is made on the person page, with a reason).
开户银行/银行账号/户名 all given set the payment account when different. A 缴费 row not yet recorded
(same method, date and amount) is added; records are never removed by a file. Nothing is written
unless every row is clean; importing the same file again (or an export) changes nothing. Reading, the
header, the rows by person, the shared checks of a person, the persons' and accounts' writes and the flow
(check → apply → batch, upload → preview → confirm) are the one roster engine's
(``shebao.registry.roster_import``); this module holds the 养老保障 columns, rows and apply step."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone, translation

from shebao.common.identity import name_error, normalize_account_number
from shebao.pension_security.models import Category, Member, PaidIn, RosterImport
from shebao.pension_security.services import BzError, member_register, paid_in_add
from shebao.registry import roster_import as engine
from shebao.registry.models import BankAccount, Person
from shebao.registry.roster_import import (
    MOBILE,
    ImportPlan,
    ImportResult,
    PersonPlanBase,
    PersonValues,
    RosterImporter,
    RowError,
    bank_lookup,
    check_name,
    check_town,
    town_lookup,
)
from shebao.registry.selectors import bank_choices
from shebao.registry.services import RegistryError
from shebao.self_managed.roster import (  # the same reading limits as the 自管人员 花名册
    ROSTER_LIMITS,
    RosterFileError,
)

COLUMNS = ["身份证号", "姓名", "类别", "镇街道", "联系电话", "开户银行", "银行账号", "户名", "缴费方式", "缴费日期",
           "缴费金额", "备注"]
ALIASES = {"身份证号码": "身份证号", "公民身份号码": "身份证号", "账号": "银行账号", "电话": "联系电话",
           "人员类别": "类别", "金额": "缴费金额"}
PERSON_COLUMNS = ["姓名", "类别", "镇街道", "联系电话", "开户银行", "银行账号", "户名", "备注"]
KIND_BY_LABEL = {"缴费": PaidIn.Kind.CONTRIBUTION, "一次性趸缴": PaidIn.Kind.LUMP_SUM, "趸缴": PaidIn.Kind.LUMP_SUM}
KIND_LABEL = {PaidIn.Kind.CONTRIBUTION: "缴费", PaidIn.Kind.LUMP_SUM: "一次性趸缴"}
DATE = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?$")


class BzRosterError(Exception):
    pass


@dataclass(kw_only=True)
class PersonPlan(PersonPlanBase):  # person_changes stay empty: a registered person is changed on the person page
    rows: list[int]
    member_id: int | None = None
    category: Category | None = None
    note: str = ""
    paid_in: list[tuple[str, dt.date, Decimal]] = field(default_factory=list)  # new records

    @property
    def changed(self) -> bool:
        return bool(self.person_id is None or self.member_id is None or self.account or self.paid_in)


@dataclass
class RosterPlan(ImportPlan):
    def summary(self) -> dict:
        c = self.changed
        return {"rows": self.rows, "persons": len(self.persons), "errors": len(self.errors), "changed": len(c),
                "new_persons": sum(1 for p in c if p.person_id is None),
                "new_members": sum(1 for p in c if p.member_id is None),
                "accounts": sum(1 for p in c if p.account), "paid_in": sum(len(p.paid_in) for p in c)}

    def summary_text(self) -> str:
        s = self.summary()
        return (f"共 {s['rows']} 行 {s['persons']} 人：变动 {s['changed']} 人（新增人员 {s['new_persons']}，"
                f"新登记养老保障 {s['new_members']}，账户变更 {s['accounts']}，新增缴费记录 {s['paid_in']}）")

    def preview(self) -> dict:
        return {"summary": self.summary(),
                "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in self.errors[:1000]],
                "changed": [{"row": p.rows[0], "name": p.name, "id_number": p.id_number,
                             "new_person": p.person_id is None, "new_member": p.member_id is None,
                             "category": p.category.name if p.category else "", "account": bool(p.account),
                             "paid_in": [[KIND_LABEL[k], f"{d:%Y-%m-%d}", str(a)] for k, d, a in p.paid_in]}
                            for p in self.changed[:500]]}


def read_rows(file_name: str, data: bytes) -> list[list[str]]:
    return engine.read_sheet(file_name, data, ROSTER_LIMITS, file_error=RosterFileError, empty="文件是空的")


def _header(header: list[str]) -> dict[str, int]:
    return engine.header_map(header, COLUMNS, aliases=ALIASES, file_error=RosterFileError)


def _date(text: str) -> dt.date | None:
    m = DATE.match(text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def roster_plan(rows: list[list[str]], *, user=None) -> RosterPlan:
    """Check every row and work out what would change; reads the database in a few set-based queries."""
    plan = RosterPlan()
    cell = engine.cell_reader(_header(rows[0]))
    banks, towns = bank_lookup(), town_lookup()
    cats = {}
    for c in Category.objects.all():
        cats[c.name] = c
        cats[c.code] = c
    scope = engine.user_scope(user)
    order, groups = engine.person_rows(plan, rows[1:], cell)
    persons = {p["id_number"]: p for p in Person.objects.filter(id_number__in=order).values("id", "id_number", "name",
                                                                                            "town_id")}
    pids = [p["id"] for p in persons.values()]
    members = {m["person_id"]: m for m in Member.objects.filter(person_id__in=pids).values("id", "person_id",
                                                                                           "category_id")}
    accounts = {a["person_id"]: (a["bank"], a["account_number"], a["holder_name"]) for a in BankAccount.objects.filter(
        person_id__in=pids, valid_to__isnull=True).values("person_id", "bank", "account_number", "holder_name")}
    recorded = set(PaidIn.objects.filter(member_id__in=[m["id"] for m in members.values()]).values_list(
        "member__person_id", "kind", "paid_on", "amount"))
    today = timezone.localdate()
    for idn in order:
        prows = groups[idn]
        val = PersonValues(plan, prows, cell, PERSON_COLUMNS)
        first, row_of = val.first, val.row
        existing = persons.get(idn)
        pp = PersonPlan(id_number=idn, rows=[n for n, _ in prows], name=val("姓名"), note=val("备注")[:200])
        if existing:
            pp.person_id = existing["id"]
        pp.name = check_name(plan.error, existing, pp.name, row=row_of("姓名"), first=first)
        pp.town = check_town(plan.error, existing, val("镇街道"), towns, scope, row=row_of("镇街道"), first=first)
        phone = val("联系电话")
        if phone and not existing:
            if len(phone) > 20:
                plan.errors.append(RowError(row_of("联系电话"), "联系电话", "联系电话超过 20 位"))
            elif MOBILE.match(phone):
                pp.mobile = phone
            else:
                pp.phone = phone
        cat_text = val("类别")
        member = members.get(existing["id"]) if existing else None
        if cat_text:
            pp.category = cats.get(cat_text)
            if pp.category is None:
                known = "、".join(sorted({c.name for c in cats.values()}))
                plan.errors.append(RowError(row_of("类别"), "类别", f"未知的类别“{cat_text}”（可用：{known}）"))
            elif member and member["category_id"] != pp.category.pk:
                plan.errors.append(RowError(row_of("类别"), "类别", "类别与系统中的不一致：变更类别请在人员信息页办理（须填原因）"))
        elif not member:
            plan.errors.append(RowError(first, "类别", "新登记的养老保障人员须填写类别"))
        if member:
            pp.member_id = member["id"]
        bank_text, number, holder = val("开户银行"), normalize_account_number(val("银行账号")), val("户名")
        if bank_text or number or holder:
            bank = banks.get(bank_text) if bank_text else None
            missing = [c for c, v in (("开户银行", bank_text), ("银行账号", number), ("户名", holder)) if not v]
            if bank_text and bank is None:
                plan.errors.append(RowError(row_of("开户银行"), "开户银行", f"未知的开户银行“{bank_text}”"))
            elif missing:
                plan.errors.append(RowError(first, missing[0], "开户银行、银行账号、户名须同时填写"))
            elif problem := engine.account_problem(bank, number):
                plan.errors.append(RowError(row_of("银行账号"), "银行账号", problem))
            elif problem := name_error(holder, label="户名"):
                plan.errors.append(RowError(row_of("户名"), "户名", problem))
            elif (bank, number, holder) != (accounts.get(existing["id"]) if existing else None):
                pp.account = (bank, number, holder)
        seen: dict[tuple, int] = {}
        for n, r in prows:
            kind_text, date_text, amount_text = cell(r, "缴费方式"), cell(r, "缴费日期"), cell(r, "缴费金额")
            if not (kind_text or date_text or amount_text):
                continue
            kind = KIND_BY_LABEL.get(kind_text)
            if kind is None:
                plan.errors.append(RowError(n, "缴费方式", f"未知的缴费方式“{kind_text}”（应为 缴费 或 一次性趸缴）"))
                continue
            day = _date(date_text)
            if day is None:
                plan.errors.append(RowError(n, "缴费日期", f"“{date_text}”不是有效日期（应为 YYYY-MM-DD）"))
                continue
            if day > today or day.year < 1950:
                plan.errors.append(RowError(n, "缴费日期", f"缴费日期 {day:%Y-%m-%d} 不合理"))
                continue
            amount, why = engine.money_cell(amount_text)
            if amount is None or amount == 0:
                plan.errors.append(RowError(n, "缴费金额", why or "缴费金额须大于 0"))
                continue
            key = (kind, day, amount)
            if key in seen:
                plan.errors.append(RowError(n, "缴费日期", f"与第 {seen[key]} 行重复"))
                continue
            seen[key] = n
            if existing is None or (existing["id"], kind, day, amount) not in recorded:
                pp.paid_in.append(key)
        plan.persons.append(pp)
    plan.sort_errors(COLUMNS)
    return plan


def _apply(plan: RosterPlan, todo: list[PersonPlan], *, user, reason: str, progress) -> None:
    """The apply step (inside the engine's transaction): the persons and accounts set-based by the engine
    (``apply_persons``), then each person's registration and new paid-in records through our services
    (``member_register``, ``paid_in_add``), audited."""
    persons = engine.apply_persons(todo, user=user, reason=reason, today=timezone.localdate(), error=BzError,
                                     originals=plan.id_originals)
    for pp in todo:
        try:
            member = Member.objects.get(pk=pp.member_id) if pp.member_id else member_register(
                user=user, category=pp.category, person=persons[pp.id_number], note=pp.note)
            for kind, day, amount in pp.paid_in:
                paid_in_add(member=member, kind=kind, paid_on=day, amount=amount, user=user, note=reason[:200])
        except (RegistryError, BzError) as exc:
            raise engine.row_error(BzError, pp, exc) from None
        progress.advance()


ROSTER = RosterImporter(
    batch_model=RosterImport, error=BzError, file_error=RosterFileError, read=read_rows, check=roster_plan,
    apply=_apply, preview=RosterPlan.preview, reason="养老保障花名册导入 {file_name}", audit_action="bz_roster_import",
    audit_title="养老保障花名册导入 {file_name}：", applied_fields=lambda plan: {"preview": plan.preview()})


def roster_import(*, file_name: str, data: bytes, user=None, dry_run: bool = False,
                  batch: RosterImport | None = None) -> ImportResult:
    """Check the whole file; with any error (or ``dry_run``) write nothing. Otherwise apply it in one
    transaction through the registry services and ours (``member_register``, ``paid_in_add``), audited
    (the roster engine's flow)."""
    return ROSTER.run(file_name=file_name, data=data, user=user, dry_run=dry_run, batch=batch)


def roster_upload(*, file_name: str, data: bytes, user) -> RosterImport:
    """The page's first step: keep the file and its check; writes only the batch record."""
    return ROSTER.upload(file_name=file_name, data=data, user=user)


def roster_confirm(*, batch: RosterImport, user) -> ImportResult:
    return ROSTER.confirm(batch=batch, user=user)


def roster_export_rows(*, members_qs=None) -> list[list]:
    """The roster in the import layout, one row per paid-in record, in 身份证号 order; numbers unmasked."""
    qs = members_qs if members_qs is not None else Member.objects.all()
    members = list(qs.values("id", "person_id", "person__id_number", "person__name", "category__name",
                             "person__town__name", "person__mobile", "person__phone", "note")
                   .order_by("person__id_number"))
    paid = defaultdict(list)
    for mid, kind, day, amount in PaidIn.objects.filter(member_id__in=[m["id"] for m in members]).order_by(
            "member_id", "paid_on", "id").values_list("member_id", "kind", "paid_on", "amount"):
        paid[mid].append((KIND_LABEL[kind], f"{day:%Y-%m-%d}", amount))
    accounts = {a[0]: a[1:] for a in BankAccount.objects.filter(
        person_id__in=[m["person_id"] for m in members], valid_to__isnull=True).values_list(
        "person_id", "bank", "account_number", "holder_name")}
    with translation.override("zh-hans"):
        labels = {code: str(label) for code, label in bank_choices(include_inactive=True)}
    out = []
    for m in members:
        acc = accounts.get(m["person_id"])
        for kind, day, amount in paid.get(m["id"]) or [("", "", None)]:
            out.append([m["person__id_number"], m["person__name"], m["category__name"], m["person__town__name"],
                        m["person__mobile"] or m["person__phone"], labels.get(acc[0], acc[0]) if acc else "",
                        acc[1] if acc else "", acc[2] if acc else "", kind, day, amount, m["note"]])
    return out


def write_roster(fileobj, rows: list[list], *, fmt: str) -> None:
    from shebao.common.sheets import XlsxWriter, write_csv

    money = {COLUMNS.index("缴费金额")}
    if fmt == "csv":
        write_csv(fileobj, headers=COLUMNS, rows=rows, money_columns=money)
        return
    with XlsxWriter(fileobj, sheet_name="养老保障人员花名册", headers=COLUMNS, money_columns=money) as writer:
        for r in rows:
            writer.write_row(r)
