"""银行专线接口 pages: export (报盘), files sent, return import (回盘), return lines, failed-and-owed,
templates. Thin: parse, ask a selector or call one service, render. Access as in the payroll pages
(``shebao.payroll.rules``, each page ``@page(rule)``): ``payroll.export_run`` with 全市范围 exports and
imports returns, ``payroll.compute_run`` re-issues, reviewers write off, ``payroll.view_payrollrun``
reads. Downloading a file's bytes (every payee's full 身份证号 and account) needs
``bank.download_file`` (the clerk role) and 全市范围, and is audited (who, file, sha256, size).
Scope: files and returns of runs in the user's schemes; their lines, the return lines and the failed
list only of persons in the user's towns (file totals are the county's, labelled so).

Export, the return preview and the return import run as background jobs (``shebao.bank.jobs``): the
confirm (or the upload) starts the job — or shows the one already running for those runs or that
file — and the job page shows its progress, then goes on to the file or the return with the message
(the preview's page ends with the confirm step). An uploaded return file waits from the upload to
the import under ``MEDIA_ROOT/bank_returns`` (shared by the web and the worker processes)."""

from __future__ import annotations

import hashlib
import os
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from shebao.bank.forms import ReturnUploadForm
from shebao.bank.jobs import EXPORT, GONE, RETURN_CHECK, RETURN_IMPORT, export_key, return_key
from shebao.bank.models import BankFile, ReturnFile
from shebao.bank.selectors import (
    bank_export_pending,
    bank_file_lines,
    bank_file_list,
    bank_file_scheme_codes,
    bank_run_files,
    bank_run_unsent,
    bank_template_list,
    failed_owed_lines,
    return_file_list,
    return_lines_visible,
)
from shebao.bank.services import bank_return_import
from shebao.common import policy
from shebao.common.audit import audit_record
from shebao.common.models import Job
from shebao.common.money import ZERO, format_yuan
from shebao.common.policy import rule
from shebao.payroll.jobs import job_start_once
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.rules import EXPORT_RULE, REISSUE_RULE, VIEW_RULE, WRITE_OFF_RULE
from shebao.payroll.selectors import (
    payroll_run_family,
    payroll_run_risk_counts,
    payroll_runs,
    payroll_schemes,
)
from shebao.registry.selectors import bank_account_current_number, bank_choices, bank_label
from shebao.web.guards import page
from shebao.web.jobs import job_started_message, render_job
from shebao.web.scope import county_note
from shebao.web.tables import (
    ChoiceFilter,
    Column,
    DateRangeFilter,
    FilterError,
    Table,
    TextFilter,
    render_table,
)

ALL_BANKS = "*"

DOWNLOAD_PERM = "bank.download_file"
DOWNLOAD_RULE = rule(DOWNLOAD_PERM, county=True,
                     note="下载报盘文件（含全市人员的完整身份证号和账号）：经办，全市范围，须有所含批次的险种；每次下载记审计")


STASH_DAYS = 2  # an upload never confirmed is removed after this
JOB_NOTE = _l("进度按步骤显示：每一步是整份文件的一次处理（生成、解析）或数据库里的一条语句，不能逐笔显示进度。"
              "8 万笔约需数秒，80 万笔约需半分钟到一分钟。")


def scheme_choices(request):
    return list(payroll_schemes(user=request.user).values_list("code", "name"))


def _uploads() -> Path:
    """Where a return file waits from its upload to the import job."""
    return Path(settings.MEDIA_ROOT) / "bank_returns"


def _bank_label(code: str) -> str:
    return bank_label(code) if code else _("（未登记开户银行）")


def _crumbs(*items):
    return [(_("银行专线接口"), reverse("bank:file_list")), *items]


def _int_filter(field):
    def method(qs, value, request):
        if not value.isdigit():
            raise FilterError(_("“%(v)s”不是批次号") % {"v": value})
        return qs.filter(**{field: int(value)})
    return method


# --------------------------------------------------------------------------------------------------
# export (报盘)


def _check_posted_runs(request) -> None:
    """403 with the policy's reason when a posted run is of a scheme not the user's."""
    ids = [int(x) for x in request.POST.getlist("runs") if str(x).isdigit()]
    for code in sorted(set(PayrollRun.objects.filter(pk__in=ids).values_list("scheme__code", flat=True))):
        policy.check(request.user, EXPORT_RULE, scheme=code)


