"""Writes of the 土保补贴 subsystem. Persons, accounts and enrollments go through the registry and benefits
services; what is ours (categories, amount rules, the persons' subsidy records, import batches) is written
here, each in one transaction with its audit record. The yearly roster is the engine's yearly run
(``payroll_run_compute(kind="annual")``) with our rule (``rules.annual_rows``)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from shebao.benefits.models import Scheme
from shebao.benefits.services import BenefitError, EnrollmentRow, enrollment_bulk_create, scheme_get
from shebao.common.audit import audit_record, audit_record_many, diff, snapshot
from shebao.common.jobs import NullProgress, Progress
from shebao.common.money import MoneyError, quantize, to_decimal
from shebao.land_subsidy.importing import ImportPlan, TbFileError, import_plan, read_rows
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule, TbImport
from shebao.registry.models import Person
from shebao.registry.services import (
    RegistryError,
    bank_account_bulk_set,
    person_bulk_create,
    person_update,
)

SCHEME = "TB"
RECORD_FIELDS = ["category", "land_date", "land_project", "note"]
RULE_FIELDS = ["category", "from_year", "amount", "reference_month", "reference_day", "min_age_male",
               "min_age_female", "pays_suspended", "note"]


class TbError(Exception):
    """A refused 土保补贴 action; ``str()`` is the message for the user (Chinese)."""


def tb_scheme() -> Scheme:
    return scheme_get(SCHEME)


# --------------------------------------------------------------------------------------------------
# categories and their amount rules (data)


@transaction.atomic
def category_save(*, user, code: str, name: str, sort: int = 0, note: str = "", active: bool = True,
                  category: SubsidyCategory | None = None) -> SubsidyCategory:
    """Add a 补贴类别 or change one (audited with before/after)."""
    code, name = (code or "").strip().upper(), (name or "").strip()
    if not code or not name:
        raise TbError("类别代码和名称不能为空")
    if len(code) > 20 or len(name) > 50:
        raise TbError("类别代码最多 20 位，名称最多 50 字")
    clash = SubsidyCategory.objects.filter(code=code) | SubsidyCategory.objects.filter(name=name)
    if category is not None:
        clash = clash.exclude(pk=category.pk)
    if clash.exists():
        raise TbError(f"补贴类别代码“{code}”或名称“{name}”已存在")
    if category is None:
        category = SubsidyCategory.objects.create(code=code, name=name, sort=sort, note=note.strip(), active=active)
        audit_record(user=user, action="create", obj=category, summary=f"新增补贴类别 {name}",
                     after=snapshot(category))
        return category
    locked = SubsidyCategory.objects.select_for_update().get(pk=category.pk)
    before = snapshot(locked)
    locked.code, locked.name, locked.sort, locked.note, locked.active = code, name, sort, note.strip(), active
    b, a = diff(before, snapshot(locked))
    if a:
        locked.save()
        audit_record(user=user, action="update", obj=locked, summary=f"修改补贴类别 {name}", before=b, after=a)
    return locked


def _age(value, label: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        age = int(value)
    except (TypeError, ValueError):
        raise TbError(f"{label}“{value}”不是整数") from None
    if not 0 <= age <= 120:
        raise TbError(f"{label} {age} 不合理（0–120）")
    return age


def subsidy_rule_save(*, user, category: SubsidyCategory, from_year: int, amount, reference_month: int = 12,
                      reference_day: int = 31, min_age_male=None, min_age_female=None,
                      pays_suspended: bool = False, note: str = "", rule: SubsidyRule | None = None) -> SubsidyRule:
    """Add a category's amount rule from a year, or change one (audited). The amount is yuan a year, more
    than 0, at most two decimals; the reference date a day every year has (not 29 February)."""
    try:
        value = to_decimal(amount)
    except MoneyError:
        raise TbError(f"年补贴金额“{amount}”不是数字") from None
    if not value.is_finite() or value <= 0 or value != quantize(value):
        raise TbError(f"年补贴金额 {amount} 应大于 0，最多两位小数")
    try:
        year, month, day = int(from_year), int(reference_month), int(reference_day)
    except (TypeError, ValueError):
        raise TbError("起始年度和认定日须为整数") from None
    if not 1990 <= year <= 2100:
        raise TbError(f"起始年度 {year} 不合理")
    try:
        dt.date(2001, month, day)  # a common year: 29 February is refused
    except ValueError:
        raise TbError(f"认定日 {month} 月 {day} 日不是每年都有的日期") from None
    values = {"category": category, "from_year": year, "amount": quantize(value), "reference_month": month,
              "reference_day": day, "min_age_male": _age(min_age_male, "男性最低年龄"),
              "min_age_female": _age(min_age_female, "女性最低年龄"), "pays_suspended": bool(pays_suspended),
              "note": (note or "").strip()[:200]}
    try:
        with transaction.atomic():
            if rule is None:
                rule = SubsidyRule.objects.create(created_by=user, **values)
                audit_record(user=user, action="create", obj=rule,
                             summary=f"新增补贴标准 {category.name} {year} 年起 {rule.amount} 元/年",
                             after=snapshot(rule, RULE_FIELDS))
                return rule
            locked = SubsidyRule.objects.select_for_update().get(pk=rule.pk)
            before = snapshot(locked, RULE_FIELDS)
            for key, v in values.items():
                setattr(locked, key, v)
            b, a = diff(before, snapshot(locked, RULE_FIELDS))
            if a:
                locked.save()
                audit_record(user=user, action="update", obj=locked,
                             summary=f"修改补贴标准 {category.name} {year} 年起", before=b, after=a)
            return locked
    except IntegrityError:
        raise TbError(f"{category.name} {year} 年起的补贴标准已存在") from None


# --------------------------------------------------------------------------------------------------
# a person's subsidy record


def subsidy_person_update(*, user, record: SubsidyPerson, reason: str, **changes) -> SubsidyPerson:
    """Change a person's 补贴类别 / 征地时间 / 征地项目 / 备注 (audited with before/after and the reason)."""
    unknown = set(changes) - set(RECORD_FIELDS)
    if unknown:
        raise TbError(f"不能修改的字段：{', '.join(sorted(unknown))}")
    if not (reason or "").strip():
        raise TbError("请填写修改原因")
    with transaction.atomic():
        locked = SubsidyPerson.objects.select_for_update().select_related("person").get(pk=record.pk)
        before = snapshot(locked, RECORD_FIELDS)
        for key, value in changes.items():
            setattr(locked, key, value.strip() if isinstance(value, str) else value)
        if len(locked.land_project) > 100 or len(locked.note) > 200:
            raise TbError("征地项目最多 100 字，备注最多 200 字")
        b, a = diff(before, snapshot(locked, RECORD_FIELDS))
        if not a:
            return locked
        locked.save()
        audit_record(user=user, action="update", obj=locked, person_id=locked.person_id,
                     summary=f"修改土保补贴信息 {locked.person.name}", before=b, after=a, reason=reason.strip())
    return locked


