"""花名册 (roster) of 自管人员: read a file, check every row, plan what would change, apply the plan,
and write the same layout back.

Layout: one row per person and item, with the columns ``COLUMNS`` (header row first; column order
free). Person-level columns (姓名, 状态, 开户银行, 银行账号, 户名, 工龄(年), 镇街道, 联系电话, 备注) repeat on
every row of a person and must agree (a blank on a later row means "same as above"). A row with
待遇项目 and 月金额 blank carries only the person.

What a row means:
- a person not yet registered is created (姓名 and 镇街道 required); an existing one must have the
  same 姓名; a changed 镇街道 or 联系电话 updates the person (a blank changes nothing);
- 开户银行/银行账号/户名 all given: the current payment account, changed only if different;
- not yet in 自管人员: enrolled from the earliest 开始年月 of the person's rows, with 工龄, 备注 and the
  items; 状态 正常 or 暂停 (暂停 from the later of the start month and this month, reason 其他);
- already enrolled: 状态 must be the current one (暂停/恢复/减员 are done in 待遇管理, with reason
  and date); a 月金额 different from the item's current amount starts a new range from 开始年月
  (history kept: 开始年月 must be after the current range's start); the same amount changes nothing;
  items not in the file are left as they are.

Nothing is written unless every row is clean; the whole file is applied in one transaction, so
importing the same file twice changes nothing the second time. Reading, the header, the rows by person,
the shared checks of a person and the flow (check → apply → batch, upload → preview → confirm) are the
one roster engine's (``shebao.registry.roster_import``); this module holds the 自管人员 columns and rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import translation

from shebao.benefits.models import BenefitAmount, BenefitItem, Enrollment, PaymentStatus
from shebao.benefits.months import MonthError, format_month, month_of, parse_month
from shebao.common.identity import name_error, normalize_account_number
from shebao.common.safefile import FileRefused, Limits, MiB, decode_text, read_table
from shebao.registry import roster_import as engine
from shebao.registry.models import BankAccount, Person
from shebao.registry.roster_import import (  # noqa: F401  (bank_lookup, town_lookup: this module's names too)
    MOBILE,
    ImportPlan,
    PersonPlanBase,
    PersonValues,
    RowError,
    bank_lookup,
    check_name,
    check_town,
    town_lookup,
)
from shebao.registry.selectors import bank_choices

COLUMNS = ["身份证号", "姓名", "待遇项目", "月金额", "开始年月", "状态", "开户银行", "银行账号", "户名",
           "工龄(年)", "镇街道", "联系电话", "备注"]
ALIASES = {"工龄": "工龄(年)", "工龄（年）": "工龄(年)", "身份证号码": "身份证号", "公民身份号码": "身份证号",
           "账号": "银行账号", "镇(街道)": "镇街道", "镇街": "镇街道", "电话": "联系电话"}
PERSON_COLUMNS = ["姓名", "状态", "开户银行", "银行账号", "户名", "工龄(年)", "镇街道", "联系电话", "备注"]
STATUS_BY_LABEL = {"正常": PaymentStatus.ACTIVE, "暂停": PaymentStatus.SUSPENDED, "终止": PaymentStatus.TERMINATED}
STATUS_LABEL = {v: k for k, v in STATUS_BY_LABEL.items()}
MAX_ROWS = 200_000


class RosterFileError(Exception):
    """The file as a whole cannot be read (format, encoding, header)."""


# --------------------------------------------------------------------------------------------------
# reading


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (which also reads GBK/GB2312); NUL refused."""
    try:
        return decode_text(data, what="CSV 文件")
    except FileRefused as exc:
        raise RosterFileError(str(exc)) from None


# a roster: 200,000 rows at most (one file per batch), 10 MB, cells of at most 500 characters
ROSTER_LIMITS = Limits(max_bytes=20 * MiB, max_unzipped=64 * MiB, max_rows=MAX_ROWS, max_cell_chars=500)


def read_rows(file_name: str, data: bytes) -> list[list[str]]:
    """The sheet (first worksheet of xlsx/xls, or the csv) as rows of text cells, header first — read by
    the one safe reader (``shebao.common.safefile``: size, zip bomb, encoding, NUL, rows, cell length)."""
    return engine.read_sheet(file_name, data, ROSTER_LIMITS, file_error=RosterFileError, reader=read_table)


