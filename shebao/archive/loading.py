"""``archive_load``: a legacy system's table dumps into the read-only schema ``archive``.

The folder holds the data dictionary in the warehouse's layout (表.csv, 字段.csv, 代码.csv — or one
xlsx workbook with the sheets 表, 字段, 代码) and one data file per declared table, ``<表名>.csv`` (or
``.tsv``/``.txt``; UTF-8 or GB18030; first row the column names, any order, a declared column may be
absent). The dictionary is read and checked by the warehouse's loader (``read_dictionary``,
``parse_dictionary``: the same types, the same common 人社 elements), each file is COPYed into a staging
table and every value checked in SQL by the warehouse's landing (``check_and_cast``), exactly as a
shared file is landed.

All or nothing, in one transaction: a dictionary error, a missing or undeclared file, a table already in
the archive, the same dump loaded before (sha256 of every file), or any bad row (type, length, date, key
empty or repeated) refuses the whole load and writes nothing; the error lists every problem (the first
200). Then the person index is built set-based: every row with a 身份证号 (the table's AAC002 column or a
column whose 中文名 names an ID number) under its person; a table without one but with 个人编号 (AAC001)
is linked through a table of the same load that has both."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.db import DatabaseError, connection, transaction
from psycopg import sql

from shebao.archive import ddl
from shebao.archive.models import ArchiveLoad, ArchiveTable
from shebao.common.audit import audit_record
from shebao.warehouse.ddl import DictionaryError
from shebao.warehouse.dictionary import CODES, COLUMNS, TABLES, parse_dictionary, read_dictionary
from shebao.warehouse.landing import (
    STAGE_TABLE,
    LandingError,
    NotFast,
    check_and_cast,
    copy_delimited,
    create_stage,
    fast_cast,
    fast_checks,
    fast_copy,
    read_header,
)
from shebao.warehouse.models import Element

MAX_ERRORS = 200
DATA_SUFFIXES = (".csv", ".tsv", ".txt")
ID_LABEL = re.compile(r"身份证|证件号码|公民身份号码|身份号码")
NAME_LABELS = {"姓名", "人员姓名", "参保人姓名"}
PNO_LABELS = {"个人编号", "人员编号", "个人编码"}
MASK_LABELS = [(re.compile(r"账号|帐号|卡号"), "account"), (re.compile(r"电话|手机|联系方式"), "phone"),
               (re.compile(r"地址|住址"), "address")]
MASK_NAMES = {"aae010": "account", "aae005": "phone", "aac010": "address", "aae006": "address"}
_LOCK = 7_302_900
FAST = "archive_fast"  # the fast path's staging table (temporary)
WORK_MEM, MAINTENANCE_WORK_MEM = "64MB", "256MB"
KEYS = "archive_keys"  # each indexed row's person key, computed once (temporary)


class ArchiveError(ValueError):
    """A load refused whole; ``str()`` is the Chinese message. Nothing was written."""


@dataclass
class LoadSummary:
    load: ArchiveLoad
    tables: list[tuple[str, int]] = field(default_factory=list)  # (name, rows)

    def text(self) -> str:
        parts = "、".join(f"{n}（{r:,} 行）" for n, r in self.tables)
        return (f"已装载原遗留系统档案（批次 {self.load.pk}）：{len(self.tables)} 张表 {parts}，共 {self.load.rows:,} 行，"
                f"新增人员 {self.load.persons:,} 人，用时 {self.load.seconds:.1f} 秒")


def _column_roles(cols) -> tuple[str, str, str, dict[str, str]]:
    """(id column, name column, 个人编号 column, {column: mask kind}) of a parsed table."""
    roles = {e.code.lower(): e.role for e in Element.objects.exclude(role="")}
    id_col = name_col = pno_col = ""
    masks: dict[str, str] = {}
    for c in cols:
        role = roles.get(c.name, "")
        label = c.label or ""
        if role == "id_number" or ID_LABEL.search(label):
            masks[c.name] = "id_number"
            id_col = id_col or c.name
        elif role == "name" or label in NAME_LABELS:
            name_col = name_col or c.name
        elif c.name == "aac001" or label in PNO_LABELS:
            pno_col = pno_col or c.name
        for pattern, kind in MASK_LABELS:
            if c.name not in masks and pattern.search(label):
                masks[c.name] = kind
        if c.name not in masks and c.name in MASK_NAMES:
            masks[c.name] = MASK_NAMES[c.name]
    return id_col, name_col, pno_col, masks


def _data_files(folder: Path, declared: list[str]) -> tuple[dict[str, Path], list[str]]:
    files: dict[str, Path] = {}
    errors: list[str] = []
    skip = {f"{TABLES}.csv", f"{COLUMNS}.csv", f"{CODES}.csv"}
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.name in skip or f.suffix.lower() not in DATA_SUFFIXES:
            continue
        name = f.stem.lower()
        if name not in declared:
            errors.append(f"数据文件 {f.name} 的表未在数据字典中声明")
        elif name in files:
            errors.append(f"表 {name} 有两个数据文件：{files[name].name}、{f.name}")
        else:
            files[name] = f
    for name in declared:
        if name not in files:
            errors.append(f"缺少表 {name} 的数据文件 {name}.csv")
    return files, errors


def _read_dictionary(folder: Path) -> dict:
    if (folder / f"{TABLES}.csv").exists():
        return read_dictionary(folder)
    books = [f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in (".xlsx", ".xlsm")]
    if len(books) != 1:
        raise ArchiveError(f"目录 {folder.name} 中应有数据字典：表.csv、字段.csv、代码.csv，或一个含“表”“字段”“代码”"
                           f"工作表的 xlsx 文件")
    return read_dictionary(books[0])


def archive_load(*, path: Path, user) -> LoadSummary:
    """Load the folder ``path`` (see the module's docstring) whole, or refuse it and write nothing."""
    folder = Path(path)
    if not folder.is_dir():
        raise ArchiveError(f"{folder} 不是目录：请给出含数据字典和各表数据文件的目录")
    started = time.monotonic()
    try:
        tables, codes = parse_dictionary(_read_dictionary(folder))
    except DictionaryError as exc:
        raise ArchiveError(str(exc)) from None
    declared = [t.name for t in tables]
    files, errors = _data_files(folder, declared)
    if errors:
        raise ArchiveError("；".join(errors))
    digest = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.is_file():
            digest.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    digest = digest.hexdigest()
    code_map: dict[str, dict[str, str]] = {}
    for cat, value, meaning in codes:
        code_map.setdefault(cat, {})[value] = meaning
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        done = ArchiveLoad.objects.filter(sha256=digest).first()
        if done is not None:
            raise ArchiveError(f"此目录的数据已于 {done.created_at:%Y-%m-%d %H:%M} 装载（批次 {done.pk}），未重复装载")
        existing = sorted(ArchiveTable.objects.filter(name__in=declared).values_list("name", flat=True))
        if existing:
            raise ArchiveError(f"档案中已有表 {'、'.join(existing)}：档案只读，已装载的表不能再次装载或替换；未作任何改动")
        cursor.execute("SELECT set_config(%s, 'on', true)", [ddl.LOADING_SETTING])  # this transaction only
        # memory for the hash joins, sorts and index builds of a bulk load (this transaction only)
        cursor.execute("SELECT set_config('work_mem', %s, true), set_config('maintenance_work_mem', %s, true)",
                       [WORK_MEM, MAINTENANCE_WORK_MEM])
        ddl.ensure_schema(cursor)
        load = ArchiveLoad.objects.create(name=folder.name[:300], sha256=digest, codes=code_map, created_by=user)
        summary = LoadSummary(load=load)
        problems: list[str] = []
        made = []
        for t in tables:
            if ddl.table_exists(cursor, t.name):  # a table of that name left outside our metadata
                problems.append(f"表 {t.name}：archive.{t.name} 已存在")
                continue
            n, table_problems = _land(cursor, t, files[t.name])
            problems += table_problems
            if table_problems:
                continue
            id_col, name_col, pno_col, masks = _column_roles(t.columns)
            made.append(ArchiveTable.objects.create(
                load=load, name=t.name, label=t.label, note=t.note, primary_key=t.key, rows=n,
                id_column=id_col, name_column=name_col, pno_column=pno_col,
                columns=[{"name": c.name, "label": c.label, "type": c.source_type, "pg": c.ctype.pg,
                          "code_category": c.code_category, "note": c.note, "mask": masks.get(c.name, "")}
                         for c in t.columns]))
            summary.tables.append((t.name, n))
        if problems:
            shown = "；".join(problems[:MAX_ERRORS])
            more = f"；……共 {len(problems)} 处" if len(problems) > MAX_ERRORS else ""
            raise ArchiveError(f"有 {len(problems)} 处错误，整个目录未装载，档案未变：{shown}{more}")
        load.persons = _index_persons(cursor, made)
        load.tables = len(made)
        load.rows = sum(n for _t, n in summary.tables)
        load.seconds = round(time.monotonic() - started, 3)
        load.save(update_fields=["persons", "tables", "rows", "seconds"])
        audit_record(user=user, action="archive.load", obj=load, summary=summary.text()[:500])
        # writes end with the load, even when the caller's transaction goes on (a failed load's savepoint
        # rollback resets the setting by itself)
        cursor.execute("SELECT set_config(%s, 'off', true)", [ddl.LOADING_SETTING])
    return summary


def _land(cursor, t, path: Path) -> tuple[int, list[str]]:
    """COPY one file into the staging table, check every value, then create and fill the table."""
    from shebao.common import safefile

    try:
        text = safefile.decode_text(path.read_bytes(), what=path.name)
    except safefile.FileRefused as exc:
        return 0, [f"{path.name}：{exc}"]
    first, _nl, body = text.partition("\n")
    first = first.rstrip("\r")
    delimiter = "\t" if path.suffix.lower() == ".tsv" or first.count("\t") > first.count(",") else ","
    try:
        header = [h.lower() for h in read_header(first, delimiter)]
    except LandingError as exc:
        return 0, [f"{path.name}：{exc}"]
    columns = {c.name: c for c in t.columns}
    unknown = [h for h in header if h not in columns]
    repeated = sorted({h for h in header if header.count(h) > 1})
    missing = [k for k in t.key if k not in header]
    head_problems = []
    if unknown:
        head_problems.append(f"{path.name}：有数据字典中没有的字段 {'、'.join(unknown[:20])}")
    if repeated:
        head_problems.append(f"{path.name}：字段 {'、'.join(repeated)} 在第一行重复")
    if missing:
        head_problems.append(f"{path.name}：缺少主键字段 {'、'.join(missing)}")
    if head_problems:
        return 0, head_problems
    try:
        with transaction.atomic():  # a savepoint: a file the fast path refuses leaves nothing of it
            return _land_fast(cursor, t, header, body, delimiter), []
    except NotFast:
        pass
    # the checking path: every value as text, each bad one named
    create_stage(cursor, header)
    copy_problems, _n = copy_delimited(cursor, header, body, delimiter)
    del text, body
    if copy_problems:
        return 0, [f"{path.name} 第 {line} 条记录：{reason}" if line else f"{path.name}：{reason}"
                   for line, _c, reason in copy_problems[:MAX_ERRORS]]
    checks, fast = [], {}
    for name in header:
        c = columns[name]
        ref = sql.SQL("s.{}").format(sql.Identifier(name))
        bad, typed = check_and_cast(ref, c.ctype, c.label)
        checks.append(sql.SQL("({}, {})").format(sql.Literal(name), bad))
        fast[name] = fast_cast(ref, c.ctype, typed)
    for k in t.key:
        checks.append(sql.SQL("({}, CASE WHEN s.{} IS NULL OR btrim(s.{}) = '' THEN '主键字段不能为空' END)").format(
            sql.Literal(k), sql.Identifier(k), sql.Identifier(k)))
    stage = sql.Identifier(STAGE_TABLE)
    cursor.execute(sql.SQL("SELECT s._line, v.col, v.reason FROM {s} s, LATERAL (VALUES {c}) v(col, reason) "
                           "WHERE v.reason IS NOT NULL ORDER BY 1, 2 LIMIT %s").format(
        s=stage, c=sql.SQL(", ").join(checks)), [MAX_ERRORS])
    problems = [f"{path.name} 第 {line} 条记录 {col}：{reason}" for line, col, reason in cursor.fetchall()]
    if t.key and not problems:
        # repeated as the table will hold them (typed: 01 and 1 in a number column are the same key)
        keys = sql.SQL(", ").join(fast[k] for k in t.key)
        cursor.execute(sql.SQL("SELECT min(_line), max(_line), count(*) FROM {s} s GROUP BY {k} HAVING count(*) > 1 "
                               "ORDER BY 1 LIMIT %s").format(s=stage, k=keys), [MAX_ERRORS])
        problems = [f"{path.name} 第 {b} 条记录：主键与第 {a} 条记录重复" for a, b, _n in cursor.fetchall()]
    if problems:
        return 0, problems
    ddl.create_table(cursor, t.name, [(c.name, c.ctype) for c in t.columns], t.key)
    names = [sql.Identifier(ddl.ROW)] + [sql.Identifier(h) for h in header]
    values = [sql.SQL("s._line")] + [fast[h] for h in header]
    cursor.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} s").format(
        ddl.qualified(t.name), sql.SQL(", ").join(names), sql.SQL(", ").join(values), stage))
    return cursor.rowcount, []


