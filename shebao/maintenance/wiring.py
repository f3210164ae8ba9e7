"""Hooks into the shell: the 数据维护 menu entries. (A correction shows on the person page through the
audit event its owning service writes: the 变更记录 section.)"""

from __future__ import annotations


def connect() -> None:
    from shebao.maintenance.permissions import COMPARE_RULE, QUERY_RUN_RULE, VIEW_RULE
    from shebao.web import menu

    for key, url, rule in [("maint.corrections", "maintenance:corrections", VIEW_RULE),
                           ("maint.batch", "maintenance:batch", VIEW_RULE),
                           ("maint.queries", "maintenance:queries", QUERY_RUN_RULE),
                           ("maint.compare", "maintenance:compare", COMPARE_RULE),
                           ("maint.convert", "maintenance:convert", COMPARE_RULE)]:
        if menu.find_entry(key) is not None:
            menu.set_url(key, url, rule=rule)
