"""数据比对 of two database tables: the tables a comparison may read, each read whole as text into a
``compare.Sheet`` — then compared exactly as two files are (``compare.compare_sheets``).

A table is named ``archive.<表名>`` (原遗留养老系统 archive), ``warehouse.<物理表名>`` (回流库, e.g.
``warehouse.sheng_ac01``) or ``live.persons`` (the registry's persons: 身份证号, 姓名, 性别, 出生日期, 镇街道,
死亡日期 — live data, read through the registry's scoped selector on the page). On the command line
a table is written ``table:<name>`` (``shebao compare table:archive.ac01 table:live.persons --key
公民身份号码=身份证号``). A column may be named by its 中文名 (the header) or its column name."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from psycopg import sql

from shebao.maintenance.compare import CompareError, Sheet

PREFIX = "table:"
LIVE = {"live.persons": "人员登记（本系统）"}
PERSON_COLUMNS = [("id_number", "身份证号"), ("name", "姓名"), ("sex", "性别"), ("birth_date", "出生日期"),
                  ("town", "镇街道"), ("death_date", "死亡日期")]


@dataclass(frozen=True)
class TableChoice:
    ref: str
    label: str


def table_choices() -> list[TableChoice]:
    """Every table a comparison may read, for the page's lists."""
    from shebao.archive.selectors import archive_tables
    from shebao.warehouse.models import WhTable

    out = [TableChoice(ref, f"{ref} {label}") for ref, label in LIVE.items()]
    out += [TableChoice(f"archive.{t.name}", f"archive.{t.name} {t.label}（原遗留系统）") for t in archive_tables()]
    out += [TableChoice(f"warehouse.{t.physical}", f"warehouse.{t.physical} {t.label}（回流库 {t.source.name}）")
            for t in WhTable.objects.filter(retired=False).select_related("source")]
    return out


def read_table_sheet(ref: str, *, label: str, user=None, limit: int) -> Sheet:
    """The table ``ref`` as a sheet named ``label``; ``user``: the page's user (live data in their towns),
    None on the command line (the operator's: every row). CompareError when unknown or too large."""
    ref = (ref or "").strip()
    if ref.startswith(PREFIX):
        ref = ref[len(PREFIX):]
    name = f"{label}（{ref}）"
    schema, _dot, table = ref.partition(".")
    if schema == "live" and ref in LIVE:
        return _live_persons(name, user, limit)
    if schema == "archive":
        from shebao.archive.models import ArchiveTable
        from shebao.archive.selectors import SearchError, table_text

        found = ArchiveTable.objects.select_related("load").filter(name=table).first()
        if found is not None:
            try:
                headers, aliases, rows = table_text(table=found, limit=limit)
            except SearchError as exc:
                raise CompareError(str(exc)) from None
            return Sheet(name, headers, rows, aliases)
    if schema == "warehouse":
        found = _warehouse_table(table)
        if found is not None:
            return _warehouse_sheet(name, found, limit)
    raise CompareError(f"没有表“{ref}”：可比对的表为 live.persons、archive.<表名>、warehouse.<物理表名>")


def _live_persons(name: str, user, limit: int) -> Sheet:
    from shebao.registry.models import Person
    from shebao.registry.selectors import persons_visible

    qs = (persons_visible(user) if user is not None else Person.objects.all()).select_related("town")
    if qs.count() > limit:
        raise CompareError(f"{name} 超过比对上限 {limit:,} 行")
    sex = dict(Person.Sex.choices)
    rows = [[p.id_number, p.name, str(sex.get(p.sex, p.sex)), p.birth_date.isoformat(), p.town.name,
             p.death_date.isoformat() if p.death_date else ""] for p in qs.order_by("id").iterator(chunk_size=5000)]
    return Sheet(name, [h for _f, h in PERSON_COLUMNS], rows, {f: h for f, h in PERSON_COLUMNS})


def _warehouse_table(physical: str):
    from shebao.warehouse.models import WhTable

    return WhTable.objects.filter(physical=physical).prefetch_related("columns").first()


def _warehouse_sheet(name: str, table, limit: int) -> Sheet:
    from shebao.warehouse.ddl import qualified

    columns = [c for c in table.columns.all()]
    labels = [c.label for c in columns]
    headers = [c.label if c.label and labels.count(c.label) == 1 else c.name for c in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT {} FROM {} LIMIT %s").format(
            sql.SQL(", ").join(sql.SQL("coalesce({}::text, '')").format(sql.Identifier(c.name)) for c in columns),
            qualified(table.physical)), [limit + 1])
        rows = [list(r) for r in cursor.fetchall()]
    if len(rows) > limit:
        raise CompareError(f"{name} 超过比对上限 {limit:,} 行")
    return Sheet(name, headers, rows, {c.name: h for c, h in zip(columns, headers, strict=True)})
