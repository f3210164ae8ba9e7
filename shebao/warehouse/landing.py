"""Landing a shared file into its table: ``warehouse_load``.

A file is csv/tsv (UTF-8 or GB18030, first row the column names) or JSON lines (one object a line). A
*full* file is the whole table: rows not in it are deleted, changed rows updated, new rows inserted. An
*incremental* file carries ``_op`` (I insert, U update, D delete) and the primary key; a U row updates
only the columns the file has.

One load is one transaction, in three set-based steps:

1. COPY the file into a temporary staging table of text columns (csv straight from the file's bytes;
   JSON lines through ``common.pgcopy.copy_rows``), each row numbered by its record in the file;
2. check every row in SQL — each value against its column's type (length, digits, calendar date), the
   key present and unique in the file, and for incremental files I only for a new key, U and D only for
   an existing one — every problem into ``LoadError`` with its record number, column and reason;
3. when no row is bad: for a full file into a table with rows, ``full_diff`` (one hash full join on the
   key; only the rows that differ are deleted, updated or inserted); into an empty table one INSERT; for
   an incremental file one statement per operation (D, U, I) from the staging table with typed casts.

A file with any bad row changes nothing in the table: the load is kept as 已拒绝 with every bad row.
The same file (sha256) already landed in the table is refused (a re-run does not apply twice).

**The landing API other apps may use** (the archive's loader does; everything else here is private):

- ``STAGE_TABLE`` — the name of the temporary staging table (``pg_temp``), dropped at commit;
- ``create_stage(cursor, names)`` — (re)creates it with one text column per name plus ``_line`` (the record
  number), and the temporary error table;
- ``copy_delimited(cursor, names, body, delimiter)`` — COPYs the records after the header into it; →
  (structural problems as (record, column, reason), records read);
- ``read_header(line, delimiter)`` — the column names of a header line (trimmed, byte-order mark dropped),
  ``LandingError`` when it cannot be read; ``first_line(path)`` and ``delimiter_of(ext, first)`` with it;
- ``check_and_cast(c, ctype, label)`` → (bad reason or NULL, typed value) and ``fast_cast`` — the SQL of
  the type checks; ``date_ok(digits)`` — SQL: 8 digits YYYYMMDD are a calendar date;
- ``fast_copy(cursor, stage, names, types, body, delimiter, numbered=)`` and ``fast_checks(names, types,
  key)`` — the fast path: COPY into a temporary table of typed columns, then the SQL of the checks COPY
  does not make and of each typed value; ``NotFast`` when COPY refuses a value (the caller goes to the
  checking path, which names every problem);
- ``LandingError`` — a file refused as a whole (Chinese message)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.db import DatabaseError, connection, transaction
from psycopg import sql

from shebao.common import safefile
from shebao.common.audit import audit_record
from shebao.common.pgcopy import copy_rows
from shebao.warehouse import ddl
from shebao.warehouse.dictionary import source_get
from shebao.warehouse.models import Load, LoadError, WhColumn, WhTable

STAGE_TABLE = "wh_stage"
FAST = "wh_fast"  # the typed staging table of the fast path
ERRORS = "wh_errors"
OP = "_op"
LIMITS = safefile.Limits(max_bytes=2048 * safefile.MiB)
PIECE = 1 << 20
MAX_REASON = 300


class LandingError(ValueError):
    """A load refused before any row was looked at (unknown table, wrong header …); Chinese."""


@dataclass
class LoadResult:
    load: Load
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # the first ones, for the command line

    def counts(self) -> dict:
        return self.load.counts()


# -- the type checks, as SQL over one text column ----------------------------------------------------

def _trim(c: sql.Composable) -> sql.Composable:
    return sql.SQL("btrim({})").format(c)


def date_ok(digits: sql.Composable) -> sql.Composable:
    """``digits``: the 8 digits YYYYMMDD; true when they are a calendar date."""
    y = sql.SQL("substr({}, 1, 4)::int").format(digits)
    m = sql.SQL("substr({}, 5, 2)::int").format(digits)
    d = sql.SQL("substr({}, 7, 2)::int").format(digits)
    return sql.SQL("(CASE WHEN {y} BETWEEN 1 AND 9999 AND {m} BETWEEN 1 AND 12 THEN {d} BETWEEN 1 AND "
                   "extract(day FROM make_date({y}, {m}, 1) + interval '1 month - 1 day')::int ELSE false END)"
                   ).format(y=y, m=m, d=d)


_DATE_RE = r"^\s*([0-9]{4})-?([0-9]{2})-?([0-9]{2})(?:[ T]00:00(?::00)?)?\s*$"
_TS_RE = (r"^\s*([0-9]{4})-?([0-9]{2})-?([0-9]{2})(?:[ T]?([0-9]{2}):?([0-9]{2})(?::?([0-9]{2})(?:\.[0-9]{1,6})?)?)?"
          r"\s*$")


def _digits(c: sql.Composable, regex: str, upto: int) -> sql.Composable:
    groups = "".join(f"\\{i}" for i in range(1, upto + 1))
    return sql.SQL("regexp_replace({}, {}, {})").format(c, sql.Literal(regex), sql.Literal(groups))


# A number is what PostgreSQL's own input function reads (digits, a sign, a point, an exponent; from
# PostgreSQL 16 also 0x…/0o…/0b… and 1_000), never NaN or Infinity, within the declared precision and
# scale — the same rule whether a file is checked value by value (here) or copied straight into typed
# columns (``_fast_full``), so a file lands the same way on either path.
_NUMBER_RE = r"^\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$"  # numeric input, PostgreSQL 15
_INTEGER_RE = r"^\s*[+-]?[0-9]+\s*$"
BIGINT = (-9223372036854775808, 9223372036854775807)


def _input_ok(v: sql.Composable, kind: str) -> sql.Composable:
    if connection.pg_version >= 160000:
        return sql.SQL("pg_input_is_valid({}, {})").format(v, sql.Literal("int8" if kind == "integer" else "numeric"))
    return sql.SQL("({} ~ {})").format(v, sql.Literal(_INTEGER_RE if kind == "integer" else _NUMBER_RE))


def number_out_of_range(n: sql.Composable, ctype: ddl.ColType) -> sql.Composable:
    """SQL: the typed number ``n`` breaks the column's rule (NaN, Infinity, too many digits or decimals).

    With a precision: ``n >= 10^whole OR n <= -10^whole`` also catches NaN (PostgreSQL orders NaN above
    every number) and ±Infinity; the decimals are compared with ``round`` only when ``scale(n)`` says
    there are more of them than the column keeps (1.500 fits NUMBER(14,2), 1.005 does not) — the cheap
    test first, as this runs once per value of a million-row file."""
    if ctype.kind == "integer":
        return sql.SQL("false")
    if ctype.precision is None:
        return sql.SQL("({n} = 'NaN'::numeric OR abs({n}) = 'Infinity'::numeric)").format(n=n)
    whole, scale = ctype.precision - ctype.scale, ctype.scale
    return sql.SQL("({n} >= {lim} OR {n} <= {neg} OR (scale({n}) > {s} AND {n} <> round({n}, {s})))").format(
        n=n, lim=sql.Literal(10 ** whole), neg=sql.Literal(-(10 ** whole)), s=sql.Literal(scale))


def _number_check(v: sql.Composable, ctype: ddl.ColType) -> tuple[sql.Composable, sql.Composable]:
    if ctype.kind == "integer":
        reason = "不是整数"
        ok = sql.SQL("(CASE WHEN {ok} THEN {v}::numeric BETWEEN {lo} AND {hi} ELSE false END)").format(
            ok=_input_ok(v, "integer"), v=v, lo=sql.Literal(BIGINT[0]), hi=sql.Literal(BIGINT[1]))
    else:
        ok = _input_ok(v, "numeric")
        if ctype.precision is None:
            reason = "不是数值"
        else:
            whole, scale = ctype.precision - ctype.scale, ctype.scale
            reason = f"不是 {ctype.pg} 的数值（整数部分最多 {whole} 位，小数最多 {scale} 位）"
        ok = sql.SQL("(CASE WHEN {ok} THEN NOT {bad} ELSE false END)").format(
            ok=ok, bad=number_out_of_range(sql.SQL("{}::numeric").format(v), ctype))
    bad = sql.SQL("CASE WHEN {v} <> '' AND NOT {ok} THEN {r} END").format(v=v, ok=ok, r=sql.Literal(reason))
    cast = sql.SQL("CASE WHEN {v} <> '' AND {ok} THEN {v}::{t} END").format(v=v, ok=ok, t=ctype.sql())
    return bad, cast


def check_and_cast(c: sql.Composable, ctype: ddl.ColType, label: str) -> tuple[sql.Composable, sql.Composable]:
    """(bad, cast): ``bad`` is NULL for a good or empty value, else the Chinese reason; ``cast`` the
    typed value (only evaluated where ``bad`` is NULL, or guarded by CASE)."""
    v = _trim(c)
    if ctype.kind == "text":
        cast = sql.SQL("NULLIF({}, '')").format(v)
        if not ctype.length:
            return sql.SQL("NULL::text"), cast
        return (sql.SQL("CASE WHEN char_length({}) > {} THEN {} END").format(
            v, sql.Literal(ctype.length), sql.Literal(f"超过 {ctype.length} 个字符")), cast)
    if ctype.kind in ("integer", "numeric"):
        return _number_check(v, ctype)
    elif ctype.kind == "date":
        digits = _digits(v, _DATE_RE, 3)
        ok = sql.SQL("(CASE WHEN {v} ~ {re} THEN {ok} ELSE false END)").format(
            v=v, re=sql.Literal(_DATE_RE), ok=date_ok(digits))
        bad = sql.SQL("CASE WHEN {v} <> '' AND NOT {ok} THEN {r} END").format(
            v=v, ok=ok, r=sql.Literal("不是有效日期（应为 YYYY-MM-DD 或 YYYYMMDD）"))
        cast = sql.SQL("CASE WHEN {v} <> '' AND {ok} THEN to_date({d}, 'YYYYMMDD') END").format(v=v, ok=ok, d=digits)
        return bad, cast
    else:  # timestamp
        digits = _digits(v, _TS_RE, 3)
        hms = sql.SQL("regexp_replace({}, {}, {})").format(v, sql.Literal(_TS_RE), sql.Literal(r"0\4|0\5|0\6"))
        ok = sql.SQL("(CASE WHEN {v} ~ {re} THEN {ok} AND split_part({h}, '|', 1)::int < 24 "
                     "AND split_part({h}, '|', 2)::int < 60 AND split_part({h}, '|', 3)::int < 60 ELSE false END)"
                     ).format(v=v, re=sql.Literal(_TS_RE), ok=date_ok(digits), h=hms)
        bad = sql.SQL("CASE WHEN {v} <> '' AND NOT {ok} THEN {r} END").format(
            v=v, ok=ok, r=sql.Literal("不是有效时间（应为 YYYY-MM-DD HH:MM:SS 或 YYYYMMDDHHMMSS）"))
        frac = sql.SQL("coalesce(substring({} from '\\.([0-9]{{1,6}})\\s*$'), '')").format(v)
        cast = sql.SQL("CASE WHEN {v} <> '' AND {ok} THEN to_timestamp({d} || lpad(split_part({h}, '|', 1), 2, '0') "
                       "|| lpad(split_part({h}, '|', 2), 2, '0') || lpad(split_part({h}, '|', 3), 2, '0') "
                       "|| '.' || rpad({f}, 6, '0'), 'YYYYMMDDHH24MISS.US')::timestamp END").format(
            v=v, ok=ok, d=digits, h=sql.SQL("regexp_replace({}, {}, {})").format(
                v, sql.Literal(_TS_RE), sql.Literal(r"\4|\5|\6")), f=frac)
        # hours/minutes/seconds absent → '' → lpad gives '00'
        return bad, cast


def fast_cast(c: sql.Composable, ctype: ddl.ColType, guarded: sql.Composable) -> sql.Composable:
    """The typed value of a column whose every row passed ``check_and_cast``'s check (no regex again)."""
    v = _trim(c)
    if ctype.kind == "text":
        return sql.SQL("NULLIF({}, '')").format(v)
    if ctype.kind in ("integer", "numeric"):
        return sql.SQL("NULLIF({}, '')::{}").format(v, ctype.sql())
    if ctype.kind == "date":
        return sql.SQL("to_date(NULLIF(left(regexp_replace({}, '[^0-9]', '', 'g'), 8), ''), 'YYYYMMDD')").format(v)
    return guarded


