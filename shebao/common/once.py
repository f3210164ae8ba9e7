"""Forms that create money or a record are safe to submit twice.

Each such form carries a one-time token (``{% once_field %}`` from ``shebao.web`` templatetags
``once`` — a fresh UUID per rendering). The view claims it inside the transaction of its write::

    try:
        with transaction.atomic():
            once_claim(request, form="zg.adjust")
            benefits_adjustment_create(...)
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc)); return redirect(...)

The token's primary key makes PostgreSQL refuse the second insert; a parallel second POST waits on the
first one's row and fails once it commits, so exactly one write happens. A missing or malformed token
is refused too (an old page, a hand-made request). A failed write rolls the token back with it, so
correcting a form error and submitting again works.

A second submit can also be stopped before it reaches the claim, by a check the first submit's own
write now trips ("代领人已是…", "记账利率已是…，无需修改"). ``shebao.web.middleware.OnceRepeatMiddleware``
turns that answer into the same "already submitted" warning: after the view, a POST whose view never
claimed its token (``claimed_by_this_request`` is None) while the token is already recorded was a
repeat. The view's reads happen before that lookup, and the first submit wrote its token and its
change in one transaction, so a change the view saw always comes with its token."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction

from shebao.common.models import FormSubmission

FIELD = "_once"

MISSING = "表单已过期或不完整，请刷新页面后重新提交"
REPEATED = "此表单已经提交过，重复提交未执行（请查看上一次提交的结果）"


class AlreadySubmitted(Exception):
    """The form's token was used before (or is missing); ``str()`` is the Chinese message."""


def new_token() -> str:
    return str(uuid.uuid4())


def once_claim(request, *, form: str) -> None:
    """Record this POST's one-time token; ``AlreadySubmitted`` when it is missing or already used.
    Call inside the write's ``transaction.atomic()``."""
    token = posted_token(request)
    request.once_claimed = False
    if token is None:
        raise AlreadySubmitted(MISSING)
    try:
        with transaction.atomic():
            FormSubmission.objects.create(token=token, user=request.user, form=form[:80])
    except IntegrityError:
        raise AlreadySubmitted(REPEATED) from None
    request.once_claimed = True


T = TypeVar("T")


def write_once(request, form: str, write: Callable[[], T]) -> T:
    """``write()`` in one transaction with the claim of the form's one-time token (``once_claim``): a
    second submit of the same form raises ``AlreadySubmitted`` and writes nothing; a refusal from
    ``write`` rolls the claim back with it (the corrected form can be sent again)."""
    with transaction.atomic():
        once_claim(request, form=form)
        return write()


def posted_token(request) -> uuid.UUID | None:
    """The one-time token the POST carries, or None (absent or malformed)."""
    try:
        return uuid.UUID((request.POST.get(FIELD) or "").strip())
    except ValueError:
        return None


def claimed_by_this_request(request) -> bool | None:
    """True when this request claimed its token, False when it tried and was refused, None when the
    view never tried (it answered before its write)."""
    return getattr(request, "once_claimed", None)


def already_used(token: uuid.UUID) -> bool:
    return FormSubmission.objects.filter(token=token).exists()
