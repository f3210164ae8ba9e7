"""Writes of the 土保补贴 subsystem. Persons, accounts and enrollments go through the registry and benefits
services; what is ours (categories, amount rules, the persons' subsidy records, import batches) is written
here, each in one transaction with its audit record. The yearly roster is the engine's yearly run
(``payroll_run_compute(kind="annual")``) with our rule (``rules.annual_rows``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from shebao.benefits.models import PaymentStatus, Scheme
from shebao.benefits.services import BenefitError, EnrollmentRow, enrollment_bulk_create, scheme_get
from shebao.common.audit import audit_record, audit_record_many, diff, snapshot
from shebao.common.identity import account_number_warnings
from shebao.common.jobs import NullProgress, Progress
from shebao.common.money import MoneyError, quantize, to_decimal
from shebao.land_subsidy.importing import COLUMNS, ImportPlan, TbFileError, import_plan, read_rows
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule, TbImport
from shebao.payroll.models import PayrollRun
from shebao.registry.models import Bank, BankAccount, Region
from shebao.registry.roster_import import ImportResult, RosterImporter, apply_persons, row_error

SCHEME = "TB"
RECORD_FIELDS = ["category", "land_date", "land_project", "note"]
RULE_FIELDS = ["category", "from_year", "amount", "reference_month", "reference_day", "min_age_male",
               "min_age_female", "pays_suspended", "active", "note"]


class TbError(Exception):
    """A refused 土保补贴 action; ``str()`` is the message for the user (Chinese)."""


def tb_scheme() -> Scheme:
    return scheme_get(SCHEME)


# --------------------------------------------------------------------------------------------------
# categories and their amount rules (data)


@transaction.atomic
def category_save(*, user, code: str, name: str, sort: int = 0, note: str = "", active: bool = True,
                  category: SubsidyCategory | None = None) -> SubsidyCategory:
    """Add a 补贴类别 or change one (代码, 名称, 排序, 说明, 启用; audited with before/after). Disabling is
    refused while persons not yet 减员 (正常 or 暂停) are in the category: a disabled category takes no one
    new (the person form, the import and 修改补贴信息 refuse it) but its rules still apply, so the years a
    已减员 person is still entitled to are paid as before. The same values again write nothing."""
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
    if locked.active and not active:
        current = category_current_persons(locked)
        if current:
            raise TbError(f"补贴类别“{locked.name}”还有 {current} 名未减员的人员（正常或暂停发放），不能停用："
                          "请先在“修改补贴信息”中把他们改为其他类别，或办理减员")
    before = snapshot(locked)
    locked.code, locked.name, locked.sort, locked.note, locked.active = code, name, sort, note.strip(), active
    b, a = diff(before, snapshot(locked))
    if a:
        locked.save()
        what = "停用" if "active" in a and not active else "启用" if "active" in a else "修改"
        audit_record(user=user, action="update", obj=locked, summary=f"{what}补贴类别 {name}", before=b, after=a)
    return locked


def category_current_persons(category: SubsidyCategory) -> int:
    """How many persons of ``category`` are not 减员 (正常 or 暂停)."""
    return SubsidyPerson.objects.filter(category=category).exclude(
        enrollment__payment_status=PaymentStatus.TERMINATED).count()


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


# what decides a year's amount and who is entitled (the 说明 does not)
RULE_MONEY_FIELDS = ["from_year", "amount", "reference_month", "reference_day", "min_age_male", "min_age_female",
                     "pays_suspended", "active"]


def _computed_years() -> dict[int, int]:
    """The years that have a TB yearly run (any state: its lines were computed with the rules of then) →
    the run's id."""
    runs = PayrollRun.objects.filter(scheme__code=SCHEME, kind=PayrollRun.Kind.ANNUAL).values_list("period", "id")
    return {period.year: pk for period, pk in runs}


def _applies(rules: list[tuple], year: int):
    """The rule (a tuple ``(key, from_year, active, …)``) a year takes: active, latest ``from_year`` ≤ year."""
    fitting = [r for r in rules if r[2] and r[1] <= year]
    return max(fitting, key=lambda r: r[1]) if fitting else None