@page(EXPORT_RULE)
def export(request):
    if request.method == "POST":
        _check_posted_runs(request)
    pending = list(bank_export_pending(user=request.user))
    banks = sorted({p["bank"] for p in pending})
    run_ids = sorted({p["run_id"] for p in pending})
    runs = {r.pk: r for r in payroll_runs(user=request.user).filter(pk__in=run_ids)}
    data = request.POST if request.method == "POST" else request.GET
    wanted_run = data.get("run", "")
    bank = data.get("bank") or ALL_BANKS
    if bank != ALL_BANKS and bank not in banks:
        bank = ALL_BANKS
    templates = list(bank_template_list())
    template_code = data.get("template") or "standard"
    template = next((t for t in templates if t.code == template_code), templates[0] if templates else None)
    per_run: dict[int, dict] = {}
    for p in pending:
        if bank == ALL_BANKS or p["bank"] == bank:
            o = per_run.setdefault(p["run_id"], {"run": runs[p["run_id"]], "n": 0, "total": ZERO, "banks": []})
            o["n"] += p["n"]
            o["total"] += p["total"]
            o["banks"].append(_bank_label(p["bank"]))
    options = list(per_run.values())
    chosen_ids = {int(x) for x in (request.POST.getlist("runs") if request.method == "POST" else
                                   ([wanted_run] if wanted_run else [])) if str(x).isdigit()}
    if request.method == "GET" and not chosen_ids:
        chosen_ids = {o["run"].pk for o in options}
    for o in options:
        o["checked"] = o["run"].pk in chosen_ids
    chosen = [o for o in options if o["checked"]]
    context = {
        "banks": [(ALL_BANKS, _("全部银行（每个银行一个文件）"))] + [(b, _bank_label(b)) for b in banks],
        "bank": bank, "bank_label": _("各开户银行") if bank == ALL_BANKS else _bank_label(bank),
        "templates": templates, "template": template, "options": options,
        "approved_without_lines": payroll_runs(user=request.user).filter(state=PayrollRun.State.APPROVED)
        .exclude(pk__in=run_ids),
        "breadcrumbs": _crumbs((_("报盘"), "")),
    }
    if request.method == "POST":
        if not chosen:
            messages.error(request, _("请至少选择一个已审核的结算批次"))
        elif template is None:
            messages.error(request, _("没有可用的银行模板"))
        elif request.POST.get("confirm") == "1":
            run_ids = sorted(o["run"].pk for o in chosen)
            # the files the confirm page announced, to name the job's stages (the service decides)
            by_bank: dict[str, list] = {}
            for p in pending:
                if p["run_id"] in run_ids and (bank == ALL_BANKS or p["bank"] == bank):
                    b = by_bank.setdefault(p["bank"], [p["bank"], str(_bank_label(p["bank"])), 0, ZERO])
                    b[2] += p["n"]
                    b[3] += p["total"]
            job, started = job_start_once(
                kind=EXPORT, keys=[export_key(r) for r in run_ids], user=request.user,
                title=_("生成报盘文件：结算批次 %(runs)s") % {"runs": "、".join(f"#{r}" for r in run_ids)},
                params={"runs": run_ids, "template": template.code, "bank": None if bank == ALL_BANKS else bank,
                        "banks": [[c, label, n, str(total)] for c, label, n, total in by_bank.values()]})
            job_started_message(request, job, started)
            return redirect("bank:job", pk=job.pk)
        else:
            risks = [payroll_run_risk_counts(run=o["run"]) for o in chosen]
            count, total = sum(o["n"] for o in chosen), sum((o["total"] for o in chosen), ZERO)
            held = sum(r["held"] for r in risks)
            held_total = sum((r["held_total"] or ZERO for r in risks), ZERO)
            context.update(confirm=True, chosen=chosen, count=count, total=total, held=held, held_total=held_total,
                           to_file=count - held, to_file_total=total - held_total)
    return render(request, "bank/export.html", context)


# --------------------------------------------------------------------------------------------------
# files sent


