"""Reads of 生存认证: the receiving enrollments with their last certification and due date (one SQL
expression per row, so lists filter and sort by it in the database), the certification records."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from shebao.benefits.models import Enrollment
from shebao.benefits.months import add_months, month_of
from shebao.certification.models import Certification
from shebao.certification.services import DEFAULT_CYCLE
from shebao.common import policy

_LAST = ("(SELECT max(c.certified_on) FROM certification_certification c "
         "WHERE c.person_id = benefits_enrollment.person_id)")
_CYCLE = ("COALESCE((SELECT y.months FROM certification_schemecycle y "
          "WHERE y.scheme_id = benefits_enrollment.scheme_id), %s)")
_DUE = (f"(COALESCE({_LAST}, benefits_enrollment.start_month) "
        f"+ make_interval(months => {_CYCLE}::int))::date")


def receiving(*, user) -> QuerySet[Enrollment]:
    """Enrollments being paid or suspended (not ended) of living persons in the user's towns, with
    ``last_certified`` and ``due_on`` (last certification, or the first paid month, + the scheme's
    cycle); grace ends with the due month."""
    qs = (Enrollment.objects.filter(payment_status__in=["active", "suspended"], person__death_date__isnull=True)
          .select_related("person", "scheme", "person__town", "person__community")
          .annotate(last_certified=RawSQL(_LAST, []), due_on=RawSQL(_DUE, [DEFAULT_CYCLE])))
    return policy.scope_town(qs, user, "person__town_id")


def due_window(qs: QuerySet[Enrollment], state: str, *, today: dt.date, days: int = 30) -> QuerySet[Enrollment]:
    """``due``: active and due within ``days`` (or in grace); ``overdue``: active and past grace (the
    sweep will suspend them); ``suspended``: suspended."""
    if state == "suspended":
        return qs.filter(payment_status="suspended")
    if state == "overdue":
        return qs.filter(payment_status="active", due_on__lt=month_of(today))
    if state == "due":
        return qs.filter(payment_status="active", due_on__gte=month_of(today),
                         due_on__lte=today + dt.timedelta(days=days))
    return qs


def certifications(*, user) -> QuerySet[Certification]:
    qs = Certification.objects.select_related("person", "person__town", "operator")
    return policy.scope_town(qs, user, "person__town_id")


def history_of(person) -> QuerySet[Certification]:
    return Certification.objects.filter(person=person).select_related("operator").order_by("-certified_on")


def next_month_start(today: dt.date) -> dt.date:
    return add_months(month_of(today), 1)


def communities_visible(*, user):
    """The 村社区 of the user's scope (a community worker: their communities)."""
    from shebao.registry.models import Region

    qs = Region.objects.filter(level="community").select_related("parent").order_by("parent__sort", "sort", "code")
    scope = policy.region_scope(user)
    if scope is None:
        return qs
    from django.db.models import Q

    whole, communities = scope
    return qs.filter(Q(parent_id__in=whole) | Q(pk__in=communities))


def community_counts(*, user, today: dt.date, days: int = 30) -> dict[int | None, dict[str, int]]:
    """Per 村社区 id: receiving, due within ``days``, overdue (active, past grace), suspended — one query."""
    from django.db.models import Count, Q

    month = month_of(today)
    rows = (receiving(user=user).values("person__community_id").annotate(
        receiving=Count("pk"),
        due=Count("pk", filter=Q(payment_status="active", due_on__gte=month,
                                 due_on__lte=today + dt.timedelta(days=days))),
        overdue=Count("pk", filter=Q(payment_status="active", due_on__lt=month)),
        suspended=Count("pk", filter=Q(payment_status="suspended"))))
    return {r["person__community_id"]: r for r in rows}


