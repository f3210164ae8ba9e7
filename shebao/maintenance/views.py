"""数据维护 pages: correction requests (list, propose, detail, approve/refuse, attachment) and 数据比对.
Thin: parse, call one selector or service, render. Persons and requests are looked up within the
user's towns (out of scope is a 404, the same as missing)."""

from __future__ import annotations

import io
from urllib.parse import quote

from django.contrib import messages
from django.db.models import F, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from shebao.benefits.models import Enrollment
from shebao.common import policy
from shebao.common.masking import masker_for
from shebao.common.once import AlreadySubmitted, write_once
from shebao.common.sheets import XlsxWriter
from shebao.maintenance import forms as f
from shebao.maintenance import selectors as sel
from shebao.maintenance.batch import STATUS_LABELS, batch_approve, batch_refuse, batch_upload
from shebao.maintenance.compare import (
    CLI_LIMITS,
    KIND_LABELS,
    CompareError,
    compare_files,
    compare_sheets,
    read_sheet,
    write_report,
)
from shebao.maintenance.convert import ConvertError, convert_sheet, parse_layout, write_converted
from shebao.maintenance.models import ConvertLayout, CorrectionBatch, CorrectionRequest, SavedQuery
from shebao.maintenance.permissions import (
    BATCH_DECIDE_RULE,
    COMPARE_RULE,
    COMPARE_TABLES_RULE,
    DECIDE_RULE,
    PROPOSE_RULE,
    QUERY_MANAGE_RULE,
    QUERY_RUN_RULE,
    VIEW_RULE,
)
from shebao.maintenance.services import (
    PERSON_FIELDS,
    CorrectionError,
    correction_approve,
    correction_propose,
    correction_refuse,
    field_label,
    layout_save,
    query_save,
)
from shebao.maintenance.statistics import SOURCES, StatisticsError, run_query
from shebao.registry.selectors import person_get, person_search
from shebao.web.guards import page
from shebao.web.tables import ChoiceFilter, Column, Table, TextFilter, render_table

SHOWN = 200  # rows of each kind of difference shown on the compare page (the report has all)


def _crumbs(*items):
    return [(str(_("数据维护")), "")] + list(items)


# --------------------------------------------------------------------------------------------------
# correction requests


def _search(qs, value, request):
    return qs.filter(person__in=person_search(user=request.user, q=value, limit=None).values("pk"))


class CorrectionTable(Table):
    columns = [
        Column("id", _("申请编号"), sortable=True),
        Column("person__name", _("姓名"), sortable=True, css="nowrap"),  # a name never breaks over two lines
        Column("person__id_number", _("身份证号"), kind="id_number"),
        Column("person__town__name", _("镇街道"), sortable=True, sort_field="person__town__sort", css="nowrap"),
        Column("kind", _("更正类型"), kind="choice", choices=CorrectionRequest.Kind.choices, sortable=True),
        Column("field", _("字段"), css="nowrap"),
        Column("state", _("状态"), kind="choice", choices=CorrectionRequest.State.choices, sortable=True),
        Column("proposer", _("申请人"), css="nowrap"),
        Column("proposed_at", _("申请时间"), kind="datetime", sortable=True),
        Column("decider", _("审核人"), css="nowrap"),
        Column("decided_at", _("审核时间"), kind="datetime", sortable=True),
        Column("reason", _("更正原因")),
    ]
    filters = [
        TextFilter("q", _("姓名/身份证号"), method=_search, placeholder=_("姓名、身份证号或后几位")),
        ChoiceFilter("state", _("状态"), field="state", choices=CorrectionRequest.State.choices),
        ChoiceFilter("kind", _("更正类型"), field="kind", choices=CorrectionRequest.Kind.choices),
    ]
    default_sort = "-id"
    export_name = _("数据更正申请")
    dom_id = "corrections"

    def cell_id(self, value, row):
        from django.utils.html import format_html

        return format_html('<a href="{}">{}</a>', reverse("maintenance:correction", args=[value]), f"GZ{value:06d}")

    def xlsx_id(self, value, row):
        return f"GZ{value:06d}"

    def cell_field(self, value, row):  # 手机, not mobile
        return field_label(row.get("kind") or "", value or "")

    xlsx_field = cell_field


