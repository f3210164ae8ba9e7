"""Reads of the registry, always within the user's region scope."""

from __future__ import annotations

import re

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.functions import Reverse, Upper
from django.http import Http404

from shebao.common.identity import IdNumberError, parse_id_number
from shebao.registry.models import BankAccount, Person, Region

ID_FRAGMENT = re.compile(r"^[0-9]{3,17}[0-9Xx]?$")
LETTERS = re.compile(r"^[A-Za-z]{1,20}$")


def persons_visible(user) -> QuerySet[Person]:
    """The persons the user may see: everyone for centre staff (全市范围), else their towns only."""
    qs = Person.objects.select_related("town", "community")
    if not user.is_authenticated:
        return qs.none()
    if user.all_regions or user.is_superuser:
        return qs
    return qs.filter(town_id__in=user.regions.values("id"))


def person_get(*, user, pk: int) -> Person:
    """One person within the user's scope; out of scope looks the same as missing (404)."""
    person = persons_visible(user).filter(pk=pk).first()
    if person is None:
        raise Http404("人员不存在或不在您的管辖范围内")
    return person


MAX_QUERY = 100  # a 身份证号, a name or initials: far less; longer input finds nobody


def person_search(*, user, q: str, limit: int | None = 50) -> QuerySet[Person]:
    """Search by full 身份证号 (15 or 18), its last digits (≥3), name (contains), or the pinyin
    initials of the name ("zsf" finds 张三丰)."""
    q = (q or "").strip()
    qs = persons_visible(user)
    if not q or len(q) > MAX_QUERY or not q.isprintable():  # a control character (NUL) or a pasted page
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
    if user.all_regions or user.is_superuser:
        return towns()
    return towns().filter(id__in=user.regions.values("id"))
