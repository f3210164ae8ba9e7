"""The one policy layer: who may do what, and how far it reaches.

Every entry point asks here — pages (``shebao.web.guards.page``), API routes
(``shebao.api.permissions.require``), commands (``shebao.accounts.cli.acting_user(name, rule)``) and
jobs (the rule a job kind is registered with, checked again when the worker runs it). Nothing else
decides access.

A decision has four parts:

- **permission**: a Django permission (``"payroll.compute_run"``) held through a role
  (``shebao.accounts.roles.ROLE_PERMISSIONS``); a rule may accept any of several;
- **scheme scope**: ``User.all_schemes``, or the scheme's code in ``User.schemes``;
- **town scope**: ``User.all_regions``, or the person's 镇街道 in ``User.regions``. Objects tied to a
  person are filtered by their person's town (``scope_town``); an object out of scope looks missing
  (404). A 村社区 in ``User.regions`` (a 社区专管员, assigned by ``shebao.certification``) narrows its
  town to that community: lists and lookups through ``scope_town``/``scope_town_q`` on a
  ``…town_id`` field keep only persons of the whole towns held or of the communities held. A check
  of one object (``person_allowed``, ``town_allowed(user, town_id, community_id)``,
  ``denial(check_town=True, town_id=…, community_id=…)``) knows communities the same way: a town held
  only through a community passes only for an object of that community (without a community id it
  does not pass), so a 社区专管员 is refused another community's person like a clerk another town's.
  Acts over a whole run or file that spans towns (approve, export, return import) are
  county-wide: ``Rule(county=True)`` needs 全市范围;
- **sensitive right**: ``accounts.view_sensitive`` decides masking (``sees_sensitive``).

Superusers pass every check. An inactive or anonymous user passes none."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

SENSITIVE = "accounts.view_sensitive"

NO_RIGHT = "您没有此功能的权限"
NO_SCHEME = "您没有{scheme}险种的权限"
NO_COUNTY = "此操作涉及全市数据，须由全市范围的用户办理"
NO_TOWN = "该人员不在您的管辖范围内"


class Denied(PermissionDenied):
    """Access refused; ``str()`` is the Chinese message shown to the user (403 on pages and API,
    a CommandError on the command line, a failed job)."""

    def __init__(self, message: str = NO_RIGHT):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Rule:
    """What an entry point requires. ``perms``: any one of them (empty with ``login`` = any signed-in
    user); ``scheme``: the fixed scheme the entry belongs to (a scheme chosen per request is checked with
    ``check(..., scheme=code)``); ``county``: needs 全市范围; ``public``: no sign-in at all (login page).
    ``note`` says in words why, for the authorization matrix and the README."""

    perms: tuple[str, ...] = ()
    scheme: str | None = None
    county: bool = False
    public: bool = False
    login: bool = False
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not (self.perms or self.public or self.login):
            raise ValueError("a Rule names a permission, or says public=True or login=True")


def rule(*perms: str, scheme: str | None = None, county: bool = False, note: str = "") -> Rule:
    """``rule("payroll.compute_run", scheme="ZG")`` — any one of ``perms``."""
    return Rule(perms=tuple(perms), scheme=scheme, county=county, note=note)


PUBLIC = Rule(public=True, note="登录前可用")
SIGNED_IN = Rule(login=True, note="任何已登录用户")
# A command that takes no --as: whoever runs it has the server's shell (setup, demo, audit verify, user
# administration at installation). Such a command writes its operator into the audit as the OS user.
CONSOLE = Rule(public=True, note="服务器操作员（命令行，无 --as）")


def _active(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def has_perm(user, perm: str) -> bool:
    return _active(user) and (user.is_superuser or user.has_perm(perm))


def has_any(user, perms: Iterable[str]) -> bool:
    return any(has_perm(user, p) for p in perms)


def sees_sensitive(user) -> bool:
    """Full 身份证号, account numbers and addresses instead of masked ones."""
    return has_perm(user, SENSITIVE)


def county_wide(user) -> bool:
    return _active(user) and (user.is_superuser or user.all_regions)


def schemes_of(user) -> frozenset[str] | None:
    """The scheme codes the user may work in; None = every scheme."""
    if not _active(user):
        return frozenset()
    if user.is_superuser or user.all_schemes:
        return None
    return frozenset(user.schemes or ())


def scheme_allowed(user, scheme: str | None) -> bool:
    if scheme is None:
        return _active(user)
    codes = schemes_of(user)
    return codes is None or scheme in codes


def _region_scope(user) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
    """(towns held whole, communities held, their towns) of a user limited to regions; one query,
    cached on the user object for the request (a user's regions change only through user management)."""
    cached = getattr(user, "_policy_region_scope", None)
    if cached is None:
        rows = list(user.regions.values_list("id", "level", "parent_id"))
        whole = frozenset(i for i, level, _ in rows if level != "community")
        communities = frozenset(i for i, level, _ in rows if level == "community")
        parents = frozenset(p for _, level, p in rows if level == "community" and p is not None)
        cached = (whole, communities, parents)
        user._policy_region_scope = cached
    return cached


def town_ids(user) -> frozenset[int] | None:
    """The ids of the 镇街道 the user may see (whole, or a community of it); None = the whole county."""
    if not _active(user):
        return frozenset()
    if user.is_superuser or user.all_regions:
        return None
    whole, _, parents = _region_scope(user)
    return whole | parents


def region_scope(user) -> tuple[frozenset[int], frozenset[int]] | None:
    """(towns held whole, 村社区 held) of a user limited to regions; None = the whole county."""
    if town_ids(user) is None:
        return None
    if not _active(user):
        return frozenset(), frozenset()
    whole, communities, _ = _region_scope(user)
    return whole, communities


def community_ids(user) -> frozenset[int] | None:
    """The 村社区 a community-scoped user holds (empty when none: only whole towns); None = county."""
    ids = town_ids(user)
    if ids is None:
        return None
    if not _active(user):
        return frozenset()
    return _region_scope(user)[1]


def town_allowed(user, town_id: int | None, community_id: int | None = None) -> bool:
    """Whether one object of ``town_id`` (and, for a person, their 村社区 ``community_id``) is in the
    user's scope: a town held whole, or a community held (a town reached only through a community held
    passes only with that community's id) — the single-object form of ``scope_town``."""
    ids = town_ids(user)
    if ids is None:
        return True
    if not ids:
        return False
    whole, communities, _ = _region_scope(user)
    return (town_id is not None and town_id in whole) or (community_id is not None and community_id in communities)


def person_allowed(user, person) -> bool:
    """Whether ``person`` (anything with ``town_id`` and ``community_id``) is in the user's scope."""
    return town_allowed(user, person.town_id, getattr(person, "community_id", None))


def denial(user, rule: Rule, *, scheme: str | None = None, town_id: int | None = None,
           community_id: int | None = None, check_town: bool = False) -> str | None:
    """The Chinese reason ``user`` may not pass ``rule`` (None when they may). ``scheme`` is the
    scheme this request works in when the entry is not tied to one; ``check_town`` with ``town_id``
    (and ``community_id``: the person's 村社区) checks one person's scope (``town_allowed``)."""
    if rule.public:
        return None
    if not _active(user):
        return NO_RIGHT
    if rule.perms and not has_any(user, rule.perms):
        return NO_RIGHT
    for code in {c for c in (rule.scheme, scheme) if c}:
        if not scheme_allowed(user, code):
            return NO_SCHEME.format(scheme=code)
    if rule.county and not county_wide(user):
        return NO_COUNTY
    if check_town and not town_allowed(user, town_id, community_id):
        return NO_TOWN
    return None


def allows(user, rule: Rule, **kwargs) -> bool:
    return denial(user, rule, **kwargs) is None


def check(user, rule: Rule | str, **kwargs) -> None:
    """Raise ``Denied`` (with the reason) unless ``user`` passes ``rule`` (a Rule or one permission)."""
    if isinstance(rule, str):
        rule = Rule(perms=(rule,))
    reason = denial(user, rule, **kwargs)
    if reason is not None:
        raise Denied(reason)


def _community_field(field: str) -> str | None:
    return field[: -len("town_id")] + "community_id" if field.endswith("town_id") else None


def scope_town(qs: QuerySet, user, field: str = "town_id") -> QuerySet:
    """``qs`` limited to the user's towns; ``field`` leads to the town id (``"person__town_id"``). A
    community held (社区专管员) narrows its town to the community (the ``…community_id`` next to it)."""
    ids = town_ids(user)
    if ids is None:
        return qs
    if not ids:
        return qs.none()
    return qs.filter(scope_town_q(user, field))


def scope_scheme(qs: QuerySet, user, field: str = "scheme__code") -> QuerySet:
    """``qs`` limited to the user's schemes; ``field`` leads to the scheme code."""
    codes = schemes_of(user)
    if codes is None:
        return qs
    return qs.filter(**{f"{field}__in": codes}) if codes else qs.none()


def scope_town_q(user, field: str = "town_id") -> Q:
    """The same limit as a ``Q`` (for a filter inside ``Exists``/annotations); an always-true Q for
    county-wide users."""
    ids = town_ids(user)
    if ids is None:
        return Q()
    if not ids:
        return Q(pk__in=[])
    whole, communities, _ = _region_scope(user)
    cfield = _community_field(field)
    if communities and cfield:
        return Q(**{f"{field}__in": whole}) | Q(**{f"{cfield}__in": communities})
    return Q(**{f"{field}__in": ids})
