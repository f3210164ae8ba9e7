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


def post_at_once(user, url: str, data: dict, *, follow: bool = False) -> list:
    """POST ``data`` as it is to ``url`` from two sessions of ``user`` in two threads released together;
    the two responses. For ``transaction=True`` tests: each thread has its own database connection and
    sees what the test committed."""
    import threading

    from django.db import connections
    from django.test import Client

    clients = []
    for _ in range(2):
        client = Client()
        client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
        clients.append(client)
    barrier = threading.Barrier(2)
    responses: list = [None, None]
    errors: list = []

    def post(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            responses[i] = clients[i].post(url, data, follow=follow)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return responses


def post_twice_in_parallel(user, url: str, data: dict) -> list[str]:
    """The same form (one fresh one-time token) posted twice at once (``post_at_once``), redirects
    followed; the two final pages as "status\\nHTML"."""
    from shebao.common.once import FIELD, new_token

    responses = post_at_once(user, url, {**data, FIELD: new_token()}, follow=True)
    return [f"{r.status_code}\n" + r.content.decode() for r in responses]


def post_twice_in_turn(user, url: str, data: dict) -> list[str]:
    """The same form (one fresh one-time token) posted twice, the second after the first has finished —
    the slow double click, and the order the parallel race ends in when the first commits before the
    second is read; the two final pages as "status\nHTML". The second must be told it was a repeat,
    not refused by a check that the first submit's own write now trips."""
    from django.test import Client

    from shebao.common.once import FIELD, new_token

    client = Client()
    client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    data = {**data, FIELD: new_token()}
    pages = []
    for _ in range(2):
        r = client.post(url, data, follow=True)
        pages.append(f"{r.status_code}\n" + r.content.decode())
    return pages

