"""Hooks into the shell: menu URLs, the person page section and the home page's work items. (The
roles' permissions are in ``shebao.accounts.roles``.)"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext


def person_section(person, request):
    """The person page's 自管人员 section: status, monthly items, last payments."""
    from shebao.common import policy
    from shebao.self_managed import selectors as sel
    from shebao.self_managed.permissions import MANAGE_RULE, VIEW_RULE

    if not policy.allows(request.user, VIEW_RULE):  # scheme ZG too: an NB-only clerk sees no ZG section
        return None
    enrollment = sel.zg_enrollment_of(person)
    if enrollment is None:
        return None
    current = sel.current_amounts(enrollment)
    return (gettext("自管人员"), "self_managed/person_section.html", {
        "enrollment": enrollment, "current": current, "total": sum((a.amount for a in current if a.item.recurring), 0),
        "lines": sel.last_lines(person, 3), "pending": sel.adjustments_of(enrollment),
        "can_manage": policy.allows(request.user, MANAGE_RULE),
    })


def suspended_work(request):
    from shebao.common import policy
    from shebao.self_managed.permissions import MANAGE_RULE
    from shebao.self_managed.selectors import zg_enrollments

    if not policy.allows(request.user, MANAGE_RULE):
        return []
    n = zg_enrollments(user=request.user).filter(payment_status="suspended").count()
    return [(gettext("暂停发放的自管人员"), n, reverse("self_managed:person_list") + "?status=suspended")]


def connect() -> None:
    from shebao.self_managed.permissions import VIEW
    from shebao.web import menu, person_sections, work

    for key, url in [("zg.persons", "self_managed:person_list"), ("zg.benefits", "self_managed:benefits"),
                     ("zg.raise", "self_managed:raise"), ("zg.query", "self_managed:query"),
                     ("zg.roster", "self_managed:roster"), ("zg.flex", "self_managed:flex")]:
        if menu.find_entry(key) is not None:
            menu.set_url(key, url, perm=VIEW, scheme="ZG")
    person_sections.register(person_section)
    work.register(suspended_work)
