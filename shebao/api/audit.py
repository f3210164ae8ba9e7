"""审计日志: who changed what, when, before and after."""

from __future__ import annotations

import datetime as dt

from ninja import Query, Router

from shebao.accounts.selectors import audit_events
from shebao.api.pagination import DEFAULT_PAGE_SIZE, MAX_ID, MAX_PAGE, page_of
from shebao.api.permissions import require
from shebao.api.schemas import AuditPage

router = Router(tags=["审计"])


@router.get("/events", response=AuditPage, summary="审计记录（需“查看审计日志”权限）")
def audit_events_list(
    request,
    person_id: int | None = Query(None, ge=1, le=MAX_ID),
    username: str = Query("", max_length=150),
    action: str = Query("", max_length=100),
    object_type: str = Query("", max_length=100),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200),
):
    require(request, "accounts.view_audit")
    qs = audit_events(
        user=request.auth, person_id=person_id, username=username, action=action, object_type=object_type,
        date_from=date_from, date_to=date_to,
    )
    return page_of(qs, page=page, page_size=page_size)