@page(VIEW_RULE)
def corrections(request):
    def shown(user: str):  # a user's name as the pages show it (the login where no name is recorded)
        return Coalesce(NullIf(F(f"{user}__full_name"), Value("")), F(f"{user}__username"))

    table = CorrectionTable(request, sel.corrections_visible(request.user).annotate(
        proposer=shown("proposed_by"), decider=shown("decided_by")))
    return render_table(request, table, "maintenance/corrections.html", {
        "can_propose": policy.allows(request.user, PROPOSE_RULE),
        "breadcrumbs": _crumbs((str(_("错误数据修改")), "")),
    })


@page(PROPOSE_RULE)
def correction_new(request):
    """Step 1: find the person (in the user's towns); step 2: what to change, the new value, the reason."""
    q = (request.GET.get("q") or "").strip()
    found = list(person_search(user=request.user, q=q, limit=20).select_related("town")) if q else []
    chosen = None
    form = None
    raw_pk = request.POST.get("person") or request.GET.get("person")
    if raw_pk:
        try:
            chosen = person_get(user=request.user, pk=int(raw_pk))
        except (TypeError, ValueError):
            raise Http404 from None
        form = f.CorrectionForm(request.POST or None, request.FILES or None,
                                targets=sel.targets_for(chosen, request.user),
                                initial={"target": request.GET.get("target", "")})
        if request.method == "POST" and form.is_valid():
            kind, field, enrollment_id = form.parsed_target()
            enrollment = None
            if enrollment_id is not None:
                enrollment = Enrollment.objects.select_related("scheme").filter(pk=enrollment_id,
                                                                                person=chosen).first()
            upload = form.cleaned_data.get("attachment")
            try:
                req = write_once(request, "maint.correction", lambda: correction_propose(
                    user=request.user, person=chosen, kind=kind, field=field, enrollment=enrollment,
                    new_value=form.new_value(), reason=form.cleaned_data["reason"],
                    attachment_name=upload.name if upload else "", attachment=upload.read() if upload else None))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("maintenance:corrections")
            except CorrectionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, gettext("已提交更正申请 %(number)s，待另一位用户审核") % {"number": req.number})
                return redirect("maintenance:correction", pk=req.pk)
    return render(request, "maintenance/correction_new.html", {
        "q": q, "found": found, "chosen": chosen, "form": form,
        "breadcrumbs": _crumbs((str(_("错误数据修改")), reverse("maintenance:corrections")),
                               (str(_("新建更正申请")), "")),
    })


@page(VIEW_RULE)
def correction(request, pk: int):
    req = sel.correction_get(user=request.user, pk=pk)
    masker = masker_for(request.user)
    can_decide = (req.state == CorrectionRequest.State.OPEN and req.proposed_by_id != request.user.pk
                  and policy.allows(request.user, DECIDE_RULE))
    return render(request, "maintenance/correction.html", {
        "req": req, "label": sel.request_label(req),
        "current": sel.value_text(req.kind, req.field, req.current_value, masker),
        "new": sel.value_text(req.kind, req.field, req.new_value, masker),
        "can_decide": can_decide, "own": req.proposed_by_id == request.user.pk,
        "form": f.DecisionForm(),
        "breadcrumbs": _crumbs((str(_("错误数据修改")), reverse("maintenance:corrections")), (req.number, "")),
    })


