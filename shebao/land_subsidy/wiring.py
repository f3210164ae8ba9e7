"""Hooks into the shell: menu URLs and the person page's 土保补贴 section. (The roles' permissions are in
``shebao.accounts.roles``.)"""

from __future__ import annotations

from django.utils.translation import gettext


def person_section(person, request):
    """The person page's 土保补贴 section: category, status, this year's entitlement, last payments."""
    from shebao.common import policy
    from shebao.land_subsidy import selectors as sel
    from shebao.land_subsidy.models import SubsidyPerson
    from shebao.land_subsidy.permissions import VIEW_RULE
    from shebao.land_subsidy.rules import entitlement

    if not policy.allows(request.user, VIEW_RULE):
        return None
    record = SubsidyPerson.objects.filter(person=person).select_related("category", "enrollment", "person").first()
    if record is None:
        return None
    return (gettext("土保补贴"), "land_subsidy/person_section.html", {
        "record": record, "entitlement": entitlement(record, sel.this_year()),
        "lines": sel.person_lines(person.pk)[:3],
    })


def connect() -> None:
    from shebao.land_subsidy.permissions import VIEW
    from shebao.web import menu, person_sections

    for key, url in [("tb.persons", "land_subsidy:person_list"), ("tb.roster", "land_subsidy:runs"),
                     ("tb.bankfile", "land_subsidy:runs"), ("tb.categories", "land_subsidy:categories"),
                     ("tb.import", "land_subsidy:import")]:
        if menu.find_entry(key) is not None:
            menu.set_url(key, url, perm=VIEW, scheme="TB")
    person_sections.register(person_section)
