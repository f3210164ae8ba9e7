"""花名册 (roster) of 养老保障 persons: read a file (the one safe reader), check every row, plan what
would change, apply it in one transaction, and write the same layout back.

One row per paid-in record (缴费/一次性趸缴) of a person; a person without one has one row with the
three 缴费 columns blank. Person columns repeat on every row of the person and must agree (blank =
same as above). A new person needs 姓名 and 镇街道; a person not yet in 养老保障 needs 类别; an existing
member's 类别 must be the current one (a change is made on the person page, with a reason).
开户银行/银行账号/户名 all given set the payment account when different. A 缴费 row not yet recorded
(same method, date and amount) is added; records are never removed by a file. Nothing is written
unless every row is clean; importing the same file again (or an export) changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone, translation

from shebao.common.audit import audit_record
from shebao.common.identity import IdNumberError, name_error, normalize_account_number, parse_id_number
from shebao.pension_security.models import Category, Member, PaidIn, RosterImport
from shebao.registry.models import BankAccount, Person
from shebao.registry.selectors import bank_choices
from shebao.registry.services import RegistryError, bank_account_set, person_create
from shebao.self_managed.roster import (  # the same reading rules and lookups as the 自管人员 花名册
    ROSTER_LIMITS,
    RosterFileError,
    RowError,
    _account_problem,
    _money_cell,
    bank_lookup,
    town_lookup,
)

COLUMNS = ["身份证号", "姓名", "类别", "镇街道", "联系电话", "开户银行", "银行账号", "户名", "缴费方式", "缴费日期",
           "缴费金额", "备注"]
ALIASES = {"身份证号码": "身份证号", "公民身份号码": "身份证号", "账号": "银行账号", "电话": "联系电话",
           "人员类别": "类别", "金额": "缴费金额"}
PERSON_COLUMNS = ["姓名", "类别", "镇街道", "联系电话", "开户银行", "银行账号", "户名", "备注"]
KIND_BY_LABEL = {"缴费": PaidIn.Kind.CONTRIBUTION, "一次性趸缴": PaidIn.Kind.LUMP_SUM, "趸缴": PaidIn.Kind.LUMP_SUM}
KIND_LABEL = {PaidIn.Kind.CONTRIBUTION: "缴费", PaidIn.Kind.LUMP_SUM: "一次性趸缴"}
MOBILE = re.compile(r"^1[3-9]\d{9}$")
DATE = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?$")


class BzRosterError(Exception):
    pass


@dataclass
class PersonPlan:
    id_number: str
    rows: list[int]
    name: str
    person_id: int | None = None
    member_id: int | None = None
    town: object = None
    mobile: str = ""
    phone: str = ""
    category: Category | None = None
    account: tuple[str, str, str] | None = None
    note: str = ""
    paid_in: list[tuple[str, dt.date, Decimal]] = field(default_factory=list)  # new records

    @property
    def changed(self) -> bool:
        return bool(self.person_id is None or self.member_id is None or self.account or self.paid_in)


@dataclass
class RosterPlan:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    persons: list[PersonPlan] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> list[PersonPlan]:
        return [p for p in self.persons if p.changed]

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
    from shebao.common.safefile import FileRefused, read_table

    try:
        rows = read_table(file_name, data, ROSTER_LIMITS)
    except FileRefused as exc:
        raise RosterFileError(str(exc)) from None
    if not rows:
        raise RosterFileError("文件是空的")
    return rows


def _header(header: list[str]) -> dict[str, int]:
    from shebao.common.safefile import FileRefused, header_positions

    try:
        return header_positions(header, COLUMNS, aliases=ALIASES)
    except FileRefused as exc:
        raise RosterFileError(str(exc)) from None


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
    pos = _header(rows[0])
    data = rows[1:]
    plan.rows = sum(1 for r in data if any(c for c in r))
    banks, towns = bank_lookup(), town_lookup()
    cats = {}
    for c in Category.objects.all():
        cats[c.name] = c
        cats[c.code] = c
    scope = None
    if user is not None and not (user.is_superuser or user.all_regions):
        scope = set(user.regions.values_list("id", flat=True))

    def cell(r, col):
        i = pos[col]
        return (r[i] if i < len(r) else "").strip()

    groups: dict[str, list] = defaultdict(list)
    order: list[str] = []
    for n, r in enumerate(data, start=2):
        if not any(c for c in r):
            continue
        try:
            idn = parse_id_number(cell(r, "身份证号")).number
        except IdNumberError as exc:
            plan.errors.append(RowError(n, "身份证号", str(exc)))
            continue
        if idn not in groups:
            order.append(idn)
        groups[idn].append((n, r))
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
        first = prows[0][0]
        values: dict[str, tuple[str, int]] = {}
        for n, r in prows:
            for col in PERSON_COLUMNS:
                v = cell(r, col)
                if v and col not in values:
                    values[col] = (v, n)
                elif v and values[col][0] != v:
                    plan.errors.append(RowError(n, col, f"“{v}”与第 {values[col][1]} 行的“{values[col][0]}”不一致"))

        def val(col, values=values):
            return values.get(col, ("", 0))[0]

        def row_of(col, values=values, first=first):
            return values.get(col, ("", first))[1]

        existing = persons.get(idn)
        pp = PersonPlan(id_number=idn, rows=[n for n, _ in prows], name=val("姓名"), note=val("备注")[:200])
        if existing:
            pp.person_id = existing["id"]
            if pp.name and pp.name != existing["name"]:
                plan.errors.append(RowError(row_of("姓名"), "姓名",
                                            f"“{pp.name}”与系统中该身份证号的姓名“{existing['name']}”不一致"))
            pp.name = existing["name"]
        elif not pp.name:
            plan.errors.append(RowError(first, "姓名", "新人员须填写姓名"))
        elif problem := name_error(pp.name):
            plan.errors.append(RowError(row_of("姓名"), "姓名", problem))
        town_text = val("镇街道")
        if town_text:
            pp.town = towns.get(town_text)
            if pp.town is None:
                plan.errors.append(RowError(row_of("镇街道"), "镇街道", f"未知的镇街道“{town_text}”"))
        elif not existing:
            plan.errors.append(RowError(first, "镇街道", "新人员须填写镇街道"))
        if scope is not None:
            town_id = existing["town_id"] if existing else (pp.town.pk if pp.town else None)
            if town_id is not None and town_id not in scope:
                plan.errors.append(RowError(first, "镇街道", "该人员不在您的管辖范围内"))
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
            elif problem := _account_problem(bank, number):
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
            amount, why = _money_cell(amount_text)
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
    plan.errors.sort(key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else 99))
    return plan


@dataclass
class ImportResult:
    plan: RosterPlan
    applied: bool
    batch: RosterImport | None = None


def roster_import(*, file_name: str, data: bytes, user=None, dry_run: bool = False,
                  batch: RosterImport | None = None) -> ImportResult:
    """Check the whole file; with any error (or ``dry_run``) write nothing. Otherwise apply it in one
    transaction through the registry services and ours (``member_register``, ``paid_in_add``), audited."""
    from shebao.pension_security.services import BzError, member_register, paid_in_add

    plan = roster_plan(read_rows(file_name, data), user=user)
    if not plan.ok or dry_run:
        return ImportResult(plan, False)
    if user is None or not getattr(user, "is_authenticated", False):
        raise BzError("导入须指定经办人（命令行用 --as 用户名）")
    todo = plan.changed
    if not todo:
        return ImportResult(plan, True)
    reason = f"养老保障花名册导入 {file_name}"
    today = timezone.localdate()
    with transaction.atomic():
        for pp in todo:
            try:
                person = Person.objects.get(pk=pp.person_id) if pp.person_id else person_create(
                    user=user, reason=reason, id_number=pp.id_number, name=pp.name, town=pp.town,
                    **{k: v for k, v in (("mobile", pp.mobile), ("phone", pp.phone)) if v})
                if pp.account:
                    bank_account_set(user=user, person=person, bank=pp.account[0], account_number=pp.account[1],
                                     holder_name=pp.account[2], valid_from=today, reason=reason)
                member = Member.objects.get(pk=pp.member_id) if pp.member_id else member_register(
                    user=user, category=pp.category, person=person, note=pp.note)
                for kind, day, amount in pp.paid_in:
                    paid_in_add(member=member, kind=kind, paid_on=day, amount=amount, user=user, note=reason[:200])
            except (RegistryError, BzError) as exc:
                raise BzError(f"第 {pp.rows[0]} 行（{pp.name}）：{exc}") from None
        if batch is None:
            batch = RosterImport.objects.create(
                file_name=file_name[:200], sha256=hashlib.sha256(data).hexdigest(), content=data,
                state=RosterImport.State.APPLIED, row_count=plan.rows, changed_count=len(todo),
                preview=plan.preview(), created_by=user, applied_at=timezone.now())
        else:
            RosterImport.objects.filter(pk=batch.pk).update(state=RosterImport.State.APPLIED, applied_at=timezone.now(),
                                                            changed_count=len(todo))
        audit_record(user=user, action="bz_roster_import", obj=batch,
                     summary=f"养老保障花名册导入 {file_name}：{plan.summary_text()}", after=plan.summary())
    return ImportResult(plan, True, batch)


def roster_upload(*, file_name: str, data: bytes, user) -> RosterImport:
    """The page's first step: keep the file and its check; writes only the batch record."""
    plan = roster_plan(read_rows(file_name, data), user=user)
    return RosterImport.objects.create(
        file_name=file_name[:200], sha256=hashlib.sha256(data).hexdigest(), content=data,
        state=RosterImport.State.PREVIEWED if plan.ok else RosterImport.State.REFUSED, row_count=plan.rows,
        error_count=len(plan.errors), changed_count=len(plan.changed), preview=plan.preview(), created_by=user)


def roster_confirm(*, batch: RosterImport, user) -> ImportResult:
    from shebao.pension_security.services import BzError

    with transaction.atomic():
        locked = RosterImport.objects.select_for_update().get(pk=batch.pk)
        if locked.state != RosterImport.State.PREVIEWED:
            raise BzError(f"该批次{locked.get_state_display()}，不能导入")
        if locked.created_by_id != user.pk:
            raise BzError("只能确认自己上传的花名册")
        result = roster_import(file_name=locked.file_name, data=bytes(locked.content), user=user, batch=locked)
        if not result.applied:
            raise BzError(f"花名册有 {len(result.plan.errors)} 处错误（数据已变化），未导入，请重新上传")
        RosterImport.objects.filter(pk=locked.pk).update(state=RosterImport.State.APPLIED, applied_at=timezone.now())
    return result


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
