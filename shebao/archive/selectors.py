"""Reads of the archive: its tables, the person search, a person's archived records, a table's rows.

Scope: a county-wide user sees every archived person. A town user sees an archived person only when the
registry knows that 身份证号 and places the person in the user's towns (``registry.selectors
.persons_visible``); anyone else looks missing. Masking: every column the load marked (身份证号, 账号,
电话, 地址) is masked for users without 查看敏感信息 (``common.masking``)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django.http import Http404
from psycopg import sql

from shebao.archive import ddl
from shebao.archive.models import ArchiveLoad, ArchiveTable
from shebao.common import policy
from shebao.common.identity import check_char
from shebao.common.masking import Masker
from shebao.registry.selectors import persons_visible
from shebao.warehouse.models import CodeValue

ID_QUERY = re.compile(r"^(\d{15}|\d{17}[\dXx])$")
MAX_HITS = 50
CANDIDATES = 500  # name hits read before the town filter


class SearchError(ValueError):
    """A query we do not run; Chinese."""


@dataclass
class PersonHit:
    id: int
    idkey: str
    names: list[str]
    tables: list[ArchiveTable]
    rows: int
    registry_id: int | None = None  # the registry person with that 身份证号, when the user may see them

    @property
    def id_number(self) -> str:
        return id18(self.idkey)


@dataclass
class TableRecords:
    table: ArchiveTable
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)


def id18(idkey: str) -> str:
    """The 18-digit 身份证号 of a person key (its check character computed, GB 11643)."""
    return idkey + check_char(idkey) if len(idkey) == 17 and idkey.isdigit() else idkey


def id_key_of(text: str) -> str | None:
    """The person key of a typed 身份证号 (the same rule as ``ddl.id_key``), None when it is not one."""
    v = (text or "").strip().upper()
    if not ID_QUERY.match(v):
        return None
    return v[:17] if len(v) == 18 else v[:6] + "19" + v[6:15]


def archive_ready() -> bool:
    return ArchiveTable.objects.exists()


def archive_summary() -> dict[str, int]:
    """{tables, rows, persons} of the whole archive (from the loads' metadata: no scan)."""
    totals = ArchiveLoad.objects.aggregate(tables=Sum("tables"), rows=Sum("rows"), persons=Sum("persons"))
    return {k: int(v or 0) for k, v in totals.items()}


def archive_tables():
    return ArchiveTable.objects.select_related("load")


def table_get(pk: int) -> ArchiveTable:
    table = archive_tables().filter(pk=pk).first()
    if table is None:
        raise Http404("档案表不存在")
    return table


def _visible(user, idkeys: list[str]) -> dict[str, int | None] | None:
    """{idkey: registry person id} of the keys the user may see (None = all, for a county-wide user
    without a registry match)."""
    numbers = {id18(k): k for k in idkeys}
    found = dict(persons_visible(user).filter(id_number__in=list(numbers)).values_list("id_number", "id"))
    return {numbers[n]: pk for n, pk in found.items()}


def person_search(*, user, q: str, limit: int = MAX_HITS) -> list[PersonHit]:
    """By 身份证号 (15 or 18 digits: either form finds both) or by name (the beginning of a name as
    written in any archived table); within the user's scope; at most ``limit`` persons."""
    q = (q or "").strip()
    if not q:
        return []
    if len(q) > 50 or not q.isprintable():
        raise SearchError("请输入 15 位或 18 位身份证号，或姓名")
    # the archive's tables (a few fields: the hits name them) — also "is there an archive at all": a round
    # trip fewer than asking that first and the tables after (a search is 3 statements)
    tables = {t.pk: t for t in ArchiveTable.objects.only("id", "name", "label")}
    if not tables:
        return []
    key = id_key_of(q)
    # each person found with what their rows say (names, tables, count), in one statement
    agg = ("SELECT p.id, p.idkey, array_agg(DISTINCT r.name) FILTER (WHERE r.name IS NOT NULL), "
           "array_agg(DISTINCT r.table_id), count(*) FROM archive.person p JOIN archive.person_row r ON r.person_id = p.id "
           "WHERE {} GROUP BY p.id, p.idkey ORDER BY p.idkey")
    with connection.cursor() as cursor:
        if key is not None:
            cursor.execute(agg.format("p.idkey = %s"), [key])
        elif q.isdigit() or len(q) < 2 and not re.match(r"[\u4e00-\u9fff]", q):
            raise SearchError("身份证号应为 15 位或 18 位；按姓名查询请输入姓名")
        else:
            pattern = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            cursor.execute(agg.format("p.id IN (SELECT DISTINCT person_id FROM archive.person_row WHERE name LIKE %s "
                                      "LIMIT %s)"), [pattern, CANDIDATES])
        found = cursor.fetchall()
    registry = _visible(user, [row[1] for row in found])
    if policy.town_ids(user) is not None:
        found = [row for row in found if row[1] in registry]
    found = found[:limit]
    if not found:
        return []
    out = []
    for pid, key, names, table_ids, rows in found:
        out.append(PersonHit(pid, key, sorted(names or []), sorted((tables[t] for t in table_ids if t in tables),
                                                                 key=lambda t: t.name), rows, registry.get(key)))
    return out


def person_get(*, user, pk: int) -> PersonHit:
    """One archived person within the user's scope; out of scope looks the same as missing (404)."""
    if not archive_ready():
        raise Http404("档案中没有此人")
    with connection.cursor() as cursor:
        cursor.execute("SELECT idkey FROM archive.person WHERE id = %s", [pk])
        row = cursor.fetchone()
        if row is None:
            raise Http404("档案中没有此人")
        key = row[0]
        registry = _visible(user, [key])
        if policy.town_ids(user) is not None and key not in registry:
            raise Http404("档案中没有此人或不在您的管辖范围内")
        cursor.execute("SELECT array_agg(DISTINCT name) FILTER (WHERE name IS NOT NULL), array_agg(DISTINCT table_id), "
                       "count(*) FROM archive.person_row WHERE person_id = %s", [pk])
        names, table_ids, rows = cursor.fetchone()
    tables = sorted(archive_tables().filter(pk__in=table_ids or []), key=lambda t: t.name)
    return PersonHit(pk, key, sorted(names or []), tables, rows, registry.get(key))


def _codes(table: ArchiveTable) -> dict[str, dict[str, str]]:
    codes: dict[str, dict[str, str]] = {}
    cats = {c["code_category"] for c in table.columns if c["code_category"]}
    if cats:
        for cat, value, meaning in CodeValue.objects.filter(source__isnull=True, category__in=cats).values_list(
                "category", "value", "meaning"):
            codes.setdefault(cat, {})[value] = meaning
        for cat, values in (table.load.codes or {}).items():
            codes.setdefault(cat, {}).update(values)
    return codes


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def cell_text(column: dict, value, codes: dict[str, dict[str, str]], masker: Masker) -> str:
    """One archived value as shown and exported: text, masked where the load marked the column, a code
    with its meaning (``1 男``)."""
    text = _text(value)
    if text and column["mask"]:
        return masker.apply(column["mask"], text)
    if text and column["code_category"]:
        meaning = codes.get(column["code_category"], {}).get(text)
        if meaning:
            return f"{text} {meaning}"
    return text


MONTH_ELEMENTS = frozenset(["aae002"])  # 发放年月 (YYYYMM)
MONTH_TEXT = re.compile(r"^(\d{4})(0[1-9]|1[0-2])$")


def is_month_column(column: dict) -> bool:
    """A YYYYMM column: the dictionary has no month type (a 年月 is VARCHAR2(6) or NUMBER(6)), so a column
    is one when its element is AAE002 发放年月 or its 中文名 ends in 年月."""
    return column["name"].lower() in MONTH_ELEMENTS or (column["label"] or "").endswith("年月")


def month_shown(text: str) -> str:
    """``200701`` → ``2007-01`` on the pages (exports keep the stored text); anything else unchanged."""
    m = MONTH_TEXT.match(text or "")
    return f"{m.group(1)}-{m.group(2)}" if m else text


def _render(table: ArchiveTable, rows, masker: Masker) -> list[list[str]]:
    codes = _codes(table)
    cols = table.columns
    return [[str(r[0])] + [cell_text(c, v, codes, masker) for c, v in zip(cols, r[1:], strict=True)] for r in rows]


def codes_of(table: ArchiveTable) -> dict[str, dict[str, str]]:
    """{代码类别: {代码值: 含义}} for the table's coded columns (the warehouse's and the load's own)."""
    return _codes(table)


_MODELS: dict[tuple, type] = {}


def row_model(table: ArchiveTable) -> type:
    """An unmanaged model over ``archive.<name>`` (fields ``row`` = ``_row`` and ``c1``… = the dictionary's
    columns in order, all read as stored), so the shared table component can filter, sort, page and export
    it. Kept in a private app registry: never migrated, never in the project's models."""
    from django.apps.registry import Apps
    from django.db import models

    key = (table.pk, table.name, tuple(c["name"] for c in table.columns))
    found = _MODELS.get(key)
    if found is not None:
        return found
    class Rows(models.QuerySet):
        def count(self) -> int:
            # unfiltered: the row count the load kept (the archive never changes) — no count(*) of a
            # million-row table for each page of it
            return table.rows if not self.query.where and not self.query.is_sliced else super().count()

    attrs = {"__module__": __name__, "objects": Rows.as_manager(),
             "row": models.BigIntegerField(primary_key=True, db_column=ddl.ROW, verbose_name="行号")}
    for i, c in enumerate(table.columns, start=1):
        attrs[f"c{i}"] = models.TextField(db_column=c["name"], verbose_name=c["label"] or c["name"])
    attrs["Meta"] = type("Meta", (), {"managed": False, "apps": Apps(installed_apps=[]), "app_label": "archive_rows",
                                      "db_table": f'archive"."{table.name}'})
    found = _MODELS[key] = type(f"ArchiveRows{table.pk}", (models.Model,), attrs)
    return found


_PERSON_MODEL: list[type] = []


def hits_queryset(hits: list[PersonHit]):
    """The found persons as a queryset of ``archive.person`` (fields ``id``, ``idkey`` and ``records``, the
    number of their archived rows) for the table component: only these ids, already scoped by
    ``person_search``."""
    from django.apps.registry import Apps
    from django.db import models
    from django.db.models.expressions import RawSQL

    if not _PERSON_MODEL:
        _PERSON_MODEL.append(type("ArchivePerson", (models.Model,), {
            "__module__": __name__, "id": models.BigIntegerField(primary_key=True),
            "idkey": models.TextField(verbose_name="身份证号"),
            "Meta": type("Meta", (), {"managed": False, "apps": Apps(installed_apps=[]), "app_label": "archive_rows",
                                      "db_table": 'archive"."person'})}))
    return _PERSON_MODEL[0].objects.filter(id__in=[h.id for h in hits]).annotate(records=RawSQL(
        'SELECT count(*) FROM archive.person_row r WHERE r.person_id = "archive"."person"."id"', []))


def person_rows_queryset(*, table: ArchiveTable, person_id: int):
    """The rows of ``table`` indexed under the archived person (a queryset of ``row_model``)."""
    from django.db.models.expressions import RawSQL

    return row_model(table).objects.filter(
        row__in=RawSQL("SELECT row FROM archive.person_row WHERE person_id = %s AND table_id = %s",
                       [person_id, table.pk]))


def numeric_flags(table: ArchiveTable) -> list[bool]:
    """Which displayed columns are numbers (right-aligned on the pages): 行号, then numeric/bigint ones."""
    return [True] + [c["pg"].startswith(("numeric", "bigint")) and not c["code_category"] for c in table.columns]


def headers_of(table: ArchiveTable) -> list[str]:
    return ["行号"] + [c["label"] or c["name"] for c in table.columns]


def _select(table: ArchiveTable) -> sql.Composable:
    cols = [sql.Identifier(ddl.ROW)] + [sql.Identifier(c["name"]) for c in table.columns]
    return sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(cols), ddl.qualified(table.name))


