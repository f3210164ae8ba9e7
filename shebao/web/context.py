"""Context for every page: system name, the menu, the active breadcrumb trail and who the user is."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from shebao.web import menu


def user_scope_label(user) -> str:
    """全市 for centre staff, else the names of the user's towns."""
    if not user.is_authenticated:
        return ""
    if user.all_regions or user.is_superuser:
        return _("全市")
    names = [r.name for r in user.regions.all()]
    return "、".join(names) if names else _("未分配管辖范围")


def shell(request):
    context = {"system_name": settings.SHEBAO_SYSTEM_NAME, "agency_name": settings.SHEBAO_AGENCY_NAME}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    built = SimpleLazyObject(lambda: menu.build_menu(request))
    context.update(
        shell_menu=built,
        shell_menu_html=SimpleLazyObject(lambda: menu.menu_html(request, built)),
        shell_trail=SimpleLazyObject(lambda: menu.active_trail(built)),
        shell_scope=SimpleLazyObject(lambda: user_scope_label(user)),
        shell_roles=SimpleLazyObject(lambda: user.role_labels),
    )
    return context
