"""The session store (``SESSION_ENGINE``): Django's database store, with the read every request makes
done by one prepared statement instead of an ORM query built and compiled anew.

Every signed-in request reads its session first. Django's store asks
``Session.objects.get(session_key=…, expire_date__gt=now)`` — the ORM builds and compiles that query on
every request, which cost more CPU than PostgreSQL took to answer it (issue 17, README "Search speed").
The statement here is the same condition (the key, not expired), so an unknown or expired key is an
empty session exactly as before. Writes (login, the once-a-minute renewal, logout) stay Django's."""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.db import connections, router
from django.utils import timezone


class _Row:
    __slots__ = ("session_data",)

    def __init__(self, session_data: str) -> None:
        self.session_data = session_data


class SessionStore(DbSessionStore):
    def _get_session_from_db(self):
        key = self.session_key
        if not key:
            self._session_key = None
            return None
        model = self.model
        db = router.db_for_read(model)
        with connections[db].cursor() as cursor:
            cursor.execute(
                f'SELECT "session_data" FROM "{model._meta.db_table}" '
                'WHERE "session_key" = %s AND "expire_date" > %s',
                [key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return _Row(row[0])
