"""Page-number pagination with a total count (what the list screens show)."""

from __future__ import annotations

from django.db.models import QuerySet

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_of(qs: QuerySet, *, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> dict:
    page = max(page, 1)
    page_size = min(max(page_size, 1), MAX_PAGE_SIZE)
    start = (page - 1) * page_size
    return {"count": qs.count(), "page": page, "page_size": page_size, "items": list(qs[start:start + page_size])}