def _land_fast(cursor, t, header: list[str], body: str, delimiter: str) -> int:
    """One table landed the way the warehouse's full load is (``warehouse.landing._fast_full``), or
    ``NotFast``: COPY into typed columns, one pass for the checks COPY does not make (a number's
    precision, scale and NaN; a date's or time's format and calendar; a key present), the archive table
    filled by one ``INSERT … SELECT`` without keys, then its primary key and UNIQUE key built (a repeated
    key fails the build). A value COPY or a check refuses sends the file to the checking path."""
    ident = sql.Identifier
    columns = {c.name: c for c in t.columns}
    types = {h: columns[h].ctype for h in header}
    fast_copy(cursor, FAST, header, types, body, delimiter, numbered=True)
    checks, casts = fast_checks(header, types, list(t.key))
    if checks:
        cursor.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} s WHERE {})").format(
            ident(FAST), sql.SQL(" OR ").join(checks)))
        if cursor.fetchone()[0]:
            raise NotFast
    try:
        ddl.create_table(cursor, t.name, [(c.name, c.ctype) for c in t.columns], t.key, keys=False)
        cursor.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} s").format(
            ddl.qualified(t.name), sql.SQL(", ").join([ident(ddl.ROW)] + [ident(h) for h in header]),
            sql.SQL(", ").join([sql.SQL("s._line")] + [casts[h] for h in header]), ident(FAST)))
        n = cursor.rowcount
        ddl.add_keys(cursor, t.name, t.key)
    except (DatabaseError, psycopg.Error):
        raise NotFast from None
    cursor.execute(sql.SQL("DROP TABLE pg_temp.{}").format(ident(FAST)))
    return n


