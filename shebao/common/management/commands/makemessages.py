"""``manage.py makemessages`` that also collects ``_l("…")`` — the views' alias for ``gettext_lazy``
(column titles and filter labels are built at import time, so they must be lazy)."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_l"]