def _bank_choices(request=None):
    return bank_choices(include_inactive=True)


class FileTable(Table):
    columns = [
        Column("batch_no", _l("批次号"), sortable=True, link=("bank:file_detail", "pk")),
        Column("template__name", _l("模板")),
        Column("bank", kind="choice", choices=_bank_choices),
        Column("file_date", kind="date", sortable=True),
        Column("line_count", kind="num", sortable=True),
        Column("total", kind="money", sortable=True),
        Column("ok_count", _l("成功笔数"), kind="num"),
        Column("failed_count", _l("失败笔数"), kind="num"),
        Column("sha256", _l("校验和(SHA-256)")),
        Column("created_by_name", _l("经办人")),
        Column("created_at", kind="datetime", sortable=True),
    ]
    filters = [
        ChoiceFilter("bank", _l("开户银行"), choices=_bank_choices),
        TextFilter("batch", _l("批次号"), lookups=["batch_no__contains"]),
        TextFilter("run", _l("结算批次"), method=_int_filter("runs")),
        DateRangeFilter("date", _l("报盘日期"), field="file_date"),
    ]
    default_sort = "-created_at"
    export_name = _l("报盘文件")

    def cell_sha256(self, value, row):
        return format_html('<span class="mono" title="{}">{}…</span>', value, value[:12])


@page(VIEW_RULE)
def file_list(request):
    table = FileTable(request, bank_file_list(user=request.user))
    return render_table(request, table, "bank/file_list.html", {
        "can_export": policy.allows(request.user, EXPORT_RULE),
        "county_note": _("笔数和金额为全市合计（含其他镇街道）。") if not policy.county_wide(request.user) else ""})


def _outcome_filter(qs, value, request):
    return {"paid": qs.filter(return_line__ok=True), "failed": qs.filter(return_line__ok=False),
            "waiting": qs.filter(return_line__isnull=True)}[value]


class FileLineTable(Table):
    columns = [
        Column("seq", kind="num", sortable=True),
        # what was sent: the payroll line's snapshot, under the file line's names (``BankFileLine.objects``)
        Column("name", _l("姓名"), link=lambda row: reverse("payroll:line_detail", args=[row["payroll_line_id"]])),
        Column("id_number", _l("身份证号"), kind="id_number"),
        Column("account_number", _l("银行账号"), kind="account"),
        Column("holder_name", _l("户名")),
        Column("amount", _l("金额"), kind="money", sortable=True),
        Column("return_line__processed_amount", _l("实处理金额"), kind="money"),
        Column("return_line__reason", _l("银行返回原因")),
        Column("line_status", _l("发放状态"), kind="choice", choices=PayrollLine.Status.choices),
        Column("run_id", _l("结算批次"), kind="num", link=("payroll:run_detail", "run_id")),
    ]
    filters = [
        TextFilter("q", _l("姓名/身份证号后几位"), lookups=["name__contains", "id_number__endswith"]),
        ChoiceFilter("outcome", _l("回盘结果"), method=_outcome_filter,
                     choices=[("paid", _l("成功")), ("failed", _l("失败")), ("waiting", _l("未回盘"))]),
    ]
    extra_fields = ("payroll_line_id",)
    default_sort = "seq"
    export_name = _l("报盘明细")
    dom_id = "tbl-file-lines"

    def cell_line_status(self, value, row):
        css = {"paid": "ok", "failed": "err", "written_off": "warn"}.get(value, "")
        return format_html('<span class="tag {}">{}</span>', css, PayrollLine.Status(value).label)


def _can_download(user, bank_file) -> bool:
    return all(policy.allows(user, DOWNLOAD_RULE, scheme=code) for code in bank_file_scheme_codes(bank_file))


@page(VIEW_RULE)
def file_detail(request, pk: int):
    user = request.user
    bank_file = get_object_or_404(bank_file_list(user=user), pk=pk)
    table = FileLineTable(request, bank_file_lines(bank_file=bank_file, user=user))
    return render_table(request, table, "bank/file_detail.html", {
        "f": bank_file, "bank_label": _bank_label(bank_file.bank),
        "runs": payroll_runs(user=user).filter(pk__in=BankFile.runs.through.objects.filter(bankfile_id=bank_file.pk)
                                               .values("payrollrun_id")),
        "returns": return_file_list(bank_file=bank_file, user=user),
        "can_download": _can_download(user, bank_file),
        "county_note": county_note(user),
        "breadcrumbs": _crumbs((bank_file.batch_no, "")),
    })


