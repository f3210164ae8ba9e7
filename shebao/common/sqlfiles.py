"""The big set-based statements live in ``<app>/sql/*.sql`` files, with their planner notes as comments
(``payroll/sql/compute.sql``, ``rural_pension/sql/years.sql``, ``rural_pension/sql/legacy_*.sql``); this
module reads them and sets planner settings for a block.

A file holds parts: each ``-- part: NAME`` line starts one; every other line whose first non-blank
characters are ``--`` is a comment and is dropped; the other lines are kept byte for byte. Files are read
once, when the module that uses them is imported. States, kinds and other literals of the models are
bound as parameters (``%(name)s``), never written into the text; ``{name}`` fields are filled with
``str.format`` by the caller for what cannot be a parameter (a table name, a WHERE built from fixed
fragments)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources


def sql_parts(package: str, name: str) -> dict[str, str]:
    """The parts of ``<package>/sql/<name>`` (see the module's note)."""
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (resources.files(package) / "sql" / name).read_text(encoding="utf-8").splitlines(True):
        stripped = line.strip()
        if stripped.startswith("-- part:"):
            current = parts.setdefault(stripped[len("-- part:"):].strip(), [])
        elif not stripped.startswith("--") and current is not None:
            current.append(line)
    return {key: "".join(lines) for key, lines in parts.items()}


@contextmanager
def local_settings(cursor, **values: str) -> Iterator[None]:
    """Planner/memory settings for the length of a block, inside the caller's transaction, then back to
    what they were (``SET LOCAL`` alone would last to the end of an outer transaction)."""
    before = {}
    for name, value in values.items():
        cursor.execute("SELECT current_setting(%s)", [name])
        before[name] = cursor.fetchone()[0]
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    yield  # on an error the transaction (or savepoint) is rolled back, and the settings with it
    for name, value in before.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