def _index_persons(cursor, tables: list[ArchiveTable]) -> int:
    """Every row with a 身份证号 under its person (new persons first), then the rows of tables that have
    only a 个人编号, through the 个人编号 → person pairs of the tables that have both. → new persons.

    Set-based: each row's person key is computed once (into a temporary table); a load bigger than the
    index it joins drops the index's primary key, foreign key and name index and builds them again after
    (one sort each, the foreign key checked by one join) — a smaller load inserts into them as they are."""
    ident = sql.Identifier
    cursor.execute("SELECT count(*) FROM archive.person")
    before = cursor.fetchone()[0]
    rows = sum(t.rows for t in tables)
    cursor.execute("SELECT count(*) FROM (SELECT 1 FROM archive.person_row LIMIT %s) r", [rows])
    rebuild = cursor.fetchone()[0] < rows
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(ident(KEYS)))
    cursor.execute(sql.SQL("CREATE TEMP TABLE {} (table_id integer, row bigint, idkey varchar(17), name text, pno text) "
                           "ON COMMIT DROP").format(ident(KEYS)))
    for t in tables:
        if not t.id_column:
            continue
        # the trimmed value once per row (OFFSET 0 keeps the planner from repeating it in every branch)
        cursor.execute(sql.SQL("INSERT INTO {k} SELECT * FROM (SELECT %s, x._row, {key} AS idkey, {name}, {pno} FROM {t} x, "
                               "LATERAL (SELECT upper(btrim(x.{c}::text)) AS v OFFSET 0) v) q WHERE idkey IS NOT NULL").format(
            k=ident(KEYS), key=ddl.id_key(sql.SQL("v.v")), name=_text(t.name_column), pno=_text(t.pno_column),
            t=ddl.qualified(t.name), c=ident(t.id_column)), [t.pk])
    # the new keys by an anti-join (no other writer: the load holds its lock), in key order for the index
    cursor.execute(sql.SQL("INSERT INTO archive.person (idkey) SELECT DISTINCT k.idkey FROM {} k WHERE NOT EXISTS "
                           "(SELECT 1 FROM archive.person p WHERE p.idkey = k.idkey) ORDER BY 1").format(ident(KEYS)))
    if rebuild:
        ddl.drop_person_row_keys(cursor)
    cursor.execute(sql.SQL("INSERT INTO archive.person_row (person_id, table_id, row, name, pno) "
                           "SELECT p.id, k.table_id, k.row, k.name, k.pno FROM {} k JOIN archive.person p "
                           "ON p.idkey = k.idkey").format(ident(KEYS)))
    ids = [t.pk for t in tables if t.id_column and t.pno_column]
    for t in tables:
        if t.id_column or not t.pno_column or not ids:
            continue
        # a 个人编号 that names two persons in the linked tables links nobody (ambiguous)
        cursor.execute(sql.SQL(
            "INSERT INTO archive.person_row (person_id, table_id, row, name, pno) "
            "SELECT m.person_id, %s, x._row, {name}, m.pno FROM {t} x JOIN ("
            "  SELECT k.pno, min(p.id) AS person_id FROM {k} k JOIN archive.person p ON p.idkey = k.idkey"
            "  WHERE k.table_id = ANY(%s) AND k.pno IS NOT NULL GROUP BY k.pno HAVING min(p.id) = max(p.id)) m "
            "ON m.pno = btrim(x.{p}::text)").format(
            name=_text(t.name_column), t=ddl.qualified(t.name), k=ident(KEYS), p=ident(t.pno_column)), [t.pk, ids])
    if rebuild:
        ddl.add_person_row_keys(cursor)
    cursor.execute(sql.SQL("DROP TABLE pg_temp.{}").format(ident(KEYS)))
    cursor.execute("SELECT count(*) FROM archive.person")
    return cursor.fetchone()[0] - before


def _text(column: str) -> sql.Composable:
    """A column's trimmed text (NULL when empty), or NULL when the table has no such column."""
    return sql.SQL("NULLIF(btrim(x.{}::text), '')").format(sql.Identifier(column)) if column else sql.SQL("NULL")
