"""Template helpers: masking by the viewer's right, money and month formatting."""

from django import template
from django.utils.html import format_html

from shebao.common.masking import masker_for
from shebao.common.money import format_yuan

register = template.Library()


@register.simple_tag(takes_context=True)
def sensitive(context, value, kind="id_number"):
    """{% sensitive person.id_number "id_number" %} — kind: id_number, account, phone."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return masker_for(user).apply(kind, value or "")


@register.filter
def yuan(value):
    """Amount with thousands separators and two decimals; negative in red."""
    if value is None or value == "":
        return ""
    text = format_yuan(value)
    if text.startswith("-"):
        return format_html('<span class="neg">{}</span>', text)
    return text


@register.simple_tag
def once_field():
    """{% once_field %} — the one-time token of a form that creates money or a record
    (``shebao.common.once``): a second submit of the same page is refused by the database."""
    from shebao.common.once import FIELD, new_token

    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, new_token())
