"""The page side of a roster import (花名册 of 自管人员 and 养老保障, 土保补贴人员): upload → preview → confirm.

The service side is the one roster engine (``shebao.registry.roster_import.RosterImporter``: ``upload``
keeps the file and its check as a batch, ``confirm`` applies it once). Both page steps are one POST, one
one-time token (``shebao.common.once``) claimed in the write's transaction: a second submit of the same
form writes nothing and says so.

- ``upload_once``: the upload form's POST — the batch kept, then its preview page; a refused file is
  the form's error on the file field;
- ``confirm_once``: the batch page's confirm — ``shebao.web.decide.act_once`` (the service's refusal as
  an error message, what was imported as a success message), then back to the batch page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect

from shebao.common.once import AlreadySubmitted, once_claim
from shebao.web.decide import act_once


def upload_once(request, form, *, key: str, upload: Callable[..., Any], errors: tuple[type[Exception], ...],
                again: str, preview: str):
    """A valid upload ``form`` (its ``file`` field) kept by ``upload(file_name=, data=, user=)`` under the
    one-time token ``key``: a redirect to the batch's page (url name ``preview``, ``pk``); a second submit:
    a warning and a redirect to ``again``. None (render the form again) when the form is not valid or
    the file is refused (one of ``errors``: the form's error on the file)."""
    if not form.is_valid():
        return None
    file = form.cleaned_data["file"]
    try:
        with transaction.atomic():
            once_claim(request, form=key)
            batch = upload(file_name=file.name, data=file.read(), user=request.user)
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
        return redirect(again)
    except errors as exc:
        form.add_error("file", str(exc))
        return None
    return redirect(preview, pk=batch.pk)


def confirm_once(request, batch, *, key: str, confirm: Callable[..., Any], errors: tuple[type[Exception], ...],
                 done: Callable[[Any], str], back: str):
    """Apply the previewed ``batch`` by ``confirm(batch=, user=)`` under the one-time token ``key``
    (``done(result)``: the success message), then back to the batch page (url name ``back``)."""
    act_once(request, form=key, write=lambda: confirm(batch=batch, user=request.user), done=done, errors=errors)
    return redirect(back, pk=batch.pk)
