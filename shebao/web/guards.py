"""Page guards, the page side of the policy layer (``shebao.common.policy``).

``@page(rule)`` sends anonymous users to the login page and answers 403 with the policy's Chinese
reason when the user does not pass ``rule``; the rule is kept on the view (``view.policy``) so the
authorization matrix test can find every page that has none. ``scheme_kwarg`` names the URL argument
holding the scheme code when the page works in a scheme chosen by the URL.

Object-level scope (a person in another town — or, for a 社区专管员, another 村社区 —, a run of another
scheme) is checked in the view or selector with ``policy.scope_town`` / ``policy.check(..., town_id=…,
community_id=…, check_town=True)`` / ``person_in_scope``: out of scope looks missing (404)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext

from shebao.common import policy
from shebao.common.policy import Rule


def page(rule: Rule, *, scheme_kwarg: str | None = None):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not rule.public and not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            scheme = kwargs.get(scheme_kwarg) if scheme_kwarg else None
            reason = policy.denial(request.user, rule, scheme=scheme)
            if reason is not None:
                raise PermissionDenied(gettext(reason))
            return view(request, *args, **kwargs)

        wrapped.policy = rule
        wrapped.policy_scheme_kwarg = scheme_kwarg
        return wrapped

    return decorator


def person_in_scope(user, person) -> None:
    """404 (out of scope looks missing) unless ``person`` is in the user's towns, or in a 村社区 they hold
    (``policy.person_allowed``): for an object reached by its own id rather than through a scoped query."""
    if person is None or not policy.person_allowed(user, person):
        raise Http404(gettext("人员不存在或不在您的管辖范围内"))