def _run_files_context(run, request) -> dict:
    files = bank_run_files(run=run, user=request.user)
    for x in files:
        x["bank_label"] = _bank_label(x["file"].bank)
    states = [x["state"] for x in files]
    return {"run": run, "files": files, "n_waiting": states.count("waiting"), "n_partial": states.count("partial"),
            "n_returned": states.count("returned"),
            "unsent": [{**u, "label": _bank_label(u["bank"])} for u in bank_run_unsent(run=run)],
            "risks": payroll_run_risk_counts(run=run)}


@page(VIEW_RULE)
def run_files(request, pk: int):
    """A run's files (one per bank) and their returns: each file 未回盘 / 部分回盘 / 已回盘, with the lines
    not yet in a file — where a multi-bank export lands."""
    run = get_object_or_404(payroll_runs(user=request.user), pk=pk)
    return render(request, "bank/run_files.html", {
        **_run_files_context(run, request), "county_note": county_note(request.user),
        "breadcrumbs": _crumbs((str(run), reverse("payroll:run_detail", args=[run.pk])), (_("报盘文件与回盘"), ""))})


def run_files_section(run, request):
    """The run page's section of its files (``payroll.run_sections``), once the run was approved."""
    if run.state == PayrollRun.State.COMPUTED:
        return None
    return render_to_string("bank/_run_files.html", _run_files_context(run, request), request=request)


@page(DOWNLOAD_RULE)
def file_download(request, pk: int):
    """The kept bytes of the file, exactly as written: every payee's full numbers, so the file's
    schemes must all be the user's, and each download is audited (who, file, sha256, size)."""
    bank_file = get_object_or_404(bank_file_list(user=request.user), pk=pk)
    for code in sorted(bank_file_scheme_codes(bank_file)):
        policy.check(request.user, DOWNLOAD_RULE, scheme=code)
    bank_file = BankFile.objects.get(pk=bank_file.pk)
    content = bytes(bank_file.content)
    with transaction.atomic():
        audit_record(user=request.user, action="bank_file_download", obj=bank_file,
                     summary=f"下载报盘文件 {bank_file.batch_no}（{bank_file.line_count} 笔，{len(content)} 字节）"[:300],
                     after={"batch_no": bank_file.batch_no, "file_name": bank_file.file_name,
                            "sha256": bank_file.sha256, "size": len(content), "line_count": bank_file.line_count})
    ctype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
             if bank_file.file_name.endswith(".xlsx") else "application/octet-stream")
    response = HttpResponse(content, content_type=ctype)
    response["Content-Disposition"] = (f"attachment; filename=\"{bank_file.file_name}\"; "
                                       f"filename*=UTF-8''{quote(bank_file.file_name)}")
    response["X-Content-SHA256"] = bank_file.sha256
    return response


# --------------------------------------------------------------------------------------------------
# return import (回盘)


class ReturnFileTable(Table):
    columns = [
        Column("id", _l("回盘"), kind="num", sortable=True, link=("bank:return_detail", "pk")),
        Column("bank_file__batch_no", _l("批次号"), link=("bank:file_detail", "bank_file_id")),
        Column("file_name"),
        Column("line_count", kind="num"),
        Column("ok_count", kind="num"),
        Column("ok_total", kind="money"),
        Column("failed_count", kind="num"),
        Column("failed_total", kind="money"),
        Column("imported_by__full_name", _l("导入人")),
        Column("imported_at", kind="datetime", sortable=True),
    ]
    filters = [TextFilter("batch", _l("批次号"), lookups=["bank_file__batch_no__contains"])]
    extra_fields = ("bank_file_id",)
    default_sort = "-imported_at"
    export_name = _l("回盘文件")


def _stash_path(user, digest: str) -> Path:
    return _uploads() / f"{user.pk}-{digest}"


