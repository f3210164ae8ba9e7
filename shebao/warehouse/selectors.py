"""Reads of the 回流库: the dictionary with row counts and last loads, loads, findings in the user's
towns, the dictionary as one document (rows for xlsx, text for Markdown)."""

from __future__ import annotations

from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from shebao.common import policy
from shebao.warehouse import ddl
from shebao.warehouse.models import CodeValue, Finding, Load, SavedQuery, WhTable


def wh_tables() -> QuerySet[WhTable]:
    last = Load.objects.filter(table=OuterRef("pk"), state=Load.State.DONE).order_by("-id")
    return (WhTable.objects.select_related("source").annotate(last_load_at=Subquery(last.values("created_at")[:1]),
                                                              last_load_id=Subquery(last.values("id")[:1])))


def row_counts(tables) -> dict[int, int]:
    """Estimated rows (pg_class.reltuples, the partitions summed) — exact counts of 1,000,000-row tables on
    every page view would cost seconds; the table page counts exactly."""
    names = {t.physical: t.pk for t in tables}
    if not names:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(p.relname, c.relname), sum(greatest(c.reltuples, 0))::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = %s "
            "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE coalesce(p.relname, c.relname) = ANY(%s) AND c.relkind = 'r' GROUP BY 1", [ddl.SCHEMA, list(names)])
        return {names[n]: int(c) for n, c in cursor.fetchall()}


def table_get(pk: int) -> WhTable:
    table = wh_tables().filter(pk=pk).first()
    if table is None:
        raise Http404("表不存在")
    return table


def exact_count(table: WhTable) -> int:
    with connection.cursor() as cursor:
        if not ddl.table_exists(cursor, table.physical):
            return 0
        return ddl.row_count(cursor, table.physical)


def codes_of(table: WhTable) -> dict[str, list[CodeValue]]:
    cats = {c.code_category for c in table.columns.all() if c.code_category}
    out: dict[str, list[CodeValue]] = {}
    own = Q(source_id=table.source_id) | Q(source__isnull=True)
    own_cats = set()
    for cv in CodeValue.objects.filter(own, category__in=cats).order_by("category", "source_id", "value"):
        if cv.source_id is not None:
            own_cats.add(cv.category)
        elif cv.category in own_cats:
            continue  # the source's own code table replaces the common one
        out.setdefault(cv.category, []).append(cv)
    return out


def dictionary_rows() -> list[list[str]]:
    """来源, 表名, 表中文名, 主键, 字段名, 字段中文名, 类型, PostgreSQL 类型, 代码类别, 代码值, 说明."""
    rows = []
    for table in wh_tables().prefetch_related("columns"):
        codes = codes_of(table)
        for c in table.columns.all():
            values = "；".join(f"{v.value} {v.meaning}" for v in codes.get(c.code_category, []))
            rows.append([table.source.name, table.name, table.label, "、".join(table.primary_key), c.name, c.label,
                         c.source_type, c.pg_type, c.code_category, values,
                         (c.note + ("（已不在字典中）" if c.retired else "")).strip()])
    return rows


DICTIONARY_HEADERS = ["来源", "表名", "表中文名", "主键", "字段名", "字段中文名", "类型", "PostgreSQL 类型", "代码类别",
                      "代码值", "说明"]


def _md(text) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def dictionary_markdown() -> str:
    out = ["# 省宁波回流数据库 数据字典", ""]
    tables = list(wh_tables().prefetch_related("columns"))
    counts = row_counts(tables)
    for table in tables:
        out += [f"## {_md(table.source.name)}.{table.name} {_md(table.label)}", ""]
        if table.note:
            out += [_md(table.note), ""]
        out += [f"主键：{'、'.join(table.primary_key) or '（无）'}；约 {counts.get(table.pk, 0):,} 行；"
                f"最近装载：{table.last_load_at:%Y-%m-%d %H:%M}" if table.last_load_at else
                f"主键：{'、'.join(table.primary_key) or '（无）'}；尚未装载", ""]
        out += ["| 字段名 | 中文名 | 类型 | 代码类别 | 说明 |", "|---|---|---|---|---|"]
        for c in table.columns.all():
            out.append(f"| {c.name} | {_md(c.label)} | {c.source_type} | {_md(c.code_category)} | {_md(c.note)} |")
        codes = codes_of(table)
        for cat, values in codes.items():
            out += ["", f"代码 {_md(cat)}：" + "；".join(f"{_md(v.value)} {_md(v.meaning)}" for v in values)]
        out.append("")
    return "\n".join(out)


def findings_visible(*, user) -> QuerySet[Finding]:
    """Findings of persons in the user's towns (a county-wide user also sees those with no local person)."""
    qs = Finding.objects.select_related("rule", "person", "run")
    if policy.town_ids(user) is None:
        return qs
    return policy.scope_town(qs.filter(person__isnull=False), user, "person__town_id")


def finding_get(*, user, pk: int) -> Finding:
    found = findings_visible(user=user).filter(pk=pk).first()
    if found is None:
        raise Http404("审核结果不存在或不在您的管辖范围内")
    return found


def saved_queries_runnable(user) -> QuerySet[SavedQuery]:
    """The saved queries ``user`` may run: those open to every holder of 回流库查询 (no roles) and those
    naming one of the user's roles; a superuser all of them. Another one looks missing (404)."""
    qs = SavedQuery.objects.all()
    if user.is_superuser:
        return qs
    mine = list(user.groups.values_list("name", flat=True))
    return qs.filter(Q(roles=[]) | Q(roles__has_any_keys=mine)) if mine else qs.filter(roles=[])
