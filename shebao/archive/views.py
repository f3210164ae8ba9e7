"""The archive's pages: person search, a person's archived records (and their export), the tables and a
table's rows (county-wide). Read-only: every view answers GET/HEAD only (``require_safe``); each read of
personal data is audited (``services.archive_read_record``)."""

from __future__ import annotations

import io

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from shebao.archive import selectors as sel
from shebao.archive.permissions import TABLE_RULE, VIEW_RULE
from shebao.archive.services import archive_read_record
from shebao.common import policy
from shebao.common.masking import masker_for
from shebao.common.sheets import MAX_ROWS, XlsxWriter
from shebao.web.guards import page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PER_PAGE = 100


def _xlsx(name: str, sheet: str, headers: list[str], rows) -> HttpResponse:
    buf = io.BytesIO()
    with XlsxWriter(buf, sheet_name=sheet, headers=headers) as w:
        for r in rows:
            w.write_row(r)
    response = HttpResponse(buf.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


@require_safe
@page(VIEW_RULE)
def search(request):
    q = request.GET.get("q", "").strip()
    hits, error = [], ""
    if q:
        try:
            hits = sel.person_search(user=request.user, q=q, limit=sel.MAX_HITS + 1)
        except sel.SearchError as exc:
            error = str(exc)
    truncated = len(hits) > sel.MAX_HITS
    hits = hits[:sel.MAX_HITS]
    if q and hits:
        archive_read_record(user=request.user, action="search", summary=f"档案查询“{q}”：{len(hits)} 人",
                            person_id=hits[0].registry_id if len(hits) == 1 else None)
    masker = masker_for(request.user)
    for h in hits:
        h.shown_id = masker.id_number(h.id_number)
    return render(request, "archive/search.html", {
        "q": q, "hits": hits, "error": error, "ready": sel.archive_ready(), "truncated": truncated,
        "town_scoped": policy.town_ids(request.user) is not None,
        "summary": sel.archive_summary() if not q else None,
        "can_browse": policy.allows(request.user, TABLE_RULE)})


@require_safe
@page(VIEW_RULE)
def person(request, pk):
    found = sel.person_get(user=request.user, pk=pk)
    masker = masker_for(request.user)
    records = sel.person_records(person=found, masker=masker)
    if request.GET.get("export") == "xlsx":
        archive_read_record(user=request.user, action="export", object_id=pk, person_id=found.registry_id,
                            summary=f"导出档案人员 {found.id_number} 的记录：{found.rows} 行")
        rows = ([r.table.name, r.table.label, rec[0], h, v] for r in records for rec in r.rows
                for h, v in zip(r.headers[1:], rec[1:], strict=True) if v)
        return _xlsx("archive_person", "档案记录", ["表名", "表中文名", "行号", "字段", "值"], rows)
    for r in records:
        flags = sel.numeric_flags(r.table)
        r.head = list(zip(r.headers, flags, strict=True))
        r.cells = [list(zip(row, flags, strict=True)) for row in r.rows]
    archive_read_record(user=request.user, action="person_view", object_id=pk, person_id=found.registry_id,
                        summary=f"查看档案人员 {found.id_number} 的记录：{found.rows} 行")
    return render(request, "archive/person.html", {
        "person": found, "shown_id": masker.id_number(found.id_number), "records": records})


@require_safe
@page(VIEW_RULE)
def tables(request):
    return render(request, "archive/tables.html", {
        "tables": sel.archive_tables(), "can_browse": policy.allows(request.user, TABLE_RULE)})


@require_safe
@page(TABLE_RULE)
def table(request, pk):
    t = sel.table_get(pk)
    masker = masker_for(request.user)
    if request.GET.get("export") == "xlsx":
        if t.rows > MAX_ROWS - 1:
            return HttpResponse(_("表的行数超过一个 Excel 工作表的上限，请用数据比对或只读查询导出"), status=400)
        archive_read_record(user=request.user, action="export", object_id=f"table:{t.pk}",
                            summary=f"导出档案表 {t.name}：{t.rows} 行")
        return _xlsx(f"archive_{t.name}", t.name, sel.headers_of(t), sel.table_rows_all(table=t, masker=masker))
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    pages = max(1, -(-t.rows // PER_PAGE))
    number = min(number, pages)
    rows = sel.table_rows(table=t, masker=masker, offset=(number - 1) * PER_PAGE, limit=PER_PAGE)
    archive_read_record(user=request.user, action="table_view", object_id=f"table:{t.pk}",
                        summary=f"浏览档案表 {t.name} 第 {number} 页")
    flags = sel.numeric_flags(t)
    return render(request, "archive/table.html", {
        "table": t, "head": list(zip(sel.headers_of(t), flags, strict=True)),
        "rows": [list(zip(row, flags, strict=True)) for row in rows], "number": number, "pages": pages,
        "previous": number - 1 if number > 1 else None, "next": number + 1 if number < pages else None})