def _check_computed_years(category: SubsidyCategory, *, rule: SubsidyRule | None, values: dict) -> None:
    """Refuse a rule change (a new rule, an edit, a disable) that would change, for a year already computed,
    which rule applies or what it says: the yearly run of that year was computed with it, and its roster
    and the person pages must keep telling the same story. The way on is a rule from a later year."""
    years = _computed_years()
    if not years:
        return
    others = list(SubsidyRule.objects.filter(category=category).exclude(pk=rule.pk if rule else None)
                  .values_list("pk", "from_year", "active", *RULE_MONEY_FIELDS[1:]))
    mine_before = () if rule is None else (
        (rule.pk, rule.from_year, rule.active, *[getattr(rule, f) for f in RULE_MONEY_FIELDS[1:]]),)
    mine_after = ("new" if rule is None else rule.pk, values["from_year"], values["active"],
                  *[values[f] for f in RULE_MONEY_FIELDS[1:]])
    for year in sorted(years):
        before = _applies(others + list(mine_before), year)
        after = _applies(others + [mine_after], year)
        if before == after:
            continue
        later = max(years) + 1
        if rule is not None and before is not None and before[0] == rule.pk:
            raise TbError(f"该标准（{category.name} {rule.from_year} 年起）已用于 {year} 年度发放（批次 #{years[year]}），"
                          f"不能修改或停用：标准调整请新增 {later} 年或以后起始的标准（只有“说明”可以修改）")
        then = f"按 {before[1]} 年起的标准" if before else "（当时该类别没有适用的标准）"
        raise TbError(f"{category.name} {year} 年度发放已{then}计算（批次 #{years[year]}），"
                      f"不能改变该年度适用的标准：请新增 {later} 年或以后起始的标准")


def subsidy_rule_save(*, user, category: SubsidyCategory, from_year: int, amount, reference_month: int = 12,
                      reference_day: int = 31, min_age_male=None, min_age_female=None,
                      pays_suspended: bool = False, note: str = "", active: bool = True,
                      rule: SubsidyRule | None = None) -> SubsidyRule:
    """Add a category's amount rule from a year, or change or disable one (audited, in one transaction).
    The amount is yuan a year, more than 0, at most two decimals; the reference date a day every year has
    (not 29 February). Refused when it would change the rule of a year whose yearly run is computed
    (``_check_computed_years``). The same values again write nothing."""
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
    if rule is not None and rule.category_id != category.pk:
        raise TbError("补贴标准的类别不能修改：请为新类别新增标准")
    values = {"category": category, "from_year": year, "amount": quantize(value), "reference_month": month,
              "reference_day": day, "min_age_male": _age(min_age_male, "男性最低年龄"),
              "min_age_female": _age(min_age_female, "女性最低年龄"), "pays_suspended": bool(pays_suspended),
              "active": bool(active), "note": (note or "").strip()[:200]}
    if rule is None and not values["active"]:
        raise TbError("新增的补贴标准须为启用")
    try:
        with transaction.atomic():
            # one change of a category's rules at a time: the check below sees the others
            SubsidyCategory.objects.select_for_update().filter(pk=category.pk).first()
            locked = None if rule is None else SubsidyRule.objects.select_for_update().get(pk=rule.pk)
            _check_computed_years(category, rule=locked, values=values)
            if locked is None:
                rule = SubsidyRule.objects.create(created_by=user, **values)
                audit_record(user=user, action="create", obj=rule,
                             summary=f"新增补贴标准 {category.name} {year} 年起 {rule.amount} 元/年",
                             after=snapshot(rule, RULE_FIELDS))
                return rule
            before = snapshot(locked, RULE_FIELDS)
            for key, v in values.items():
                setattr(locked, key, v)
            b, a = diff(before, snapshot(locked, RULE_FIELDS))
            if a:
                locked.save()
                what = "停用" if "active" in a and not locked.active else "启用" if "active" in a else "修改"
                audit_record(user=user, action="update", obj=locked,
                             summary=f"{what}补贴标准 {category.name} {year} 年起", before=b, after=a)
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
# one person from the page (人员新增): the import's row check and apply, for a row of one


# the form's fields by the import's column names (a row error is shown on its field)
FORM_FIELDS = {"身份证号": "id_number", "姓名": "name", "镇街道": "town", "补贴类别": "category",
               "开始年月": "start_month", "开户银行": "bank", "银行账号": "account_number", "户名": "holder_name",
               "征地时间": "land_date", "征地项目": "land_project", "联系电话": "phone", "备注": "note"}


