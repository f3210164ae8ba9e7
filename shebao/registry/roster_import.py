"""The one engine of the schemes' person files — 自管人员 花名册 (``shebao.self_managed.roster``), 养老保障
花名册 (``shebao.pension_security.roster``), 土保补贴人员 (``shebao.land_subsidy.importing``).

Every such import does the same things, here once:

- read the file through the one safe reader (``read_sheet``: ``shebao.common.safefile``) and find the
  header (``header_map``: ``safefile.header_positions``), each refusal as the scheme's file error;
- take the rows with a person (``person_rows``): the row numbers of the file (header = row 1), blank
  rows skipped, a bad 身份证号 an error of its row, the rows grouped by person in file order (or, for a
  one-row-per-person file, a repeated 身份证号 an error);
- the shared parts of checking a person (``check_name``, ``check_town`` with the user's town scope,
  ``money_cell``, ``account_problem``) and the lookups (``bank_lookup``, ``town_lookup``);
- collect everything into a plan (``ImportPlan``: the rows, every ``RowError``, the persons' plans —
  each a ``PersonPlanBase``: the person, the registry changes, the account — plus the scheme's own);
- apply the new persons, their changes and their accounts set-based (``apply_persons``);
- the flow (``RosterImporter``): check → with any error (or a dry run) write nothing → otherwise apply
  the whole plan in one transaction, record the batch and one audit event; the page's upload (keep the
  file and its preview) and confirm (checked again, applied once, only by its uploader);
- the command body (``import_command``, ``export_command``): the error report, the dry run, ``--json``,
  the exit code (``CommandError``: non-zero, nothing written).

Each scheme supplies only its columns, its row check (``check``: rows → plan) and its apply step
(``apply``: the changed persons' writes), plus its words (messages stay the scheme's own). Importing
the same file twice changes nothing the second time: a plan holds only what differs from the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone, translation

from shebao.common import safefile
from shebao.common.audit import audit_record
from shebao.common.identity import IdNumberError, name_error, parse_id_number
from shebao.common.jobs import NullProgress, Progress
from shebao.common.money import MoneyError, quantize, to_decimal
from shebao.common.safefile import FileRefused, Limits, header_positions
from shebao.registry.models import Person, Region
from shebao.registry.selectors import bank_choices
from shebao.registry.services import (
    RegistryError,
    account_number_check,
    bank_account_bulk_set,
    person_bulk_create,
    person_update,
)

MOBILE = re.compile(r"^1[3-9]\d{9}$")
MAX_SHOWN = 500  # errors (and, on a dry run, changed persons) a command prints


# --------------------------------------------------------------------------------------------------
# the plan


@dataclass
class RowError:
    row: int  # the row number in the file (the header is row 1)
    column: str
    message: str

    def as_text(self) -> str:
        return f"第 {self.row} 行 [{self.column}]：{self.message}"

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(kw_only=True)
class PersonPlanBase:
    """What every scheme's plan of one person holds (and ``apply_persons`` writes): the person (new when
    ``person_id`` is None: ``name``, ``town``, ``mobile``/``phone``), the registry fields to change
    (``person_changes``, for ``person_update``) and the payment account to set (bank, number, holder)."""

    id_number: str
    name: str
    person_id: int | None = None
    town: Region | None = None
    mobile: str = ""
    phone: str = ""
    person_changes: dict = field(default_factory=dict)  # field → new value, for person_update
    account: tuple[str, str, str] | None = None  # (bank, number, holder) to set

    @property
    def new_person(self) -> bool:
        return self.person_id is None


@dataclass
class ImportPlan:
    """What a file would change: ``rows`` (the file's non-blank rows), ``errors`` (every refused cell),
    ``persons`` (one plan per person; a scheme's person plan has ``changed``). Nothing is applied
    unless ``ok``."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    persons: list = field(default_factory=list)
    id_originals: dict[str, str] = field(default_factory=dict)  # 18-digit 身份证号 → the 15 digits the file had

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> list:
        return [p for p in self.persons if p.changed]

    def error(self, row: int, column: str, message: str) -> None:
        self.errors.append(RowError(row, column, message))

    def sort_errors(self, columns: list[str]) -> None:
        """By row, then in the order of the file's columns (stable: a cell's errors keep their order)."""
        self.errors.sort(key=lambda e: (e.row, columns.index(e.column) if e.column in columns else 99))


# --------------------------------------------------------------------------------------------------
# reading


def read_sheet(file_name: str, data: bytes, limits: Limits, *, file_error: type[Exception],
               empty: str | None = None, reader=None) -> list[list[str]]:
    """The first sheet (xlsx/xls) or the csv as rows of stripped text cells, header first, through the
    one safe reader (``reader``: ``safefile.read_table``, looked up when called); a refusal (or, with
    ``empty``, a file without rows) raises ``file_error``."""
    try:
        rows = (reader or safefile.read_table)(file_name, data, limits)
    except FileRefused as exc:
        raise file_error(str(exc)) from None
    if not rows and empty is not None:
        raise file_error(empty)
    return rows


def header_map(header: list[str], columns: list[str], *, aliases: dict[str, str], file_error: type[Exception],
               required: list[str] | None = None) -> dict[str, int]:
    try:
        return header_positions(header, columns, aliases=aliases, required=required)
    except FileRefused as exc:
        raise file_error(str(exc)) from None


def cell_reader(pos: dict[str, int]) -> Callable[[list[str], str], str]:
    """``cell(row, column)``: the row's cell of a column ("" when the column or the cell is absent)."""

    def cell(r: list[str], col: str) -> str:
        i = pos.get(col)
        return (r[i] if i is not None and i < len(r) else "").strip()

    return cell


def person_rows(plan: ImportPlan, data: list[list[str]], cell, *, one_per_person: bool = False,
                ) -> tuple[list[str], dict[str, list[tuple[int, list[str]]]]]:
    """The rows below the header by person: (身份证号 in file order, 身份证号 → [(row number, row)]).
    Counts the non-blank rows into ``plan.rows``; a bad 身份证号 (and, ``one_per_person``, a repeated
    one) is an error of its row, and the row is left out."""
    groups: dict[str, list[tuple[int, list[str]]]] = defaultdict(list)
    order: list[str] = []
    for n, r in enumerate(data, start=2):
        if not any((c or "").strip() for c in r):
            continue
        plan.rows += 1
        try:
            parsed = parse_id_number(cell(r, "身份证号"))
        except IdNumberError as exc:
            plan.errors.append(RowError(n, "身份证号", str(exc)))
            continue
        idn = parsed.number
        if parsed.original:  # a 15-digit number: upgraded, and the original kept on the person it creates
            plan.id_originals.setdefault(idn, parsed.original)
        if idn in groups:
            if one_per_person:
                plan.errors.append(RowError(n, "身份证号", f"与第 {groups[idn][0][0]} 行重复（每人一行）"))
                continue
        else:
            order.append(idn)
        groups[idn].append((n, r))
    return order, groups


class PersonValues:
    """A person's columns over their rows: the first non-blank value of each (a blank on a later row is
    "same as above"); a different value on a later row is an error of that row."""

    def __init__(self, plan: ImportPlan, rows: list[tuple[int, list[str]]], cell, columns: list[str]) -> None:
        self.first = rows[0][0]
        self.values: dict[str, tuple[str, int]] = {}
        for n, r in rows:
            for col in columns:
                v = cell(r, col)
                if not v:
                    continue
                if col not in self.values:
                    self.values[col] = (v, n)
                elif self.values[col][0] != v:
                    plan.errors.append(RowError(n, col, f"“{v}”与第 {self.values[col][1]} 行的“{self.values[col][0]}”不一致"))

    def __call__(self, col: str) -> str:
        return self.values.get(col, ("", 0))[0]

    def row(self, col: str) -> int:
        """The row the column's value stands in (the person's first row when blank)."""
        return self.values.get(col, ("", self.first))[1]


# --------------------------------------------------------------------------------------------------
# lookups (loaded once per file) and the shared checks of a person


def bank_lookup() -> dict[str, str]:
    """开户银行 as written → registry Bank code: the code, the full name, the name without 中国."""
    table = {}
    with translation.override("zh-hans"):  # the file is Chinese whatever the page's language
        banks = bank_choices(include_inactive=True)
    for code, label in banks:
        table[code] = code
        table[code.lower()] = code
        table[label] = code
        table[label.removeprefix("中国")] = code
    table.update({"工行": "ICBC", "农行": "ABC", "中行": "BOC", "建行": "CCB", "交行": "BOCOM", "邮储银行": "PSBC",
                  "邮政储蓄银行": "PSBC", "农商银行": "CXRCB", "慈溪农村商业银行": "CXRCB", "农商行": "CXRCB"})
    return table


def town_lookup() -> dict[str, Region]:
    table = {}
    for town in Region.objects.filter(level=Region.Level.TOWN):
        table[town.name] = town
        for suffix in ("街道", "镇"):
            if town.name.endswith(suffix) and len(town.name) > len(suffix) + 1:
                table.setdefault(town.name.removesuffix(suffix), town)
    return table


def user_scope(user) -> set[int] | None:
    """The ids of the towns the user works in; None: all (superuser, county-wide, or no user: the shell)."""
    if user is None or user.is_superuser or user.all_regions:
        return None
    return set(user.regions.values_list("id", flat=True))


def check_name(err, existing: dict | None, name: str, *, row: int, first: int) -> str:
    """The person's name: a registered person keeps theirs (a different one in the file is an error), a
    new one needs a valid one. ``err(row, column, message)`` records an error."""
    if existing:
        if name and name != existing["name"]:
            err(row, "姓名", f"“{name}”与系统中该身份证号的姓名“{existing['name']}”不一致")
        return existing["name"]
    if not name:
        err(first, "姓名", "新人员须填写姓名")
    elif problem := name_error(name):
        err(row, "姓名", problem)
    return name


def check_town(err, existing: dict | None, town_text: str, towns: dict[str, Region], scope: set[int] | None, *,
               row: int, first: int) -> Region | None:
    """The 镇街道 written (a new person needs one) and the user's scope: a person of another town is refused."""
    town = None
    if town_text:
        town = towns.get(town_text)
        if town is None:
            err(row, "镇街道", f"未知的镇街道“{town_text}”")
    elif not existing:
        err(first, "镇街道", "新人员须填写镇街道")
    if scope is not None:
        town_id = existing["town_id"] if existing else (town.pk if town else None)
        if town_id is not None and town_id not in scope:
            err(first, "镇街道", "该人员不在您的管辖范围内")
    return town


def money_cell(text: str) -> tuple[Decimal | None, str]:
    """A non-negative amount with at most two decimals, or (None, why)."""
    try:
        value = to_decimal(text)
    except MoneyError:
        return None, f"“{text}”不是数字"
    if not value.is_finite():
        return None, f"“{text}”不是数字"
    if value < 0:
        return None, f"不能为负数（{text}）"
    if value != quantize(value):
        return None, f"最多两位小数（{text}）"
    return quantize(value), ""


def account_problem(bank: str, number: str) -> str | None:
    try:
        account_number_check(bank=bank, account_number=number)
    except RegistryError as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------------------------------
# applying: the persons and their accounts


def row_error(error: type[Exception], pp, exc: Exception) -> Exception:
    """A service's refusal while applying, as the scheme's error naming the person's (first) row."""
    row = pp.rows[0] if hasattr(pp, "rows") else pp.row
    return error(f"第 {row} 行（{pp.name}）：{exc}")


def apply_persons(todo: list, *, user, reason: str, today, error: type[Exception],
                  communities: dict | None = None, originals: dict | None = None) -> dict[str, Person]:
    """The persons of the changed plans (``PersonPlanBase``), set-based: the new ones in one ``person_bulk_create``, a
    registered one's ``person_changes`` by ``person_update``, the accounts to set (``pp.account``:
    bank, number, holder) in one ``bank_account_bulk_set`` from ``today`` — the same rules and audit
    as one by one. Returns 身份证号 → Person; a refusal raises ``error`` naming the row. ``communities``:
    身份证号 → 村社区 of new persons where the caller knows it (a form; the files have no such column).
    ``originals`` (``ImportPlan.id_originals``): a new person whose row had the 15-digit number is
    registered with it, so the registry keeps it as ``id_number_original`` beside the 18 digits."""
    new = [pp for pp in todo if pp.new_person]
    communities, originals = communities or {}, originals or {}
    try:
        created = person_bulk_create(user=user, reason=reason, rows=[
            {"id_number": originals.get(pp.id_number, pp.id_number), "name": pp.name, "town": pp.town,
             **{k: v for k, v in (("mobile", pp.mobile), ("phone", pp.phone),
                                  ("community", communities.get(pp.id_number))) if v}}
            for pp in new
        ])
    except RegistryError as exc:
        raise row_error(error, new[getattr(exc, "index", 0)], exc) from None
    persons = {pp.id_number: p for pp, p in zip(new, created, strict=True)}
    existing = Person.objects.in_bulk([pp.person_id for pp in todo if not pp.new_person])
    for pp in todo:
        if pp.new_person:
            continue
        person = existing[pp.person_id]
        if pp.person_changes:
            try:
                person = person_update(user=user, person=person, reason=reason, **pp.person_changes)
            except RegistryError as exc:
                raise row_error(error, pp, exc) from None
        persons[pp.id_number] = person
    with_account = [pp for pp in todo if pp.account]
    try:
        bank_account_bulk_set(user=user, reason=reason, rows=[
            {"person": persons[pp.id_number], "bank": pp.account[0], "account_number": pp.account[1],
             "holder_name": pp.account[2], "valid_from": today}
            for pp in with_account
        ])
    except RegistryError as exc:
        raise row_error(error, with_account[getattr(exc, "index", 0)], exc) from None
    return persons


# --------------------------------------------------------------------------------------------------
# the flow: check, apply in one transaction, the batch and its audit; the page's upload and confirm


@dataclass
class ImportResult:
    batch: Any
    plan: ImportPlan
    applied: bool

    @property
    def changed(self) -> int:
        return len(self.plan.changed) if self.applied else 0


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


@dataclass(frozen=True)
class RosterImporter:
    """One scheme's import. ``read(file_name, data)`` → rows; ``check(rows, user=)`` → plan;
    ``apply(plan, todo, user=, reason=, progress=)`` writes the changed persons (``todo``) through the
    services (inside the import's transaction; it advances ``progress`` by each person done);
    ``preview(plan)`` → the JSON the batch page shows. ``batch_model`` has the fields of the three
    batch models (file_name, sha256, content, state, counts, preview, created_by, applied_at; ``summary``
    and ``created_by_name`` where it has them). ``error`` is the scheme's refusal, ``file_error`` the
    reader's; ``noun`` (花名册 / 文件) names the file in the messages."""

    batch_model: Any
    error: type[Exception]
    file_error: type[Exception]
    read: Callable[[str, bytes], list[list[str]]]
    check: Callable[..., ImportPlan]
    apply: Callable[..., None]
    preview: Callable[[ImportPlan], dict]
    reason: str  # the reason of every write, "… {file_name}"
    audit_action: str
    audit_title: str  # the audit summary before the plan's summary, "… {file_name}："
    noun: str = "花名册"
    applied_fields: Callable[[ImportPlan], dict] = lambda plan: {}  # more fields of a batch a command applies

    def run(self, *, file_name: str, data: bytes, user=None, username: str = "", dry_run: bool = False,
            progress: Progress | None = None, batch=None) -> ImportResult:
        """Check the whole file; with any error (or ``dry_run``) write nothing. Otherwise apply it in one
        transaction, audited, recorded as a batch (``batch``: the page's previewed one). The same file
        again: nothing changes and nothing is written."""
        from shebao.common.display import user_display_name

        progress = progress or NullProgress()
        rows = self.read(file_name, data)
        progress.note("检查中")
        plan = self.check(rows, user=user)
        if not plan.ok or dry_run:
            return ImportResult(None, plan, False)
        if user is None or not getattr(user, "is_authenticated", False):
            raise self.error("导入须指定经办人（命令行用 --as 用户名）")
        todo = plan.changed
        if not todo and batch is None:
            progress.finish("没有变动")
            return ImportResult(None, plan, True)
        reason = self.reason.format(file_name=file_name)
        sha = hashlib.sha256(data).hexdigest()
        model = self.batch_model
        with transaction.atomic():
            progress.start(len(todo), "导入中")
            if todo:
                self.apply(plan, todo, user=user, reason=reason, progress=progress)
            summary = plan.summary()
            with_summary = {"summary": summary} if _has_field(model, "summary") else {}
            if batch is None:
                if _has_field(model, "created_by_name"):
                    with_summary["created_by_name"] = user_display_name(user, fallback=username)
                batch = model.objects.create(
                    file_name=file_name[:200], sha256=sha, content=data, state=model.State.APPLIED,
                    row_count=plan.rows, changed_count=len(todo), created_by=user, applied_at=timezone.now(),
                    **with_summary, **self.applied_fields(plan))
            else:
                model.objects.filter(pk=batch.pk).update(
                    state=model.State.APPLIED, applied_at=timezone.now(), changed_count=len(todo), error_count=0,
                    **with_summary)
                batch.refresh_from_db()
            audit_record(user=user, action=self.audit_action, obj=batch,
                         summary=self.audit_title.format(file_name=file_name) + plan.summary_text(),
                         after={**summary, "sha256": sha}, reason=reason)
        progress.finish(f"已导入：变动 {len(todo)} 人")
        return ImportResult(batch, plan, True)

    def upload(self, *, file_name: str, data: bytes, user):
        """The page's first step: keep the file and its check (errors, or what would change) as a batch
        to confirm. Writes only the batch record."""
        from shebao.common.display import user_display_name

        try:
            plan = self.check(self.read(file_name, data), user=user)
        except self.file_error as exc:
            raise self.error(str(exc)) from None
        model = self.batch_model
        more = {"summary": plan.summary()} if _has_field(model, "summary") else {}
        if _has_field(model, "created_by_name"):
            more["created_by_name"] = user_display_name(user)
        return model.objects.create(
            file_name=file_name[:200], sha256=hashlib.sha256(data).hexdigest(), content=data,
            state=model.State.PREVIEWED if plan.ok else model.State.REFUSED, row_count=plan.rows,
            error_count=len(plan.errors), changed_count=len(plan.changed), preview=self.preview(plan),
            created_by=user, **more)

    def confirm(self, *, batch, user) -> ImportResult:
        """Apply a previewed batch (checked again: the data may have moved since the preview). Applied
        once (a second confirm is refused), only by its uploader."""
        model = self.batch_model
        with transaction.atomic():
            locked = model.objects.select_for_update().get(pk=batch.pk)
            if locked.state != model.State.PREVIEWED:
                raise self.error(f"该批次{locked.get_state_display()}，不能导入")
            if locked.created_by_id != user.pk:
                raise self.error(f"只能确认自己上传的{self.noun}")
            try:
                result = self.run(file_name=locked.file_name, data=bytes(locked.content), user=user, batch=locked)
            except self.file_error as exc:  # a batch stored before the safe reader refused such files
                raise self.error(str(exc)) from None
            if not result.applied:
                raise self.error(f"{self.noun}有 {len(result.plan.errors)} 处错误（数据已变化），未导入，请重新上传")
        return result


# --------------------------------------------------------------------------------------------------
# the commands: ``shebao zg|bz|tb import FILE --as USER [--dry-run] [--json]`` and ``… export FILE``


@dataclass(frozen=True)
class ImportCommand:
    """How a scheme's ``import`` command speaks: ``need_user`` (refusal without ``--as``), ``describe``
    (a changed person as a line, printed on a dry run; None: not printed), ``json`` (the ``--json``
    document of (plan, result, dry_run)), whether the note of errors not shown (beyond ``MAX_SHOWN``)
    and the batch number in the done line are printed."""

    importer: RosterImporter
    need_user: str
    describe: Callable[[Any], str] | None = None
    json: Callable[[ImportPlan, ImportResult, bool], dict] | None = None
    more_errors_note: bool = True
    batch_in_done: bool = True
    progress: bool = True


def add_import_parser(sub, *, help: str, json: bool = True) -> None:
    """The ``import FILE [--dry-run] [--as USER] [--json]`` subcommand (``json``: with ``--json``)."""
    imp = sub.add_parser("import", help=help)
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="只检查并显示将发生的变动，不写入")
    imp.add_argument("--as", dest="as_user", help="经办人用户名（导入时必填）")
    if json:
        imp.add_argument("--json", action="store_true", help="以 JSON 输出结果")


def import_command(command, opts: dict, spec: ImportCommand, *, user) -> None:
    """The body of ``… import``: read FILE, check (and unless ``--dry-run`` apply) it, print every error
    (up to ``MAX_SHOWN``) and what was done; any error: ``CommandError`` (exit code 1), nothing written."""
    from shebao.common.jobs import CliProgress

    if user is None and not opts["dry_run"]:
        raise CommandError(spec.need_user)
    path = Path(opts["file"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"无法读取文件：{exc}") from None
    importer = spec.importer
    progress = CliProgress(command.stderr._out) if spec.progress else None
    try:
        result = importer.run(file_name=path.name, data=data, user=user, dry_run=opts["dry_run"], progress=progress)
    except (importer.file_error, importer.error) as exc:
        raise CommandError(str(exc)) from None
    finally:
        if progress is not None:
            progress.close()
    plan = result.plan
    as_json = bool(opts.get("json")) and spec.json is not None
    if as_json:
        command.stdout.write(json.dumps(spec.json(plan, result, opts["dry_run"]), ensure_ascii=False))
    else:
        for error in plan.errors[:MAX_SHOWN]:
            command.stdout.write(error.as_text())
        if spec.more_errors_note and len(plan.errors) > MAX_SHOWN:
            command.stdout.write(f"……另有 {len(plan.errors) - MAX_SHOWN} 处错误未显示")
    if plan.errors:
        raise CommandError(f"{importer.noun}有 {len(plan.errors)} 处错误，整个文件未导入，没有写入任何数据")
    if as_json:
        return
    if opts["dry_run"]:
        if spec.describe is not None:
            for pp in plan.changed[:MAX_SHOWN]:
                command.stdout.write(spec.describe(pp))
        command.stdout.write(f"检查通过（未写入）：{plan.summary_text()}")
        return
    if spec.batch_in_done:
        batch = f"（批次 {result.batch.pk}）" if result.batch else "（无变动，未写入）"
        command.stdout.write(f"已导入{batch}：{plan.summary_text()}")
    else:
        command.stdout.write(f"已导入：{plan.summary_text()}")
    command.stdout.write(f"{result.changed} changed")


def export_command(command, file_name: str, *, rows: Callable[[], list[list]], write: Callable[..., None],
                   formats: tuple[str, ...] = ("xlsx", "csv"), done: Callable[[list[list], Path], str]) -> None:
    """The body of ``… export FILE``: the format from the extension (one of ``formats``), the rows in the
    import layout written by ``write(fh, rows, fmt=)`` (the one spreadsheet writer), ``done`` printed."""
    path = Path(file_name)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in formats:
        raise CommandError(f"导出文件的扩展名应为 {' 或 '.join('.' + f for f in formats)}")
    data = rows()
    with path.open("wb") as fh:
        write(fh, data, fmt=fmt)
    command.stdout.write(done(data, path))
