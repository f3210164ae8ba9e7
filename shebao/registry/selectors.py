"""Reads of the registry, always within the user's region scope."""

from __future__ import annotations

import re

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.functions import Reverse, Upper
from django.http import Http404

from shebao.common import policy
from shebao.common.identity import IdNumberError, parse_id_number
from shebao.registry.models import BankAccount, Payee, Person, Region

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


def person_search(*, user, q: str, limit: int | None = 50) -> QuerySet[Person]:
    """Search by full 身份证号 (15 or 18), its last digits (≥3), name (contains), or the pinyin
    initials of the name ("zsf" finds 张三丰)."""
    q = (q or "").strip()
    qs = persons_visible(user)
    if not q:
        return qs.none()
    if len(q) in (15, 18) and ID_FRAGMENT.match(q):
        try:
            number = parse_id_number(q).number
        except IdNumberError:
            number = q.upper()
        qs = qs.filter(id_number=number) | qs.filter(id_number_original=q)
    elif ID_FRAGMENT.match(q):
        qs = qs.annotate(_rev=Reverse("id_number")).filter(_rev__startswith=q.upper()[::-1])
    elif LETTERS.match(q):
        qs = qs.annotate(_ini=Upper("name_initials")).filter(_ini__startswith=q.upper())
    else:
        qs = qs.filter(name__contains=q).annotate(
            _exact=Case(When(name=q, then=Value(0)), default=Value(1), output_field=IntegerField())
        ).order_by("_exact", "name", "id")
        return qs[:limit] if limit else qs
    qs = qs.order_by("name", "id")
    return qs[:limit] if limit else qs


def person_current_account(person: Person) -> BankAccount | None:
    return person.bank_accounts.filter(valid_to__isnull=True).first()


def towns() -> QuerySet[Region]:
    return Region.objects.filter(level=Region.Level.TOWN).order_by("sort", "code")


def towns_visible(user) -> QuerySet[Region]:
    return policy.scope_town(towns(), user, "id")


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


def payee_versions(*, code: str) -> QuerySet[Payee]:
    """Every version of a payee, newest first (the history of its 户名/开户行/账号)."""
    return Payee.objects.filter(code=code).order_by("-version")