class TbRowError(TbError):
    """The person form's row refused by the import's check: ``errors`` is ``[(form field, message)]``."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors
        super().__init__("；".join(message for _, message in errors))


@dataclass
class PersonAdded:
    record: SubsidyPerson
    warnings: list[str]  # the account's (Luhn, length, a bank that asks for Luhn, 户名 not the name)


def subsidy_person_add(*, user, id_number: str, name: str, town: Region, category: SubsidyCategory,
                       start_month: dt.date, bank: str = "", account_number: str = "", holder_name: str = "",
                       community: Region | None = None, land_date: dt.date | None = None, land_project: str = "",
                       phone: str = "", note: str = "") -> PersonAdded:
    """Take one person into 土保补贴 from the page (人员新增). The values are made into a row of the import
    layout and checked by the import's own row check (``importing.import_plan``: 身份证号 15→18 and its
    check digit, 姓名, a 镇街道 in the user's scope, an active 补贴类别, 开始年月, the account: all the
    import's rules and messages), then applied by the import's apply, all in one transaction with its audit
    events. 户名 blank = the 姓名. A person already registered keeps their record (a different 镇街道 or
    电话 updates it, as the import does); a person already in 土保补贴 is refused. The account's warnings
    (Luhn and the like) are returned, never refused. Nothing is written on any error."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise TbError("须指定经办人")
    if community is not None and community.parent_id != town.pk:
        raise TbRowError([("community", f"{community.name} 不属于 {town.name}")])
    holder = (holder_name or "").strip() or (name or "").strip()
    row = {"身份证号": id_number or "", "姓名": name or "", "补贴类别": category.code,
           "开始年月": f"{start_month:%Y-%m}" if start_month else "", "镇街道": town.name, "开户银行": bank or "",
           "银行账号": account_number or "", "户名": holder if (bank or account_number) else "",
           "征地时间": land_date.isoformat() if land_date else "", "征地项目": land_project or "",
           "联系电话": phone or "", "备注": note or ""}
    plan = import_plan([list(COLUMNS), [row[c] for c in COLUMNS]], user=user)
    if not plan.ok:
        raise TbRowError([(FORM_FIELDS.get(e.column, "__all__"), e.message) for e in plan.errors])
    pp = plan.persons[0]
    if not pp.new_enrollment:
        raise TbRowError([("id_number", f"{pp.name} 已是土保补贴人员：请在其人员页修改补贴信息")])
    if community is not None and not pp.new_person:
        pp.person_changes["community"] = community
    reason = f"土保补贴人员新增 {pp.name}"
    with transaction.atomic():
        _apply(plan, plan.changed, user=user, reason=reason, progress=NullProgress(),
               communities={pp.id_number: community} if community else None)
        record = SubsidyPerson.objects.select_related("person", "category", "enrollment").get(
            person__id_number=pp.id_number)
    account = BankAccount.objects.filter(person_id=record.person_id, valid_to__isnull=True).first()
    warnings = []
    if account is not None and pp.account:
        warnings = account_number_warnings(account.account_number)
        if warnings and Bank.objects.filter(code=account.bank, luhn_check=True).exists():
            warnings.append("该银行要求账号通过 Luhn 校验：未核实前，发往该账号的待遇在报盘时将作为风险明细暂缓，"
                            "须审核员放行")
        if account.holder_name != record.person.name:
            warnings.append(f"户名“{account.holder_name}”与姓名“{record.person.name}”不符：发往该账户的待遇在报盘时"
                            "将作为风险明细暂缓，须审核员放行")
    return PersonAdded(record, warnings)


# --------------------------------------------------------------------------------------------------
# import


def _row_error(pp, exc: Exception) -> TbError:
    return row_error(TbError, pp, exc)


def _apply(plan: ImportPlan, todo: list, *, user, reason: str, progress: Progress,
           communities: dict | None = None) -> None:
    """The plan, set-based (inside the engine's transaction): new persons, their changes and accounts by
    the roster engine (``apply_persons``: one ``person_bulk_create``, one ``bank_account_bulk_set``),
    enrollments in one ``enrollment_bulk_create``, our records in one INSERT with one audit event each;
    the (rare) changes of records one by one. ``communities``: 身份证号 → 村社区 of new persons (the
    person form; the file has no such column)."""
    today = timezone.localdate()
    persons = apply_persons(todo, user=user, reason=reason, today=today, error=TbError, communities=communities,
                            originals=plan.id_originals)
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


