"""Reads of benefits."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from shebao.benefits.models import Adjustment, BenefitAmount, Enrollment, StatusChange


def amounts_in_effect(*, enrollment: Enrollment, month: dt.date) -> QuerySet[BenefitAmount]:
    """The item amounts of an enrollment in effect in a month."""
    return (BenefitAmount.objects.filter(enrollment=enrollment, from_month__lte=month)
            .filter(Q(to_month__isnull=True) | Q(to_month__gte=month)).select_related("item")
            .order_by("item__sort"))


def enrollment_history(*, enrollment: Enrollment) -> QuerySet[StatusChange]:
    return StatusChange.objects.filter(enrollment=enrollment).select_related("reason", "operator").order_by("id")


def adjustments_pending(*, enrollment: Enrollment) -> QuerySet[Adjustment]:
    return Adjustment.objects.filter(enrollment=enrollment, state=Adjustment.State.PENDING).order_by("created_at", "id")


def person_enrollments(*, person_id: int) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(person_id=person_id).select_related("scheme").order_by("scheme__sort")