def _stash(user, digest: str, data: bytes) -> Path:
    """Keep the upload for the jobs (written whole, then renamed: a job never reads half a file);
    uploads older than ``STASH_DAYS`` that were never imported go."""
    folder = _uploads()
    folder.mkdir(parents=True, exist_ok=True)
    old = time.time() - STASH_DAYS * 86400
    for p in folder.iterdir():
        if p.is_file() and p.stat().st_mtime < old:
            p.unlink(missing_ok=True)
    path = _stash_path(user, digest)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


@page(VIEW_RULE)
def returns(request):
    """The returns list (of the user's schemes), and the upload: a POST needs the import's rule
    (``payroll.export_run``, 全市范围) — 403 otherwise, nothing kept."""
    can_import = policy.allows(request.user, EXPORT_RULE)
    if request.method == "POST":
        policy.check(request.user, EXPORT_RULE)
    form = ReturnUploadForm(request.POST or None, request.FILES or None) if can_import else None
    context = {"form": form, "can_import": can_import, "breadcrumbs": _crumbs((_("回盘导入"), ""))}
    if request.method == "POST" and can_import:
        if request.POST.get("confirm") == "1":
            return _import_confirmed(request)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            data = upload.read()
            digest = hashlib.sha256(data).hexdigest()
            if ReturnFile.objects.filter(sha256=digest).exists():
                result = bank_return_import(data=data, filename=upload.name, user=request.user)  # writes nothing
                messages.info(request, format_html('{} <a href="{}">{}</a>', result.note,
                                                   reverse("bank:return_detail", args=[result.return_file.pk]),
                                                   _("查看该回盘")))
                return redirect("bank:returns")
            # the import's own whole-file checks, writing nothing, as a job: the confirm step is its page
            path = _stash(request.user, digest, data)
            name = os.path.basename(upload.name)[:200] or "return.txt"
            job, started = job_start_once(
                kind=RETURN_CHECK, keys=[return_key(digest)], same_as=[RETURN_IMPORT], user=request.user,
                title=_("检查回盘文件：%(name)s") % {"name": name},
                params={"path": str(path), "digest": digest, "filename": name, "template": None, "stashed": True})
            job_started_message(request, job, started)
            return redirect("bank:job", pk=job.pk)
    table = ReturnFileTable(request, return_file_list(user=request.user))
    return render_table(request, table, "bank/returns.html", context)


def _import_confirmed(request):
    """The confirm of a finished check: import the same stashed file as a job."""
    pk = request.POST.get("job", "")
    check = Job.objects.filter(pk=int(pk), kind=RETURN_CHECK, state=Job.State.DONE,
                               created_by=request.user).first() if pk.isdigit() else None
    if check is None:
        messages.error(request, GONE)
        return redirect("bank:returns")
    params = check.params
    if not Path(params["path"]).exists():
        seen = ReturnFile.objects.filter(sha256=params["digest"]).first()
        if seen is not None:  # imported meanwhile (a second confirm after the import ended)
            messages.info(request, _("该回盘文件已导入（回盘 #%(n)s），本次未做任何更改。") % {"n": seen.pk})
            return redirect("bank:return_detail", pk=seen.pk)
        messages.error(request, GONE)
        return redirect("bank:returns")
    job, started = job_start_once(
        kind=RETURN_IMPORT, keys=[return_key(params["digest"])], same_as=[RETURN_CHECK], user=request.user,
        title=_("导入回盘文件：%(name)s") % {"name": params["filename"]},
        params={**{k: params[k] for k in ("path", "digest", "filename", "template", "stashed")}, "check_job": check.pk})
    job_started_message(request, job, started)
    return redirect("bank:job", pk=job.pk)


def _job_in_scope(job: Job, user) -> bool:
    """An export job is seen by users of its runs' schemes; a return job (its check lists failed lines
    of every town) by county-wide users of its file's schemes."""
    if job.kind == EXPORT:
        codes = set(PayrollRun.objects.filter(pk__in=job.params.get("runs", [])).values_list("scheme__code", flat=True))
    else:
        if not policy.county_wide(user):
            return False
        file_id = (job.result or {}).get("bank_file_id")
        bank_file = BankFile.objects.defer("content").filter(pk=file_id).first() if file_id else None
        codes = bank_file_scheme_codes(bank_file) if bank_file else set()
    return all(policy.scheme_allowed(user, c) for c in codes)