# -- reading the file --------------------------------------------------------------------------------

JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
DELIMITED_SUFFIXES = (".csv", ".tsv", ".txt")


def delimiter_of(ext: str, first: str) -> str:
    """A tab for .tsv, or when the header line has more tabs than commas; else a comma."""
    return "\t" if ext == ".tsv" or first.count("\t") > first.count(",") else ","


def first_line(path: Path, limit: int = 65536) -> str:
    """The file's first line (the column names), decoded as a load decodes the file (UTF-8 or GB18030,
    the byte-order mark dropped). A newline byte never occurs inside a GB18030 or UTF-8 character, so
    the line can be cut from the bytes before decoding."""
    with Path(path).open("rb") as fh:
        head = fh.readline(limit)
    try:
        return safefile.decode_text(head.rstrip(b"\r\n"), what="文件").lstrip("\ufeff")
    except safefile.FileRefused as exc:
        raise LandingError(str(exc)) from None


def read_header(line: str, delimiter: str) -> list[str]:
    try:
        return [h.strip().lstrip("\ufeff") for h in next(csv.reader([line], delimiter=delimiter))]
    except (csv.Error, StopIteration):
        raise LandingError("第一行应为字段名，无法读取") from None


def _check_header(names: list[str], table: WhTable, columns: dict[str, WhColumn], incremental: bool) -> list[str]:
    out, unknown, seen = [], [], set()
    for raw in names:
        name = raw.lower()
        if name in seen:
            raise LandingError(f"字段名 {raw} 在第一行重复")
        seen.add(name)
        if name == OP:
            if not incremental:
                raise LandingError("全量文件不能有 _op 列；增量装载请用 --mode incremental")
            out.append(OP)
        elif name in columns:
            out.append(name)
        else:
            unknown.append(raw)
    if unknown:
        raise LandingError(f"文件有数据字典中没有的字段：{'、'.join(unknown[:20])}（表 {table.name}）")
    missing = [k for k in table.primary_key if k not in out]
    if missing:
        raise LandingError(f"文件缺少主键字段：{'、'.join(missing)}")
    if incremental and OP not in out:
        raise LandingError("增量文件须有 _op 列（I 新增，U 修改，D 删除）")
    return out


