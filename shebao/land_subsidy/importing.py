"""土保补贴人员 import (``shebao tb import FILE``, and the web page's upload → preview → confirm): read a
file through the one safe reader, check every row, plan what would change, apply the plan.

Layout: one row per person, header row first (column order free; ``COLUMNS``). What a row means:
- a person not yet registered is registered (姓名 and 镇街道 required); a registered one must have the same
  姓名; a 镇街道 or 联系电话 different from the registry's updates the person (blank = unchanged);
- 开户银行/银行账号/户名: all three or none; the person's payment account, changed only if different; a
  person newly taken in needs an account (in the file or already registered);
- not yet a 土保补贴人员: taken in (纳入) from 开始年月 with 补贴类别 (an active category), 征地时间, 征地项目, 备注;
- already one: 开始年月 must be the registered one; a different 补贴类别 / 征地时间 / 征地项目 / 备注 changes
  the person's record (audited; blank = unchanged). 发放状态 (暂停/恢复/减员) is done on the person page.
Nothing is written unless every row is clean; the whole file is applied in one transaction, so the same
file imported twice changes nothing the second time. Reading, the header, the rows (one per person), the
shared checks of a person and the flow (check → apply → batch, upload → preview → confirm) are the one
roster engine's (``shebao.registry.roster_import``); this module holds the 土保补贴 columns and rows.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.utils import translation

from shebao.benefits.models import Enrollment
from shebao.benefits.months import MonthError, format_month, parse_month
from shebao.common.identity import normalize_account_number
from shebao.common.safefile import Limits, MiB
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson
from shebao.registry import roster_import as engine
from shebao.registry.models import BankAccount, Person
from shebao.registry.roster_import import (
    MOBILE,
    PersonPlanBase,
    RowError,
    bank_lookup,
    check_name,
    check_town,
    town_lookup,
)
from shebao.registry.selectors import bank_choices
from shebao.registry.services import RegistryError, account_number_check, holder_name_check

COLUMNS = ["身份证号", "姓名", "补贴类别", "开始年月", "镇街道", "开户银行", "银行账号", "户名",
           "征地时间", "征地项目", "联系电话", "备注"]
REQUIRED = ["身份证号", "姓名", "补贴类别", "开始年月", "开户银行", "银行账号", "户名"]
ALIASES = {"身份证号码": "身份证号", "公民身份号码": "身份证号", "类别": "补贴类别", "账号": "银行账号",
           "镇(街道)": "镇街道", "镇街": "镇街道", "电话": "联系电话", "纳入年月": "开始年月"}
MAX_ROWS = 100_000
LIMITS = Limits(max_bytes=20 * MiB, max_unzipped=64 * MiB, max_rows=MAX_ROWS + 1, max_cell_chars=500)


class TbFileError(Exception):
    """The file as a whole cannot be read (format, encoding, header)."""


@dataclass(kw_only=True)
class PersonPlan(PersonPlanBase):
    row: int
    account_before: bool = False  # the person had a current account (变更, not 登记)
    new_enrollment: bool = False
    start_month: dt.date | None = None
    subsidy_id: int | None = None
    category: SubsidyCategory | None = None
    record_changes: dict = field(default_factory=dict)  # SubsidyPerson field → new value
    land_date: dt.date | None = None
    land_project: str = ""
    note: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.new_person or self.person_changes or self.account or self.new_enrollment
                    or self.record_changes)

    def describe(self) -> str:
        parts = []
        if self.new_person:
            parts.append("新增人员")
        if self.new_enrollment:
            parts.append(f"纳入土保补贴（{self.category.name}，{format_month(self.start_month)} 起）")
        if self.person_changes:
            parts.append("信息变更")
        if self.account:
            parts.append("账户变更" if self.account_before else "账户登记")
        for key, value in self.record_changes.items():
            label = {"category": "补贴类别", "land_date": "征地时间", "land_project": "征地项目", "note": "备注"}[key]
            parts.append(f"{label} → {value}")
        return f"第 {self.row} 行 {self.name}：{'；'.join(parts)}"


@dataclass
class ImportPlan(engine.ImportPlan):
    def summary(self) -> dict:
        changed = self.changed
        return {
            "rows": self.rows, "persons": len(self.persons), "errors": len(self.errors),
            "changed": len(changed), "unchanged": len(self.persons) - len(changed),
            "new_persons": sum(1 for p in changed if p.new_person),
            "new_enrollments": sum(1 for p in changed if p.new_enrollment),
            "person_updates": sum(1 for p in changed if p.person_changes),
            "accounts": sum(1 for p in changed if p.account),
            "record_updates": sum(1 for p in changed if p.record_changes),
        }

    def summary_text(self) -> str:
        s = self.summary()
        return (f"共 {s['rows']} 行：变动 {s['changed']} 人（新增人员 {s['new_persons']}，新纳入 {s['new_enrollments']}，"
                f"信息变更 {s['person_updates']}，账户变更 {s['accounts']}，补贴信息变更 {s['record_updates']}），"
                f"未变 {s['unchanged']} 人")

    def preview(self, limit: int = 500) -> dict:
        """The check as JSON for the batch page (stored once: the page never parses the file again)."""
        return {"summary": self.summary(), "errors": [e.as_dict() for e in self.errors[:1000]],
                "changed": [{"row": p.row, "name": p.name, "id_number": p.id_number, "text": p.describe()}
                            for p in self.changed[:limit]]}


def read_rows(file_name: str, data: bytes) -> list[list[str]]:
    """The first sheet (xlsx/xls) or the csv as rows of text cells, through the one safe reader."""
    return engine.read_sheet(file_name, data, LIMITS, file_error=TbFileError, empty="文件是空的（第 1 行应为表头）")


def header_map(header: list[str]) -> dict[str, int]:
    return engine.header_map(header, COLUMNS, aliases=ALIASES, required=REQUIRED, file_error=TbFileError)


def parse_day(text: str) -> dt.date:
    """2026-03-05, 2026/3/5, 20260305 or 2026年3月5日."""
    t = text.strip().replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-").replace(".", "-")
    if re.fullmatch(r"\d{8}", t):
        t = f"{t[:4]}-{t[4:6]}-{t[6:]}"
    if t.endswith(" 00:00:00"):  # a date cell read from a spreadsheet
        t = t[:-9]
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", t)
    if not m:
        raise ValueError(text)
    return dt.date(int(m[1]), int(m[2]), int(m[3]))


def import_plan(rows: list[list[str]], *, user=None) -> ImportPlan:
    """Check every row and work out what would change. A few set-based reads (persons, accounts,
    enrollments, records, categories, towns: each once); writes nothing."""
    plan = ImportPlan()
    cell = engine.cell_reader(header_map(rows[0]))
    banks, towns = bank_lookup(), town_lookup()
    categories: dict[str, SubsidyCategory] = {}
    for c in SubsidyCategory.objects.all():
        categories[c.name] = categories[c.code] = c
    scope = engine.user_scope(user)
    ids, groups = engine.person_rows(plan, rows[1:], cell, one_per_person=True)
    parsed = [(groups[idn][0][0], idn, groups[idn][0][1]) for idn in ids]
    persons = {p["id_number"]: p for p in Person.objects.filter(id_number__in=ids).values(
        "id", "id_number", "name", "town_id", "mobile", "phone")}
    pids = [p["id"] for p in persons.values()]
    accounts = {a["person_id"]: a for a in BankAccount.objects.filter(person_id__in=pids, valid_to__isnull=True)
                .values("person_id", "bank", "account_number", "holder_name")}
    enrollments = {e["person_id"]: e for e in Enrollment.objects.filter(person_id__in=pids, scheme__code="TB")
                   .values("id", "person_id", "start_month")}
    records = {s.person_id: s for s in SubsidyPerson.objects.filter(person_id__in=pids)}

    for n, idn, r in parsed:
        before = len(plan.errors)

        def err(col: str, message: str, n=n) -> None:
            plan.errors.append(RowError(n, col, message))

        existing = persons.get(idn)
        pp = PersonPlan(row=n, id_number=idn, name=cell(r, "姓名"))
        if existing:
            pp.person_id = existing["id"]
        pp.name = check_name(plan.error, existing, pp.name, row=n, first=n)
        town = pp.town = check_town(plan.error, existing, cell(r, "镇街道"), towns, scope, row=n, first=n)
        phone = cell(r, "联系电话")
        if len(phone) > 20:
            err("联系电话", "联系电话超过 20 位")
            phone = ""
        if existing:
            if town and town.pk != existing["town_id"]:
                pp.person_changes["town"] = town
            if phone and phone not in (existing["mobile"], existing["phone"]):
                pp.person_changes["mobile" if MOBILE.match(phone) else "phone"] = phone
        elif phone:
            if MOBILE.match(phone):
                pp.mobile = phone
            else:
                pp.phone = phone

        bank_text, number, holder = cell(r, "开户银行"), normalize_account_number(cell(r, "银行账号")), cell(r, "户名")
        has_account = bool(existing and existing["id"] in accounts)
        if bank_text or number or holder:
            bank = banks.get(bank_text) if bank_text else None
            missing = [c for c, v in (("开户银行", bank_text), ("银行账号", number), ("户名", holder)) if not v]
            if bank_text and bank is None:
                err("开户银行", f"未知的开户银行“{bank_text}”")
            elif missing:
                err(missing[0], "开户银行、银行账号、户名须同时填写")
            else:
                try:
                    number = account_number_check(bank=bank, account_number=number)
                    holder = holder_name_check(holder)
                except RegistryError as exc:
                    err("银行账号", str(exc))
                else:
                    current = accounts.get(existing["id"]) if existing else None
                    old = (current["bank"], current["account_number"], current["holder_name"]) if current else None
                    if (bank, number, holder) != old:
                        pp.account, pp.account_before = (bank, number, holder), old is not None
                    has_account = True

        category_text = cell(r, "补贴类别")
        category = categories.get(category_text) if category_text else None
        if category_text and category is None:
            known = "、".join(sorted({c.name for c in categories.values() if c.active}))
            err("补贴类别", f"未知的补贴类别“{category_text}”（可用：{known}）")
        month_text = cell(r, "开始年月")
        month = None
        if month_text:
            try:
                month = parse_month(month_text)
            except MonthError:
                err("开始年月", f"“{month_text}”不是有效年月（应为 YYYY-MM）")
            else:
                if month.year < 1990 or month > dt.date(dt.date.today().year + 1, 12, 1):
                    err("开始年月", f"年月 {format_month(month)} 不合理")
                    month = None
        land_text = cell(r, "征地时间")
        land_date = None
        if land_text:
            try:
                land_date = parse_day(land_text)
            except ValueError:
                err("征地时间", f"“{land_text}”不是有效日期（应为 YYYY-MM-DD）")
            else:
                if land_date.year < 1950 or land_date > dt.date.today():
                    err("征地时间", f"征地时间 {land_date:%Y-%m-%d} 不合理")
                    land_date = None
        project, note = cell(r, "征地项目"), cell(r, "备注")
        if len(project) > 100:
            err("征地项目", "征地项目超过 100 字")
        if len(note) > 200:
            err("备注", "备注超过 200 字")

        record = records.get(existing["id"]) if existing else None
        enrollment = enrollments.get(existing["id"]) if existing else None
        if record is None:
            if enrollment is not None:
                err("身份证号", "该人员已有土保补贴参保记录但没有补贴信息，请联系信息科核查")
            if not category_text:
                err("补贴类别", "新纳入人员须填写补贴类别")
            elif category is not None and not category.active:
                err("补贴类别", f"补贴类别“{category.name}”已停用")
            if not month_text:
                err("开始年月", "新纳入人员须填写开始年月")
            if not has_account and not (bank_text or number or holder):
                err("开户银行", "新纳入人员须有发放账户（开户银行、银行账号、户名）")
            pp.new_enrollment = True
            pp.category, pp.start_month = category, month
            pp.land_date, pp.land_project, pp.note = land_date, project, note
        else:
            pp.subsidy_id = record.pk
            start = enrollment["start_month"] if enrollment else None
            if month is not None and start is not None and month != start:
                err("开始年月", f"{format_month(month)} 与系统中的开始年月 {format_month(start)} 不一致")
            if category is not None and category.pk != record.category_id:
                if not category.active:
                    err("补贴类别", f"补贴类别“{category.name}”已停用")
                pp.record_changes["category"] = category
            if land_date is not None and land_date != record.land_date:
                pp.record_changes["land_date"] = land_date
            if project and project != record.land_project:
                pp.record_changes["land_project"] = project
            if note and note != record.note:
                pp.record_changes["note"] = note
        if len(plan.errors) == before:
            plan.persons.append(pp)
    plan.sort_errors(COLUMNS)
    return plan


def export_rows(qs) -> list[list]:
    """The persons of ``qs`` (SubsidyPerson) in the import layout, 身份证号 order, full numbers."""
    from shebao.registry.models import BankAccount as BA

    records = list(qs.select_related("person", "person__town", "category", "enrollment").order_by("person__id_number"))
    accounts = {a[0]: a[1:] for a in BA.objects.filter(person_id__in=[s.person_id for s in records],
                                                        valid_to__isnull=True).values_list(
        "person_id", "bank", "account_number", "holder_name")}
    with translation.override("zh-hans"):
        labels = {code: str(label) for code, label in bank_choices(include_inactive=True)}
    out = []
    for s in records:
        acc = accounts.get(s.person_id) or ("", "", "")
        p = s.person
        out.append([p.id_number, p.name, s.category.name, format_month(s.enrollment.start_month), p.town.name,
                    labels.get(acc[0], acc[0]), acc[1], acc[2],
                    s.land_date.isoformat() if s.land_date else "", s.land_project, p.mobile or p.phone, s.note])
    return out


def write_rows(fileobj, rows: list[list], *, fmt: str = "xlsx") -> None:
    """Header + rows as xlsx by the one spreadsheet writer (``shebao.common.sheets``)."""
    from shebao.common.sheets import XlsxWriter

    with XlsxWriter(fileobj, sheet_name="土保补贴人员", headers=COLUMNS) as writer:
        for r in rows:
            writer.write_row(r)
