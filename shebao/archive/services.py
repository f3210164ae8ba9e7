"""The archive's only writes outside the load: the audit events of who looked at what (sensitive reads).

Every person search that found someone, every person's records page, every export and every page of a
browsed table is one audit event (``archive.search``, ``archive.person_view``, ``archive.export``,
``archive.table_view``), with the registry person when the archive person is registered."""

from __future__ import annotations

from django.db import transaction

from shebao.common.audit import audit_record


@transaction.atomic
def archive_read_record(*, user, action: str, summary: str, object_id: str | int = "",
                        person_id: int | None = None) -> None:
    """One audit event for a read of archived personal data (``action``: search, person_view, export,
    table_view)."""
    audit_record(user=user, action=f"archive.{action}", object_type="archive", object_id=object_id,
                 person_id=person_id, summary=summary[:500])