@page(VIEW_RULE)
def job_page(request, pk: int):
    job = Job.objects.select_related("created_by").filter(pk=pk, kind__in=(EXPORT, RETURN_CHECK, RETURN_IMPORT)).first()
    if job is None or not _job_in_scope(job, request.user):
        raise Http404(_("任务不存在"))
    result = job.result or {}
    links, done_url, announce, done_template = [], "", None, ""
    if job.kind == EXPORT:
        files = list(BankFile.objects.defer("content", "definition").filter(
            pk__in=[f["id"] for f in result.get("files", [])]).order_by("batch_no"))
        links = [(_("查看报盘文件 %(b)s") % {"b": f.batch_no}, reverse("bank:file_detail", args=[f.pk])) for f in files]
        runs = job.params.get("runs", [])
        links += [(_("查看结算批次 %(n)s") % {"n": r}, reverse("payroll:run_detail", args=[r])) for r in runs]
        if job.state == Job.State.FAILED:
            links.append((_("返回报盘"), reverse("bank:export")))
        unchanged = _("没有生成报盘文件，结算批次未做任何更改。")
        if files:
            # one file: that file; several (one per bank): the run's summary of all its files and returns
            done_url = (reverse("bank:run_files", args=[runs[0]]) if len(files) > 1 and runs
                        else reverse("bank:file_detail", args=[files[-1].pk]))

            def announce():
                listed = format_html_join("；", '<a href="{}">{}</a>（{} 笔，{} 元）<a href="{}">下载</a>', (
                    (reverse("bank:file_detail", args=[f.pk]), f.batch_no, f.line_count, format_yuan(f.total),
                     reverse("bank:file_download", args=[f.pk])) for f in files))
                messages.success(request, format_html("{}：{}", _("已生成报盘文件"), listed))
                if result.get("held"):
                    messages.warning(request, format_html(
                        '{} <a href="{}">{}</a>',
                        _("风险明细 %(n)s 笔 %(t)s 元未放行，已暂缓、不在报盘文件中（转为失败待发：变更账户后二次报盘，"
                          "或由审核员核销）。") % {"n": result["held"], "t": format_yuan(Decimal(result["held_total"]))},
                        reverse("bank:failed") + (f"?run={runs[0]}" if len(runs) == 1 else ""), _("查看失败待发")))
    elif job.kind == RETURN_CHECK:
        unchanged = _("文件未导入，未做任何更改。")
        if job.state == Job.State.DONE:
            done_template = "bank/_return_confirm.html"
        links.append((_("回盘导入"), reverse("bank:returns")))
    else:
        rf = ReturnFile.objects.select_related("bank_file").filter(pk=result.get("return_file_id") or 0).first()
        links = [(_("查看回盘明细"), reverse("bank:return_detail", args=[rf.pk]))] if rf else []
        links.append((_("回盘导入"), reverse("bank:returns")))
        unchanged = _("文件未导入，未做任何更改。")
        if rf:
            done_url = reverse("bank:return_detail", args=[rf.pk])

            def announce():
                link = format_html('<a href="{}">{}</a>', done_url, _("查看回盘明细"))
                if not result.get("created"):
                    messages.info(request, format_html("{} {}", result.get("note", ""), link))
                    return
                messages.success(request, format_html("{} {}：{}。{}", _("已导入回盘"), rf.bank_file.batch_no,
                                                      result.get("note", ""), link))
                if rf.failed_count:
                    messages.warning(request, format_html(
                        '{} <a href="{}">{}</a>', _("有 %(n)s 笔失败，请核对账户后二次报盘或核销。") % {"n": rf.failed_count},
                        reverse("bank:failed"), _("失败待发清单")))
    return render_job(request, job, poll_url=reverse("bank:job", args=[job.pk]), links=links, unchanged=unchanged,
                      done_url=done_url, announce=announce, done_template=done_template, note=JOB_NOTE,
                      head_template="payroll/_head.html",
                      extra={"result": result, "can_confirm": job.created_by_id == request.user.pk
                             and policy.allows(request.user, EXPORT_RULE)},
                      breadcrumbs=_crumbs((_("回盘导入"), reverse("bank:returns")) if job.kind != EXPORT
                                          else (_("报盘"), reverse("bank:export")), (job.title, "")))


