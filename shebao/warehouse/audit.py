"""The audit (审核): rules over landed data and cross-checks with our own schemes → findings.

Built-in kinds, each attached to one column of one table: 身份证号 valid (15 or 18, the GB 11643 rule of
``common.identity`` written in SQL and every hit confirmed by ``identity.is_valid_id_number``), value in
its code table (the source's codes, then the common 人社 codes), date sane (1900-01-01 … today; a
YYYYMM number column: a real month not in the future), not null, unique, reference exists (in another
table's column). Custom rules: a read-only query by IT, run as the console's read-only role, each row
returned a finding (columns ``id_number`` and ``detail`` when present).

Cross-checks (our schemes read through ``payroll.selectors.payroll_lines_visible``, persons through
``registry.selectors.persons_visible``, composed as SQL so 1,000,000 shared rows and every payroll line
are compared set-based):

- 死亡后仍发放: a local payroll line (not failed, not written off) for a month after the month of the
  death date a table of 用途 死亡 shows (its AAC002 and AAC060 columns);
- 重复领取: a local line for a month in which a table of 用途 待遇发放 shows another pension paid to the
  same 身份证号 (AAC002, AAE002 发放年月 YYYYMM, AAE019 金额 > 0);
- 姓名不一致: a table's AAC003 differs from our person's name for the same AAC002;
- 生存迹象: a receiving person's latest activity (a table of 用途 活动, its 活动日期字段) after their last
  certification (the certification app's dates when it provides them, else within the last 12 months):
  a clerk may accept it as a certification (方式 数据比对).

A run replaces the open findings of the rules it ran; a finding already confirmed or dismissed is not
raised again."""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from psycopg import sql

from shebao.common import hooks
from shebao.common.audit import audit_record
from shebao.common.identity import is_valid_id_number
from shebao.warehouse import ddl
from shebao.warehouse.models import AuditRule, AuditRun, Element, Finding, WhColumn, WhTable

FINDINGS = Finding._meta.db_table
NOT_PAID = ("failed", "written_off", "reissued")  # line statuses that paid nothing for their month


class AuditError(ValueError):
    """Chinese."""


def id_number_ok(v: sql.Composable) -> sql.Composable:
    """SQL: ``v`` (spaces removed; a lowercase x allowed) is a valid 身份证号 by ``common.identity``'s rule —
    the IMMUTABLE function ``shebao_id_number_ok`` (migration 0004), inlined by the planner."""
    return sql.SQL("shebao_id_number_ok({}, current_date)").format(v)


def _role_column(table: WhTable, role: str) -> str | None:
    codes = set(Element.objects.filter(role=role).values_list("code", flat=True))
    names = [c.name for c in table.columns.all() if not c.retired]
    for name in names:
        if name.upper() in codes:
            return name
    return None


def _key_text(table: WhTable, alias: str = "t") -> sql.Composable:
    cols = table.primary_key or [c.name for c in table.columns.all()[:1]]
    return sql.SQL("concat_ws('|', {})").format(
        sql.SQL(", ").join(sql.SQL("{}.{}::text").format(sql.Identifier(alias), sql.Identifier(c)) for c in cols))


def _id_expr(table: WhTable, alias: str = "t") -> sql.Composable:
    col = _role_column(table, "id_number")
    if col is None:
        return sql.SQL("''")
    return sql.SQL("coalesce(upper(btrim({}.{}::text)), '')").format(sql.Identifier(alias), sql.Identifier(col))


def _insert(cursor, run: AuditRun, rule: AuditRule, select: sql.Composable, params: list | None = None) -> int:
    """``select`` yields (id_number, row_key, value, detail, month, event_date)."""
    cursor.execute(sql.SQL(
        "INSERT INTO {f} (run_id, rule_id, id_number, row_key, value, detail, month, event_date, state, note, certified) "
        "SELECT %s, %s, left(coalesce(x.id_number, ''), 30), left(coalesce(x.row_key, ''), 200), "
        "left(coalesce(x.value, ''), 200), left(x.detail, 500), x.month, x.event_date, 'open', '', false "
        "FROM ({q}) x(id_number, row_key, value, detail, month, event_date)").format(
        f=sql.Identifier(FINDINGS), q=select), [run.pk, rule.pk, *(params or [])])
    return cursor.rowcount


