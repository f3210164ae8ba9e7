"""The archive's pages: person search, a person's archived records (and their export), the tables and a
table's rows (county-wide). Read-only: every view answers GET/HEAD only (``require_safe``); each read of
personal data is audited (``services.archive_read_record``)."""

from __future__ import annotations

import io

from django.http import HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from shebao.archive import selectors as sel
from shebao.archive.permissions import TABLE_RULE, VIEW_RULE
from shebao.archive.services import archive_read_record
from shebao.common import policy
from shebao.common.masking import masker_for
from shebao.common.sheets import MAX_ROWS, XlsxWriter
from shebao.web.guards import page
from shebao.web.tables import Column, Table, TextFilter, render_table, render_tables

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


class ArchiveRowsTable(Table):
    """A table's archived rows on the shared table component (``archive_rows_table`` declares one per
    archive table): every cell through ``selectors.cell_text`` (masked as the load marked the column, codes
    explained) on the page and in the export; 年月 columns shown as ``2007-01`` on the page only."""

    page_size = PER_PAGE
    default_sort = "row"
    empty_text = _("没有数据")

    def __init__(self, request, queryset, *, archive_table, **kw):
        self.archive_table = archive_table
        self.codes = sel.codes_of(archive_table)
        super().__init__(request, queryset, **kw)
        for i, c in enumerate(archive_table.columns, start=1):
            setattr(self, f"cell_c{i}", self._shown(c))
            setattr(self, f"xlsx_c{i}", self._stored(c))

    def _stored(self, column):
        codes, masker = self.codes, self.masker
        return lambda value, row: sel.cell_text(column, value, codes, masker)

    def _shown(self, column):
        codes, masker = self.codes, self.masker
        if sel.is_month_column(column) and not column["mask"]:
            return lambda value, row: sel.month_shown(sel.cell_text(column, value, codes, masker))
        return lambda value, row: sel.cell_text(column, value, codes, masker)


def archive_rows_table(t) -> type[ArchiveRowsTable]:
    """The component's declaration for the archive table ``t``: 行号 and every column (sortable unless masked); a 身份证号
    filter (the whole number, as the person search) and a 姓名 filter (its beginning) where the table has
    those columns."""
    names = {c["name"]: f"c{i}" for i, c in enumerate(t.columns, start=1)}
    flags = sel.numeric_flags(t)[1:]
    columns = [Column("row", _("行号"), kind="num", sortable=True)]
    # a masked column does not sort: its order would tell what the mask hides
    columns += [Column(f"c{i}", c["label"] or c["name"], sortable=not c["mask"], css="num" if num else "")
                for i, (c, num) in enumerate(zip(t.columns, flags, strict=True), start=1)]
    lookups = []
    if t.id_column in names:
        lookups.append(names[t.id_column] + "__exact")
    if t.name_column in names:
        lookups.append(names[t.name_column] + "__startswith")
    filters = [TextFilter("q", _("身份证号/姓名"), lookups=lookups)] if lookups else []
    return type("ArchiveRowsTable", (ArchiveRowsTable,), {
        "columns": columns, "filters": filters, "export_name": f"archive_{t.name}"})


