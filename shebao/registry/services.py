"""Writes to the registry. Every change is audited in the same transaction."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from pypinyin import Style, lazy_pinyin

from shebao.common.audit import audit_record, audit_record_many, diff, snapshot
from shebao.common.identity import (
    IdNumberError,
    account_number_error,
    account_number_warnings,
    check_consistent,
    name_error,
    normalize_account_number,
    parse_id_number,
    validate_uscc,
)
from shebao.registry.models import Bank, BankAccount, Payee, Person, Region
from shebao.registry.selectors import bank_rules

PERSON_FIELDS = [
    "id_number", "id_number_original", "name", "name_initials", "sex", "birth_date", "town", "community",
    "hukou_address", "residence_address", "mobile", "phone", "death_date", "notes",
]
EDITABLE_FIELDS = ["name", "town", "community", "hukou_address", "residence_address", "mobile", "phone", "death_date", "notes"]


class RegistryError(Exception):
    """A refused registry change; ``str()`` is the message for the user (Chinese)."""


@dataclass
class AccountChange:
    account: BankAccount
    warnings: list[str] = field(default_factory=list)


def name_initials(name: str) -> str:
    """Pinyin initials of a Chinese name, lower case: 张三丰 → zsf."""
    return "".join(p[0] for p in lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore") if p).lower()


def name_sort_key(name: str) -> str:
    """The sort key of a name: its pinyin with tone numbers, syllables separated by a space, lower case
    (张三丰 → "zhang1 san1 feng1", 陈 before 程: "chen2" < "cheng2"). Stored in ``Person.name_pinyin`` so
    the database sorts names as a Chinese dictionary does (its collation is by code point; no ICU).
    Latin letters and digits stay as they are (lower case)."""
    parts = lazy_pinyin(name, style=Style.TONE3, neutral_tone_with_five=True, errors="default")
    return " ".join(p.lower() for p in parts if p.strip())[:300]


def person_name_keys_fill(*, only_empty: bool = True) -> int:
    """Fill ``Person.name_pinyin`` where empty (rows written by SQL or COPY: the legacy import, the demo
    loader) or, with ``only_empty=False``, everywhere. Set-based: each distinct name computed once, one
    UPDATE … FROM a temp table. Returns the number of rows updated."""
    from django.db import connection

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT name FROM registry_person" + (" WHERE name_pinyin = ''" if only_empty else ""))
        names = [row[0] for row in cursor.fetchall()]
        if not names:
            return 0
        cursor.execute("CREATE TEMP TABLE _person_name_keys (name text PRIMARY KEY, key text) ON COMMIT DROP")
        with cursor.cursor.copy("COPY _person_name_keys (name, key) FROM STDIN") as copy:
            for name in names:
                copy.write_row((name, name_sort_key(name)))
        cursor.execute("UPDATE registry_person p SET name_pinyin = k.key FROM _person_name_keys k "
                       "WHERE k.name = p.name" + (" AND p.name_pinyin = ''" if only_empty else
                                                  " AND p.name_pinyin IS DISTINCT FROM k.key"))
        count = cursor.rowcount
        cursor.execute("DROP TABLE _person_name_keys")
    return count


def account_number_check(*, bank: str, account_number: str, rules: dict | None = None) -> str:
    """The account number as stored (spaces and hyphens removed, full-width digits read as ASCII), or
    ``RegistryError``: a bank not in the banks table or stopped, a character other than 0-9 (control
    bytes such as \\x05 once reached a bank file), a length outside the bank's range (the table's
    ``account_min_length``..``account_max_length``). ``rules``: ``selectors.bank_rules()`` read once by
    a caller checking many rows."""
    rules = rules if rules is not None else bank_rules()
    if not bank:
        raise RegistryError("请选择开户银行")
    rule = rules.get(bank)
    if rule is None:
        raise RegistryError(f"未知的开户银行代码“{bank}”")
    low, high, name, active = rule
    if not active:
        raise RegistryError(f"开户银行 {bank} 已停用，不能登记新账户")
    number = normalize_account_number(account_number)
    error = account_number_error(number, (low, high), name)
    if error:
        raise RegistryError(error)
    return number


def holder_name_check(holder_name: str, *, label: str = "户名") -> str:
    """The 户名 (or 姓名) as stored, stripped, or ``RegistryError`` (``identity.name_error``: no control
    character, no | , ; quote or formula character, at most 50 characters)."""
    name = (holder_name or "").strip()
    error = name_error(name, label=label)
    if error:
        raise RegistryError(error)
    return name


def _check_region(town: Region, community: Region | None) -> None:
    if town.level != Region.Level.TOWN:
        raise RegistryError(f"{town.name} 不是镇街道")
    if community is not None and community.parent_id != town.pk:
        raise RegistryError(f"{community.name} 不属于 {town.name}")


def _check_scope(user, town: Region) -> None:
    if user is None or user.all_regions or user.is_superuser:
        return
    if not user.regions.filter(pk=town.pk).exists():
        raise RegistryError(f"{town.name} 不在您的管辖范围内")


def person_create(
    *,
    user,
    id_number: str,
    name: str,
    town: Region,
    community: Region | None = None,
    sex: str | None = None,
    birth_date: dt.date | None = None,
    reason: str = "",
    **details,
) -> Person:
    """Register a person. The 身份证号 is validated (15 digits upgraded, original kept); sex and birth
    date derive from it, and entered values that disagree are an error."""
    try:
        idn = parse_id_number(id_number)
        check_consistent(idn, birth_date=birth_date, sex=sex)
    except IdNumberError as exc:
        raise RegistryError(str(exc)) from None
    name = holder_name_check(name, label="姓名")
    _check_region(town, community)
    _check_scope(user, town)
    unknown = set(details) - set(EDITABLE_FIELDS)
    if unknown:
        raise RegistryError(f"未知字段：{', '.join(sorted(unknown))}")
    person = Person(
        id_number=idn.number, id_number_original=idn.original, name=name, name_initials=name_initials(name),
        name_pinyin=name_sort_key(name), sex=idn.sex, birth_date=idn.birth_date, town=town, community=community,
        **details,
    )
    try:
        with transaction.atomic():
            person.save(force_insert=True)
            audit_record(user=user, action="create", obj=person, person_id=person.pk,
                         summary=f"新增人员 {name}", after=snapshot(person, PERSON_FIELDS), reason=reason)
    except IntegrityError:
        raise RegistryError(f"身份证号 {idn.number} 已登记") from None
    return person


def _refuse_row(index: int, message: str) -> RegistryError:
    exc = RegistryError(message)
    exc.index = index  # which of the given rows (0-based), for the caller to name its own row number
    return exc


def person_bulk_create(*, user, rows: list[dict], reason: str = "") -> list[Person]:
    """Register many persons at once, by the rules of ``person_create`` for each (the 身份证号
    validated and 15 digits upgraded, sex and birth date derived and cross-checked, the town a 镇街道
    in the user's scope) and the same audit event per person. All or nothing: the first refused row
    raises ``RegistryError`` (with ``.index``, the row's position) and nothing is written. Each row
    holds the keywords of ``person_create`` (id_number, name, town, community, sex, birth_date,
    mobile …). Set-based: a few queries and one INSERT per few thousand persons."""
    if not rows:
        return []
    scope = None
    if user is not None and not (user.all_regions or user.is_superuser):
        scope = set(user.regions.values_list("id", flat=True))
    persons: list[Person] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        row = dict(row)
        try:
            idn = parse_id_number(row.pop("id_number", ""))
            check_consistent(idn, birth_date=row.pop("birth_date", None), sex=row.pop("sex", None))
        except IdNumberError as exc:
            raise _refuse_row(i, str(exc)) from None
        name = (row.pop("name", "") or "").strip()
        problem = name_error(name, label="姓名")
        if problem:
            raise _refuse_row(i, f"{idn.number}：{problem}")
        town, community = row.pop("town", None), row.pop("community", None)
        if town is None:
            raise _refuse_row(i, f"{idn.number}：请选择镇街道")
        try:
            _check_region(town, community)
        except RegistryError as exc:
            raise _refuse_row(i, str(exc)) from None
        if scope is not None and town.pk not in scope:
            raise _refuse_row(i, f"{town.name} 不在您的管辖范围内")
        unknown = set(row) - set(EDITABLE_FIELDS)
        if unknown:
            raise _refuse_row(i, f"未知字段：{', '.join(sorted(unknown))}")
        if idn.number in seen:
            raise _refuse_row(i, f"身份证号 {idn.number} 重复（与第 {seen[idn.number] + 1} 条）")
        seen[idn.number] = i
        persons.append(Person(
            id_number=idn.number, id_number_original=idn.original, name=name, name_initials=name_initials(name),
            name_pinyin=name_sort_key(name), sex=idn.sex, birth_date=idn.birth_date, town=town,
            community=community, **row,
        ))
    taken = set(Person.objects.filter(id_number__in=list(seen)).values_list("id_number", flat=True))
    if taken:
        first = min(taken, key=seen.__getitem__)
        raise _refuse_row(seen[first], f"身份证号 {first} 已登记")
    try:
        with transaction.atomic():
            Person.objects.bulk_create(persons, batch_size=2000)
            audit_record_many([
                {"user": user, "action": "create", "obj": p, "person_id": p.pk, "summary": f"新增人员 {p.name}",
                 "after": snapshot(p, PERSON_FIELDS), "reason": reason}
                for p in persons
            ])
    except IntegrityError:
        raise RegistryError("部分身份证号刚被其他操作登记，请重试") from None
    return persons


def person_update(*, user, person: Person, reason: str = "", **changes) -> Person:
    """Change a person's basic information (not the 身份证号). Returns the person; audited with before/after."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise RegistryError(f"不能修改的字段：{', '.join(sorted(unknown))}")
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=person.pk)
        before = snapshot(person, PERSON_FIELDS)
        for key, value in changes.items():
            setattr(person, key, value.strip() if isinstance(value, str) else value)
        if "name" in changes or not person.name:
            person.name = holder_name_check(person.name, label="姓名")
        person.name_initials = name_initials(person.name)
        person.name_pinyin = name_sort_key(person.name)
        _check_region(person.town, person.community)
        _check_scope(user, person.town)
        if person.death_date and person.death_date < person.birth_date:
            raise RegistryError("死亡日期不能早于出生日期")
        b, a = diff(before, snapshot(person, PERSON_FIELDS))
        if not a:
            return person
        person.save()
        audit_record(user=user, action="update", obj=person, person_id=person.pk,
                     summary=f"修改人员信息 {person.name}", before=b, after=a, reason=reason)
    return person


def bank_account_set(
    *,
    user,
    person: Person,
    bank: str,
    account_number: str,
    holder_name: str,
    branch: str = "",
    valid_from: dt.date | None = None,
    reason: str = "",
) -> AccountChange:
    """Make this the person's current payment account: the old current one is closed the day before
    ``valid_from`` (history kept). A Luhn failure is only a warning (at a bank whose rule asks for Luhn,
    one saying the payment will be held), as is a 户名 that is not the person's name. The same account
    from the same day again (a double submit; the person's row lock orders two at once) writes nothing."""
    number = account_number_check(bank=bank, account_number=account_number)
    holder_name = holder_name_check(holder_name)
    valid_from = valid_from or dt.date.today()
    warnings = account_number_warnings(number)
    if warnings and Bank.objects.filter(code=bank, luhn_check=True).exists():
        warnings.append("该银行要求账号通过 Luhn 校验：未核实前，发往该账号的待遇在报盘时将作为风险明细暂缓，须审核员放行")
    if holder_name != (person.name or "").strip():
        warnings.append(f"户名“{holder_name}”与姓名“{person.name}”不符：发往该账户的待遇在报盘时将作为风险明细暂缓，"
                        "须审核员放行")
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        current = BankAccount.objects.filter(person=person, valid_to__isnull=True).first()
        if current is not None and (current.bank, current.account_number, current.holder_name, current.branch,
                                    current.valid_from) == (bank, number, holder_name, branch.strip(), valid_from):
            # the same change again (a double click, a resent form): it is already the current account
            return AccountChange(current, warnings)
        before = snapshot(current) if current else None
        if current:
            if current.valid_from > valid_from:
                raise RegistryError(f"启用日期不能早于现有账户的启用日期 {current.valid_from:%Y-%m-%d}")
            current.valid_to = max(current.valid_from, valid_from - dt.timedelta(days=1))
            current.save(update_fields=["valid_to"])
        account = BankAccount.objects.create(
            person=person, bank=bank, branch=branch.strip(), account_number=number,
            holder_name=holder_name, valid_from=valid_from, luhn_warning=bool(account_number_warnings(number)),
        )
        audit_record(user=user, action="update" if current else "create", obj=account, person_id=person.pk,
                     summary=f"{'变更' if current else '登记'}支付账户 {person.name}", before=before,
                     after=snapshot(account), reason=reason)
    return AccountChange(account, warnings)


def bank_account_bulk_set(*, user, rows: list[dict], reason: str = "") -> list[AccountChange]:
    """``bank_account_set`` for many persons at once (one row per person, the keywords of
    ``bank_account_set`` without ``user``/``reason``): each row's account becomes the person's current
    one, an old current account is closed the day before ``valid_from``; a Luhn failure only warns;
    one audit event per account. All or nothing: a refused row raises ``RegistryError`` (with
    ``.index``) and nothing is written. The persons are locked in id order."""
    if not rows:
        return []
    today = dt.date.today()
    prepared = []
    seen: set[int] = set()
    rules = bank_rules()
    for i, row in enumerate(rows):
        person = row["person"]
        try:
            number = account_number_check(bank=row.get("bank") or "", account_number=row.get("account_number", ""),
                                          rules=rules)
            holder = holder_name_check(row.get("holder_name") or "")
        except RegistryError as exc:
            raise _refuse_row(i, f"{person.name}：{exc}") from None
        if person.pk in seen:
            raise _refuse_row(i, f"{person.name} 重复（每人一行）")
        seen.add(person.pk)
        prepared.append((i, person, number, holder, row))
    with transaction.atomic():
        list(Person.objects.select_for_update().filter(pk__in=seen).order_by("pk").values_list("pk", flat=True))
        current = {a.person_id: a for a in BankAccount.objects.filter(person_id__in=seen, valid_to__isnull=True)}
        closed, created, changes, events = [], [], [], []
        befores = {}
        for i, person, number, holder, row in prepared:
            valid_from = row.get("valid_from") or today
            old = current.get(person.pk)
            if old is not None:
                if old.valid_from > valid_from:
                    raise _refuse_row(i, f"{person.name}：启用日期不能早于现有账户的启用日期 {old.valid_from:%Y-%m-%d}")
                befores[person.pk] = snapshot(old)
                old.valid_to = max(old.valid_from, valid_from - dt.timedelta(days=1))
                closed.append(old)
            warnings = account_number_warnings(number)
            account = BankAccount(
                person=person, bank=row["bank"], branch=(row.get("branch") or "").strip(), account_number=number,
                holder_name=holder, valid_from=valid_from, luhn_warning=bool(warnings),
            )
            created.append(account)
            changes.append(AccountChange(account, warnings))
        if closed:
            BankAccount.objects.bulk_update(closed, ["valid_to"], batch_size=2000)
        BankAccount.objects.bulk_create(created, batch_size=2000)
        for account in created:
            before = befores.get(account.person_id)
            events.append({
                "user": user, "action": "update" if before else "create", "obj": account,
                "person_id": account.person_id,
                "summary": f"{'变更' if before else '登记'}支付账户 {account.person.name}", "before": before,
                "after": snapshot(account), "reason": reason,
            })
        audit_record_many(events)
    return changes


# --------------------------------------------------------------------------------------------------
# payees (收款方)

PAYEE_FIELDS = ["name", "uscc", "bank", "branch", "account_number", "note"]


def _payee_values(*, name, bank, account_number, branch="", uscc="", note="") -> dict:
    name = (name or "").strip()
    if not name:
        raise RegistryError("请填写收款方户名")
    error = name_error(name, label="收款方户名", max_length=100)  # the 户名 goes into the bank files
    if error:
        raise RegistryError(error)
    number = account_number_check(bank=bank, account_number=account_number)
    code = (uscc or "").strip().upper()
    if code:
        try:
            code = validate_uscc(code)
        except ValueError:
            raise RegistryError(f"统一社会信用代码 {code} 无效（GB 32100 校验未通过），请核对") from None
    return {"name": name, "uscc": code, "bank": bank, "branch": (branch or "").strip()[:100],
            "account_number": number, "note": (note or "").strip()[:200],
            "luhn_warning": bool(account_number_warnings(number))}


def payee_create(*, user, name: str, bank: str, account_number: str, branch: str = "", uscc: str = "",
                 note: str = "", reason: str = "") -> Payee:
    """登记收款方: version 1 of a new payee code (``P`` + 6 digits of its first row's id). The 统一社会信用代码,
    when given, must pass GB 32100; the account number is normalised (spaces, dashes) and a Luhn
    failure is only a warning (``luhn_warning``)."""
    values = _payee_values(name=name, bank=bank, account_number=account_number, branch=branch, uscc=uscc, note=note)
    with transaction.atomic():
        payee = Payee.objects.create(code="", version=1, current=True, **values)
        payee.code = f"P{payee.pk:06d}"
        Payee.objects.filter(pk=payee.pk).update(code=payee.code)
        audit_record(user=user, action="create", obj=payee, summary=f"登记收款方 {payee.name}（{payee.code}）",
                     after=snapshot(payee, PAYEE_FIELDS + ["code", "version"]), reason=reason)
    return payee


def payee_change(*, payee: Payee, user, reason: str, **changes) -> Payee:
    """变更收款方: never in place — the current version is closed and the next version opened with the
    changed values, so lines already paid keep the 户名/账号 they were paid to. Under the current row's
    lock (a conditional update of ``current``), so two clerks cannot both open version n+1. Nothing
    changed writes nothing."""
    if not (reason or "").strip():
        raise RegistryError("请填写变更原因")
    unknown = set(changes) - set(PAYEE_FIELDS)
    if unknown:
        raise RegistryError(f"收款方没有字段 {'、'.join(sorted(unknown))}")
    with transaction.atomic():
        current = Payee.objects.select_for_update().filter(code=payee.code, current=True).first()
        if current is None:  # pragma: no cover - every code keeps one current version
            raise RegistryError(f"收款方 {payee.code} 不存在")
        merged = {f: getattr(current, f) for f in PAYEE_FIELDS}
        merged.update(changes)
        values = _payee_values(**merged)
        before = snapshot(current, PAYEE_FIELDS + ["version"])
        if all(values[f] == getattr(current, f) for f in PAYEE_FIELDS):
            return current
        Payee.objects.filter(pk=current.pk, current=True).update(current=False)
        try:
            with transaction.atomic():
                new = Payee.objects.create(code=current.code, version=current.version + 1, current=True, **values)
        except IntegrityError:  # pragma: no cover - the current row is locked above
            raise RegistryError("收款方刚被其他操作变更，请刷新后重试") from None
        audit_record(user=user, action="update", obj=new,
                     summary=f"变更收款方 {new.name}（{new.code} 第 {new.version} 版）",
                     before=before, after=snapshot(new, PAYEE_FIELDS + ["version"]), reason=reason.strip())
    return new


# --------------------------------------------------------------------------------------------------
# 开户银行 (the banks table)


BANK_FIELDS = ["code", "name", "account_min_length", "account_max_length", "active", "luhn_check", "sort", "notes"]


def bank_save(*, user, code: str, name: str, account_min_length: int, account_max_length: int,
              active: bool = True, sort: int = 0, notes: str = "", reason: str = "", create: bool = False,
              luhn_check: bool | None = None) -> Bank:
    """Add a bank (``create``: refused when the code exists), or change one (found by ``code``, which
    never changes: accounts, payroll lines and bank files store it). The account-number length range is
    6..32 digits, min ≤ max. ``luhn_check``: the bank's rule that its account numbers pass the Luhn check
    (None: unchanged, off for a new bank). Audited; saving the same values again writes nothing."""
    code = (code or "").strip().upper()
    name = (name or "").strip()
    if not re.fullmatch(r"[A-Z][A-Z0-9]{1,9}", code):
        raise RegistryError("银行代码须为 2–10 位大写字母或数字，以字母开头（如 ICBC）")
    if not name:
        raise RegistryError("银行名称不能为空")
    if not (6 <= account_min_length <= account_max_length <= 32):
        raise RegistryError("账号位数范围须在 6–32 之间，且最短不大于最长")
    values = {"name": name, "account_min_length": account_min_length, "account_max_length": account_max_length,
              "active": bool(active), "sort": sort, "notes": (notes or "").strip()[:200]}
    if luhn_check is not None:
        values["luhn_check"] = bool(luhn_check)
    from shebao.registry.selectors import bank_labels_forget

    try:
        with transaction.atomic():
            bank = Bank.objects.select_for_update().filter(code=code).first()
            if bank is not None and create:
                raise RegistryError(f"银行代码 {code} 已存在，请在列表中修改该银行")
            if bank is None:
                bank = Bank.objects.create(code=code, **values)
                audit_record(user=user, action="create", obj=bank, summary=f"新增开户银行 {code} {name}",
                             after=snapshot(bank, BANK_FIELDS), reason=reason)
            else:
                before = snapshot(bank, BANK_FIELDS)
                for k, v in values.items():
                    setattr(bank, k, v)
                after = snapshot(bank, BANK_FIELDS)
                if after == before:
                    return bank
                bank.save()
                audit_record(user=user, action="update", obj=bank, summary=f"修改开户银行 {code} {name}",
                             before=before, after=after, reason=reason)
    except IntegrityError:
        raise RegistryError(f"银行代码 {code} 或名称“{name}”已被其他银行使用") from None
    bank_labels_forget()
    return bank


# --------------------------------------------------------------------------------------------------
# set-based registration from a staging table (a bulk import: tens of thousands of rows)

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _staging_name(table: str) -> str:
    """A staging table's name, checked: it is put into SQL text (never a user's input)."""
    if not _IDENT.fullmatch(table):
        raise ValueError(f"not a staging table name: {table!r}")
    return table


@dataclass
class BulkRegistered:
    """What ``persons_bulk_insert_from`` registered: how many, the range of their ids (they are
    consecutive in one INSERT; None when none), and the temp table holding each new id."""

    count: int
    first_id: int | None
    last_id: int | None
    new_ids_table: str


def persons_bulk_insert_from(*, table: str, user, reason: str, new_ids_table: str = "_registry_new_persons",
                             order_by: str = "line_no") -> BulkRegistered:
    """Register, in one INSERT … SELECT, every person of the staging table ``table`` whose 身份证号 is
    not registered yet. The rows were checked by the caller with this app's own rules
    (``parse_id_number``, ``check_consistent``, ``name_error``, ``name_initials``): columns
    ``id_number, id_number_original, name, name_initials, sex, birth_date, town_id, community_id`` and
    ``order_by`` (the ids follow it). Each new id is put in the temp table ``new_ids_table`` (``id``,
    dropped at commit) for the caller to mark its own rows. ONE audit event for the lot (action
    ``person_bulk_create``: the count, the id range and the reason); the rows carry no per-row event.
    Runs in the caller's transaction (a dry run rolled back leaves nothing)."""
    from django.db import connection

    src, new = _staging_name(table), _staging_name(new_ids_table)
    _staging_name(order_by)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {new}")
        # a temp table, not an id array: a test with = ANY per row of the caller's next step was quadratic
        cursor.execute(f"CREATE TEMP TABLE {new} (id bigint PRIMARY KEY) ON COMMIT DROP")
        cursor.execute(f"""
            WITH ins AS (
                INSERT INTO registry_person (id_number, id_number_original, name, name_initials, sex, birth_date,
                    town_id, community_id, hukou_address, residence_address, mobile, phone, notes, created_at,
                    updated_at)
                SELECT s.id_number, s.id_number_original, s.name, s.name_initials, s.sex, s.birth_date, s.town_id,
                       s.community_id, '', '', '', '', '', now(), now()
                FROM {src} s
                WHERE NOT EXISTS (SELECT 1 FROM registry_person p WHERE p.id_number = s.id_number)
                ORDER BY s.{order_by}
                RETURNING id)
            INSERT INTO {new} SELECT id FROM ins""")
        cursor.execute(f"ANALYZE {new}")
        person_name_keys_fill()  # the sort keys of the names just inserted
        cursor.execute(f"SELECT count(*), min(id), max(id) FROM {new}")
        count, first, last = cursor.fetchone()
        if count:
            audit_record(user=user, action="person_bulk_create", object_type="registry.person",
                         summary=f"批量登记人员 {count:,} 人（id {first}–{last}）", reason=reason,
                         after={"count": count, "first_id": first, "last_id": last})
    return BulkRegistered(count, first if count else None, last if count else None, new)


def bank_accounts_bulk_open_from(*, table: str, user, reason: str) -> int:
    """Open, in one INSERT … SELECT, a current bank account for every person of the staging table
    ``table`` who has none (an existing current account is never replaced: that is
    ``bank_account_set``'s change with its history). Columns ``person_id, bank, account_number,
    holder_name, luhn_warning``, checked by the caller with ``account_number_error`` and
    ``name_error`` against the banks table. Valid from today. ONE audit event for the lot (action
    ``bank_account_bulk_open``). Returns the number opened; in the caller's transaction."""
    from django.db import connection

    src = _staging_name(table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO registry_bankaccount (person_id, bank, branch, account_number, holder_name, valid_from,
                luhn_warning, created_at)
            SELECT s.person_id, s.bank, '', s.account_number, s.holder_name, CURRENT_DATE, s.luhn_warning, now()
            FROM {src} s
            WHERE NOT EXISTS (SELECT 1 FROM registry_bankaccount b WHERE b.person_id = s.person_id
                                                                    AND b.valid_to IS NULL)""")
        count = cursor.rowcount
        if count:
            audit_record(user=user, action="bank_account_bulk_open", object_type="registry.bankaccount",
                         summary=f"批量登记银行账户 {count:,} 个", reason=reason, after={"count": count})
    return count