def header_map(header: list[str]) -> dict[str, int]:
    return engine.header_map(header, COLUMNS, aliases=ALIASES, file_error=RosterFileError)


# --------------------------------------------------------------------------------------------------
# the plan


@dataclass
class ItemChange:
    row: int
    item: BenefitItem
    amount: Decimal
    from_month: dt.date
    old_amount: Decimal | None  # None: the item is new for the person


@dataclass(kw_only=True)
class PersonPlan(PersonPlanBase):
    rows: list[int]
    person_before: dict = field(default_factory=dict)
    account_before: tuple[str, str, str] | None = None
    enrollment_id: int | None = None
    new_enrollment: bool = False
    start_month: dt.date | None = None
    status: str = PaymentStatus.ACTIVE
    service_years: Decimal | None = None  # new value, only when it changes (or a new enrollment)
    service_years_before: Decimal | None = None
    note: str | None = None  # new value, only when it changes
    items: list[ItemChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.new_person or self.person_changes or self.account or self.new_enrollment
                    or self.service_years is not None or self.note is not None or self.items)


@dataclass
class RosterPlan(ImportPlan):
    def summary(self) -> dict:
        changed = self.changed
        return {
            "rows": self.rows,
            "persons": len(self.persons),
            "errors": len(self.errors),
            "changed": len(changed),
            "unchanged": len(self.persons) - len(changed),
            "new_persons": sum(1 for p in changed if p.new_person),
            "new_enrollments": sum(1 for p in changed if p.new_enrollment),
            "person_updates": sum(1 for p in changed if p.person_changes),
            "accounts": sum(1 for p in changed if p.account),
            "new_items": sum(1 for p in changed if not p.new_enrollment for i in p.items if i.old_amount is None),
            "changed_amounts": sum(1 for p in changed for i in p.items if i.old_amount is not None),
            "service_years": sum(1 for p in changed if p.service_years is not None and not p.new_enrollment),
        }

    def summary_text(self) -> str:
        s = self.summary()
        return (f"共 {s['rows']} 行 {s['persons']} 人：变动 {s['changed']} 人（新增人员 {s['new_persons']}，"
                f"新纳入 {s['new_enrollments']}，信息变更 {s['person_updates']}，账户变更 {s['accounts']}，"
                f"新增项目 {s['new_items']}，金额调整 {s['changed_amounts']}，工龄变更 {s['service_years']}），"
                f"未变 {s['unchanged']} 人")


