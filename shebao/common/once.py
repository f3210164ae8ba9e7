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
correcting a form error and submitting again works."""

from __future__ import annotations

import uuid

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
    raw = (request.POST.get(FIELD) or "").strip()
    try:
        token = uuid.UUID(raw)
    except ValueError:
        raise AlreadySubmitted(MISSING) from None
    try:
        with transaction.atomic():
            FormSubmission.objects.create(token=token, user=request.user, form=form[:80])
    except IntegrityError:
        raise AlreadySubmitted(REPEATED) from None
