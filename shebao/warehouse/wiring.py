"""Hooks into the shell: the menu group 省宁波回流数据库 (wh) points at these pages."""

from __future__ import annotations


def connect() -> None:
    from shebao.warehouse.permissions import AUDIT_RULE, LOAD_RULE, QUERY_RULE, VIEW_RULE
    from shebao.web import menu

    for key, url, rule in [("wh.dictionary", "warehouse:dictionary", VIEW_RULE),
                           ("wh.loads", "warehouse:loads", VIEW_RULE),
                           ("wh.rules", "warehouse:findings", AUDIT_RULE),
                           ("wh.query", "warehouse:queries", QUERY_RULE)]:
        if menu.find_entry(key) is not None:
            menu.set_url(key, url, rule=rule)
    del LOAD_RULE