def roster_plan(rows: list[list[str]], *, user=None, scheme_code: str = "ZG") -> RosterPlan:
    """Check every row and work out what would change. Reads the database in a few set-based queries
    (persons, accounts, enrollments, amounts, items, towns: each once), writes nothing."""
    plan = RosterPlan()
    cell = engine.cell_reader(header_map(rows[0]))
    banks = bank_lookup()
    towns = town_lookup()
    items = {}
    for item in BenefitItem.objects.filter(scheme__code=scheme_code):
        items[item.name] = item
        items[item.code] = item
    scope = engine.user_scope(user)
    # pass 1: the rows by person (a bad 身份证号 is an error of its row)
    order, groups = engine.person_rows(plan, rows[1:], cell)

    persons = {p["id_number"]: p for p in Person.objects.filter(id_number__in=order).values(
        "id", "id_number", "name", "town_id", "mobile", "phone")}
    pids = [p["id"] for p in persons.values()]
    accounts = {a["person_id"]: a for a in BankAccount.objects.filter(person_id__in=pids, valid_to__isnull=True)
                .values("person_id", "bank", "account_number", "holder_name")}
    enrollments = {e["person_id"]: e for e in Enrollment.objects.filter(person_id__in=pids, scheme__code=scheme_code)
                   .values("id", "person_id", "payment_status", "start_month", "service_years", "note")}
    eids = [e["id"] for e in enrollments.values()]
    open_ranges: dict[tuple[int, int], tuple[Decimal, dt.date]] = {}
    last_closed: dict[tuple[int, int], dt.date] = {}
    for eid, iid, amount, f, t in BenefitAmount.objects.filter(enrollment_id__in=eids).values_list(
            "enrollment_id", "item_id", "amount", "from_month", "to_month"):
        if t is None:
            open_ranges[(eid, iid)] = (amount, f)
        elif last_closed.get((eid, iid)) is None or t > last_closed[(eid, iid)]:
            last_closed[(eid, iid)] = t
    this_month = month_of(dt.date.today())

    for idn in order:
        prows = groups[idn]
        errors_before = len(plan.errors)
        val = PersonValues(plan, prows, cell, PERSON_COLUMNS)
        first_row, row_of = val.first, val.row

        existing = persons.get(idn)
        pp = PersonPlan(id_number=idn, rows=[n for n, _ in prows], name=val("姓名"))
        if existing:
            pp.person_id = existing["id"]
        pp.name = check_name(plan.error, existing, val("姓名"), row=row_of("姓名"), first=first_row)
        town = pp.town = check_town(plan.error, existing, val("镇街道"), towns, scope, row=row_of("镇街道"), first=first_row)
        phone_text = val("联系电话")
        if phone_text and len(phone_text) > 20:
            plan.errors.append(RowError(row_of("联系电话"), "联系电话", "联系电话超过 20 位"))
        if existing:
            if town and town.pk != existing["town_id"]:
                pp.person_changes["town"] = town
                pp.person_before["town"] = existing["town_id"]
            if phone_text and phone_text not in (existing["mobile"], existing["phone"]):
                key = "mobile" if MOBILE.match(phone_text) else "phone"
                pp.person_changes[key] = phone_text
                pp.person_before[key] = existing[key]
        else:
            if phone_text:
                if MOBILE.match(phone_text):
                    pp.mobile = phone_text
                else:
                    pp.phone = phone_text

        # account
        bank_text, number_text, holder = val("开户银行"), normalize_account_number(val("银行账号")), val("户名")
        if bank_text or number_text or holder:
            bank = banks.get(bank_text) if bank_text else None
            if bank_text and bank is None:
                plan.errors.append(RowError(row_of("开户银行"), "开户银行", f"未知的开户银行“{bank_text}”"))
            missing = [c for c, v in (("开户银行", bank_text), ("银行账号", number_text), ("户名", holder)) if not v]
            if missing:
                plan.errors.append(RowError(first_row, missing[0], "开户银行、银行账号、户名须同时填写"))
            elif bank and (problem := engine.account_problem(bank, number_text)):
                plan.errors.append(RowError(row_of("银行账号"), "银行账号", problem))
            elif problem := name_error(holder, label="户名"):
                plan.errors.append(RowError(row_of("户名"), "户名", problem))
            elif bank:
                current = accounts.get(existing["id"]) if existing else None
                new = (bank, number_text, holder)
                old = (current["bank"], current["account_number"], current["holder_name"]) if current else None
                if new != old:
                    pp.account, pp.account_before = new, old

        # status, service years, note
        status_text = val("状态") or "正常"
        status = STATUS_BY_LABEL.get(status_text)
        if status is None:
            plan.errors.append(RowError(row_of("状态"), "状态", f"未知的状态“{status_text}”（应为 正常、暂停 或 终止）"))
        years = None
        if val("工龄(年)"):
            years, why = engine.money_cell(val("工龄(年)"))
            if years is None:
                plan.errors.append(RowError(row_of("工龄(年)"), "工龄(年)", why))
            elif years > 80:
                plan.errors.append(RowError(row_of("工龄(年)"), "工龄(年)", f"工龄 {years} 年不合理"))
                years = None
        note = val("备注")
        if len(note) > 200:
            plan.errors.append(RowError(row_of("备注"), "备注", "备注超过 200 字"))
        enrollment = enrollments.get(existing["id"]) if existing else None

        # items
        seen_items: dict[int, int] = {}
        item_rows: list[tuple[int, BenefitItem, Decimal, dt.date]] = []
        months: list[dt.date] = []
        for n, r in prows:
            item_text, amount_text, month_text = cell(r, "待遇项目"), cell(r, "月金额"), cell(r, "开始年月")
            month = None
            if month_text:
                try:
                    month = parse_month(month_text)
                except MonthError:
                    plan.errors.append(RowError(n, "开始年月", f"“{month_text}”不是有效年月（应为 YYYY-MM）"))
                else:
                    if month.year < 1950 or month > dt.date(this_month.year + 1, 12, 1):
                        plan.errors.append(RowError(n, "开始年月", f"年月 {format_month(month)} 不合理"))
                        month = None
                    else:
                        months.append(month)
            if not item_text:
                if amount_text:
                    plan.errors.append(RowError(n, "待遇项目", "填写了月金额但没有待遇项目"))
                continue
            item = items.get(item_text)
            if item is None:
                known = "、".join(i.name for i in sorted(set(items.values()), key=lambda i: i.sort))
                plan.errors.append(RowError(n, "待遇项目", f"未知的待遇项目“{item_text}”（可用：{known}）"))
                continue
            if item.pk in seen_items:
                plan.errors.append(RowError(n, "待遇项目", f"{item.name} 与第 {seen_items[item.pk]} 行重复（同一人同一项目只能一行）"))
                continue
            seen_items[item.pk] = n
            if not amount_text:
                plan.errors.append(RowError(n, "月金额", "月金额不能为空"))
                continue
            amount, why = engine.money_cell(amount_text)
            if amount is None:
                plan.errors.append(RowError(n, "月金额", why))
                continue
            if month is None:
                if not month_text:
                    plan.errors.append(RowError(n, "开始年月", "开始年月不能为空"))
                continue
            item_rows.append((n, item, amount, month))

        if enrollment is None:
            if status == PaymentStatus.TERMINATED:
                plan.errors.append(RowError(row_of("状态"), "状态", "尚未纳入自管人员，状态不能为终止"))
            if not months and len(plan.errors) == errors_before:
                plan.errors.append(RowError(first_row, "开始年月", "新纳入人员须填写开始年月"))
            pp.new_enrollment = True
            pp.start_month = min(months) if months else None
            pp.status = status or PaymentStatus.ACTIVE
            pp.service_years = years if years is not None else Decimal("0")
            pp.note = note
            pp.items = [ItemChange(n, item, amount, month, None) for n, item, amount, month in item_rows]
        else:
            pp.enrollment_id = enrollment["id"]
            pp.status = enrollment["payment_status"]
            if status and status != enrollment["payment_status"]:
                plan.errors.append(RowError(
                    row_of("状态"), "状态",
                    f"“{status_text}”与系统中的状态“{STATUS_LABEL[enrollment['payment_status']]}”不一致："
                    "暂停、恢复、减员请在待遇管理中办理（须填原因和日期）"))
            if years is not None and years != enrollment["service_years"]:
                pp.service_years, pp.service_years_before = years, enrollment["service_years"]
            if note and note != enrollment["note"]:
                pp.note = note
            for n, item, amount, month in item_rows:
                key = (enrollment["id"], item.pk)
                current = open_ranges.get(key)
                if current is not None and current[0] == amount:
                    continue
                if enrollment["payment_status"] == PaymentStatus.TERMINATED:
                    plan.errors.append(RowError(n, "月金额", f"该人员已终止发放，不能调整 {item.name}"))
                    continue
                if month < enrollment["start_month"]:
                    plan.errors.append(RowError(n, "开始年月", f"{format_month(month)} 早于开始发放年月 "
                                                              f"{format_month(enrollment['start_month'])}"))
                    continue
                if current is not None and month <= current[1]:
                    plan.errors.append(RowError(
                        n, "开始年月", f"{item.name} 现为 {current[0]}（{format_month(current[1])} 起），新金额须从更晚的"
                                      f"月份开始（历史标准不可覆盖），本行为 {format_month(month)}"))
                    continue
                closed = last_closed.get(key)
                if current is None and closed is not None and month <= closed:
                    plan.errors.append(RowError(n, "开始年月", f"{item.name} 到 {format_month(closed)} 已有标准，"
                                                              f"新金额须从其后开始"))
                    continue
                pp.items.append(ItemChange(n, item, amount, month, current[0] if current else None))
        plan.persons.append(pp)
    plan.sort_errors(COLUMNS)
    return plan