class HitTable(Table):
    """The persons a search found (``person_search``: in the user's scope), on the shared component."""

    columns = [Column("idkey", _("身份证号"), css="mono"), Column("names", _("姓名"), field="id"),
               Column("tables", _("档案表"), field="id"), Column("records", _("记录数"), kind="num", sortable=True),
               Column("registry", _("登记人员"), field="id", export=False)]
    page_size = 50
    export_name = "archive_search"
    empty_text = _("档案中没有找到（或不在您的管辖范围内）")
    dom_id = "archive-hits"

    def __init__(self, request, hits, **kw):
        self.hits = {h.id: h for h in hits}
        super().__init__(request, sel.hits_queryset(hits).order_by("idkey"), **kw)  # 身份证号 does not sort: masked

    def cell_idkey(self, value, row):
        return format_html('<a href="{}">{}</a>', reverse("archive:person", args=[row["id"]]),
                           self.masker.id_number(sel.id18(value)))

    def xlsx_idkey(self, value, row):
        return self.masker.id_number(sel.id18(value))

    def cell_names(self, value, row):
        return "、".join(self.hits[value].names)

    xlsx_names = cell_names

    def cell_tables(self, value, row):
        return "、".join(t.label or t.name for t in self.hits[value].tables)

    xlsx_tables = cell_tables

    def cell_registry(self, value, row):
        registry_id = self.hits[value].registry_id
        if registry_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("registry:person_detail", args=[registry_id]), _("人员信息"))


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
    listing = HitTable(request, hits)
    listing.exportable = bool(q and hits)
    if q and hits and listing.is_export:
        archive_read_record(user=request.user, action="export", summary=f"导出档案查询“{q}”的结果：{len(hits)} 人",
                            person_id=hits[0].registry_id if len(hits) == 1 else None)
        return listing.export_response()
    if q and hits:
        archive_read_record(user=request.user, action="search", summary=f"档案查询“{q}”：{len(hits)} 人",
                            person_id=hits[0].registry_id if len(hits) == 1 else None)
    return render_table(request, listing, "archive/search.html", {
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
    listings = {f"t{t.pk}": archive_rows_table(t)(request, sel.person_rows_queryset(table=t, person_id=found.id),
                                                  archive_table=t, prefix=f"t{t.pk}_") for t in found.tables}
    for listing in listings.values():
        if listing.is_export:
            t = listing.archive_table
            archive_read_record(user=request.user, action="export", object_id=pk, person_id=found.registry_id,
                                summary=f"导出档案人员 {found.id_number} 在表 {t.name} 的记录：{listing.total} 行")
            return listing.export_response()
    archive_read_record(user=request.user, action="person_view", object_id=pk, person_id=found.registry_id,
                        summary=f"查看档案人员 {found.id_number} 的记录：{found.rows} 行")
    for r in records:
        r.listing = listings[f"t{r.table.pk}"]
    return render_tables(request, listings, "archive/person.html", {
        "person": found, "shown_id": masker.id_number(found.id_number), "records": records})


class TablesTable(Table):
    """The archive's tables (metadata only: no personal data)."""

    columns = [Column("name", _("表名"), sortable=True, css="mono"), Column("label", _("中文名"), sortable=True),
               Column("primary_key", _("主键"), css="mono"), Column("fields", _("字段数"), field="columns"),
               Column("rows", _("行数"), kind="num", sortable=True), Column("person", _("人员字段"), field="id_column"),
               Column("load", _("装载"), field="load__name"),
               Column("loaded_at", _("装载时间"), kind="datetime", field="load__created_at", sortable=True)]
    filters = [TextFilter("q", _("表名/中文名"), lookups=["name__startswith", "label__contains"])]
    extra_fields = ("pno_column",)
    default_sort = "name"
    export_name = "archive_tables"
    dom_id = "archive-tables"

    def __init__(self, request, queryset, *, can_browse: bool, **kw):
        self.can_browse = can_browse
        super().__init__(request, queryset, **kw)

    def cell_name(self, value, row):
        return format_html('<a href="{}">{}</a>', reverse("archive:table", args=[row["pk"]]), value) \
            if self.can_browse else value

    def xlsx_name(self, value, row):
        return value

    def cell_primary_key(self, value, row):
        return ", ".join(value or []) or "—"

    xlsx_primary_key = cell_primary_key

    def cell_fields(self, value, row):
        return str(len(value or []))

    def xlsx_fields(self, value, row):
        return len(value or [])

    def cell_person(self, value, row):
        if value:
            return f"{gettext('身份证号')} {value}"
        return f"{gettext('个人编号')} {row['pno_column']}" if row["pno_column"] else "—"

    xlsx_person = cell_person


@require_safe
@page(VIEW_RULE)
def tables(request):
    can_browse = policy.allows(request.user, TABLE_RULE)
    listing = TablesTable(request, sel.archive_tables(), can_browse=can_browse)
    if listing.is_export:
        archive_read_record(user=request.user, action="export", object_id="tables",
                            summary=f"导出档案表目录：{listing.total} 张表")
        return listing.export_response()
    return render_table(request, listing, "archive/tables.html", {
        "ready": sel.archive_ready(), "can_browse": can_browse})


@require_safe
@page(TABLE_RULE)
def table(request, pk):
    t = sel.table_get(pk)
    listing = archive_rows_table(t)(request, sel.row_model(t).objects.all(), archive_table=t)
    if listing.is_export:
        if listing.total > MAX_ROWS - 1:
            return HttpResponse(_("表的行数超过一个 Excel 工作表的上限，请用数据比对或只读查询导出"), status=400)
        archive_read_record(user=request.user, action="export", object_id=f"table:{t.pk}",
                            summary=f"导出档案表 {t.name}：{listing.total} 行")
        return listing.export_response()
    archive_read_record(user=request.user, action="table_view", object_id=f"table:{t.pk}",
                        summary=f"浏览档案表 {t.name} 第 {listing.page.number} 页")
    return render_table(request, listing, "archive/table.html", {"archive_table": t})
