"""The page side of a maker-checker act: one POST, one one-time token, one transaction, one message.

A checker's page posts an act on one object — 复核 a record, approve or refuse a request — and the view
does the same four things every time: claim the form's one-time token (``shebao.common.once``) in the
write's transaction, call the service, turn the service's refusal (its Chinese message) into an error
message and a second submit into a warning, and say what was done. ``act_once`` is that for one act;
``decide`` picks the act from the POST's ``action`` (``approve`` / ``refuse`` …) first.

The service keeps the rules (another user than the maker, the object's state); this only wires the page.
Used by the 社会保险特殊业务 pages (``shebao.finance.views``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.utils.translation import gettext, gettext_noop

from shebao.common.once import AlreadySubmitted, write_once

NO_ACTION = gettext_noop("请选择通过或驳回")


def act_once(request, *, form: str, write: Callable[[], Any], done: str | Callable[[Any], str],
             errors: tuple[type[Exception], ...]) -> tuple[bool, Any]:
    """Claim this POST's one-time token for ``form`` and run ``write()`` in one transaction. Success:
    ``done`` (a message, or a function of the result giving one) as a success message, ``(True,
    result)``. A refusal (one of ``errors``) or a repeated submit: its message, nothing written, ``(False,
    None)``."""
    try:
        result = write_once(request, form, write)
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
        return False, None
    except errors as exc:
        messages.error(request, str(exc))
        return False, None
    messages.success(request, done(result) if callable(done) else done)
    return True, result


def decide(request, *, form: str, actions: dict[str, tuple[Callable[[], Any], str | Callable[[Any], str]]],
           errors: tuple[type[Exception], ...]) -> tuple[str | None, Any]:
    """``act_once`` of the act the POST's ``action`` names (``actions``: name → (write, done)); an
    unknown or missing action writes nothing and says so. Returns (the action done or None, result)."""
    action = request.POST.get("action")
    if action not in actions:
        messages.error(request, gettext(NO_ACTION))
        return None, None
    write, done = actions[action]
    ok, result = act_once(request, form=form, write=write, done=done, errors=errors)
    return (action if ok else None), result
