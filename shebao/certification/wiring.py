"""Hooks into the shell: menu URLs and the person page section."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


def connect() -> None:
    from shebao.certification.permissions import VIEW
    from shebao.web import menu

    for key, url in [("shgl.certification", "certification:list"), ("shgl.due", "certification:due"),
                     ("shgl.community", "certification:communities")]:
        if menu.find_entry(key) is not None:
            entry = menu.set_url(key, url, perm=VIEW)
            entry.scheme = None  # a certification concerns every scheme (the group is ZG's by default)
    if menu.find_entry("shgl.stats") is None:
        menu.add_entry("shgl", "shgl.stats", _("统计"), url_name="certification:stats", perm=VIEW, order=50,
                       note=_("按镇街道、村社区统计领取、暂停、到期和本年认证"))