# --------------------------------------------------------------------------------------------------
# the stored preview (what the batch page shows, kept with the batch: the page never re-reads the file)

PREVIEW_ERRORS = 1000
PREVIEW_CHANGED = 500


def plan_preview(plan: RosterPlan) -> dict:
    """The plan as JSON for the batch page: the counts, the first ``PREVIEW_ERRORS`` errors and the
    first ``PREVIEW_CHANGED`` changed persons (what the page lists)."""
    changed = plan.changed
    return {
        "rows": plan.rows, "person_count": len(plan.persons), "error_count": len(plan.errors),
        "changed_count": len(changed),
        "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in plan.errors[:PREVIEW_ERRORS]],
        "changed": [{
            "row": p.rows[0], "name": p.name, "id_number": p.id_number, "new_person": p.new_person,
            "new_enrollment": p.new_enrollment, "status": str(p.status),
            "start_month": format_month(p.start_month) if p.start_month else "",
            "person_changes": bool(p.person_changes), "account": list(p.account[:2]) if p.account else None,
            "account_before": bool(p.account_before),
            "service_years": None if p.service_years is None else str(p.service_years),
            "service_years_before": None if p.service_years_before is None else str(p.service_years_before),
            "items": [{"item": c.item.name, "amount": str(c.amount),
                       "old_amount": None if c.old_amount is None else str(c.old_amount),
                       "from_month": format_month(c.from_month)} for c in p.items],
        } for p in changed[:PREVIEW_CHANGED]],
    }