def _column(rule: AuditRule) -> WhColumn:
    if rule.table is None:
        raise AuditError(f"规则“{rule.name}”没有指定表")
    col = rule.table.columns.filter(name=rule.column).first()
    if col is None:
        raise AuditError(f"规则“{rule.name}”的字段 {rule.column} 不在表 {rule.table.name} 中")
    return col


def _run_builtin(cursor, run: AuditRun, rule: AuditRule) -> int:
    table = rule.table
    col = _column(rule)
    t = ddl.qualified(table.physical)
    c = sql.SQL("t.{}").format(sql.Identifier(col.name))
    ctext = sql.SQL("{}::text").format(c)
    idx, key = _id_expr(table), _key_text(table)
    label = col.label or col.name
    kind = rule.kind
    if kind == AuditRule.Kind.ID_NUMBER:
        norm = sql.SQL("upper(replace(btrim({}), ' ', ''))").format(ctext)
        # each distinct number checked once (a person has many rows); their rows read again only when some fail
        # the distinct values first (a hash of the raw column), normalised and checked once each; OFFSET 0
        # keeps the planner from pushing the check below the DISTINCT (once per row, not per number)
        cursor.execute(sql.SQL("SELECT array_agg(d.v) FROM (SELECT DISTINCT {n} AS v FROM (SELECT DISTINCT {c} FROM {t} t "
                               "WHERE {c} IS NOT NULL) t WHERE btrim({ct}) <> '' OFFSET 0) d WHERE NOT {ok}").format(
            n=norm, t=t, c=c, ct=ctext, ok=id_number_ok(sql.SQL("d.v"))))
        bad = [v for v in (cursor.fetchone()[0] or []) if not is_valid_id_number(v)]  # the Python rule decides
        if not bad:
            return 0
        select = sql.SQL("SELECT {i}, {k}, {c}, {d}, NULL::date, NULL::date FROM {t} t WHERE {n} = ANY(%s)").format(
            i=idx, k=key, c=ctext, n=norm, d=sql.Literal(f"{label}不是有效的身份证号"), t=t)
        return _insert(cursor, run, rule, select, [bad])
    if kind == AuditRule.Kind.NOT_NULL:
        select = sql.SQL("SELECT {i}, {k}, '', {d}, NULL::date, NULL::date FROM {t} t "
                         "WHERE {c} IS NULL OR btrim({ct}) = ''").format(
            i=idx, k=key, d=sql.Literal(f"{label}为空"), t=t, c=c, ct=ctext)
        return _insert(cursor, run, rule, select)
    if kind == AuditRule.Kind.CODE:
        category = col.code_category or col.name.upper()
        from shebao.warehouse.models import CodeValue

        codes = sql.Identifier(CodeValue._meta.db_table)
        select = sql.SQL("SELECT {i}, {k}, {ct}, {d} || {ct}, NULL::date, NULL::date FROM {t} t "
                         "WHERE {c} IS NOT NULL AND btrim({ct}) <> '' AND NOT EXISTS (SELECT 1 FROM {codes} cv "
                         "WHERE cv.category = %s AND (cv.source_id = %s OR cv.source_id IS NULL) "
                         "AND cv.value = btrim({ct}))").format(
            i=idx, k=key, ct=ctext, d=sql.Literal(f"{label}的代码值不在代码表 {category} 中："), t=t, c=c, codes=codes)
        return _insert(cursor, run, rule, select, [category, table.source_id])
    if kind == AuditRule.Kind.DATE:
        ctype = ddl.parse_type(col.source_type)
        if ctype.kind in ("date", "timestamp"):
            cond = sql.SQL("{c} IS NOT NULL AND ({c}::date < date '1900-01-01' OR {c}::date > current_date)").format(c=c)
        else:  # a YYYYMM (or YYYYMMDD) number or text: each distinct value checked once (a month column has
            # a few hundred), then the rows that hold a bad one
            digits = sql.SQL("btrim(d.v::text)")
            bad = sql.SQL(
                "{d} <> '' AND NOT (CASE WHEN {d} ~ '^[0-9]{{6}}$' THEN "
                "substr({d}, 5, 2)::int BETWEEN 1 AND 12 AND {d} BETWEEN '190001' AND to_char(current_date, 'YYYYMM') "
                "WHEN {d} ~ '^[0-9]{{8}}$' THEN {ok} AND {d} BETWEEN '19000101' AND to_char(current_date, 'YYYYMMDD') "
                "ELSE false END)").format(d=digits, ok=_date_ok_sql(digits))
            cond = sql.SQL("{c} IN (SELECT d.v FROM (SELECT DISTINCT t.{col} AS v FROM {t} t WHERE t.{col} IS NOT NULL "
                           "OFFSET 0) d WHERE {bad})").format(c=c, col=sql.Identifier(col.name), t=t, bad=bad)
        select = sql.SQL("SELECT {i}, {k}, {ct}, {d}, NULL::date, NULL::date FROM {t} t WHERE {cond}").format(
            i=idx, k=key, ct=ctext, d=sql.Literal(f"{label}不合理（早于 1900 年或晚于今天，或不是有效日期）"), t=t, cond=cond)
        return _insert(cursor, run, rule, select)
    if kind == AuditRule.Kind.UNIQUE:
        select = sql.SQL("SELECT {i}, {k}, {ct}, {d} || n || ' 条记录', NULL::date, NULL::date FROM "
                         "(SELECT t.*, count(*) OVER (PARTITION BY {c}) n FROM {t} t WHERE {c} IS NOT NULL) t "
                         "WHERE n > 1").format(i=idx, k=key, ct=ctext, c=c, t=t,
                                               d=sql.Literal(f"{label}重复：同一值有 "))
        return _insert(cursor, run, rule, select)
    if kind == AuditRule.Kind.REFERENCE:
        ref = rule.ref_table
        if ref is None or not ref.columns.filter(name=rule.ref_column).exists():
            raise AuditError(f"规则“{rule.name}”引用的表或字段不存在")
        select = sql.SQL("SELECT {i}, {k}, {ct}, {d}, NULL::date, NULL::date FROM {t} t WHERE {c} IS NOT NULL "
                         "AND NOT EXISTS (SELECT 1 FROM {r} r WHERE r.{rc}::text = {ct})").format(
            i=idx, k=key, ct=ctext, c=c, t=t, r=ddl.qualified(ref.physical), rc=sql.Identifier(rule.ref_column),
            d=sql.Literal(f"{label}在 {ref.name}.{rule.ref_column} 中不存在"))
        return _insert(cursor, run, rule, select)
    raise AuditError(f"未知的规则类型 {kind}")