def person_records(*, person: PersonHit, masker: Masker) -> list[TableRecords]:
    """Every archived row of the person, table by table (in file order), masked and codes explained."""
    out = []
    with connection.cursor() as cursor:
        for table in person.tables:
            cursor.execute(sql.SQL("{} WHERE {} IN (SELECT row FROM archive.person_row WHERE person_id = %s "
                                   "AND table_id = %s) ORDER BY {}").format(
                _select(table), sql.Identifier(ddl.ROW), sql.Identifier(ddl.ROW)), [person.id, table.pk])
            out.append(TableRecords(table, headers_of(table), _render(table, cursor.fetchall(), masker)))
    return out


def table_rows(*, table: ArchiveTable, masker: Masker, offset: int = 0, limit: int = 100) -> list[list[str]]:
    """A page of a table's rows in file order (county-wide users: the caller's rule)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("{} WHERE {} > %s ORDER BY {} LIMIT %s").format(
            _select(table), sql.Identifier(ddl.ROW), sql.Identifier(ddl.ROW)), [offset, limit])
        return _render(table, cursor.fetchall(), masker)


def table_text(*, table: ArchiveTable, limit: int) -> tuple[list[str], dict[str, str], list[list[str]]]:
    """A whole table as text for 数据比对 (unmasked: the caller masks what it shows): (headers — each
    column's 中文名, or its name where the 中文名 is blank or repeated —, {column name: header}, rows in
    file order). A coded column gives its meaning (性别 1 → 男) where the code is known. At most ``limit``
    rows (``SearchError`` beyond)."""
    if table.rows > limit:
        raise SearchError(f"档案表 {table.name} 有 {table.rows:,} 行，超过比对上限 {limit:,} 行")
    labels = [c["label"] for c in table.columns]
    headers = [c["label"] if c["label"] and labels.count(c["label"]) == 1 else c["name"] for c in table.columns]
    aliases = {c["name"]: h for c, h in zip(table.columns, headers, strict=True)}
    codes = _codes(table)
    cats = [codes.get(c["code_category"], {}) if c["code_category"] else None for c in table.columns]
    rows = []
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("{} ORDER BY {}").format(_select(table), sql.Identifier(ddl.ROW)))
        for r in cursor.fetchall():
            line = []
            for v, cat in zip(r[1:], cats, strict=True):
                text = _text(v)
                line.append(cat.get(text, text) if cat else text)
            rows.append(line)
    return headers, aliases, rows