# --------------------------------------------------------------------------------------------------
# export


def roster_export_rows(*, persons_qs=None, scheme_code: str = "ZG") -> list[list]:
    """The roster as rows (without header) in the import layout: one row per person and open item
    range (a person without one gets one row without item), in 身份证号 order. Numbers unmasked."""
    qs = Enrollment.objects.filter(scheme__code=scheme_code)
    if persons_qs is not None:
        qs = qs.filter(person__in=persons_qs)
    enrollments = list(qs.values(
        "id", "person_id", "person__id_number", "person__name", "person__town__name", "person__mobile",
        "person__phone", "payment_status", "start_month", "service_years", "note").order_by("person__id_number"))
    eids = [e["id"] for e in enrollments]
    amounts = defaultdict(list)
    for eid, name, _sort, amount, f in (BenefitAmount.objects.filter(enrollment_id__in=eids, to_month__isnull=True)
                                       .values_list("enrollment_id", "item__name", "item__sort", "amount", "from_month")
                                       .order_by("enrollment_id", "item__sort", "item__code")):
        amounts[eid].append((name, amount, f))
    accounts = {a[0]: a[1:] for a in BankAccount.objects.filter(
        person_id__in=[e["person_id"] for e in enrollments], valid_to__isnull=True).values_list(
        "person_id", "bank", "account_number", "holder_name")}
    with translation.override("zh-hans"):  # the import layout: Chinese bank names, whatever the page's language
        bank_labels = {code: str(label) for code, label in bank_choices(include_inactive=True)}
    out = []
    for e in enrollments:
        acc = accounts.get(e["person_id"])
        common = {
            "bank": bank_labels.get(acc[0], acc[0]) if acc else "", "number": acc[1] if acc else "",
            "holder": acc[2] if acc else "",
        }
        lines = amounts.get(e["id"]) or [("", None, e["start_month"])]
        for name, amount, f in lines:
            out.append([
                e["person__id_number"], e["person__name"], name, amount, format_month(f),
                STATUS_LABEL[e["payment_status"]], common["bank"], common["number"], common["holder"],
                e["service_years"], e["person__town__name"], e["person__mobile"] or e["person__phone"], e["note"],
            ])
    return out


def write_roster(fileobj, rows: list[list], *, fmt: str) -> None:
    """Write header + rows as xlsx or csv (UTF-8 with BOM, what Excel opens) with the one spreadsheet
    writer (``shebao.common.sheets``): every text a text cell, a formula-leading one neutralised,
    月金额 with two decimals."""
    from shebao.common.sheets import XlsxWriter, write_csv

    money = {COLUMNS.index("月金额")}
    if fmt == "csv":
        write_csv(fileobj, headers=COLUMNS, rows=rows, money_columns=money)
        return
    with XlsxWriter(fileobj, sheet_name="自管人员花名册", headers=COLUMNS, money_columns=money) as writer:
        for r in rows:
            writer.write_row([str(v) if i == 0 and v is not None else v for i, v in enumerate(r)])
