"""Reads of the registry, always within the user's region scope."""

from __future__ import annotations

import re
import time

from django.db import connection
from django.db.models import Case, CharField, Func, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Reverse, Upper
from django.http import Http404
from django.utils.translation import gettext, gettext_noop

from shebao.common import policy
from shebao.common.identity import IdNumberError, parse_id_number
from shebao.registry.models import Bank, BankAccount, NameChars, Payee, Person, Region


class SortedAfter(Func):
    """``(column || '')``: the column's own value, which no index is ordered by — an ORDER BY on it makes
    PostgreSQL find the rows first (by the index of the WHERE) and sort them, never walk an index in the
    sort order hoping to meet matching rows soon (its guess for a search's rows can be far off)."""

    template = "(%(expressions)s || '')"
    output_field = CharField()


ID_FRAGMENT = re.compile(r"^[0-9]{3,17}[0-9Xx]?$")
LETTERS = re.compile(r"^[A-Za-z]{1,20}$")


def persons_visible(user) -> QuerySet[Person]:
    """The persons the user may see: everyone for centre staff (全市范围), else their towns only (none for
    an anonymous or inactive user). Which pages may list them at all is the caller's rule
    (``registry.view_person``)."""
    return policy.scope_town(Person.objects.select_related("town", "community"), user)


def person_get(*, user, pk: int) -> Person:
    """One person within the user's scope; out of scope looks the same as missing (404)."""
    person = persons_visible(user).filter(pk=pk).first()
    if person is None:
        raise Http404("人员不存在或不在您的管辖范围内")
    return person


MAX_QUERY = 100  # a 身份证号, a name or initials: far less; longer input finds nobody


def person_search(*, user, q: str, limit: int | None = 50, within: QuerySet | None = None,
                  person: str = "") -> QuerySet:
    """Search by full 身份证号 (15 or 18), its last digits (≥3), name (contains), or the pinyin
    initials of the name ("zsf" finds 张三丰). ``within``: the persons to search among (a list page's
    queryset, its other filters applied) instead of all the user sees — the user's scope is applied to
    it all the same; the conditions go into that query itself (a list filtered by ``pk IN (search)``
    was planned as a scan of every person: 660 ms for ``sy``). ``person``: with ``within`` a queryset of
    another model, the path to its person (``"person"`` for an enrollment): the conditions and the scope
    go on that person, and ``within``'s own order is kept (the list sorts its rows)."""
    q = (q or "").strip()
    if person and within is None:
        raise ValueError("person_search: person= needs within=")
    p = f"{person}__" if person else ""
    qs = persons_visible(user) if within is None else policy.scope_town(within, user, f"{p}town_id")
    if not q or len(q) > MAX_QUERY or not q.isprintable():  # a control character (NUL) or a pasted page
        return qs.none()
    order: tuple = ("name_pinyin", "id")
    if len(q) in (15, 18) and ID_FRAGMENT.match(q):
        try:
            number = parse_id_number(q).number
        except IdNumberError:
            number = q.upper()
        qs = qs.filter(**{f"{p}id_number": number}) | qs.filter(**{f"{p}id_number_original": q})
    elif ID_FRAGMENT.match(q):
        qs = qs.annotate(_rev=Reverse(f"{p}id_number")).filter(_rev__startswith=q.upper()[::-1])
    elif LETTERS.match(q):
        qs = qs.annotate(_ini=Upper(f"{p}name_initials")).filter(_ini__startswith=q.upper())
        # sorted after they are found: "first 50 in pinyin order" let the planner walk the whole pinyin
        # index and test each person's initials (all of S… lie past 39,000 others: 150–650 ms); found by
        # the initials index and sorted, a few ms even for one letter
        order = (SortedAfter("name_pinyin"), "id")
    else:
        # the GIN index on the name's characters finds the candidates, LIKE checks their order
        chars = sorted({ch for ch in q if not ch.isspace()})
        if chars:
            qs = qs.annotate(_chars=NameChars(f"{p}name")).filter(_chars__contains=chars)
        qs = qs.filter(**{f"{p}name__contains": q})
        if not person:  # the exact name first
            qs = qs.annotate(_exact=Case(When(name=q, then=Value(0)), default=Value(1),
                                         output_field=IntegerField()))
            order = ("_exact", *order)
    if person:
        return qs  # ``within``'s own order: the list sorts its rows
    qs = qs.order_by(*order)
    return qs[:limit] if limit else qs


def person_current_account(person: Person) -> BankAccount | None:
    return person.bank_accounts.filter(valid_to__isnull=True).first()


def bank_accounts_current(*, person_ids) -> dict[int, BankAccount]:
    """person id → the person's current account (persons without one are left out)."""
    return {a.person_id: a for a in BankAccount.objects.filter(person_id__in=person_ids, valid_to__isnull=True)}


def bank_account_current_number(person_field: str = "person_id") -> Subquery:
    """The current account number of the person in ``person_field`` of the outer query (an annotation)."""
    current = BankAccount.objects.filter(person_id=OuterRef(person_field), valid_to__isnull=True)
    return Subquery(current.values("account_number")[:1])