def statistics(*, user, today: dt.date, town_id: int | None = None, days: int = 30) -> list[dict]:
    """Per 镇街道 (or, given ``town_id``, per 村社区 of it): receiving, due within ``days``, overdue,
    suspended, and the certifications of this year by method — two grouped queries."""
    from django.db.models import Count, Q

    from shebao.certification.models import Method
    from shebao.registry.models import Region

    key = "person__community_id" if town_id else "person__town_id"
    month = month_of(today)
    people = receiving(user=user)
    certs = certifications(user=user).filter(certified_on__gte=today.replace(month=1, day=1),
                                             certified_on__lte=today)
    if town_id:
        people, certs = people.filter(person__town_id=town_id), certs.filter(person__town_id=town_id)
    counts = {r[key]: r for r in people.values(key).annotate(
        receiving=Count("pk"), suspended=Count("pk", filter=Q(payment_status="suspended")),
        due=Count("pk", filter=Q(payment_status="active", due_on__gte=month,
                                 due_on__lte=today + dt.timedelta(days=days))),
        overdue=Count("pk", filter=Q(payment_status="active", due_on__lt=month)))}
    by_method: dict = {}
    for r in certs.values(key, "method").annotate(n=Count("pk")):
        by_method.setdefault(r[key], {})[r["method"]] = r["n"]
    regions = (Region.objects.filter(parent_id=town_id) if town_id else Region.objects.filter(level="town"))
    names = {r.pk: r.name for r in regions}
    rows = []
    for rid in sorted(set(counts) | set(by_method), key=lambda i: (i is None, names.get(i, ""))):
        c = counts.get(rid, {})
        methods = by_method.get(rid, {})
        certified = sum(methods.values())
        rows.append({"id": rid, "name": names.get(rid, "（未填村社区）" if town_id else "—"),
                     "receiving": c.get("receiving", 0), "suspended": c.get("suspended", 0),
                     "due": c.get("due", 0), "overdue": c.get("overdue", 0),
                     "methods": [methods.get(m.value, 0) for m in Method],
                     "certified": certified, "data": methods.get(Method.DATA, 0),
                     "data_share": share(methods.get(Method.DATA, 0), certified)})
    return rows


def share(part: int, whole: int):
    """``part`` of ``whole`` in percent, one decimal (四舍五入); None when ``whole`` is 0."""
    from decimal import ROUND_HALF_UP, Decimal

    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def statistics_total(rows: list[dict]) -> dict:
    """The 合计 row of ``statistics``: the sums, and the share of 数据比对 over all certifications."""
    n = len(rows[0]["methods"]) if rows else 0
    total = {key: sum(r[key] for r in rows) for key in ("receiving", "suspended", "due", "overdue", "certified",
                                                          "data")}
    total["methods"] = [sum(r["methods"][i] for r in rows) for i in range(n)]
    total["data_share"] = share(total["data"], total["certified"])
    total["name"] = "合计"
    return total


NO_PROFILE = "none"  # 居住状况 of a person whose 社会化管理 data was never kept (未登记)


def social_persons(*, user):
    """人员维护: the persons 社会化管理 looks after — living, with an enrollment being paid or suspended —
    in the user's towns (a 社区专管员: their 村社区), one row per person with their 社会化管理 data
    (``living`` is ``NO_PROFILE`` when never kept; ``visit_address`` falls back to the 居住地址), the number of active 家属/代理人, the last
    certification, whether a scheme is suspended and the schemes they are paid in."""
    from django.contrib.postgres.aggregates import StringAgg
    from django.db.models import Count, Exists, IntegerField, Max, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce, NullIf

    from shebao.certification.models import PersonContact
    from shebao.registry.models import Person

    # a user kept to some schemes sees only the persons paid in them, and only those schemes
    paid = policy.scope_scheme(Enrollment.objects.filter(person=OuterRef("pk"), payment_status__in=["active", "suspended"]), user)
    contacts = (PersonContact.objects.filter(person=OuterRef("pk"), active=True).order_by().values("person")
                .annotate(n=Count("pk")).values("n"))
    last = (Certification.objects.filter(person=OuterRef("pk")).order_by().values("person")
            .annotate(m=Max("certified_on")).values("m"))
    schemes = (paid.order_by().values("person").annotate(s=StringAgg("scheme__name", "、", order_by="scheme__sort"))
               .values("s"))
    qs = (Person.objects.filter(Exists(paid), death_date__isnull=True)
          .annotate(contacts=Coalesce(Subquery(contacts, output_field=IntegerField()), Value(0)),
                    last_certified=Subquery(last), schemes=Subquery(schemes),
                    suspended=Exists(paid.filter(payment_status="suspended")),
                    living=Coalesce("social_profile__living", Value(NO_PROFILE)),
                    visit_address=Coalesce(NullIf("social_profile__visit_address", Value("")), "residence_address",
                                           Value(""))))
    return policy.scope_town(qs, user, "town_id")
