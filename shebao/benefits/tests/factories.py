"""Test data for benefits and payroll: persons with valid 身份证号, users with roles, enrollments."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import Permission

from shebao.accounts.models import User
from shebao.benefits.models import Scheme
from shebao.benefits.services import enrollment_create
from shebao.registry.models import Person, Region
from shebao.registry.services import bank_account_set, name_initials
from shebao.registry.tests import factories as registry_factories


def id_number(birth: dt.date, *, male: bool = True) -> str:
    return registry_factories.id_number(birth, male=male)


def make_user(username: str, *, reviewer: bool = False, perms=()) -> User:
    """``perms``: extra permissions as ``app_label.codename`` (e.g. what a command's ``--as`` needs)."""
    # no password: Argon2 hashing is slow and these users never log in
    user = User.objects.create(username=username, password="!", all_regions=True, must_change_password=False)
    if reviewer:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="accounts", codename="review"))
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    if reviewer or perms:
        user = User.objects.get(pk=user.pk)  # drop the permission cache
    return user


def make_person(name: str = "张三", *, birth: dt.date = dt.date(1950, 5, 1), account: str | None = "6222021234567890",
                user=None) -> Person:
    town = Region.objects.filter(level="town").order_by("id").first()
    person = Person.objects.create(id_number=id_number(birth), name=name, name_initials=name_initials(name), sex="M",
                                   birth_date=birth, town=town)
    if account:
        bank_account_set(user=user, person=person, bank="ICBC", account_number=account, holder_name=name,
                         valid_from=dt.date(2020, 1, 1))
    return person


def zg() -> Scheme:
    return Scheme.objects.get(code="ZG")


def enroll(person: Person, *, user, start="2025-01", items=None, service_years=0):
    return enrollment_create(person=person, scheme=zg(), start_month=start, user=user, service_years=service_years,
                             items=items if items is not None else {"basic": "2000.00", "extra": "150.00"})