def create_stage(cursor, names: list[str]) -> None:
    cols = [sql.SQL("{} text").format(sql.Identifier(n)) for n in names]
    for name in (STAGE_TABLE, ERRORS):
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(name)))
    cursor.execute(sql.SQL("CREATE TEMP TABLE {} (_line bigint GENERATED ALWAYS AS IDENTITY, {}) ON COMMIT DROP").format(
        sql.Identifier(STAGE_TABLE), sql.SQL(", ").join(cols)))
    cursor.execute(sql.SQL("CREATE TEMP TABLE {} (line bigint, col text, reason text) ON COMMIT DROP").format(
        sql.Identifier(ERRORS)))


def copy_delimited(cursor, names: list[str], body: str, delimiter: str) -> tuple[list[tuple[int, str, str]], int]:
    """COPY the records after the header; on a structural error (a record with too many or too few
    fields, an open quote) → every such record, found by reading the file again in Python."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, DELIMITER {})").format(
        sql.Identifier(STAGE_TABLE), sql.SQL(", ").join(map(sql.Identifier, names)), sql.Literal(delimiter))
    raw = cursor.cursor if hasattr(cursor, "cursor") else cursor
    data = body.encode("utf-8")
    try:
        with transaction.atomic(), raw.copy(statement) as copy:
            for start in range(0, len(data), PIECE):
                copy.write(data[start:start + PIECE])
        return [], 0
    except (DatabaseError, psycopg.Error) as exc:
        problems = []
        n = 0
        try:
            for n, row in enumerate(csv.reader(io.StringIO(body, newline=""), delimiter=delimiter), start=1):
                if len(row) != len(names) and any(c.strip() for c in row):
                    problems.append((n, "", f"有 {len(row)} 个字段，第一行有 {len(names)} 个"))
        except csv.Error as cexc:
            problems.append((0, "", f"CSV 格式有误：{cexc}"))
        if not problems:
            problems.append((0, "", f"文件无法读入：{str(exc).splitlines()[0][:200]}"))
        return problems, n


def _json_rows(text: str, names_seen: list[str], columns: dict, incremental: bool, problems: list):
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            problems.append((n, "", "不是有效的 JSON"))
            continue
        if not isinstance(obj, dict):
            problems.append((n, "", "每行应为一个 JSON 对象"))
            continue
        row = {}
        for k, v in obj.items():
            key = str(k).lower()
            if key == OP and not incremental:
                problems.append((n, k, "全量文件不能有 _op"))
                continue
            if key != OP and key not in columns:
                problems.append((n, k, "数据字典中没有此字段"))
                continue
            if isinstance(v, dict | list):
                problems.append((n, k, "值不能是对象或数组"))
                continue
            if isinstance(v, bool):
                v = "1" if v else "0"
            if v is not None and "\x00" in str(v):
                problems.append((n, k, "含有空字符（NUL）"))
                continue
            row[key] = None if v is None else str(v)
            if key not in names_seen:
                names_seen.append(key)
        rows.append((n, row))
    return rows


# -- the load ----------------------------------------------------------------------------------------

def warehouse_load(*, source_name: str, table_name: str, path: Path, mode: str = "full", user,
                   file_name: str | None = None, username: str = "") -> LoadResult:
    """Land ``path`` into the table; → the load (its counts) and the first bad rows. Raises
    ``LandingError`` for a file refused as a whole before its rows are read (nothing recorded)."""
    if mode not in ("full", "incremental"):
        raise LandingError("装载方式应为 full（全量）或 incremental（增量）")
    try:
        source = source_get(source_name)
    except ddl.DictionaryError as exc:
        raise LandingError(str(exc)) from None
    table = WhTable.objects.filter(source=source, name=(table_name or "").strip().lower()).first()
    if table is None:
        raise LandingError(f"来源“{source.name}”的数据字典中没有表“{table_name}”")
    incremental = mode == "incremental"
    if incremental and not table.primary_key:
        raise LandingError(f"表 {table.name} 没有主键，只能全量装载")
    path = Path(path)
    try:
        size = path.stat().st_size
        safefile.check_size(size, LIMITS)
        data = path.read_bytes()
        text = safefile.decode_text(data, what="文件")
    except safefile.FileRefused as exc:
        raise LandingError(str(exc)) from None
    except OSError as exc:
        raise LandingError(f"无法读取文件：{exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    del data
    done = Load.objects.filter(table=table, sha256=digest, state=Load.State.DONE).first()
    if done is not None:
        raise LandingError(f"此文件已于 {done.created_at:%Y-%m-%d %H:%M} 装载到表 {table.name}（批次 {done.pk}），未重复装载")
    columns = {c.name: c for c in table.columns.all()}
    ext = path.suffix.lower()
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        # one load of a table at a time (the drop folder and a clerk may start the same table)
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7_302_100, table.pk])
        problems: list[tuple[int, str, str]] = []
        records = 0
        if ext in JSON_SUFFIXES:
            names: list[str] = []
            rows = _json_rows(text, names, columns, incremental, problems)
            names = _check_header(names or list(table.primary_key), table, columns, incremental)
            create_stage(cursor, ["_rec", *names])
            copy_rows(cursor, f"pg_temp.{STAGE_TABLE}", ["_rec", *names],
                      ((str(n), *(r.get(c) for c in names)) for n, r in rows))
            line_expr = sql.SQL("_rec::bigint")
        elif ext in DELIMITED_SUFFIXES:
            first, _nl, body = text.partition("\n")
            first = first.rstrip("\r")
            delimiter = delimiter_of(ext, first)
            names = _check_header(read_header(first, delimiter), table, columns, incremental)
            if not incremental:
                fast = _try_fast(cursor, table, names, columns, body, delimiter, file_name=file_name or path.name,
                                 digest=digest, user=user)
                if fast is not None:
                    _finish(fast, source=source, table=table, user=user, username=username, started=started)
                    return LoadResult(load=fast)
            create_stage(cursor, names)
            copy_problems, records = copy_delimited(cursor, names, body, delimiter)
            problems += copy_problems
            line_expr = sql.SQL("_line")
        else:
            raise LandingError(f"不支持的文件类型“{ext}”：请用 csv、tsv 或 JSON lines（.jsonl）")
        del text
        if problems:
            cursor.execute(sql.SQL("INSERT INTO {} SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[])").format(
                sql.Identifier(ERRORS)), [[p[0] for p in problems], [p[1] for p in problems], [p[2] for p in problems]])
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(STAGE_TABLE)))
        read = max(int(cursor.fetchone()[0]), records) + len({p[0] for p in problems if p[0] and "JSON" in p[2]})
        cast = {}  # guarded: safe on any row (the key lookups before the checks are known to pass)
        fast = {}  # for the merge, once every row passed its checks
        checks, bads = [], []
        for name in names:
            if name == OP:
                continue
            col = columns[name]
            ctype = ddl.parse_type(col.source_type)
            ref = sql.SQL("s.{}").format(sql.Identifier(name))
            bad, typed = check_and_cast(ref, ctype, col.label)
            cast[name] = typed
            fast[name] = fast_cast(ref, ctype, typed)
            checks.append(sql.SQL("({}, {})").format(sql.Literal(name), bad))
            bads.append(bad)
        key = table.primary_key
        op = sql.SQL("upper(btrim(s.{}))").format(sql.Identifier(OP)) if incremental else sql.SQL("''")
        if key:
            for k in key:
                bad = sql.SQL("CASE WHEN s.{} IS NULL OR btrim(s.{}) = '' THEN '主键字段不能为空' END").format(
                    sql.Identifier(k), sql.Identifier(k))
                checks.append(sql.SQL("({}, {})").format(sql.Literal(k), bad))
                bads.append(bad)
        if incremental:
            bad = sql.SQL("CASE WHEN {op} IS NULL OR {op} NOT IN ('I', 'U', 'D') THEN '_op 应为 I、U 或 D' END").format(op=op)
            checks.append(sql.SQL("('_op', {})").format(bad))
            bads.append(bad)
        # D rows: only the key is looked at
        value_checks = sql.SQL(", ").join(checks)
        cursor.execute(sql.SQL(
            "INSERT INTO {e} SELECT {line}, v.col, v.reason FROM (SELECT * FROM {s} s WHERE {any}) s, "
            "LATERAL (VALUES {checks}) v(col, reason) WHERE v.reason IS NOT NULL AND ({d} OR v.col = ANY(%s))").format(
            e=sql.Identifier(ERRORS), line=line_expr, s=sql.Identifier(STAGE_TABLE), checks=value_checks,
            any=sql.SQL(" OR ").join(sql.SQL("({}) IS NOT NULL").format(b) for b in bads) if bads else sql.SQL("false"),
            d=sql.SQL("{} <> 'D'").format(op) if incremental else sql.SQL("true")), [[*key, "_op"]])
        if key:
            # a hash aggregate finds the repeated keys; only their rows are read again
            keys_s = sql.SQL(", ").join(sql.SQL("btrim(s.{})").format(sql.Identifier(k)) for k in key)
            same = sql.SQL(" AND ").join(sql.SQL("btrim(s.{}) = d.k{}").format(sql.Identifier(k), sql.Literal(i))
                                         for i, k in enumerate(key))
            cursor.execute(sql.SQL(
                "INSERT INTO {e} SELECT {line}, '', '主键与第 ' || d.f || ' 条记录重复' FROM {s} s JOIN "
                "(SELECT {k}, min({line}) AS f FROM {s} s GROUP BY {k} HAVING count(*) > 1) d({names}, f) "
                "ON {same} WHERE {line} <> d.f").format(
                e=sql.Identifier(ERRORS), line=line_expr, s=sql.Identifier(STAGE_TABLE), k=keys_s, same=same,
                names=sql.SQL(", ").join(sql.Identifier(f"k{i}") for i in range(len(key)))))
            if incremental:
                match = sql.SQL(" AND ").join(
                    sql.SQL("t.{} = {}").format(sql.Identifier(k), cast[k]) for k in key)
                cursor.execute(sql.SQL(
                    "INSERT INTO {e} SELECT {line}, '_op', CASE WHEN {op} = 'I' THEN '新增（I）的主键已存在' "
                    "ELSE '修改或删除（' || {op} || '）的主键不存在' END FROM {s} s "
                    "WHERE {op} IN ('I', 'U', 'D') AND ({op} = 'I') = EXISTS (SELECT 1 FROM {t} t WHERE {m})").format(
                    e=sql.Identifier(ERRORS), line=line_expr, op=op, s=sql.Identifier(STAGE_TABLE),
                    t=ddl.qualified(table.physical), m=match))
        cursor.execute(sql.SQL("SELECT count(DISTINCT line) FROM {}").format(sql.Identifier(ERRORS)))
        rejected = int(cursor.fetchone()[0])
        load = Load.objects.create(table=table, mode=mode, state=Load.State.DONE, file_name=(file_name or path.name)[:300],
                                   sha256=digest, read=read, created_by=user)
        if rejected:
            cursor.execute(sql.SQL(
                "INSERT INTO {le} (load_id, line, \"column\", reason) SELECT %s, line, coalesce(col, ''), "
                "left(reason, %s) FROM {e} ORDER BY line, col").format(
                le=sql.Identifier(LoadError._meta.db_table), e=sql.Identifier(ERRORS)), [load.pk, MAX_REASON])
            load.state = Load.State.REJECTED
            load.rejected = rejected
            load.message = f"{rejected} 条记录有错误，整个文件未装载，表中数据未变"
        else:
            ins, upd, dele = _merge(cursor, table, names, fast, incremental, load.pk)
            load.inserted, load.updated, load.deleted = ins, upd, dele
            load.message = "已装载"
        _finish(load, source=source, table=table, user=user, username=username, started=started)
    first = list(LoadError.objects.filter(load=load).values_list("line", "column", "reason")[:1000]) if rejected else []
    return LoadResult(load=load, errors=first)


def _finish(load: Load, *, source, table: WhTable, user, username: str, started: float) -> None:
    load.seconds = round(time.monotonic() - started, 3)
    load.save()
    audit_record(user=user, username=username, action="warehouse.load", obj=load,
                 summary=f"{'装载' if not load.rejected else '拒绝'}回流数据 {source.name}.{table.name}"
                         f"（{load.get_mode_display()}）：读入 {load.read}，新增 {load.inserted}，更新 {load.updated}，"
                         f"删除 {load.deleted}，拒绝 {load.rejected}")


def _try_fast(cursor, table: WhTable, names: list[str], columns: dict[str, WhColumn], body: str, delimiter: str, *,
              file_name: str, digest: str, user) -> Load | None:
    """The load done on the fast path, or None (nothing of it left: its savepoint rolled back)."""
    try:
        with transaction.atomic():
            load = Load.objects.create(table=table, mode=Load.Mode.FULL, state=Load.State.DONE,
                                       file_name=file_name[:300], sha256=digest, read=0, created_by=user)
            load.read, load.inserted, load.updated, load.deleted = _fast_full(
                cursor, table, names, columns, body, delimiter, load)
    except NotFast:
        return None
    load.message = "已装载"
    return load


def _merge(cursor, table: WhTable, names: list[str], cast: dict, incremental: bool, load_id: int, *,
           stage_name: str = STAGE_TABLE) -> tuple[int, int, int]:
    target = ddl.qualified(table.physical)
    all_cols = [c.name for c in table.columns.all()]
    key = table.primary_key
    stage = sql.Identifier(stage_name)
    lid = sql.Literal(load_id)
    ident = sql.Identifier
    if not incremental:
        present = [c for c in all_cols if c in cast]
        values = sql.SQL(", ").join([cast[c] for c in present] + [lid])
        cols = sql.SQL(", ").join([ident(c) for c in present] + [ident(ddl.LOAD_ID)])
        if not key:
            cursor.execute(sql.SQL("DELETE FROM {}").format(target))
            deleted = cursor.rowcount
            cursor.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} s").format(target, cols, values, stage))
            return cursor.rowcount, 0, deleted
        cursor.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(target))
        if not cursor.fetchone()[0]:
            cursor.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} s").format(target, cols, values, stage))
            return cursor.rowcount, 0, 0
        return full_diff(cursor, table, cast, load_id, stage_name=stage_name)
    op = sql.SQL("upper(btrim(s.{}))").format(ident(OP))
    match = sql.SQL(" AND ").join(sql.SQL("t.{} = {}").format(ident(k), cast[k]) for k in key)
    cursor.execute(sql.SQL("DELETE FROM {} t USING {} s WHERE {} = 'D' AND {}").format(target, stage, op, match))
    deleted = cursor.rowcount
    upd_cols = [c for c in all_cols if c in cast and c not in key]
    updated = 0
    if upd_cols:
        assign = sql.SQL(", ").join([sql.SQL("{} = {}").format(ident(c), cast[c]) for c in upd_cols]
                                    + [sql.SQL("{} = {}").format(ident(ddl.LOAD_ID), lid)])
        cursor.execute(sql.SQL("UPDATE {} t SET {} FROM {} s WHERE {} = 'U' AND {}").format(
            target, assign, stage, op, match))
        updated = cursor.rowcount
    present = [c for c in all_cols if c in cast]
    cursor.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} s WHERE {} = 'I'").format(
        target, sql.SQL(", ").join([ident(c) for c in present] + [ident(ddl.LOAD_ID)]),
        sql.SQL(", ").join([cast[c] for c in present] + [lid]), stage, op))
    return cursor.rowcount, updated, deleted


DIFF = "wh_diff"  # the rows a full reload changes


def full_diff(cursor, table: WhTable, cast: dict, load_id: int, *, stage_name: str) -> tuple[int, int, int]:
    """A full file into a table with rows and a primary key: (inserted, updated, deleted).

    One hash FULL JOIN of the file's typed rows with the table on the key keeps only the rows that differ —
    a key only in the file (insert), only in the table (delete), or any other column distinct — in a
    temporary table; then one DELETE, one UPDATE and one INSERT of just those. An unchanged row is only
    read (its ``_load_id`` stays the load that last wrote it). The file's keys are unique (checked before)."""
    target = ddl.qualified(table.physical)
    declared = {c.name: c for c in table.columns.all()}
    all_cols = list(declared)
    key = table.primary_key
    setcols = [c for c in all_cols if c not in key]
    ident = sql.Identifier
    absent = {c: sql.SQL("NULL::{}").format(ddl.parse_type(declared[c].source_type).sql()) for c in all_cols if c not in cast}
    tk = [ident(f"wh diff k{i}") for i in range(len(key))]  # a space: never a declared column's name
    ins, gone = ident("wh diff ins"), ident("wh diff del")
    rows = sql.SQL(", ").join(sql.SQL("{} AS {}").format(cast.get(c) or absent[c], ident(c)) for c in all_cols)
    on = sql.SQL(" AND ").join(sql.SQL("t.{} = s.{}").format(ident(k), ident(k)) for k in key)
    differs = sql.SQL("({}) IS DISTINCT FROM ({})").format(
        sql.SQL(", ").join(sql.SQL("t.{}").format(ident(c)) for c in setcols),
        sql.SQL(", ").join(sql.SQL("s.{}").format(ident(c)) for c in setcols)) if setcols else sql.SQL("false")
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(ident(DIFF)))
    cursor.execute("SELECT current_setting('work_mem')")
    work_mem = cursor.fetchone()[0]
    cursor.execute("SELECT set_config('work_mem', '256MB', true)")  # the table's keys hashed in memory
    cursor.execute(sql.SQL(
        "CREATE TEMP TABLE {d} ON COMMIT DROP AS SELECT t.{k0} IS NULL AS {ins}, s.{k0} IS NULL AS {gone}, s.*, {tk} "
        "FROM (SELECT {rows} FROM {stage} s) s FULL JOIN {t} t ON {on} "
        "WHERE t.{k0} IS NULL OR s.{k0} IS NULL OR {differs}").format(
        d=ident(DIFF), k0=ident(key[0]), ins=ins, gone=gone, rows=rows, stage=ident(stage_name), t=target, on=on,
        differs=differs, tk=sql.SQL(", ").join(sql.SQL("t.{} AS {}").format(ident(k), a) for k, a in zip(key, tk, strict=True))))
    cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
    at = sql.SQL(" AND ").join(sql.SQL("t.{} = d.{}").format(ident(k), a) for k, a in zip(key, tk, strict=True))
    cursor.execute(sql.SQL("DELETE FROM {t} t USING {d} d WHERE d.{gone} AND {at}").format(
        t=target, d=ident(DIFF), gone=gone, at=at))
    deleted = cursor.rowcount
    updated = 0
    if setcols:
        cursor.execute(sql.SQL("UPDATE {t} t SET {assign}, {lid} = {load} FROM {d} d WHERE NOT d.{ins} AND NOT d.{gone} "
                               "AND {at}").format(
            t=target, d=ident(DIFF), ins=ins, gone=gone, at=at, lid=ident(ddl.LOAD_ID), load=sql.Literal(load_id),
            assign=sql.SQL(", ").join(sql.SQL("{} = d.{}").format(ident(c), ident(c)) for c in setcols)))
        updated = cursor.rowcount
    cursor.execute(sql.SQL("INSERT INTO {t} ({cols}, {lid}) SELECT {dcols}, {load} FROM {d} d WHERE d.{ins}").format(
        t=target, cols=sql.SQL(", ").join(map(ident, all_cols)), lid=ident(ddl.LOAD_ID), load=sql.Literal(load_id),
        dcols=sql.SQL(", ").join(sql.SQL("d.{}").format(ident(c)) for c in all_cols), d=ident(DIFF), ins=ins))
    return cursor.rowcount, updated, deleted