# --------------------------------------------------------------------------------------------------
# import


@dataclass
class ImportResult:
    batch: TbImport | None
    plan: ImportPlan
    applied: bool

    @property
    def changed(self) -> int:
        return len(self.plan.changed) if self.applied else 0


def _row_error(pp, exc: Exception) -> TbError:
    return TbError(f"第 {pp.row} 行（{pp.name}）：{exc}")


def _apply(plan: ImportPlan, *, user, reason: str) -> None:
    """The plan, set-based: new persons in one ``person_bulk_create``, accounts in one
    ``bank_account_bulk_set``, enrollments in one ``enrollment_bulk_create``, our records in one INSERT
    with one audit event each; the (rare) changes of registered persons and records one by one."""
    todo = plan.changed
    today = timezone.localdate()
    new = [pp for pp in todo if pp.new_person]
    try:
        created = person_bulk_create(user=user, reason=reason, rows=[
            {"id_number": pp.id_number, "name": pp.name, "town": pp.town,
             **{k: v for k, v in (("mobile", pp.mobile), ("phone", pp.phone)) if v}} for pp in new])
    except RegistryError as exc:
        raise _row_error(new[getattr(exc, "index", 0)], exc) from None
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
                raise _row_error(pp, exc) from None
        persons[pp.id_number] = person
    with_account = [pp for pp in todo if pp.account]
    try:
        bank_account_bulk_set(user=user, reason=reason, rows=[
            {"person": persons[pp.id_number], "bank": pp.account[0], "account_number": pp.account[1],
             "holder_name": pp.account[2], "valid_from": today} for pp in with_account])
    except RegistryError as exc:
        raise _row_error(with_account[getattr(exc, "index", 0)], exc) from None
    enrolling = [pp for pp in todo if pp.new_enrollment]
    try:
        enrollments = enrollment_bulk_create(scheme=tb_scheme(), user=user, reason=reason, rows=[
            EnrollmentRow(person=persons[pp.id_number], start_month=pp.start_month, note=pp.note)
            for pp in enrolling])
    except BenefitError as exc:
        raise _row_error(enrolling[getattr(exc, "index", 0)], exc) from None
    try:
        with transaction.atomic():
            records = SubsidyPerson.objects.bulk_create([
                SubsidyPerson(enrollment=e, person=persons[pp.id_number], category=pp.category,
                              land_date=pp.land_date, land_project=pp.land_project, note=pp.note)
                for pp, e in zip(enrolling, enrollments, strict=True)], batch_size=2000)
    except IntegrityError:  # another import took one of these persons in meanwhile
        raise TbError("部分人员刚被其他操作纳入土保补贴，整个文件未导入，请重新检查后导入") from None
    audit_record_many([{"user": user, "action": "create", "obj": r, "person_id": r.person_id,
                        "summary": f"纳入土保补贴 {persons[pp.id_number].name}（{pp.category.name}）",
                        "after": snapshot(r, RECORD_FIELDS), "reason": reason}
                       for pp, r in zip(enrolling, records, strict=True)])
    by_id = SubsidyPerson.objects.in_bulk([pp.subsidy_id for pp in todo if pp.record_changes])
    for pp in todo:
        if pp.record_changes:
            subsidy_person_update(user=user, record=by_id[pp.subsidy_id], reason=reason, **pp.record_changes)


