"""Writes of the 土保补贴 subsystem. Persons, accounts and enrollments go through the registry and benefits
services; what is ours (categories, amount rules, the persons' subsidy records, import batches) is written
here, each in one transaction with its audit record. The yearly roster is the engine's yearly run
(``payroll_run_compute(kind="annual")``) with our rule (``rules.annual_rows``)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from shebao.benefits.models import Scheme
from shebao.benefits.services import BenefitError, EnrollmentRow, enrollment_bulk_create, scheme_get
from shebao.common.audit import audit_record, audit_record_many, diff, snapshot
from shebao.common.jobs import Progress
from shebao.common.money import MoneyError, quantize, to_decimal
from shebao.land_subsidy.importing import ImportPlan, TbFileError, import_plan, read_rows
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule, TbImport
from shebao.registry.roster_import import ImportResult, RosterImporter, apply_persons, row_error

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


def _row_error(pp, exc: Exception) -> TbError:
    return row_error(TbError, pp, exc)


def _apply(plan: ImportPlan, todo: list, *, user, reason: str, progress: Progress) -> None:
    """The plan, set-based (inside the engine's transaction): new persons, their changes and accounts by
    the roster engine (``apply_persons``: one ``person_bulk_create``, one ``bank_account_bulk_set``),
    enrollments in one ``enrollment_bulk_create``, our records in one INSERT with one audit event each;
    the (rare) changes of records one by one."""
    today = timezone.localdate()
    persons = apply_persons(todo, user=user, reason=reason, today=today, error=TbError)
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
    progress.advance(len(todo))


TB_IMPORT = RosterImporter(
    batch_model=TbImport, error=TbError, file_error=TbFileError, read=read_rows, check=import_plan, apply=_apply,
    preview=ImportPlan.preview, reason="土保补贴人员导入 {file_name}", audit_action="tb_import",
    audit_title="土保补贴人员导入 {file_name}：", noun="文件")


def tb_import(*, file_name: str, data: bytes, user=None, dry_run: bool = False,
              progress: Progress | None = None, batch: TbImport | None = None) -> ImportResult:
    """Import a 土保补贴人员 file (``shebao.land_subsidy.importing``). Every row is checked first; with any
    error (or ``dry_run``) nothing is written. Otherwise the whole file is applied in one transaction
    through the registry and benefits services, audited, and recorded as a batch (the roster engine's
    flow). The same file again changes nothing and writes nothing."""
    return TB_IMPORT.run(file_name=file_name, data=data, user=user, dry_run=dry_run, progress=progress, batch=batch)


def tb_upload(*, file_name: str, data: bytes, user) -> TbImport:
    """The web's first step: keep the file and its check (errors, or what would change) as a batch to
    confirm. Writes only the batch record."""
    return TB_IMPORT.upload(file_name=file_name, data=data, user=user)


def tb_confirm(*, batch: TbImport, user) -> ImportResult:
    """Apply a previewed batch (checked again: the data may have moved). Applied once; only by its uploader."""
    return TB_IMPORT.confirm(batch=batch, user=user)