# -- the fast path: a full csv/tsv file copied straight into typed columns ----------------------------

class NotFast(Exception):
    """The file has a bad row (or a repeated key): it is read again on the checking path, which names
    every bad row. Its transaction savepoint is rolled back first."""


def _fast_type(ctype: ddl.ColType) -> sql.Composable:
    """The staging column's type: numbers typed (PostgreSQL's input function reads them during COPY),
    text with its length (COPY refuses a longer value), dates and times as text (their formats are ours:
    YYYY-MM-DD or YYYYMMDD, never the server's DateStyle)."""
    if ctype.kind == "integer":
        return sql.SQL("bigint")
    if ctype.kind == "numeric":
        return sql.SQL("numeric")
    if ctype.kind == "text" and ctype.length:
        return ctype.sql()
    return sql.SQL("text")


def fast_copy(cursor, stage: str, names: list[str], types: dict[str, ddl.ColType], body: str, delimiter: str, *,
              numbered: bool = False) -> int | None:
    """The fast path's first step (the warehouse's full load, the archive's load): a temporary table
    ``stage`` of typed columns (``_line``, the record number, first when ``numbered``), the records COPYed
    into it (quoted empty values empty, as on the checking path). A value COPY refuses: ``NotFast``.
    → records read (None when the driver does not say)."""
    ident = sql.Identifier
    line = [sql.SQL("_line bigint GENERATED ALWAYS AS IDENTITY")] if numbered else []
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(ident(stage)))
    cursor.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
        ident(stage), sql.SQL(", ").join(line + [sql.SQL("{} {}").format(ident(n), _fast_type(types[n]))
                                                 for n in names])))
    cols = sql.SQL(", ").join(map(ident, names))
    raw = cursor.cursor if hasattr(cursor, "cursor") else cursor
    data = body.encode("utf-8")
    try:
        with raw.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, DELIMITER {}, FORCE_NULL ({}))").format(
                ident(stage), cols, sql.Literal(delimiter), cols)) as copy:
            for start in range(0, len(data), PIECE):
                copy.write(data[start:start + PIECE])
    except (DatabaseError, psycopg.Error):
        raise NotFast from None
    return raw.rowcount if raw.rowcount is not None and raw.rowcount >= 0 else None


