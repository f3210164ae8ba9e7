"""Hooks into the shell: menu URLs and the person page section."""

from __future__ import annotations


def connect() -> None:
    from shebao.certification.permissions import VIEW
    from shebao.web import menu

    for key, url in [("shgl.certification", "certification:list"), ("shgl.due", "certification:due"),
                     ("shgl.community", "certification:communities")]:
        if menu.find_entry(key) is not None:
            entry = menu.set_url(key, url, perm=VIEW)
            entry.scheme = None  # a certification concerns every scheme (the group is ZG's by default)
