"""COPY into PostgreSQL, in one place: rows of values (text format) and one large value's bytes (binary).

- ``copy_rows(cursor, table, columns, rows)``: the rows of an iterable (tuples; a generator is never held
  whole) by ``COPY table (columns) FROM STDIN``. Each value goes through psycopg's own dumpers, in C
  (``write_row``): ``None`` is NULL, text keeps every tab, backslash, newline and character exactly, a
  ``Decimal`` its digits, a ``bool`` t/f. psycopg buffers the rows and sends them in pieces as they come.
  Faster than formatting the COPY text in Python (800,000 rows of seven values: 0.37 s of Python with
  ``types``, 0.6 s without, against 0.65 s for f-strings joined 20,000 at a time).
- ``copy_bytes(cursor, sql, data)``: one row of one ``bytea`` value by a binary ``COPY … FROM STDIN (FORMAT
  binary)``, written in pieces of ``piece`` bytes. Through the ORM the bytes become a hex literal in the
  SQL text, and as one parameter they are one message the client library sends by shifting its unsent
  buffer after every partial write (growing with the square of the size); in pieces the Python cost is
  negligible (the bank app's file contents: ``bank.services._store_content``).

``cursor``: a Django cursor (``connection.cursor()``) or a psycopg cursor. Both run inside the caller's
transaction; neither commits."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from psycopg import sql

MIB = 1 << 20
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)  # signature, flags, header extension
_BINARY_TRAILER = struct.pack("!h", -1)


def _raw(cursor):
    """The psycopg cursor (under Django's wrapper when given one)."""
    return getattr(cursor, "cursor", cursor)


def _table(name: str) -> sql.Composable:
    return sql.Identifier(*name.split("."))  # "pg_temp.t" → "pg_temp"."t"


def copy_rows(cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence], *,
              types: Sequence[str] | None = None) -> int:
    """COPY ``rows`` (each a tuple of ``len(columns)`` values) into ``table``; → the number of rows.
    ``types``: the PostgreSQL type name of each column ("int8", "numeric", "text", …) — psycopg then
    dumps by it instead of looking at each value's Python type (faster)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        _table(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    n = 0
    with _raw(cursor).copy(statement) as copy:
        if types is not None:
            copy.set_types(list(types))
        write = copy.write_row
        for row in rows:
            write(row)
            n += 1
    return n


def copy_bytes(cursor, statement: str, data: bytes | bytearray | memoryview, *, piece: int = MIB) -> None:
    """One row of one binary value: ``statement`` is ``COPY table (column) FROM STDIN (FORMAT binary)``
    of a single ``bytea`` column; ``data`` is sent in pieces of ``piece`` bytes."""
    if piece <= 0:
        raise ValueError("piece must be positive")
    view = memoryview(data).cast("B")
    with _raw(cursor).copy(statement) as copy:
        copy.write(_BINARY_HEADER + struct.pack("!hi", 1, len(view)))  # one tuple of one field, its length
        for start in range(0, len(view), piece):
            copy.write(view[start:start + piece])
        copy.write(_BINARY_TRAILER)
