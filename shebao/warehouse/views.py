"""The 回流库 pages: dictionary (tables, a table, export), loads, audit findings and rules, saved queries
and the IT console. Thin: every read is a selector, every write a service."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from shebao.accounts.models import Role
from shebao.common import policy
from shebao.common.masking import mask_text, masker_for
from shebao.common.once import AlreadySubmitted, once_claim
from shebao.common.sheets import XlsxWriter
from shebao.warehouse import selectors as sel
from shebao.warehouse.audit import AuditError, audit_run
from shebao.warehouse.console import ConsoleError, run_sql
from shebao.warehouse.landing import LandingError, warehouse_load
from shebao.warehouse.models import AuditRule, ConsoleRun, Finding, Load, SavedQuery, WhTable
from shebao.warehouse.permissions import (
    AUDIT_RULE,
    AUDIT_RUN_RULE,
    CONSOLE_RULE,
    LOAD_RULE,
    QUERY_RULE,
    RULES_EDIT_RULE,
    VIEW_RULE,
)
from shebao.warehouse.services import (
    FindingError,
    finding_accept_certification,
    finding_confirm,
    finding_dismiss,
    rule_create,
)
from shebao.web.guards import page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(name: str, headers: list[str], rows) -> HttpResponse:
    buf = io.BytesIO()
    with XlsxWriter(buf, headers=headers) as w:
        for r in rows:
            w.write_row(["" if v is None else str(v) for v in r])
    response = HttpResponse(buf.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


@page(VIEW_RULE)
def dictionary(request):
    tables = list(sel.wh_tables().prefetch_related("columns"))
    counts = sel.row_counts(tables)
    for t in tables:
        t.rows = counts.get(t.pk, 0)
    return render(request, "warehouse/dictionary.html", {"tables": tables})


@page(VIEW_RULE)
def dictionary_export(request):
    if request.GET.get("format") == "md":
        response = HttpResponse(sel.dictionary_markdown(), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="warehouse_dictionary.md"'
        return response
    return _xlsx("warehouse_dictionary", sel.DICTIONARY_HEADERS, sel.dictionary_rows())


@page(VIEW_RULE)
def table_detail(request, pk):
    table = sel.table_get(pk)
    return render(request, "warehouse/table.html", {
        "table": table, "columns": table.columns.all(), "codes": sel.codes_of(table), "rows": sel.exact_count(table),
        "loads": table.loads.all()[:20]})


@page(VIEW_RULE)
def loads(request):
    if request.method == "POST":
        if not policy.allows(request.user, LOAD_RULE):
            return HttpResponse(_("您没有此功能的权限"), status=403)
        table = get_object_or_404(WhTable, pk=request.POST.get("table") or 0)
        upload = request.FILES.get("file")
        mode = request.POST.get("mode", "full")
        if upload is None:
            messages.error(request, _("请选择文件"))
            return redirect("warehouse:loads")
        suffix = Path(upload.name).suffix.lower()[:10]
        with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
            for chunk in upload.chunks():
                tmp.write(chunk)
            tmp.flush()
            try:
                with transaction.atomic():
                    once_claim(request, form="warehouse.load")
                    result = warehouse_load(source_name=table.source.name, table_name=table.name,
                                            path=Path(tmp.name), mode=mode, user=request.user, file_name=upload.name)
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("warehouse:loads")
            except LandingError as exc:
                messages.error(request, str(exc))
                return redirect("warehouse:loads")
        return redirect("warehouse:load", pk=result.load.pk)
    qs = Load.objects.select_related("table", "table__source", "created_by")
    page_obj = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "warehouse/loads.html", {
        "page": page_obj, "tables": WhTable.objects.filter(retired=False).select_related("source"),
        "can_load": policy.allows(request.user, LOAD_RULE)})


@page(VIEW_RULE)
def load_detail(request, pk):
    load = get_object_or_404(Load.objects.select_related("table", "table__source"), pk=pk)
    errors = Paginator(load.errors.all(), 100).get_page(request.GET.get("page"))
    return render(request, "warehouse/load.html", {"load": load, "errors": errors})


@page(AUDIT_RULE)
def findings(request):
    qs = sel.findings_visible(user=request.user)
    state = request.GET.get("state", "open")
    if state in Finding.State.values:
        qs = qs.filter(state=state)
    kind = request.GET.get("kind", "")
    if kind:
        qs = qs.filter(rule__kind=kind)
    masker = masker_for(request.user)
    if request.GET.get("export") == "xlsx":
        return _xlsx("warehouse_findings", ["规则", "身份证号", "姓名", "说明", "状态", "处理说明"],
                     ([f.rule.name, masker.id_number(f.id_number), f.person.name if f.person else "", f.detail,
                       f.get_state_display(), f.note] for f in qs.iterator()))
    page_obj = Paginator(qs, 50).get_page(request.GET.get("page"))
    for f in page_obj:
        f.shown_id = masker.id_number(f.id_number)
        f.shown_detail = mask_text(f.detail, masker)
    return render(request, "warehouse/findings.html", {
        "page": page_obj, "state": state, "kind": kind, "states": Finding.State.choices,
        "kinds": AuditRule.Kind.choices, "can_run": policy.allows(request.user, AUDIT_RUN_RULE)})


@page(AUDIT_RUN_RULE)
def audit_run_view(request):
    if request.method == "POST":
        try:
            with transaction.atomic():
                once_claim(request, form="warehouse.audit_run")
                run = audit_run(user=request.user)
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
        except AuditError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("审核完成：%(n)s 条结果，用时 %(s)s 秒") % {"n": sum(run.summary.values()),
                                                                          "s": run.seconds})
    return redirect("warehouse:findings")


@page(AUDIT_RULE)
def finding_detail(request, pk):
    finding = sel.finding_get(user=request.user, pk=pk)
    if request.method == "POST":
        action, note = request.POST.get("action"), request.POST.get("note", "")
        try:
            with transaction.atomic():
                once_claim(request, form="warehouse.finding")
                if action == "confirm":
                    finding_confirm(finding=finding, user=request.user, note=note)
                elif action == "dismiss":
                    finding_dismiss(finding=finding, user=request.user, note=note)
                elif action == "certify":
                    finding_accept_certification(finding=finding, user=request.user, note=note)
                else:
                    raise FindingError(_("请选择处理方式"))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
        except FindingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已处理"))
        return redirect("warehouse:finding", pk=finding.pk)
    masker = masker_for(request.user)
    return render(request, "warehouse/finding.html", {
        "finding": finding, "shown_id": masker.id_number(finding.id_number),
        "shown_detail": mask_text(finding.detail, masker)})


@page(AUDIT_RULE)
def rules(request):
    if request.method == "POST":
        if not policy.allows(request.user, RULES_EDIT_RULE):
            return HttpResponse(_("您没有此功能的权限"), status=403)
        table = WhTable.objects.filter(pk=request.POST.get("table") or 0).first()
        ref = WhTable.objects.filter(pk=request.POST.get("ref_table") or 0).first()
        try:
            with transaction.atomic():
                once_claim(request, form="warehouse.rule")
                rule_create(user=request.user, name=request.POST.get("name", ""), kind=request.POST.get("kind", ""),
                            table=table, column=request.POST.get("column", ""), ref_table=ref,
                            ref_column=request.POST.get("ref_column", ""), sql_text=request.POST.get("sql", ""))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
        except (FindingError, ValueError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已新增规则"))
        return redirect("warehouse:rules")
    return render(request, "warehouse/rules.html", {
        "rules": AuditRule.objects.select_related("table", "ref_table"), "kinds": AuditRule.Kind.choices,
        "tables": WhTable.objects.filter(retired=False).select_related("source"),
        "can_edit": policy.allows(request.user, RULES_EDIT_RULE)})


def _shown(result, user) -> list[list[str]]:
    masker = masker_for(user)
    return [[mask_text("" if v is None else str(v), masker) for v in row] for row in result.rows]


@page(QUERY_RULE)
def queries(request):
    return render(request, "warehouse/queries.html", {
        "queries": sel.saved_queries_runnable(request.user), "can_console": policy.allows(request.user, CONSOLE_RULE),
        "role_names": dict(Role.choices)})


def _query_form(request, query: SavedQuery | None):
    from shebao.warehouse.forms import SavedQueryForm
    from shebao.warehouse.services import saved_query_define

    form = SavedQueryForm(request.POST or None, initial=SavedQueryForm.initial_of(query) if query else None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            with transaction.atomic():
                once_claim(request, form="warehouse.query_define")
                saved = saved_query_define(user=request.user, name=d["name"], description=d["description"],
                                           sql_text=d["sql"], labels=d["labels"], roles=d["roles"], query=query)
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("warehouse:queries")
        except FindingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已保存查询“%(name)s”") % {"name": saved.name})
            return redirect("warehouse:query_run", pk=saved.pk)
    return render(request, "warehouse/query_form.html", {
        "form": form, "query": query, "title": _("修改查询") if query else _("新增查询")})


@page(CONSOLE_RULE)
def query_new(request):
    return _query_form(request, None)


@page(CONSOLE_RULE)
def query_edit(request, pk):
    return _query_form(request, get_object_or_404(SavedQuery.objects.filter(grouping={}), pk=pk))


@page(QUERY_RULE)
def query_run(request, pk):
    query = get_object_or_404(sel.saved_queries_runnable(request.user), pk=pk)
    values = {p["name"]: request.GET.get(p["name"], "") for p in query.params}
    result, error = None, ""
    if request.GET.get("run") or request.GET.get("export"):
        try:
            result = run_sql(query=query.sql, params=values, user=request.user, saved=query)
        except ConsoleError as exc:
            error = str(exc)
        if result is not None and request.GET.get("export") == "xlsx":
            return _xlsx("query", result.columns, _shown(result, request.user))
    return render(request, "warehouse/query_run.html", {
        "query": query, "values": values, "result": result, "rows": _shown(result, request.user) if result else [],
        "error": error, "can_edit": policy.allows(request.user, CONSOLE_RULE) and not query.grouping})


def _grouping_spec(get) -> dict:
    from shebao.warehouse.grouping import OPS

    split = lambda v: [c.strip().lower() for c in (v or "").replace("，", ",").split(",") if c.strip()]  # noqa: E731
    fop = get.get("fop") if get.get("fop") in OPS else "eq"
    filters = [[get.get("fcol", "").strip().lower(), fop, get.get("fval", "")]] if get.get("fcol", "").strip() else []
    return {"table": get.get("table"), "group_by": split(get.get("group")), "sum": split(get.get("sum")),
            "filters": filters}


@page(QUERY_RULE)
def grouping(request):
    import json

    from shebao.warehouse.grouping import OPS, GroupingError, chart_data, grouping_run, spec_from
    from shebao.warehouse.services import saved_query_save

    if request.method == "POST":
        try:
            data = json.loads(request.POST.get("spec") or "{}")
            spec = spec_from(data)
            with transaction.atomic():
                once_claim(request, form="warehouse.grouping")
                saved_query_save(user=request.user, name=request.POST.get("name", ""),
                                 description=f"分组汇总：{spec.table.name}", grouping=spec.as_dict())
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
        except (GroupingError, FindingError, ValueError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已保存"))
        return redirect("warehouse:queries")
    saved = SavedQuery.objects.filter(pk=request.GET.get("saved") or 0).exclude(grouping={}).first()
    data = saved.grouping if saved else _grouping_spec(request.GET)
    result, error, chart, spec = None, "", None, None
    if saved or request.GET.get("run") or request.GET.get("export"):
        try:
            spec = spec_from(data)
            result = grouping_run(spec=spec, user=request.user, saved=saved)
            chart = chart_data(spec, result)
        except (GroupingError, ConsoleError) as exc:
            error = str(exc)
        if result is not None and request.GET.get("export") == "xlsx":
            return _xlsx("grouping", result.columns, _shown(result, request.user))
    first = (data.get("filters") or [["", "eq", ""]])[0]
    return render(request, "warehouse/grouping.html", {
        "tables": WhTable.objects.filter(retired=False).select_related("source"),
        "table_id": int(data["table"]) if str(data.get("table") or "").isdigit() else None,
        "group": ",".join(data.get("group_by", [])), "sums": ",".join(data.get("sum", [])), "fcol": first[0],
        "fop": first[1], "fval": first[2], "ops": OPS, "result": result, "error": error, "chart": chart,
        "rows": _shown(result, request.user) if result else [], "spec_json": json.dumps(data, ensure_ascii=False)})


@page(CONSOLE_RULE)
def console(request):
    text = request.POST.get("sql", "") if request.method == "POST" else ""
    result, error = None, ""
    if request.method == "POST" and text.strip():
        try:
            result = run_sql(query=text, user=request.user)
        except ConsoleError as exc:
            error = str(exc)
        if result is not None and request.POST.get("export") == "xlsx":
            return _xlsx("console", result.columns, _shown(result, request.user))
    return render(request, "warehouse/console.html", {
        "sql": text, "result": result, "rows": _shown(result, request.user) if result else [], "error": error,
        "recent": ConsoleRun.objects.filter(created_by=request.user)[:10]})