@page(DECIDE_RULE)
@require_POST
def correction_decide(request, pk: int):
    """``action=approve`` applies the change through the owning service; ``action=refuse`` needs a note."""
    req = sel.correction_get(user=request.user, pk=pk)
    form = f.DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    action = request.POST.get("action")
    if action not in ("approve", "refuse"):
        messages.error(request, gettext("请选择通过或驳回"))
        return redirect("maintenance:correction", pk=pk)
    try:
        if action == "approve":
            write_once(request, "maint.decide", lambda: correction_approve(request=req, user=request.user, note=note))
            messages.success(request, gettext("已通过并更正：%(number)s") % {"number": req.number})
        else:
            write_once(request, "maint.decide", lambda: correction_refuse(request=req, user=request.user, note=note))
            messages.success(request, gettext("已驳回：%(number)s") % {"number": req.number})
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
    except CorrectionError as exc:
        messages.error(request, str(exc))
    return redirect("maintenance:correction", pk=pk)


@page(VIEW_RULE)
def correction_attachment(request, pk: int):
    req = sel.correction_get(user=request.user, pk=pk)
    if not req.attachment_name:
        raise Http404("没有附件")
    data = CorrectionRequest.objects.filter(pk=req.pk).values_list("attachment", flat=True).first()
    response = HttpResponse(bytes(data or b""), content_type="application/octet-stream")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(req.attachment_name)}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------------------------------
# 数据比对


