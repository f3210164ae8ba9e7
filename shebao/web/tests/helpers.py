"""Test helpers for the web shell: users with roles and scope, valid 身份证号, persons — the shared
factories (``shebao.accounts.tests.factories``, ``shebao.registry.tests.factories``) with the defaults
these tests read (a user's display name is the username in capitals)."""

from __future__ import annotations

from shebao.accounts.tests import factories as account_factories
from shebao.accounts.tests.factories import PASSWORD, town  # noqa: F401 - re-exported for the web tests
from shebao.registry.tests.factories import id_number


def make_user(username: str, *, roles=("clerk",), towns=(), all_regions=False, sensitive=False, perms=()):
    return account_factories.make_user(username, full_name=username.upper(), roles=roles, towns=towns,
                                       all_regions=all_regions, sensitive=sensitive, perms=perms)


def make_person(name: str = "张三丰", *, town_name: str = "浒山街道", number: str | None = None, **kw):
    from shebao.registry.services import person_create

    return person_create(user=None, id_number=number or id_number(), name=name, town=town(town_name), **kw)


def once(data: dict | None = None) -> dict:
    """POST data with a fresh one-time form token (``shebao.common.once``), as a rendered form carries."""
    from shebao.common.once import FIELD, new_token

    return {**(data or {}), FIELD: new_token()}
