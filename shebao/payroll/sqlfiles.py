"""The SQL statements of payroll, kept in ``payroll/sql/*.sql`` with their planner notes."""

from __future__ import annotations

from importlib import resources


def sql_parts(name: str) -> dict[str, str]:
    """The parts of ``payroll/sql/<name>``: a ``-- part: NAME`` line starts one; every other line whose first
    non-blank characters are ``--`` is a comment and dropped; the rest is kept byte for byte."""
    parts: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (resources.files("shebao.payroll") / "sql" / name).read_text(encoding="utf-8").splitlines(True):
        stripped = line.strip()
        if stripped.startswith("-- part:"):
            current = parts.setdefault(stripped[len("-- part:"):].strip(), [])
        elif not stripped.startswith("--") and current is not None:
            current.append(line)
    return {key: "".join(lines) for key, lines in parts.items()}
