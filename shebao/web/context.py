"""Context for every page: system name, the menu, the active breadcrumb trail and who the user is."""

from django.conf import settings
from django.urls import get_script_prefix, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
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


_LANGUAGE_BUTTONS: dict[str, str] = {}


def language_buttons(current: str) -> str:
    """The language switch's buttons (中文 / EN, the current one marked), the same for every page in one
    language: built once per language and process rather than by a template loop on every page."""
    html = _LANGUAGE_BUTTONS.get(current)
    if html is None:
        html = "\n".join(format_html(
            '<button type="submit" name="language" value="{}" class="link{}"{}>{}</button>',
            code, " current" if code == current else "", mark_safe(' aria-current="true"') if code == current else "",
            "EN" if code == "en" else "中文") for code, _name in settings.LANGUAGES)
        _LANGUAGE_BUTTONS[current] = html
    return mark_safe(html)  # built by format_html (escaped)


SHELL_URLS = {"home": "web:home", "person_list": "registry:person_list",
              "person_suggest": "registry:person_suggest", "set_language": "set_language",
              "logout": "accounts:logout"}
_URLS: dict[str, dict[str, str]] = {}


def shell_urls() -> dict[str, str]:
    """The URLs of the layout (home, the search box, language switch, logout): reversed once per
    process (and script prefix) — six ``{% url %}`` tags per page cost more than the page's search."""
    prefix = get_script_prefix()
    urls = _URLS.get(prefix)
    if urls is None:
        urls = _URLS[prefix] = {key: reverse(name) for key, name in SHELL_URLS.items()}
    return urls


def shell(request):
    context = {"system_name": settings.SHEBAO_SYSTEM_NAME, "agency_name": settings.SHEBAO_AGENCY_NAME,
               "shell_urls": shell_urls()}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    built = SimpleLazyObject(lambda: menu.build_menu(request))
    context.update(
        shell_menu=built,
        shell_menu_html=SimpleLazyObject(lambda: menu.menu_html(request)),
        shell_trail=SimpleLazyObject(lambda: menu.shell_trail(request)),
        shell_scope=SimpleLazyObject(lambda: user_scope_label(user)),
        shell_roles=SimpleLazyObject(lambda: user.role_labels),
        shell_language_buttons=SimpleLazyObject(lambda: language_buttons(get_language())),
    )
    return context
