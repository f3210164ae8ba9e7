"""Hooks into the shell: the 原遗留养老系统 menu entry leads to the archive's person search."""

from __future__ import annotations


def connect() -> None:
    from shebao.archive.permissions import VIEW_RULE
    from shebao.web import menu

    if menu.find_entry("legacy.query") is not None:
        menu.set_url("legacy.query", "archive:search", rule=VIEW_RULE)
