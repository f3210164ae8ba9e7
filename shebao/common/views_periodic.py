"""定时任务 page: each schedule (name, cron, last run, outcome, duration, next run) and its recent runs.
Read only; a schedule is run by hand with ``shebao periodic run NAME``."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _

from shebao.common.models import PeriodicRun
from shebao.common.periodic import schedule_rows
from shebao.common.policy import rule
from shebao.web.guards import page

PERIODIC_VIEW = rule("accounts.it_ops", note="信息科：定时任务运行情况")
RECENT = 50


@page(PERIODIC_VIEW)
def schedule_list(request):
    return render(request, "common/periodic.html", {
        "rows": schedule_rows(), "runs": PeriodicRun.objects.order_by("-started_at", "-id")[:RECENT],
        "breadcrumbs": [(_("定时任务"), "")]})
