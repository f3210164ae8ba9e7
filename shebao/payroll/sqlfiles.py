"""The SQL statements of payroll, kept in ``payroll/sql/*.sql`` with their planner notes (read by
``shebao.common.sqlfiles``, which holds the file format)."""

from __future__ import annotations

from shebao.common.sqlfiles import sql_parts as _parts


def sql_parts(name: str) -> dict[str, str]:
    """The parts of ``payroll/sql/<name>`` (``common.sqlfiles.sql_parts``)."""
    return _parts("shebao.payroll", name)