def _date_ok_sql(d: sql.Composable) -> sql.Composable:
    from shebao.warehouse.landing import date_ok

    return date_ok(d)


def _subquery(qs) -> tuple[sql.Composable, list]:
    text, params = qs.query.sql_with_params()
    return sql.SQL(text.replace("%s", "{}")).format(*[sql.Literal(p) for p in params]), []


def _lines(user):
    from shebao.payroll.selectors import payroll_lines_visible

    qs = payroll_lines_visible(user=user).exclude(status__in=NOT_PAID).filter(person__isnull=False).order_by()
    return _subquery(qs.values("person_id", "id_number", "name", "run__period", "net", "id"))[0]


def _persons(user):
    from shebao.registry.selectors import persons_visible

    return _subquery(persons_visible(user).values("id", "id_number", "name"))[0]


def _tables(purpose: str, *roles: str) -> list[tuple[WhTable, dict[str, str]]]:
    out = []
    for table in WhTable.objects.filter(retired=False, purpose=purpose).prefetch_related("columns"):
        cols = {r: _role_column(table, r) for r in roles}
        if all(cols.values()):
            out.append((table, cols))
    return out


def _run_cross(cursor, run: AuditRun, rule: AuditRule, user) -> int:
    n = 0
    kind = rule.kind
    if kind == AuditRule.Kind.DEATH:
        for table, cols in _tables(WhTable.Purpose.DEATH, "id_number", "death_date"):
            select = sql.SQL(
                "SELECT l.id_number, l.id_number || '|' || to_char(l.period, 'YYYY-MM'), l.net::text, "
                "'死亡日期 ' || to_char(d.dd, 'YYYY-MM-DD') || '（' || {src} || '），仍发放 ' || to_char(l.period, 'YYYY-MM') "
                "|| ' 待遇 ' || l.net::text || ' 元', l.period, d.dd "
                "FROM (SELECT upper(btrim(t.{i}::text)) AS idn, min(t.{dd}::date) AS dd FROM {t} t WHERE t.{dd} IS NOT NULL "
                "GROUP BY 1) d JOIN ({lines}) l(person_id, id_number, name, period, net, line_id) ON l.id_number = d.idn "
                "WHERE l.period > date_trunc('month', d.dd)").format(
                src=sql.Literal(f"{table.source.name}.{table.name}"), i=sql.Identifier(cols["id_number"]),
                dd=sql.Identifier(cols["death_date"]), t=ddl.qualified(table.physical), lines=_lines(user))
            n += _insert(cursor, run, rule, select)
    elif kind == AuditRule.Kind.DOUBLE:
        for table, cols in _tables(WhTable.Purpose.PAYMENT, "id_number", "month", "amount"):
            # the local lines (tens of thousands) hashed, the shared rows (a million) probed once: only the
            # rows of a person and month we pay are summed, per line
            select = sql.SQL(
                "SELECT l.id_number, l.id_number || '|' || to_char(l.period, 'YYYY-MM') || '|' || {src}, l.net::text, "
                "to_char(l.period, 'YYYY-MM') || ' 本地发放 ' || l.net::text || ' 元，' || {src} || ' 同月另发 ' "
                "|| sum(t.{a})::text || ' 元', l.period, NULL::date "
                "FROM (SELECT l.*, to_char(l.period, 'YYYYMM') AS mt FROM ({lines}) "
                "l(person_id, id_number, name, period, net, line_id)) l "
                "JOIN {t} t ON upper(btrim(t.{i}::text)) = l.id_number AND btrim(t.{mm}::text) = l.mt "
                "WHERE t.{a} > 0 GROUP BY l.line_id, l.id_number, l.period, l.net"
            ).format(src=sql.Literal(f"{table.source.name}.{table.label or table.name}"),
                     i=sql.Identifier(cols["id_number"]), a=sql.Identifier(cols["amount"]),
                     mm=sql.Identifier(cols["month"]), t=ddl.qualified(table.physical), lines=_lines(user))
            n += _insert(cursor, run, rule, select)
    elif kind == AuditRule.Kind.NAME:
        for table in WhTable.objects.filter(retired=False):
            idc, namec = _role_column(table, "id_number"), _role_column(table, "name")
            if not (idc and namec):
                continue
            select = sql.SQL(
                "SELECT DISTINCT p.id_number, p.id_number || '|' || {src}, btrim(t.{n}::text), "
                "{src} || ' 姓名为“' || btrim(t.{n}::text) || '”，本地为“' || p.name || '”', NULL::date, NULL::date "
                "FROM {t} t JOIN ({persons}) p(id, id_number, name) ON p.id_number = upper(btrim(t.{i}::text)) "
                "WHERE t.{n} IS NOT NULL AND btrim(t.{n}::text) <> '' AND btrim(t.{n}::text) <> p.name").format(
                src=sql.Literal(f"{table.source.name}.{table.name}"), n=sql.Identifier(namec), i=sql.Identifier(idc),
                t=ddl.qualified(table.physical), persons=_persons(user))
            n += _insert(cursor, run, rule, select)
    elif kind == AuditRule.Kind.LIFE:
        last = hooks.provided("certification_last_dates")
        since = timezone.localdate() - dt.timedelta(days=365)
        for table in WhTable.objects.filter(retired=False, purpose=WhTable.Purpose.ACTIVITY):
            idc = _role_column(table, "id_number")
            datec = table.activity_column or next(
                (c.name for c in table.columns.all() if c.pg_type in ("date", "timestamp")), None)
            if not (idc and datec):
                continue
            if last is not None:
                known = _subquery(last())[0]  # values("person_id", "last_on")
                cert = sql.SQL("LEFT JOIN ({}) c(person_id, last_on) ON c.person_id = r.person_id").format(known)
                after = sql.SQL("a.on_ > coalesce(c.last_on, {})").format(sql.Literal(since))
            else:
                cert, after = sql.SQL(""), sql.SQL("a.on_ > {}").format(sql.Literal(since))
            select = sql.SQL(
                "SELECT r.id_number, r.id_number || '|' || {src} || '|' || a.on_, '', "
                "{src} || ' 有活动记录：' || to_char(a.on_, 'YYYY-MM-DD'), NULL::date, a.on_ "
                "FROM (SELECT DISTINCT person_id, id_number FROM ({lines}) l(person_id, id_number, name, period, net, line_id) "
                "WHERE l.period >= date_trunc('month', current_date) - interval '3 months') r "
                "JOIN (SELECT upper(btrim(t.{i}::text)) AS idn, max(t.{d}::date) AS on_ FROM {t} t "
                "WHERE t.{d}::date <= current_date GROUP BY 1) a ON a.idn = r.id_number {cert} WHERE {after}").format(
                src=sql.Literal(f"{table.source.name}.{table.label or table.name}"), lines=_lines(user),
                i=sql.Identifier(idc), d=sql.Identifier(datec), t=ddl.qualified(table.physical), cert=cert, after=after)
            n += _insert(cursor, run, rule, select)
    return n


