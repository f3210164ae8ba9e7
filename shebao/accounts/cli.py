"""What the batch commands share about who is acting (``--as USER``)."""

from __future__ import annotations

from django.core.management.base import CommandError

from shebao.accounts.models import User


def acting_user(username: str | None) -> User | None:
    """The active user named by ``--as``; None when no name was given; CommandError when unknown or inactive."""
    if not username:
        return None
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"用户 {username} 不存在或已停用")
    return user
