"""Writes to the registry. Every change is audited in the same transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from pypinyin import Style, lazy_pinyin

from shebao.common.audit import audit_record, diff, snapshot
from shebao.common.identity import (
    IdNumberError,
    account_number_warnings,
    check_consistent,
    normalize_account_number,
    parse_id_number,
)
from shebao.registry.models import BankAccount, Person, Region

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
    name = (name or "").strip()
    if not name:
        raise RegistryError("姓名不能为空")
    _check_region(town, community)
    _check_scope(user, town)
    unknown = set(details) - set(EDITABLE_FIELDS)
    if unknown:
        raise RegistryError(f"未知字段：{', '.join(sorted(unknown))}")
    person = Person(
        id_number=idn.number, id_number_original=idn.original, name=name, name_initials=name_initials(name),
        sex=idn.sex, birth_date=idn.birth_date, town=town, community=community, **details,
    )
    try:
        with transaction.atomic():
            person.save(force_insert=True)
            audit_record(user=user, action="create", obj=person, person_id=person.pk,
                         summary=f"新增人员 {name}", after=snapshot(person, PERSON_FIELDS), reason=reason)
    except IntegrityError:
        raise RegistryError(f"身份证号 {idn.number} 已登记") from None
    return person


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
        if not person.name:
            raise RegistryError("姓名不能为空")
        person.name_initials = name_initials(person.name)
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
    ``valid_from`` (history kept). A Luhn failure is only a warning."""
    number = normalize_account_number(account_number)
    if not number:
        raise RegistryError("银行账号不能为空")
    if not holder_name.strip():
        raise RegistryError("户名不能为空")
    valid_from = valid_from or dt.date.today()
    warnings = account_number_warnings(number)
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        current = BankAccount.objects.filter(person=person, valid_to__isnull=True).first()
        before = snapshot(current) if current else None
        if current:
            if current.valid_from > valid_from:
                raise RegistryError(f"启用日期不能早于现有账户的启用日期 {current.valid_from:%Y-%m-%d}")
            current.valid_to = max(current.valid_from, valid_from - dt.timedelta(days=1))
            current.save(update_fields=["valid_to"])
        account = BankAccount.objects.create(
            person=person, bank=bank, branch=branch.strip(), account_number=number,
            holder_name=holder_name.strip(), valid_from=valid_from, luhn_warning=bool(warnings),
        )
        audit_record(user=user, action="update" if current else "create", obj=account, person_id=person.pk,
                     summary=f"{'变更' if current else '登记'}支付账户 {person.name}", before=before,
                     after=snapshot(account), reason=reason)
    return AccountChange(account, warnings)
