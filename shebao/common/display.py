"""How a member of staff is named to other people: by name, not by login.

``user_display_name(user)`` is the one rule — the user's 姓名 (``User.full_name``), else the login name
when no name was entered — for everything printed or shown to someone else: 结算单 (经办人), bank files'
经办人, run and document pages, the change history. Login names stay where an administrator needs the
account itself (user management, the audit log's 用户名 column, the page's top bar tooltip)."""

from __future__ import annotations


def user_display_name(user, fallback: str = "") -> str:
    """The person's name (``full_name``), else the login name; ``fallback`` when there is no user (a
    command run without ``--as``, a deleted account)."""
    if user is None:
        return fallback
    name = (getattr(user, "full_name", "") or "").strip()
    if name:
        return name
    getter = getattr(user, "get_username", None)
    return (getter() if callable(getter) else "") or fallback


def operator_name(path: str):
    """The same rule as an ORM expression over the user at ``path`` (``"created_by"``): for list pages
    that read rows with ``.values()`` (``queryset.annotate(created_by_name=operator_name("created_by"))``)."""
    from django.db.models import CharField, F, Value
    from django.db.models.functions import Coalesce, NullIf

    return Coalesce(NullIf(F(f"{path}__full_name"), Value("")), F(f"{path}__username"), output_field=CharField())
