"""分组汇总: a table, group-by columns, measures (count, sum of a number column), filters (column = value,
or a range) → one GROUP BY statement, built from the dictionary's checked names (quoted identifiers)
and run by the query service's read-only role (``console.run_sql``), so it reads nothing but the
warehouse. A spec is saved as a ``SavedQuery`` with ``grouping`` set."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from psycopg import sql

from shebao.warehouse import ddl
from shebao.warehouse.console import QueryResult, run_sql
from shebao.warehouse.models import SavedQuery, WhTable

OPS = {"eq": "=", "ge": ">=", "le": "<=", "ne": "<>"}
MAX_GROUPS = 5000


class GroupingError(ValueError):
    """Chinese."""


@dataclass
class Spec:
    table: WhTable
    group_by: list[str]
    sum_columns: list[str] = field(default_factory=list)
    filters: list[tuple[str, str, str]] = field(default_factory=list)  # (column, op, value)

    def as_dict(self) -> dict:
        return {"table": self.table.pk, "group_by": self.group_by, "sum": self.sum_columns,
                "filters": [list(f) for f in self.filters]}


def spec_from(data: dict) -> Spec:
    table = WhTable.objects.filter(pk=data.get("table") or 0).first()
    if table is None:
        raise GroupingError("请选择表")
    columns = {c.name: c for c in table.columns.all()}
    group_by = [c for c in data.get("group_by", []) if c]
    if not group_by:
        raise GroupingError("请至少选择一个分组字段")
    for c in group_by + [f[0] for f in data.get("filters", []) if f and f[0]] + list(data.get("sum", [])):
        if c not in columns:
            raise GroupingError(f"表 {table.name} 没有字段 {c}")
    sums = [c for c in data.get("sum", []) if c]
    for c in sums:
        if columns[c].pg_type.split("(")[0] not in ("numeric", "bigint"):
            raise GroupingError(f"字段 {c} 不是数值，不能求和")
    filters = []
    for f in data.get("filters", []):
        if f and f[0] and len(f) == 3:
            if f[1] not in OPS:
                raise GroupingError("筛选条件不正确")
            filters.append((f[0], f[1], str(f[2])))
    return Spec(table, group_by, sums, filters)


def grouping_sql(spec: Spec) -> tuple[str, dict]:
    ident = sql.Identifier
    groups = sql.SQL(", ").join(ident(c) for c in spec.group_by)
    measures = [sql.SQL("count(*) AS {}").format(ident("记录数"))]
    measures += [sql.SQL("sum({}) AS {}").format(ident(c), ident(f"{c}合计")) for c in spec.sum_columns]
    where, params = [], {}
    for i, (col, op, value) in enumerate(spec.filters):
        where.append(sql.SQL("{}::text {} {}").format(ident(col), sql.SQL(OPS[op]), sql.Placeholder(f"f{i}")))
        params[f"f{i}"] = value
    statement = sql.SQL("SELECT {g}, {m} FROM {t}{w} GROUP BY {g} ORDER BY {g} LIMIT {n}").format(
        g=groups, m=sql.SQL(", ").join(measures), t=ddl.qualified(spec.table.physical),
        w=sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""), n=sql.Literal(MAX_GROUPS))
    connection.ensure_connection()
    return statement.as_string(connection.connection), params


def grouping_run(*, spec: Spec, user, saved: SavedQuery | None = None) -> QueryResult:
    text, params = grouping_sql(spec)
    return run_sql(query=text, params=params or None, user=user, limit=MAX_GROUPS, saved=saved)


def chart_data(spec: Spec, result: QueryResult) -> dict:
    """Labels (the group values joined) and one series per measure, for Chart.js."""
    n = len(spec.group_by)
    labels = [" / ".join("" if v is None else str(v) for v in row[:n]) for row in result.rows]
    series = [{"label": col, "data": [float(row[n + i] or 0) for row in result.rows]}
              for i, col in enumerate(result.columns[n:])]
    return {"labels": labels, "series": series}
