"""Reads for the accounts app: staff accounts, API tokens and the audit trail (within the viewer's scope)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from shebao.accounts.models import ApiToken, Role, User
from shebao.common.models import AuditEvent
from shebao.registry.selectors import persons_visible


def users_list(*, q: str = "", role: str = "", active: bool | None = None) -> QuerySet[User]:
    """Staff accounts for the user-management list, with roles, towns and the 查看敏感信息 right."""
    sensitive = User.user_permissions.through.objects.filter(
        user_id=OuterRef("pk"), permission__codename="view_sensitive",
        permission__content_type__app_label="accounts",
    )
    qs = (
        User.objects.prefetch_related("groups", "regions")
        .annotate(has_sensitive=Exists(sensitive))
        .order_by("username")
    )
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(full_name__icontains=q))
    if role:
        qs = qs.filter(groups__name=role)
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs


def user_is_locked(user: User, now: dt.datetime | None = None) -> bool:
    return bool(user.locked_until and user.locked_until > (now or timezone.now()))


def user_has_sensitive(user: User) -> bool:
    return user.user_permissions.filter(content_type__app_label="accounts", codename="view_sensitive").exists()


def role_choices() -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in Role.choices]


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def audit_events(
    *,
    user,
    person_id: int | None = None,
    username: str = "",
    action: str = "",
    object_type: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """Audit events, newest first. A user whose scope is some towns sees person-related events only
    for persons in those towns (other events — logins, user administration — are not person data)."""
    qs = AuditEvent.objects.order_by("-id")
    if not (user.all_regions or user.is_superuser):
        qs = qs.filter(Q(person_id__isnull=True) | Q(person_id__in=persons_visible(user).values("id")))
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    if username:
        qs = qs.filter(username=username.strip())
    if action:
        qs = qs.filter(action=action.strip())
    if object_type:
        qs = qs.filter(object_type=object_type.strip())
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(occurred_at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=tz))
    if date_to and date_to < dt.date.max:  # 9999-12-31: no upper bound (the day after would overflow)
        qs = qs.filter(occurred_at__lt=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
    return qs