def fast_checks(names: list[str], types: dict[str, ddl.ColType],
                key: list[str]) -> tuple[list[sql.Composable], dict[str, sql.Composable]]:
    """The checks COPY into typed columns does not make — a number's precision, scale and NaN, a date's or
    time's format and calendar, a key present — each true on a bad row of ``s``, and each column's typed
    value (→ checks, casts)."""
    ident = sql.Identifier
    checks, casts = [], {}
    for n in names:
        ctype, ref = types[n], sql.SQL("s.{}").format(ident(n))
        if ctype.kind in ("integer", "numeric"):
            checks.append(number_out_of_range(ref, ctype))
            casts[n] = sql.SQL("{}::{}").format(ref, ctype.sql()) if ctype.kind == "numeric" else ref
        elif ctype.kind == "text":
            # trimmed only when a value starts or ends with a space (rare): the common value is kept as COPY
            # typed it, no new string and no length coercion per row
            casts[n] = sql.SQL("CASE WHEN {r} = '' OR {r} LIKE ' %' OR {r} LIKE '% ' THEN NULLIF(btrim({r}), '')::{t} "
                               "ELSE {r} END").format(r=ref, t=ctype.sql())
        else:
            bad, guarded = check_and_cast(ref, ctype, n)
            checks.append(sql.SQL("({}) IS NOT NULL").format(bad))
            casts[n] = fast_cast(ref, ctype, guarded)
    for k in key:
        ref = sql.SQL("s.{}").format(ident(k))
        checks.append(sql.SQL("{} IS NULL").format(ref) if types[k].kind in ("integer", "numeric")
                      else sql.SQL("({} IS NULL OR btrim({}) = '')").format(ref, ref))
    return checks, casts