class ReturnLineTable(Table):
    columns = [
        Column("return_file_id", _l("回盘"), kind="num", link=("bank:return_detail", "return_file_id")),
        Column("bank_file_line__bank_file__batch_no", _l("批次号")),
        Column("line_no", kind="num", sortable=True),
        Column("bank_file_line__seq", _l("序号"), kind="num", sortable=True),
        Column("bank_file_line__payroll_line__name", _l("姓名")),
        Column("bank_file_line__payroll_line__id_number", _l("身份证号"), kind="id_number"),
        Column("bank_file_line__payroll_line__account_number", _l("银行账号"), kind="account"),
        Column("bank_file_line__payroll_line__net", _l("金额"), kind="money"),
        Column("processed_amount", kind="money"),
        Column("ok", _l("结果"), kind="bool"),
        Column("status_code"),
        Column("reason"),
        Column("return_file__imported_at", _l("导入时间"), kind="datetime", sortable=True),
    ]
    filters = [
        TextFilter("q", _l("姓名/身份证号后几位"),
                   lookups=["bank_file_line__payroll_line__name__contains",
                            "bank_file_line__payroll_line__id_number__endswith"]),
        TextFilter("batch", _l("批次号"), lookups=["bank_file_line__bank_file__batch_no__contains"]),
        ChoiceFilter("ok", _l("结果"), field="ok", choices=[("True", _l("成功")), ("False", _l("失败"))]),
        TextFilter("reason", _l("原因"), lookups=["reason__contains"]),
        DateRangeFilter("imported", _l("导入日期"), field="return_file__imported_at", datetime=True),
    ]
    default_sort = "-return_file__imported_at"
    export_name = _l("回盘明细")
    dom_id = "tbl-return-lines"

    def cell_ok(self, value, row):
        return format_html('<span class="tag {}">{}</span>', "ok" if value else "err", _("成功") if value else _("失败"))

    def xlsx_ok(self, value, row):
        return _("成功") if value else _("失败")


@page(VIEW_RULE)
def return_detail(request, pk: int):
    rf = get_object_or_404(return_file_list(user=request.user), pk=pk)
    table = ReturnLineTable(request, return_lines_visible(user=request.user, return_file=rf))
    return render_table(request, table, "bank/return_detail.html", {
        "rf": rf, "county_note": county_note(request.user),
        "breadcrumbs": _crumbs((_("回盘导入"), reverse("bank:returns")), (f"#{rf.pk}", ""))})


@page(VIEW_RULE)
def return_line_list(request):
    table = ReturnLineTable(request, return_lines_visible(user=request.user))
    return render_table(request, table, "bank/return_lines.html", {"breadcrumbs": _crumbs((_("回盘明细查询"), ""))})


# --------------------------------------------------------------------------------------------------
# failed and owed (失败待发)


def _run_family_filter(qs, value, request):
    if not value.isdigit():
        raise FilterError(_("“%(v)s”不是批次号") % {"v": value})
    run = payroll_runs(user=request.user).filter(pk=int(value)).first()
    if run is None:
        return qs.none()
    return qs.filter(run_id__in=payroll_run_family(run=run))


