"""The authorization matrix: every page, API route, command and job × every kind of identity.

Each area of the system keeps its rows in ``tests/authz/test_matrix_<area>.py`` as a list ``ROWS`` of
``Entry``; ``test_completeness.py`` fails when the URL conf, the OpenAPI document, the command list or
the job registry has an entry that no row decides. Every row states, in the test's own words, the rule
it expects (permission, scheme, county-wide); the expected outcome for each identity is worked out here
from the identity's declared roles and scope and the role table (``ROLE_PERMISSIONS``) — not by asking
the policy code under test — and then a real request (or command, or job) must give it.

Outcomes: ``login`` (anonymous on a page → the login page; on the API → 401), ``denied`` (403, or 404
for an object outside the identity's towns — out of scope looks missing), ``ok`` (anything else below
500). A 5xx is always a failure. An ``ok`` page or API answer to an identity without 查看敏感信息
must not show any full 身份证号 or current account number of the test database (``leaked``), unless the
row says ``full_numbers=True`` (the bank file download, which has its own permission).

The identities (all but the town/scheme ones are county-wide and see every scheme):
- ``anonymous``; ``noroles`` (signed in, no role);
- ``clerk``, ``clerk_sensitive`` (with 查看敏感信息), ``reviewer``, ``finance``, ``it_admin``, ``sys_admin``;
- ``town_clerk`` and ``town_reviewer``: 浒山街道 only — every object a row names belongs to a person of
  附海镇 (``World.foreign_*``) unless the row says ``home=True``;
- ``nb_clerk``: a clerk whose schemes are NB only; ``zg_clerk``: ZG only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from shebao.accounts.roles import ROLE_PERMISSIONS
from shebao.common.policy import Rule

HOME_TOWN = "浒山街道"
FOREIGN_TOWN = "附海镇"


@dataclass(frozen=True)
class Identity:
    name: str
    roles: tuple[str, ...] = ()
    towns: tuple[str, ...] = ()  # empty = the whole county
    schemes: tuple[str, ...] = ()  # empty = every scheme
    sensitive: bool = False
    anonymous: bool = False

    def perms(self) -> set[str]:
        held = {p for role in self.roles for p in ROLE_PERMISSIONS.get(role, [])}
        if self.sensitive:
            held.add("accounts.view_sensitive")
        return held


IDENTITIES: list[Identity] = [
    Identity("anonymous", anonymous=True),
    Identity("noroles"),
    Identity("clerk", roles=("clerk",)),
    Identity("clerk_sensitive", roles=("clerk",), sensitive=True),
    Identity("reviewer", roles=("reviewer",)),
    Identity("finance", roles=("finance",)),
    Identity("it_admin", roles=("it_admin",)),
    Identity("sys_admin", roles=("sys_admin",)),
    Identity("town_clerk", roles=("clerk",), towns=(HOME_TOWN,)),
    Identity("town_reviewer", roles=("reviewer",), towns=(HOME_TOWN,)),
    Identity("nb_clerk", roles=("clerk",), schemes=("NB",)),
    Identity("zg_clerk", roles=("clerk",), schemes=("ZG",)),
]
BY_NAME = {i.name: i for i in IDENTITIES}


@dataclass
class Entry:
    """One entry point and the rule the test expects of it.

    ``name``: a URL name (``"payroll:run_detail"``), an API operation as ``"api METHOD path"`` with the
    path as the OpenAPI document writes it (``"api GET /api/v1/persons/{person_id}"``) or a command
    (``"payroll compute"``). ``args(world)`` gives the URL kwargs (pages, API) or the argv after
    the command name (commands). ``town_scoped``: the object the entry names belongs to one person's
    town (the foreign town unless ``home``), so town identities are denied. ``data(world)``: the POST
    body / JSON. ``allowed_status``: the statuses counted as ok besides 2xx/3xx (e.g. 400 for a form
    error after the check passed)."""

    name: str
    rule: Rule
    args: Callable[[Any], Any] | None = None
    method: str = "GET"
    data: Callable[[Any], Any] | None = None
    query: dict = field(default_factory=dict)
    town_scoped: bool = False
    home: bool = False
    scheme: str | None = None  # the scheme the request works in (if not the rule's own)
    allowed_status: tuple[int, ...] = ()
    full_numbers: bool = False  # the answer may carry full 身份证号/账号 (a bank file download)
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.name}"


def expected(identity: Identity, entry: Entry) -> str:
    """``login``, ``denied`` or ``ok`` for this identity, worked out from its declared roles and scope."""
    rule = entry.rule
    if rule.public:
        return "ok"
    if identity.anonymous:
        return "login"
    if rule.perms and not (set(rule.perms) & identity.perms()):
        return "denied"
    for code in {c for c in (rule.scheme, entry.scheme) if c}:
        if identity.schemes and code not in identity.schemes:
            return "denied"
    if rule.county and identity.towns:
        return "denied"
    if entry.town_scoped and identity.towns and not entry.home:
        return "denied"
    return "ok"


def classify_page(response) -> str:
    code = response.status_code
    if code >= 500:
        return f"error {code}"
    if code == 302 and "/accounts/login/" in response.get("Location", ""):
        return "login"
    if code in (401,):
        return "login"
    if code in (403, 404):
        return "denied"
    return "ok"


def client_for(users: dict, identity: Identity) -> Client:
    client = Client(raise_request_exception=False)
    if not identity.anonymous:
        client.force_login(users[identity.name], backend="shebao.accounts.backends.LockoutModelBackend")
    return client


def make_identities() -> dict:
    """The users behind ``IDENTITIES`` (by name; anonymous has none). Passwords need no change."""
    from shebao.accounts.models import User
    from shebao.accounts.tests.factories import make_user

    users = {}
    for ident in IDENTITIES:
        if ident.anonymous:
            continue
        user = make_user(f"mx_{ident.name}", roles=ident.roles, towns=ident.towns, all_regions=not ident.towns,
                         sensitive=ident.sensitive)
        if ident.schemes:
            User.objects.filter(pk=user.pk).update(all_schemes=False, schemes=list(ident.schemes))
        users[ident.name] = User.objects.get(pk=user.pk)
    return users


def full_numbers() -> set[str]:
    """Every full 身份证号 and current account number in the test database (the world's persons): what a
    user without 查看敏感信息 must never be shown."""
    from shebao.registry.models import BankAccount, Person

    numbers = set(Person.objects.values_list("id_number", flat=True))
    numbers |= set(BankAccount.objects.filter(valid_to__isnull=True).values_list("account_number", flat=True))
    return {n for n in numbers if n and len(n) >= 12}


def leaked(ident: Identity, entry: Entry, response, numbers: set[str], sent: str = "") -> str | None:
    """The full number an ``ok`` page or API answer shows to an identity without 查看敏感信息 (None when
    it shows none) — other than one the request itself sent (``sent``: a form echoing what the user
    typed shows them nothing new). Pages and JSON only: a bank file download carries full numbers by
    design (its own permission), and xlsx exports are checked by their own tests (compressed text)."""
    if "accounts.view_sensitive" in ident.perms() or entry.full_numbers:
        return None
    ctype = response.get("Content-Type", "")
    if not (ctype.startswith("text/html") or ctype.startswith("application/json")):
        return None
    if getattr(response, "streaming", False):
        return None
    body = response.content.decode("utf-8", "replace")
    return next((n for n in sorted(numbers) if n in body and n not in sent), None)


def run_page_row(entry: Entry, world, users: dict, identities=IDENTITIES) -> list[str]:
    """Request ``entry`` as every identity; the list of mismatches (empty when the matrix holds)."""
    from django.urls import reverse

    problems = []
    kwargs = entry.args(world) if entry.args else {}
    url = reverse(entry.name, kwargs=kwargs)
    numbers = full_numbers()
    for ident in identities:
        client = client_for(users, ident)
        sent = repr(entry.query)
        if entry.method == "GET":
            response = client.get(url, entry.query)
        else:
            data = entry.data(world) if entry.data else {}
            sent += repr(data)
            response = client.post(url, data)
        got = classify_page(response)
        if got == "ok" and response.status_code >= 400 and response.status_code not in entry.allowed_status:
            got = f"status {response.status_code}"
        want = expected(ident, entry)
        if got != want:
            problems.append(f"{entry.id} as {ident.name}: expected {want}, got {got}")
        elif got == "ok" and (number := leaked(ident, entry, response, numbers, sent)):
            problems.append(f"{entry.id} as {ident.name}: shows the full number {number} without 查看敏感信息")
    return problems


def run_api_row(entry: Entry, world, users: dict, identities=IDENTITIES) -> list[str]:
    """``run_page_row`` for an API operation: ``entry.name`` is ``"api METHOD /api/v1/…/{param}"`` as
    the OpenAPI document writes it, its ``{param}`` parts filled from ``entry.args(world)``. Each
    identity uses its session (anonymous: 401 → ``login``); ``entry.data(world)`` is called for each
    request and sent as JSON, or as multipart when one of its values is a file."""
    import json

    _api, method, template = entry.name.split(" ", 2)
    path = template.format(**(entry.args(world) if entry.args else {}))
    problems = []
    numbers = full_numbers()
    for ident in identities:
        client = client_for(users, ident)
        if method == "GET":
            response = client.get(path, entry.query)
        else:
            data = entry.data(world) if entry.data else {}
            if isinstance(data, dict) and any(hasattr(v, "read") for v in data.values()):
                response = client.post(path, data)
            else:
                response = client.generic(method, path, json.dumps(data), content_type="application/json")
        got = classify_page(response)
        if got == "ok" and response.status_code >= 400 and response.status_code not in entry.allowed_status:
            got = f"status {response.status_code}"
        want = expected(ident, entry)
        if got != want:
            problems.append(f"{entry.id} as {ident.name}: expected {want}, got {got} ({response.content[:200]!r})")
        elif got == "ok" and (number := leaked(ident, entry, response, numbers)):
            problems.append(f"{entry.id} as {ident.name}: shows the full number {number} without 查看敏感信息")
    return problems
