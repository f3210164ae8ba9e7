"""Page-number pagination with a total count (what the list screens show)."""

from __future__ import annotations

from django.db.models import QuerySet

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE = 1_000_000  # far past any list's end; a larger one overflowed the database's OFFSET
MAX_ID = 2**63 - 1  # a database id (bigint); a larger one is a 422, not the database's error


def page_of(qs: QuerySet, *, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> dict:
    page = min(max(page, 1), MAX_PAGE)
    page_size = min(max(page_size, 1), MAX_PAGE_SIZE)
    start = (page - 1) * page_size
    return {"count": qs.count(), "page": page, "page_size": page_size, "items": list(qs[start:start + page_size])}