class FailedTable(Table):
    columns = [
        Column("run_id", _l("结算批次"), kind="num", link=("payroll:run_detail", "run_id")),
        Column("run__scheme__name", _l("险种"), css="nowrap"),
        Column("run__period", _l("年月"), kind="month"),
        Column("seq", kind="num"),
        Column("name", link=lambda row: reverse("payroll:line_detail", args=[row["pk"]]), css="nowrap"),
        Column("id_number", kind="id_number"),
        Column("net", _l("金额"), kind="money", sortable=True),
        Column("account_number", _l("失败账号"), kind="account"),
        Column("batch_no", _l("报盘批次")),
        Column("fail_reason", _l("失败原因（银行返回或风险暂缓）")),
        Column("current_account", _l("当前账号"), kind="account", css="wrap"),  # its 未变更 tag may go below
        Column("actions", _l("处理"), field="person_id", export=False),
    ]
    filters = [
        TextFilter("q", _l("姓名/身份证号后几位"), lookups=["name__contains", "id_number__endswith"]),
        ChoiceFilter("scheme", _l("险种"), field="run__scheme__code", choices=scheme_choices),
        TextFilter("run", _l("结算批次"), method=_run_family_filter),
    ]
    extra_fields = ("person_id",)
    export_name = _l("失败待发")
    dom_id = "tbl-failed"

    def cell_current_account(self, value, row):
        text = self.masker.account(value or "")
        if value and value == row.get("account_number"):
            return format_html('<span class="mono">{}</span> <span class="tag warn">{}</span>', text, _("未变更"))
        return format_html('<span class="mono">{}</span>', text) if value else format_html(
            '<span class="tag err">{}</span>', _("无账户"))

    def cell_actions(self, value, row):
        user = self.request.user
        parts = []
        if value:  # a person's line (an organisation payee's account is corrected on the payee register)
            parts.append(format_html('<a href="{}">{}</a>', reverse("registry:person_detail", args=[value]),
                                     _("更正账户")))
        if policy.allows(user, REISSUE_RULE):
            parts.append(format_html('<a href="{}">{}</a>', reverse("payroll:run_reissue", args=[row["run_id"]]),
                                     _("二次报盘")))
        if policy.allows(user, WRITE_OFF_RULE):
            parts.append(format_html('<a href="{}?next={}">{}</a>',
                                     reverse("payroll:line_write_off", args=[row["pk"]]), reverse("bank:failed"),
                                     _("核销")))
        # a link never breaks inside its words; the links may go on separate lines when the table is wide
        return format_html_join(" ", '<span class="nowrap">{}</span>', ((p,) for p in parts))


@page(VIEW_RULE)
def failed(request):
    qs = failed_owed_lines(user=request.user).annotate(current_account=bank_account_current_number("person_id"))
    table = FailedTable(request, qs)
    sums = table.queryset.aggregate(n=Count("id"), total=Sum("net"))
    return render_table(request, table, "bank/failed.html", {
        "sums": sums, "breadcrumbs": _crumbs((_("失败待发"), ""))})


# --------------------------------------------------------------------------------------------------
# templates


def _field_names(fields) -> str:
    out = []
    for f in fields or []:
        if isinstance(f, str):
            out.append(f)
        elif f.get("name"):
            out.append(f["name"] + (f"({f['width']})" if f.get("width") else ""))
        else:
            out.append(f"“{f.get('value', '')}”" + (f"({f['width']})" if f.get("width") else ""))
    return " | ".join(out)


@page(VIEW_RULE)
def template_list(request):
    rows = []
    for t in bank_template_list(active_only=False):
        d = t.definition or {}
        pay, ret = d.get("payment", {}), d.get("return", {})
        rows.append({"t": t, "format": {"delimited": _("分隔符文本"), "fixed": _("定长文本"), "xlsx": "xlsx"}.get(
            d.get("format"), d.get("format")), "encoding": d.get("encoding", "GB18030") if d.get("format") != "xlsx" else "—",
            "unit": _("元（两位小数）") if d.get("amount_unit", "yuan") == "yuan" else _("分（整数）"),
            "delimiter": d.get("delimiter", "|") if d.get("format") == "delimited" else "",
            "payment": [("头", _field_names(pay.get("header"))), ("明细", _field_names(pay.get("detail"))),
                        ("尾", _field_names(pay.get("trailer")))],
            "returns": [("头", _field_names(ret.get("header"))), ("明细", _field_names(ret.get("detail"))),
                        ("尾", _field_names(ret.get("trailer")))],
            "status": ret.get("status", {}),
            "files": t.files.count()})
    return render(request, "bank/templates.html", {"rows": rows, "breadcrumbs": _crumbs((_("银行模板"), ""))})


# --------------------------------------------------------------------------------------------------
# home-page work item (registered in BankConfig.ready)


def work_failed_owed(request):
    user = request.user
    if not policy.allows(user, VIEW_RULE):
        return []
    n = failed_owed_lines(user=user).count()
    return [(_("银行发放失败待处理"), n, reverse("bank:failed"))]