def _fast_full(cursor, table: WhTable, names: list[str], columns: dict[str, WhColumn], body: str, delimiter: str,
               load: Load) -> tuple[int, int, int, int]:
    """(read, inserted, updated, deleted) of a full csv/tsv load, or ``NotFast``.

    1. COPY the records into a temporary table of typed columns (numbers read by COPY itself; quoted
       empty values are empty, as on the checking path);
    2. into an empty table: the primary key dropped, one ``INSERT … SELECT`` that also makes the checks
       COPY does not (a number's precision and scale, NaN, a date's format and calendar, a key present) —
       fewer rows inserted than read: ``NotFast`` — and the key built again (a repeated key fails the
       build: ``NotFast``);
    3. into a table with rows: one pass with those checks and a hash aggregate on the key (a repeated key)
       — any hit: ``NotFast`` — then ``full_diff``: only the rows that differ are written."""
    types = {n: ddl.parse_type(columns[n].source_type) for n in names}
    ident = sql.Identifier
    read = fast_copy(cursor, FAST, names, types, body, delimiter)
    checks, casts = fast_checks(names, types, list(table.primary_key))
    bad = sql.SQL(" OR ").join(checks) if checks else sql.SQL("false")
    if read is None:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(FAST)))
        read = int(cursor.fetchone()[0])
    target = ddl.qualified(table.physical)
    key = list(table.primary_key)
    cursor.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(target))
    empty = not cursor.fetchone()[0]
    try:
        if empty:
            # the checks in the same pass as the INSERT: a row that fails one is left out, and fewer rows
            # than read → not fast; the key dropped and built again after (a repeated key fails the build)
            present = [c.name for c in table.columns.all() if c.name in casts]
            if key:
                ddl.set_primary_key(cursor, table.physical, [])
            cursor.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} s WHERE ({}) IS NOT TRUE").format(
                target, sql.SQL(", ").join([ident(c) for c in present] + [ident(ddl.LOAD_ID)]),
                sql.SQL(", ").join([casts[c] for c in present] + [sql.Literal(load.pk)]), ident(FAST), bad))
            inserted = cursor.rowcount
            if inserted != read:
                raise NotFast
            if key:
                ddl.set_primary_key(cursor, table.physical, key)
            return read, inserted, 0, 0
        if key:
            # one pass: any bad value, any repeated key (a hash aggregate on the key)
            keys = sql.SQL(", ").join(sql.SQL("s.{}").format(ident(k)) for k in key)
            cursor.execute(sql.SQL("SELECT coalesce(bool_or(g.bad), false) OR coalesce(max(g.n), 0) > 1 FROM "
                                   "(SELECT count(*) AS n, bool_or({}) AS bad FROM {} s GROUP BY {}) g").format(
                bad, ident(FAST), keys))
        else:
            cursor.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} s WHERE {})").format(ident(FAST), bad))
        if cursor.fetchone()[0]:
            raise NotFast
        inserted, updated, deleted = _merge(cursor, table, names, casts, False, load.pk, stage_name=FAST)
    except (DatabaseError, psycopg.Error):
        raise NotFast from None
    return read, inserted, updated, deleted
