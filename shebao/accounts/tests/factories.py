"""Test helpers shared by the accounts and API tests: users with roles and scope, persons, clients."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.test import Client

from shebao.accounts.services import user_create
from shebao.common.identity import check_char
from shebao.registry.models import Region
from shebao.registry.services import person_create

PASSWORD = "Passw0rd!x"
_seq = itertools.count(1)


def town(name: str = "浒山街道") -> Region:
    return Region.objects.get(name=name, level=Region.Level.TOWN)


def id_number(birth: dt.date = dt.date(1950, 1, 1), seq: str = "123", area: str = "330282") -> str:
    first17 = f"{area}{birth:%Y%m%d}{seq}"
    return first17 + check_char(first17)


def make_user(username: str | None = None, *, roles=("clerk",), towns=(), all_regions=False, sensitive=False,
              must_change_password=False, perms=(), **kw):
    """A user made as the admin pages make one (``user_create``: roles as groups, town scope, password
    ``PASSWORD``), plus any extra permissions given as ``app_label.codename``."""
    from django.contrib.auth.models import Permission

    username = username or f"user{next(_seq)}"
    user = user_create(
        actor=None, username=username, full_name=kw.pop("full_name", f"测试{username}"), password=PASSWORD,
        roles=list(roles), region_ids=[town(t).pk for t in towns], all_regions=all_regions,
        must_change_password=must_change_password, sensitive=sensitive, **kw,
    )
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def make_person(number: str | None = None, *, name: str = "张三", town_name: str = "浒山街道", **details):
    if number is None:
        n = next(_seq)
        number = id_number(dt.date(1950, 1, 1) + dt.timedelta(days=n), seq=f"{n % 1000:03d}")
    return person_create(user=None, id_number=number, name=name, town=town(town_name), **details)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    return client


@pytest.fixture
def clerk_hushan(db):
    return make_user("clerk_hs", towns=["浒山街道"])


@pytest.fixture
def clerk_all(db):
    return make_user("clerk_all", all_regions=True)


@pytest.fixture
def clerk_sensitive(db):
    return make_user("clerk_sens", all_regions=True, sensitive=True)