def _run_sql_rule(run: AuditRun, rule: AuditRule, user) -> int:
    from shebao.warehouse.console import ROW_LIMIT, run_sql

    result = run_sql(query=rule.sql, user=user, limit=ROW_LIMIT * 10)
    cols = [c.lower() for c in result.columns]
    idc = cols.index("id_number") if "id_number" in cols else None
    dc = cols.index("detail") if "detail" in cols else None
    objs = []
    for row in result.rows:
        idn = str(row[idc] or "") if idc is not None else ""
        detail = str(row[dc]) if dc is not None else "；".join(f"{c}={v}" for c, v in zip(result.columns, row, strict=True))
        objs.append(Finding(run=run, rule=rule, id_number=idn[:30], row_key=detail[:200], detail=detail[:500]))
    Finding.objects.bulk_create(objs)
    return len(objs)


def audit_run(*, user, rules: list[AuditRule] | None = None) -> AuditRun:
    """Run the active rules (or ``rules``) → one run with its findings; open findings of earlier runs of
    the same rules are replaced, decided ones are not raised again."""
    rules = list(rules if rules is not None else AuditRule.objects.filter(active=True).select_related("table"))
    started = time.monotonic()
    with transaction.atomic():
        run = AuditRun.objects.create(created_by=user)
        summary = {}
        Finding.objects.filter(rule__in=rules, state=Finding.State.OPEN).exclude(run=run).delete()
        with connection.cursor() as cursor:
            ddl.ensure_schema(cursor)
            # a million shared rows hashed (distinct numbers, the lines they meet) in memory, not in batches on disk
            cursor.execute("SELECT current_setting('work_mem'), set_config('work_mem', '256MB', true)")
            work_mem = cursor.fetchone()[0]
            for rule in rules:
                if rule.kind == AuditRule.Kind.SQL:
                    summary[str(rule.pk)] = _run_sql_rule(run, rule, user)
                elif rule.kind in AuditRule.CROSS:
                    summary[str(rule.pk)] = _run_cross(cursor, run, rule, user)
                else:
                    summary[str(rule.pk)] = _run_builtin(cursor, run, rule)
            cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
            # decided before: not raised again
            cursor.execute(sql.SQL(
                "DELETE FROM {f} f WHERE f.run_id = %s AND EXISTS (SELECT 1 FROM {f} d WHERE d.rule_id = f.rule_id "
                "AND d.state <> 'open' AND d.row_key = f.row_key AND d.value = f.value AND d.run_id <> f.run_id)").format(
                f=sql.Identifier(FINDINGS)), [run.pk])
            from shebao.registry.selectors import persons_visible

            persons = _subquery(persons_visible(user).values("id", "id_number"))[0]
            cursor.execute(sql.SQL("UPDATE {f} f SET person_id = p.id FROM ({p}) p(id, id_number) "
                                   "WHERE f.run_id = %s AND f.id_number <> '' AND p.id_number = f.id_number").format(
                f=sql.Identifier(FINDINGS), p=persons), [run.pk])
        counts = dict(Finding.objects.filter(run=run).values_list("rule_id").annotate(n=Count("id")))
        run.summary = {str(r.pk): counts.get(r.pk, 0) for r in rules}
        run.seconds = round(time.monotonic() - started, 3)
        run.save(update_fields=["summary", "seconds"])
        audit_record(user=user, action="warehouse.audit_run", obj=run,
                     summary=f"回流库审核：{len(rules)} 条规则，{sum(run.summary.values())} 条结果")
    return run
