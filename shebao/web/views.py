import datetime as dt

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from shebao.common.policy import SIGNED_IN
from shebao.web import menu, work
from shebao.web.context import user_scope_label
from shebao.web.guards import page


def _greeting(now: dt.datetime) -> str:
    hour = timezone.localtime(now).hour
    if hour < 5:
        return _("夜深了")
    if hour < 11:
        return _("上午好")
    if hour < 13:
        return _("中午好")
    if hour < 18:
        return _("下午好")
    return _("晚上好")


@page(SIGNED_IN)
def home(request):
    user = request.user
    return render(request, "web/home.html", {
        "greeting": _greeting(timezone.now()),
        "today": timezone.localdate(),
        "scope": user_scope_label(user),
        "roles": user.role_labels,
        "work_items": work.collect(request),
        "can_add_person": user.has_perm("registry.add_person"),
    })


@page(SIGNED_IN)
def wip(request, key: str):
    """The one honest page for menu entries whose page is not built yet."""
    entry = menu.find_entry(key)
    group = menu.find_group_of(key)
    if entry is None or group is None:
        raise Http404(_("没有这个菜单项"))
    if not menu.entry_visible(request.user, entry):  # an entry the menu hides does not exist for this user
        raise Http404(_("没有这个菜单项"))
    url, built = menu.entry_url(entry)
    return render(request, "web/wip.html", {
        "entry": entry,
        "group": group,
        "built_url": url if built else "",
        "breadcrumbs": [(group.label, ""), (entry.label, "")],
    })
