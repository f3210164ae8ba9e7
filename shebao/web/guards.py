"""Page guards: ``guard(check)`` makes a view decorator that sends anonymous users to the login page and
answers 403 (您没有此功能的权限) when ``check(user)`` is false."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext


def guard(check: Callable[[object], bool]):
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied(gettext("您没有此功能的权限"))
            return view(request, *args, **kwargs)
        return wrapped
    return decorator
