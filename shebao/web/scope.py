"""What a page says about the user's scope (shared by every app's pages)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from shebao.common import policy


def county_note(user) -> str:
    """For a user of some towns: the totals shown are the county's, the lines only theirs."""
    if policy.county_wide(user):
        return ""
    return _("合计为全市合计（含其他镇街道）；明细只列出您管辖镇街道的人员。")