def towns() -> QuerySet[Region]:
    return Region.objects.filter(level=Region.Level.TOWN).order_by("sort", "code")


def towns_visible(user) -> QuerySet[Region]:
    return policy.scope_town(towns(), user, "id")


def town_choices(user) -> list[tuple[int, str]]:
    """(id, name) of the 镇街道 the user may see, in ``towns()`` order — the same rows as
    ``towns_visible`` (the scope applied by ``policy.town_ids``), read with one plain statement: a list
    page's town filter asks for it on every view, and building the ORM query cost ten times what
    PostgreSQL took to answer it (issue 17)."""
    ids = policy.town_ids(user)
    if ids is not None and not ids:
        return []
    table = Region._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "id", "name" FROM "{table}" WHERE "level" = %s ORDER BY "sort", "code", "id"',
                       [Region.Level.TOWN.value])
        rows = cursor.fetchall()
    return [(pk, name) for pk, name in rows if ids is None or pk in ids]


def payees_current(*, q: str = "") -> QuerySet[Payee]:
    """The current version of every registered payee (收款方), by code; ``q`` matches the 户名, the
    payee code, the 统一社会信用代码 or the account number (contains). Payees are organisations, not
    persons of a town: every user who may pay them sees them all."""
    qs = Payee.objects.filter(current=True)
    q = (q or "").strip()
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(name__contains=q) | Q(code__iexact=q) | Q(uscc__iexact=q) | Q(account_number__contains=q))
    return qs.order_by("code")


def payees_current_of(*, payee_ids) -> dict[int, Payee | None]:
    """payee version id → the current version of the same payee (a re-issue pays the corrected account)."""
    codes = dict(Payee.objects.filter(pk__in=payee_ids).values_list("pk", "code"))
    current = {p.code: p for p in Payee.objects.filter(code__in=codes.values(), current=True)}
    return {pk: current.get(code) for pk, code in codes.items()}


def payee_versions(*, code: str) -> QuerySet[Payee]:
    """Every version of a payee, newest first (the history of its 户名/开户行/账号)."""
    return Payee.objects.filter(code=code).order_by("-version")


# --------------------------------------------------------------------------------------------------
# 开户银行 (the banks table)

# The seeded banks' names stay messages of the catalogue, so the English pages keep their English names;
# a bank added later shows its name as entered (``gettext`` of an unknown message is the message).
SEEDED_BANK_NAMES = (gettext_noop("中国工商银行"), gettext_noop("中国农业银行"), gettext_noop("中国银行"),
                     gettext_noop("中国建设银行"), gettext_noop("交通银行"), gettext_noop("中国邮政储蓄银行"),
                     gettext_noop("宁波银行"), gettext_noop("慈溪农商银行"))

_LABELS_TTL = 30.0  # seconds a process keeps the code → name map (a rename shows everywhere within it)
_labels_cache: tuple[float, dict[str, str]] | None = None


def bank_labels() -> dict[str, str]:
    """Every bank's code → name (in the page's language), inactive ones too (old accounts and files
    still name them). The table is kept for a few seconds per process: list pages call it per cell;
    ``bank_labels_forget`` drops it at once."""
    global _labels_cache
    now = time.monotonic()
    if _labels_cache is None or now - _labels_cache[0] > _LABELS_TTL:
        _labels_cache = (now, dict(Bank.objects.order_by("sort", "code").values_list("code", "name")))
    return {code: gettext(name) for code, name in _labels_cache[1].items()}


def bank_labels_forget() -> None:
    global _labels_cache
    _labels_cache = None


def bank_label(code: str) -> str:
    return bank_labels().get(code, code) if code else ""


def bank_choices(request=None, *, include_inactive: bool = False) -> list[tuple[str, str]]:
    """(code, name) of the banks offered for new accounts (the active ones), in the table's order;
    usable as a table filter's or column's ``choices`` callable."""
    qs = Bank.objects.order_by("sort", "code")
    if not include_inactive:
        qs = qs.filter(active=True)
    return [(code, gettext(name)) for code, name in qs.values_list("code", "name")]


def bank_codes(*, active_only: bool = True) -> list[str]:
    return [code for code, _ in bank_choices(include_inactive=not active_only)]


def bank_rules() -> dict[str, tuple[int, int, str, bool]]:
    """code → (shortest, longest account number in digits, name, active) of every bank in the table:
    the rule every account and payee number is checked by (``registry.services.account_number_check``)."""
    return {code: (lo, hi, gettext(name), active) for code, lo, hi, name, active in
            Bank.objects.values_list("code", "account_min_length", "account_max_length", "name", "active")}


def bank_account_length_problem(*, bank: str, number: str) -> str | None:
    """The bank's account-number length rule (``Bank.account_min_length``..``account_max_length``
    digits): a message when ``number`` is outside it, None when it fits or the bank is unknown."""
    row = Bank.objects.filter(code=bank).values_list("name", "account_min_length", "account_max_length").first()
    if row is None:
        return None
    name, lo, hi = row
    if lo <= len(number) <= hi:
        return None
    want = f"{lo} 位" if lo == hi else f"{lo}–{hi} 位"
    return f"{name}的账号应为 {want}，现为 {len(number)} 位"
