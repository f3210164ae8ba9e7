"""Hooks into the shell: the menu's 养老保障 entries, the person page section and the home page's work
items. (The roles' permissions are in ``shebao.accounts.roles``.)"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext


def person_section(person, request):
    """The person page's 养老保障 section: category, phase, status, open proposal."""
    from shebao.common import policy
    from shebao.pension_security import selectors as sel
    from shebao.pension_security.permissions import VIEW_RULE

    if not policy.allows(request.user, VIEW_RULE):
        return None
    member = sel.member_of(person)
    if member is None:
        return None
    return (gettext("养老保障"), "pension_security/person_section.html", {"member": member})


def proposals_work(request):
    from shebao.common import policy
    from shebao.pension_security import selectors as sel
    from shebao.pension_security.permissions import APPROVE_RULE

    if not policy.allows(request.user, APPROVE_RULE):
        return []
    n = sel.proposals_open(request.user).exclude(proposed_by=request.user).count()
    return [(gettext("待核准的养老保障待遇"), n, reverse("pension_security:approvals"))]


def connect() -> None:
    from shebao.pension_security.permissions import VIEW
    from shebao.web import menu, person_sections, work

    for key, url in [("bz.persons", "pension_security:person_list"), ("bz.approval", "pension_security:approvals"),
                     ("bz.conversion", "pension_security:conversions"),
                     ("bz.suspension", "pension_security:suspensions"),
                     ("bz.adjust", "pension_security:adjustments"), ("bz.raise", "pension_security:raise"),
                     ("bz.payroll", "pension_security:payable"), ("bz.settlement", "pension_security:settlements"),
                     ("bz.reports", "pension_security:reports")]:
        if menu.find_entry(key) is not None:
            menu.set_url(key, url, perm=VIEW, scheme="BZ")
    if menu.find_entry("bz.categories") is None:
        from django.utils.translation import gettext_lazy as _

        from shebao.pension_security.permissions import VIEW_RULE

        menu.add_entry("bz", "bz.categories", _("类别与标准"), url_name="pension_security:categories", rule=VIEW_RULE,
                       order=15, note=_("类别、转换年龄、退保公式和按月生效的标准"))
    person_sections.register(person_section)
    work.register(proposals_work)
