"""Test helpers for the web shell: users with roles and scope, valid 身份证号, persons."""

from __future__ import annotations

import datetime as dt
import itertools

from shebao.accounts.services import user_create
from shebao.common.identity import check_char
from shebao.registry.models import Region

PASSWORD = "Passw0rd!x"
_seq = itertools.count(101)


def make_user(username: str, *, roles=("clerk",), towns=(), all_regions=False, sensitive=False, perms=()):
    from django.contrib.auth.models import Permission

    user = user_create(
        actor=None, username=username, full_name=username.upper(), password=PASSWORD, roles=list(roles),
        region_ids=[Region.objects.get(name=t, level="town").pk for t in towns], all_regions=all_regions,
        must_change_password=False, sensitive=sensitive,
    )
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def id_number(born: dt.date = dt.date(1950, 1, 1), *, male: bool = True, area: str = "330282",
              seq: int | None = None) -> str:
    n = next(_seq) if seq is None else seq
    sequence = (n * 2 + (1 if male else 0)) % 1000
    first17 = f"{area}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def town(name: str) -> Region:
    return Region.objects.get(name=name, level="town")


def make_person(name: str = "张三丰", *, town_name: str = "浒山街道", number: str | None = None, **kw):
    from shebao.registry.services import person_create

    return person_create(user=None, id_number=number or id_number(), name=name, town=town(town_name), **kw)
