"""老农保 pages: the legacy import (IT) — upload or name a folder, a dry run as a job, commit, batches."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from shebao.common.jobs import job_get, job_start
from shebao.common.models import Job
from shebao.common.once import AlreadySubmitted, write_once
from shebao.rural_pension.forms import ImportForm
from shebao.rural_pension.selectors import import_batches, import_reconciliation, import_rejections
from shebao.rural_pension.views.base import IMPORT_JOB, _confirmed, _crumbs, it_required
from shebao.web.tables import ChoiceFilter, Column, Table, render_table

# legacy import (IT)


class BatchTable(Table):
    columns = [
        Column("id", pgettext_lazy("import", "批次"), kind="num", sortable=True, link=("rural:import_batch", "pk")),
        Column("source", _("来源目录")),
        Column("created_by__full_name", _("经办人")),
        Column("created_at", _("导入时间"), kind="datetime", sortable=True),
    ]
    default_sort = "-id"
    export_name = _("老农保导入批次")
    dom_id = "tbl-batches"


class RejectionTable(Table):
    columns = [
        Column("file", _("文件"), sortable=True),
        Column("line_no", _("行号"), kind="num", sortable=True),
        Column("reason", _("原因")),
        Column("content", _("内容"), css="wrap"),
    ]
    filters = [ChoiceFilter("file", _("文件"), choices=[(f, f) for f in ("persons.csv", "contributions.csv",
                                                                      "payouts.csv", "rates.csv")])]
    export_name = _("导入拒绝行")
    dom_id = "tbl-rejections"


def _upload_dir(user) -> Path:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    path = Path(settings.MEDIA_ROOT) / "rural_import" / f"{stamp}-{user.pk}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True, exist_ok=False)
    return path


@it_required
def import_start(request):
    """Upload the files (or name a server folder) → a dry run as a background job."""
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    if request.method == "POST" and form.is_valid():
        directory = form.cleaned_data["directory"]
        if not directory:
            target = _upload_dir(request.user)
            for name, upload in form.uploads().items():
                with open(target / name, "wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
            directory = str(target)
        try:
            job = write_once(request, "nb.import_start", lambda: job_start(
                kind=IMPORT_JOB, title=gettext_noop("老农保原系统数据导入：试运行（不写入）"),
                params={"directory": directory, "dry_run": True}, user=request.user))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("rural:import_start")
        messages.info(request, format_html(gettext("已开始试运行：校验并对账 {directory}，不写入任何数据。"),
                                           directory=directory))
        return redirect("rural:import_job", pk=job.pk)
    table = BatchTable(request, import_batches())
    return render_table(request, table, "rural_pension/import.html", {
        "form": form, "breadcrumbs": _crumbs((gettext("原系统数据导入"), "")),
    })


def _import_job(request, pk: int) -> Job:
    job = job_get(user=request.user, pk=pk)
    if job is None or job.kind != IMPORT_JOB:
        raise Http404(gettext("任务不存在或您无权查看"))
    return job


def _job_context(job: Job) -> dict:
    result = job.result or {}
    recon = []
    for r in result.get("reconciliation", []):
        row = {k: (Decimal(v) if k.startswith("amount") else int(v) if k.startswith("rows") else v)
               for k, v in r.items()}
        row["rows_loaded"] = row["rows_new"] + row["rows_unchanged"]
        row["amount_loaded"] = row["amount_new"] + row["amount_unchanged"]
        row["balanced"] = (row["rows_read"] == row["rows_loaded"] + row["rows_rejected"]
                           and row["amount_read"] == row["amount_loaded"] + row["amount_rejected"])
        recon.append(row)
    finished = job.state in (Job.State.DONE, Job.State.FAILED)
    return {"job": job, "finished": finished, "failed": job.state == Job.State.FAILED, "result": result,
            "recon": recon, "dry_run": job.params.get("dry_run"), "directory": job.params.get("directory")}


@it_required
def import_job(request, pk: int):
    job = _import_job(request, pk)
    ctx = _job_context(job) | {"breadcrumbs": _crumbs((gettext("原系统数据导入"), reverse("rural:import_start")),
                                                      (gettext("任务 %(id)s") % {"id": job.pk}, ""))}
    template = "rural_pension/_import_job.html" if request.GET.get("partial") else "rural_pension/import_job.html"
    return render(request, template, ctx)


@it_required
@require_POST
def import_commit(request, pk: int):
    """Commit what a finished dry run checked: the same folder, now as a writing job."""
    dry = _import_job(request, pk)
    if not (dry.params.get("dry_run") and dry.state == Job.State.DONE) or not _confirmed(request):
        messages.error(request, gettext("只能在试运行成功完成后确认导入"))
        return redirect("rural:import_job", pk=dry.pk)
    try:
        job = write_once(request, "nb.import_commit", lambda: job_start(
            kind=IMPORT_JOB, title=gettext_noop("老农保原系统数据导入：正式导入"),
            params={"directory": dry.params["directory"], "dry_run": False, "dry_run_job": dry.pk},
            user=request.user))
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
        return redirect("rural:import_job", pk=dry.pk)
    messages.info(request, format_html(gettext("已开始正式导入 {directory}（任务 {id}）。"),
                                       directory=dry.params["directory"], id=job.pk))
    return redirect("rural:import_job", pk=job.pk)


@it_required
def import_batch(request, pk: int):
    batch = import_batches().filter(pk=pk).first()
    if batch is None:
        raise Http404(gettext("导入批次不存在"))
    recon = list(import_reconciliation(batch=batch))
    for r in recon:
        r.rows_loaded = r.rows_new + r.rows_unchanged
        r.amount_loaded = r.amount_new + r.amount_unchanged
    table = RejectionTable(request, import_rejections(batch=batch))
    return render_table(request, table, "rural_pension/import_batch.html", {
        "batch": batch, "recon": recon,
        "breadcrumbs": _crumbs((gettext("原系统数据导入"), reverse("rural:import_start")),
                               (gettext("批次 %(id)s") % {"id": batch.pk}, "")),
    })
