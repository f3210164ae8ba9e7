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


def post_twice_in_parallel(user, url: str, data: dict) -> list[str]:
    """POST the same form (one one-time token) from two clients signed in as ``user``, in two threads
    released together; the two final pages' HTML (redirects followed). For ``transaction=True`` tests:
    each thread has its own database connection and sees what the test committed."""
    import threading

    from django.db import connection
    from django.test import Client

    from shebao.common.once import FIELD, new_token

    payload = {**data, FIELD: new_token()}
    clients = []
    for _ in range(2):
        client = Client()
        client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
        clients.append(client)
    barrier = threading.Barrier(2)
    pages: list = [None, None]
    errors: list = []

    def post(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            response = clients[i].post(url, payload, follow=True)
            pages[i] = f"{response.status_code}\n" + response.content.decode()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return pages