@page(COMPARE_RULE)
def compare(request):
    """Two uploaded files by key columns: the counts and the first rows of each kind of difference on the
    page; 下载比对报告 returns every difference as xlsx. Nothing is stored. ID-number columns are masked
    for users without 查看敏感信息, on the page and in the report."""
    form = f.CompareForm(request.POST or None, request.FILES or None)
    result = None
    context: dict = {}
    if request.method == "POST" and form.is_valid():
        a, b = form.cleaned_data["file_a"], form.cleaned_data["file_b"]
        try:
            result = compare_files(file_a=a.name, data_a=a.read(), file_b=b.name, data_b=b.read(),
                                   keys=form.key_list())
        except CompareError as exc:
            form.add_error(None, str(exc))
        else:
            masker = masker_for(request.user)
            masker = None if masker.can_view else masker
            if request.POST.get("export") == "xlsx":
                out = io.BytesIO()
                write_report(result, out, masker=masker)
                response = HttpResponse(out.getvalue(), content_type=(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
                response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote('比对结果.xlsx')}"
                return response
            rows = list(_limited(result, masker))
            context = {"summary": result.summary(), "result": result, "headers": result.report_headers(),
                       "rows": rows, "shown": SHOWN, "kinds": KIND_LABELS}
    return render(request, "maintenance/compare.html", {
        "form": form, **context, "breadcrumbs": _crumbs((str(_("数据比对")), "")),
    })


TABLE_ROWS = 500_000  # rows of one table a comparison from the page reads


@page(COMPARE_TABLES_RULE)
def compare_tables(request):
    """Two database tables (archive, warehouse, live persons) by key columns: the same counts, rows and
    report as two files. A GET form (the comparison reads, it writes nothing but the audit event of who
    read the tables); masked like the file comparison."""
    from shebao.maintenance.services import compare_tables_record
    from shebao.maintenance.tables import read_table_sheet, table_choices

    choices = table_choices()
    # the command line's form "table:archive.x" names the same table as the list's "archive.x"
    a, b = (request.GET.get(k, "").strip().removeprefix("table:") for k in ("a", "b"))
    keys_text = request.GET.get("keys", "")
    context: dict = {}
    error = ""
    if a or b or keys_text:
        keys = [k.strip() for k in keys_text.replace("，", ",").replace("、", ",").split(",") if k.strip()]
        try:
            if not a or not b:
                raise CompareError(gettext("请选择表 A 和表 B"))
            sheet_a = read_table_sheet(a, label="A", user=request.user, limit=min(TABLE_ROWS, CLI_LIMITS.max_rows))
            sheet_b = read_table_sheet(b, label="B", user=request.user, limit=min(TABLE_ROWS, CLI_LIMITS.max_rows))
            result = compare_sheets(sheet_a, sheet_b, keys)
        except CompareError as exc:
            error = str(exc)
        else:
            compare_tables_record(user=request.user, a=a, b=b, summary=result.summary())
            masker = masker_for(request.user)
            masker = None if masker.can_view else masker
            if request.GET.get("export") == "xlsx":
                out = io.BytesIO()
                write_report(result, out, masker=masker)
                response = HttpResponse(out.getvalue(), content_type=(
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
                response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote('表比对结果.xlsx')}"
                return response
            context = {"summary": result.summary(), "result": result, "headers": result.report_headers(),
                       "rows": list(_limited(result, masker)), "shown": SHOWN, "kinds": KIND_LABELS}
    return render(request, "maintenance/compare_tables.html", {
        "choices": choices, "a": a, "b": b, "keys": keys_text, "error": error, "of_tables": True, **context,
        "breadcrumbs": _crumbs((str(_("数据比对")), reverse("maintenance:compare")), (str(_("两张表")), "")),
    })


def _limited(result, masker):
    """At most ``SHOWN`` rows of each kind, in the report's order."""
    counts: dict[str, int] = {}
    for row in result.report_rows(masker):
        n = counts.get(row[0], 0)
        if n < SHOWN:
            counts[row[0]] = n + 1
            yield row


# --------------------------------------------------------------------------------------------------
# 批量数据处理


def _batches_visible(user):
    qs = CorrectionBatch.objects.defer("rows").select_related("proposed_by", "decided_by")
    if not policy.county_wide(user):  # a town's user sees the batches they uploaded
        qs = qs.filter(proposed_by=user)
    return qs


def _batch_get(user, pk: int) -> CorrectionBatch:
    b = _batches_visible(user).defer(None).filter(pk=pk).first()
    if b is None:
        raise Http404("没有这个批量更正")
    return b


@page(VIEW_RULE)
def batch(request):
    """The recent batches; 上传 (经办) checks a file and shows its preview."""
    form = f.BatchUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        policy.check(request.user, PROPOSE_RULE)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                b = write_once(request, "maint.batch_upload", lambda: batch_upload(
                    user=request.user, file_name=upload.name, data=upload.read(),
                    reason=form.cleaned_data["reason"]))
            except AlreadySubmitted as exc:
                messages.warning(request, str(exc))
                return redirect("maintenance:batch")
            except CorrectionError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect("maintenance:batch_detail", pk=b.pk)
    return render(request, "maintenance/batch.html", {
        "form": form, "batches": _batches_visible(request.user)[:30],
        "can_propose": policy.allows(request.user, PROPOSE_RULE),
        "breadcrumbs": _crumbs((str(_("批量数据处理")), "")),
    })


def _batch_rows(b: CorrectionBatch, masker):
    for r in b.rows:
        yield {**r, "id_number": masker.id_number(r["id_number"]) if r["id_number"] else "",
               "field_label": PERSON_FIELDS.get(r["field"], r["field"]), "status_label": STATUS_LABELS[r["status"]],
               "current": sel.value_text("person", r["field"], {"value": r["current"]}, masker)
               if r["status"] != "error" else "",
               "new": sel.value_text("person", r["field"], {"value": r["new"]}, masker)
               if r["status"] != "error" else r["new"]}


@page(VIEW_RULE)
def batch_detail(request, pk: int):
    b = _batch_get(request.user, pk)
    masker = masker_for(request.user)
    rows = list(_batch_rows(b, masker))
    if request.GET.get("export") == "xlsx":
        out = io.BytesIO()
        with XlsxWriter(out, sheet_name=b.number, headers=["行号", "身份证号", "姓名", "字段", "原值", "新值", "状态",
                                                            "错误"]) as w:
            for r in rows:
                w.write_row([r["line"], r["id_number"], r["name"], r["field_label"], r["current"], r["new"],
                             r["status_label"], r["error"]])
        response = HttpResponse(out.getvalue(), content_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(b.number + '.xlsx')}"
        return response
    can_decide = (b.state == CorrectionBatch.State.OPEN and b.proposed_by_id != request.user.pk
                  and policy.allows(request.user, BATCH_DECIDE_RULE))
    return render(request, "maintenance/batch_detail.html", {
        "b": b, "rows": rows, "can_decide": can_decide, "form": f.BatchDecisionForm(),
        "clean": b.row_count - b.error_count,
        "breadcrumbs": _crumbs((str(_("批量数据处理")), reverse("maintenance:batch")), (b.number, "")),
    })


@page(BATCH_DECIDE_RULE)
@require_POST
def batch_decide(request, pk: int):
    b = _batch_get(request.user, pk)
    form = f.BatchDecisionForm(request.POST)
    form.is_valid()
    d = getattr(form, "cleaned_data", {})
    action = request.POST.get("action")
    try:
        if action == "approve":
            done = write_once(request, "maint.batch_decide", lambda: batch_approve(
                batch=b, user=request.user, clean_only=d.get("clean_only", False), note=d.get("note", "")))
            messages.success(request, gettext("已通过并更正 %(n)s 行：%(number)s") % {"n": done.applied_count,
                                                                                  "number": b.number})
        elif action == "refuse":
            write_once(request, "maint.batch_decide", lambda: batch_refuse(batch=b, user=request.user,
                                                                      note=d.get("note", "")))
            messages.success(request, gettext("已驳回：%(number)s") % {"number": b.number})
        else:
            messages.error(request, gettext("请选择通过或驳回"))
    except AlreadySubmitted as exc:
        messages.warning(request, str(exc))
    except CorrectionError as exc:
        messages.error(request, str(exc))
    return redirect("maintenance:batch_detail", pk=pk)


# --------------------------------------------------------------------------------------------------
# 数据转换


@page(COMPARE_RULE)
def convert(request):
    """Saved layouts; convert an uploaded file to one (download), or list its errors; create or edit a
    layout. Nothing of the uploaded file is stored."""
    layouts = list(ConvertLayout.objects.all())
    editing = None
    if request.GET.get("layout"):
        editing = ConvertLayout.objects.filter(pk=request.GET["layout"]).first() if request.GET["layout"].isdigit() \
            else None
        if editing is None:
            raise Http404("没有这个格式")
    action = request.POST.get("action") if request.method == "POST" else None
    run_form = f.ConvertForm(request.POST if action == "run" else None, request.FILES if action == "run" else None,
                             layouts=layouts)
    layout_form = f.LayoutForm(request.POST if action == "save" else None, initial={
        "name": editing.name, "note": editing.note, "spec": editing.spec} if editing else None)
    errors: list[str] = []
    error_count = 0
    if action == "save" and layout_form.is_valid():
        d = layout_form.cleaned_data
        try:
            saved = write_once(request, "maint.layout", lambda: layout_save(
                user=request.user, name=d["name"], note=d["note"], spec=d["spec"], layout=editing))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("maintenance:convert")
        except CorrectionError as exc:
            layout_form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已保存格式：%(name)s") % {"name": saved.name})
            return redirect("maintenance:convert")
    if action == "run" and run_form.is_valid():
        layout = next(x for x in layouts if str(x.pk) == run_form.cleaned_data["layout"])
        upload = run_form.cleaned_data["file"]
        fmt = run_form.cleaned_data["fmt"]
        try:
            sheet = read_sheet("源文件", upload.name, upload.read())
            result = convert_sheet(sheet, parse_layout(layout.spec))
            if result.error_count:
                errors, error_count = result.errors, result.error_count
            else:
                out = io.BytesIO()
                write_converted(result, out, fmt=fmt)
                name = f"{layout.name}.{fmt}"
                response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8" if fmt == "csv" else
                                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
                return response
        except (CompareError, ConvertError) as exc:
            run_form.add_error(None, str(exc))
    return render(request, "maintenance/convert.html", {
        "layouts": layouts, "run_form": run_form, "layout_form": layout_form, "editing": editing,
        "errors": errors, "error_count": error_count,
        "breadcrumbs": _crumbs((str(_("数据转换")), "")),
    })


# --------------------------------------------------------------------------------------------------
# 临时数据统计


def _query_form(data=None, initial=None):
    return f.QueryForm(data, initial=initial, sources=[(k, s.label) for k, s in SOURCES.items()],
                       charts=SavedQuery.Chart.choices)


@page(QUERY_RUN_RULE)
def queries(request):
    queries = list(SavedQuery.objects.all())
    for q in queries:  # 人员登记, not persons
        q.source_label = SOURCES[q.source].label if q.source in SOURCES else q.source
    return render(request, "maintenance/queries.html", {
        "queries": queries, "sources": SOURCES,
        "can_manage": policy.allows(request.user, QUERY_MANAGE_RULE),
        "breadcrumbs": _crumbs((str(_("临时数据统计")), "")),
    })


@page(QUERY_RUN_RULE)
def query_run(request, pk: int):
    """The query's parameters (GET), its table and chart; ?export=xlsx the same rows."""
    query = SavedQuery.objects.filter(pk=pk).first()
    if query is None:
        raise Http404("没有这个查询")
    src = SOURCES.get(query.source)
    params = []
    for key in query.parameters:
        p = src.params[key]
        params.append({"key": key, "label": p.label, "kind": p.kind, "value": request.GET.get(key, ""),
                       "choices": p.choices(request.user) if p.choices else None})
    result, error = None, ""
    try:
        result = run_query(user=request.user, source=query.source, dimensions=query.dimensions,
                           measures=query.measures, parameters=query.parameters, values=request.GET)
    except StatisticsError as exc:
        error = str(exc)
    if result is not None and request.GET.get("export") == "xlsx":
        out = io.BytesIO()
        with XlsxWriter(out, sheet_name=query.name, headers=result.headers, money_columns=result.money_columns) as w:
            for row in result.rows:
                w.write_row(row)
        response = HttpResponse(out.getvalue(), content_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(query.name + '.xlsx')}"
        return response
    chart = None
    if result is not None and result.dims and query.chart != "none" and result.rows:
        labels = [" / ".join(str(v) for v in r[:result.dims]) for r in result.rows[:200]]
        chart = {"type": query.chart, "labels": labels, "datasets": [
            {"label": h, "data": [float(r[result.dims + i]) for r in result.rows[:200]]}
            for i, h in enumerate(result.headers[result.dims:])]}
    export_query = request.GET.copy()
    export_query["export"] = "xlsx"
    return render(request, "maintenance/query_run.html", {
        "query": query, "params": params, "result": result, "error": error, "chart": chart,
        "export_url": "?" + export_query.urlencode(),
        "can_manage": policy.allows(request.user, QUERY_MANAGE_RULE),
        "breadcrumbs": _crumbs((str(_("临时数据统计")), reverse("maintenance:queries")), (query.name, "")),
    })


@page(QUERY_MANAGE_RULE)
def query_edit(request, pk: int | None = None):
    query = None
    if pk is not None:
        query = SavedQuery.objects.filter(pk=pk).first()
        if query is None:
            raise Http404("没有这个查询")
    initial = None
    if query is not None:
        initial = {"name": query.name, "note": query.note, "source": query.source, "chart": query.chart,
                   "dimensions": ",".join(query.dimensions), "measures": ",".join(query.measures),
                   "parameters": ",".join(query.parameters)}
    form = _query_form(request.POST or None, initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            saved = write_once(request, "maint.query", lambda: query_save(
                user=request.user, name=d["name"], note=d["note"], source=d["source"], chart=d["chart"],
                query=query, **form.lists()))
        except AlreadySubmitted as exc:
            messages.warning(request, str(exc))
            return redirect("maintenance:queries")
        except CorrectionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("已保存查询：%(name)s") % {"name": saved.name})
            return redirect("maintenance:query_run", pk=saved.pk)
    return render(request, "maintenance/query_edit.html", {
        "form": form, "query": query, "sources": SOURCES,
        "breadcrumbs": _crumbs((str(_("临时数据统计")), reverse("maintenance:queries")),
                               (query.name if query else str(_("新建查询")), "")),
    })
