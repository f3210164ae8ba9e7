"""Reads of the 自管人员 subsystem, always within the user's region scope (``policy.scope_town`` on the
person's 镇街道).

Payroll and bank history of one person are read here from those apps' models, read-only, where
their selectors have no per-person query (``bank_lines_of_person``, ``overpaid_after``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from shebao.bank.models import BankFileLine
from shebao.benefits.models import (
    Adjustment,
    BenefitAmount,
    BenefitItem,
    Enrollment,
    RaiseRule,
    SuspensionReason,
)
from shebao.benefits.months import month_of
from shebao.benefits.selectors import enrollment_history
from shebao.common import policy
from shebao.common.money import ZERO
from shebao.payroll.models import PayrollComponent, PayrollLine
from shebao.payroll.selectors import payroll_line_explain, payroll_person_lines
from shebao.registry.models import BankAccount, Person
from shebao.self_managed.models import FlexPayment, Income

SCHEME = "ZG"


def zg_items() -> QuerySet[BenefitItem]:
    return BenefitItem.objects.filter(scheme__code=SCHEME).order_by("sort", "code")


def zg_enrollments(*, user, month: dt.date | None = None) -> QuerySet[Enrollment]:
    """自管人员 the user may see, with ``monthly_total`` (Σ recurring items in effect in ``month``,
    default this month) and the current account's ``bank`` / ``account_number``."""
    month = month or month_of(timezone.localdate())
    in_effect = (BenefitAmount.objects.filter(enrollment=OuterRef("pk"), item__recurring=True, from_month__lte=month)
                 .filter(Q(to_month__isnull=True) | Q(to_month__gte=month))
                 .values("enrollment").annotate(s=Sum("amount")).values("s"))
    account = BankAccount.objects.filter(person=OuterRef("person_id"), valid_to__isnull=True)
    return (policy.scope_town(Enrollment.objects.filter(scheme__code=SCHEME), user, "person__town_id")
            .select_related("person", "person__town")
            .annotate(monthly_total=Coalesce(Subquery(in_effect, output_field=DecimalField(max_digits=14, decimal_places=2)),
                                             Value(ZERO), output_field=DecimalField(max_digits=14, decimal_places=2)),
                      bank=Subquery(account.values("bank")[:1]),
                      account_number=Subquery(account.values("account_number")[:1])))


def zg_enrollment_of(person: Person) -> Enrollment | None:
    return Enrollment.objects.filter(person=person, scheme__code=SCHEME).select_related("person", "scheme").first()


def amounts_history(enrollment: Enrollment) -> list[BenefitAmount]:
    return list(BenefitAmount.objects.filter(enrollment=enrollment).select_related("item", "created_by", "raise_rule")
                .order_by("item__sort", "-from_month"))


def current_amounts(enrollment: Enrollment, month: dt.date | None = None) -> list[BenefitAmount]:
    month = month or month_of(timezone.localdate())
    return list(BenefitAmount.objects.filter(enrollment=enrollment, from_month__lte=month)
                .filter(Q(to_month__isnull=True) | Q(to_month__gte=month)).select_related("item")
                .order_by("item__sort"))


def adjustments_of(enrollment: Enrollment) -> list[Adjustment]:
    return list(Adjustment.objects.filter(enrollment=enrollment).select_related("created_by").order_by("-created_at", "-id"))


def open_deductions(person: Person) -> QuerySet[Adjustment]:
    return Adjustment.objects.filter(enrollment__person=person, enrollment__scheme__code=SCHEME,
                                     kind=Adjustment.Kind.DEDUCTION, state=Adjustment.State.PENDING).order_by("created_at", "id")


def suspend_reasons() -> QuerySet[SuspensionReason]:
    return SuspensionReason.objects.filter(active=True, terminates=False).order_by("sort")


def terminate_reasons() -> QuerySet[SuspensionReason]:
    return SuspensionReason.objects.filter(active=True, terminates=True).order_by("sort")


def overpaid_after(*, enrollment: Enrollment, last_month: dt.date) -> tuple[list[tuple[dt.date, Decimal]], Decimal]:
    """What a 减员 with last paid month ``last_month`` would find overpaid: item money of approved
    regular runs for later months (failed/written-off lines excluded) — the same rule the engine's
    terminate applies, read before it is applied, for the confirm step."""
    rows = (PayrollComponent.objects.filter(
        kind="item", line__person_id=enrollment.person_id, line__run__scheme_id=enrollment.scheme_id,
        line__run__kind="regular", line__run__period__gt=last_month)
        .exclude(line__run__state="computed").exclude(line__status__in=["failed", "written_off"])
        .values("line__run__period").annotate(total=Sum("amount")).order_by("line__run__period"))
    months = [(r["line__run__period"], r["total"]) for r in rows if r["total"]]
    return months, sum((t for _, t in months), ZERO)


def payment_history(person: Person) -> list[dict]:
    """Every payroll line of the person (every month, one-off and re-issue), newest first, each with
    its components explained, the bank file line it was sent in and the bank's return for it."""
    lines = list(payroll_person_lines(person_id=person.pk))
    sent = {b.payroll_line_id: b for b in bank_lines_of_person(person)}
    out = []
    for line in lines:
        out.append({"line": line, "explain": payroll_line_explain(line), "bank": sent.get(line.pk)})
    return out


def bank_lines_of_person(person: Person) -> QuerySet[BankFileLine]:
    """Every bank file line sent for the person, with its file and the return line (if returned)."""
    return (BankFileLine.objects.filter(payroll_line__person_id=person.pk)
            .select_related("bank_file", "return_line", "return_line__return_file")
            .defer("bank_file__content", "bank_file__definition", "return_line__return_file__content")
            .order_by("-bank_file__created_at", "seq"))


def person_overview(person: Person) -> dict:
    """综合查询 of one person: 自管人员 enrollment, status history, amounts history, adjustments,
    payments (lines, components, files, returns), flexible payments and income."""
    enrollment = zg_enrollment_of(person)
    return {
        "person": person,
        "enrollment": enrollment,
        "accounts": list(person.bank_accounts.order_by("-valid_from", "-id")),
        "history": list(enrollment_history(enrollment=enrollment)) if enrollment else [],
        "amounts": amounts_history(enrollment) if enrollment else [],
        "current": current_amounts(enrollment) if enrollment else [],
        "adjustments": adjustments_of(enrollment) if enrollment else [],
        "payments": payment_history(person),
        "flex": list(FlexPayment.objects.filter(person=person).select_related("run", "created_by")),
        "incomes": list(Income.objects.filter(person=person).select_related("deduction", "created_by")),
    }


def last_lines(person: Person, n: int = 6) -> list[PayrollLine]:
    return list(payroll_person_lines(person_id=person.pk).filter(run__scheme__code=SCHEME)[:n])


def incomes_visible(user) -> QuerySet[Income]:
    return policy.scope_town(Income.objects.all(), user, "person__town_id").select_related("person", "created_by")


def flex_visible(user) -> QuerySet[FlexPayment]:
    return policy.scope_town(FlexPayment.objects.all(), user, "person__town_id").select_related("person", "run")


def adjustments_visible(user) -> QuerySet[Adjustment]:
    return policy.scope_town(Adjustment.objects.filter(enrollment__scheme__code=SCHEME), user,
                             "enrollment__person__town_id")


def raise_rules() -> QuerySet[RaiseRule]:
    return RaiseRule.objects.filter(scheme__code=SCHEME).select_related("item", "applied_by").order_by("-applied_at")