def tb_import(*, file_name: str, data: bytes, user=None, dry_run: bool = False,
              progress: Progress | None = None, batch: TbImport | None = None) -> ImportResult:
    """Import a 土保补贴人员 file (``shebao.land_subsidy.importing``). Every row is checked first; with any
    error (or ``dry_run``) nothing is written. Otherwise the whole file is applied in one transaction
    through the registry and benefits services, audited, and recorded as a batch. The same file again
    changes nothing and writes nothing."""
    progress = progress or NullProgress()
    rows = read_rows(file_name, data)
    progress.note("检查中")
    plan = import_plan(rows, user=user)
    if not plan.ok or dry_run:
        return ImportResult(None, plan, False)
    if user is None or not getattr(user, "is_authenticated", False):
        raise TbError("导入须指定经办人（命令行用 --as 用户名）")
    todo = plan.changed
    if not todo and batch is None:
        return ImportResult(None, plan, True)
    reason = f"土保补贴人员导入 {file_name}"
    sha = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        progress.start(len(todo), "导入中")
        _apply(plan, user=user, reason=reason)
        progress.advance(len(todo))
        summary = plan.summary()
        if batch is None:
            batch = TbImport.objects.create(
                file_name=file_name[:200], sha256=sha, content=data, state=TbImport.State.APPLIED,
                row_count=plan.rows, changed_count=len(todo), summary=summary, created_by=user,
                applied_at=timezone.now())
        else:
            TbImport.objects.filter(pk=batch.pk).update(state=TbImport.State.APPLIED, applied_at=timezone.now(),
                                                        changed_count=len(todo), summary=summary)
            batch.refresh_from_db()
        audit_record(user=user, action="tb_import", obj=batch, summary=f"土保补贴人员导入 {file_name}："
                     f"{plan.summary_text()}", after={**summary, "sha256": sha}, reason=reason)
    progress.finish(f"已导入：变动 {len(todo)} 人")
    return ImportResult(batch, plan, True)


def tb_upload(*, file_name: str, data: bytes, user) -> TbImport:
    """The web's first step: keep the file and its check (errors, or what would change) as a batch to
    confirm. Writes only the batch record."""
    try:
        plan = import_plan(read_rows(file_name, data), user=user)
    except TbFileError as exc:
        raise TbError(str(exc)) from None
    return TbImport.objects.create(
        file_name=file_name[:200], sha256=hashlib.sha256(data).hexdigest(), content=data,
        state=TbImport.State.PREVIEWED if plan.ok else TbImport.State.REFUSED, row_count=plan.rows,
        error_count=len(plan.errors), changed_count=len(plan.changed), summary=plan.summary(),
        preview=plan.preview(), created_by=user)


def tb_confirm(*, batch: TbImport, user) -> ImportResult:
    """Apply a previewed batch (checked again: the data may have moved). Applied once; only by its uploader."""
    with transaction.atomic():
        locked = TbImport.objects.select_for_update().get(pk=batch.pk)
        if locked.state != TbImport.State.PREVIEWED:
            raise TbError(f"该批次{locked.get_state_display()}，不能导入")
        if locked.created_by_id != user.pk:
            raise TbError("只能确认自己上传的文件")
        result = tb_import(file_name=locked.file_name, data=bytes(locked.content), user=user, batch=locked)
        if not result.applied:
            raise TbError(f"文件有 {len(result.plan.errors)} 处错误（数据已变化），未导入，请重新上传")
    return result


