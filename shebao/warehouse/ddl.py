"""The landed tables' shape: column types as the source systems write them mapped to PostgreSQL, names
checked as identifiers, and the DDL that creates and alters a table from the dictionary.

Every name is checked (``ident``: a letter or ``_`` then letters, digits and ``_``, at most 50) AND
always quoted through ``psycopg.sql.Identifier``; a type is rebuilt from its parsed parts, never
copied from the dictionary. A hostile dictionary therefore cannot put SQL into a statement.

Tables live in the schema ``warehouse``, named ``<source code>_<table>``. A table declared with 分区
``HASH n`` is hash-partitioned on its first primary-key column into n partitions
(``<physical>_p0`` … ``_p{n-1}``), fixed when it is created."""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import sql

SCHEMA = "warehouse"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
RESERVED = {"_op", "_line", "_load_id"}
LOAD_ID = "_load_id"  # every landed row: the load that last wrote it


class DictionaryError(ValueError):
    """A dictionary or a name we refuse; ``str()`` is the Chinese message."""


def ident(name: str, what: str = "名称") -> str:
    """A checked identifier, lower case (PostgreSQL's own folding)."""
    name = (name or "").strip()
    if not _IDENT.match(name):
        raise DictionaryError(f"{what}“{name[:60]}”不合法：只能由字母、数字和下划线组成，以字母或下划线开头，不超过 50 个字符")
    if name.lower() in RESERVED:
        raise DictionaryError(f"{what}“{name}”是系统保留字段名")
    return name.lower()


def qualified(physical: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(physical))


@dataclass(frozen=True)
class ColType:
    """A parsed column type. ``kind``: text, numeric, integer, date, timestamp."""

    kind: str
    length: int | None = None  # text
    precision: int | None = None  # numeric
    scale: int | None = None

    @property
    def pg(self) -> str:
        if self.kind == "text":
            return f"varchar({self.length})" if self.length else "text"
        if self.kind == "numeric":
            if self.precision is None:
                return "numeric"
            return f"numeric({self.precision},{self.scale or 0})"
        if self.kind == "integer":
            return "bigint"
        return self.kind  # date, timestamp

    def sql(self) -> sql.SQL:
        return sql.SQL(self.pg)  # built from checked ints and fixed words only


_TYPE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?(?:BYTE|CHAR)?\s*\))?\s*$", re.I)
_TEXT = {"VARCHAR2", "VARCHAR", "NVARCHAR2", "NVARCHAR", "CHAR", "NCHAR", "CHARACTER VARYING", "CHARACTER"}
_NUMERIC = {"NUMBER", "NUMERIC", "DECIMAL"}
_INTEGER = {"INTEGER", "INT", "BIGINT", "SMALLINT"}


def parse_type(text: str) -> ColType:
    """VARCHAR2(n), VARCHAR(n), CHAR(n), NUMBER(p,s), NUMERIC(p,s), NUMBER, INTEGER, DATE, TIMESTAMP
    (and CLOB/TEXT) → a ``ColType``. CHAR(n) lands as varchar(n): the padding is not data."""
    m = _TYPE.match(text or "")
    if not m:
        raise DictionaryError(f"不支持的字段类型“{(text or '')[:40]}”")
    base = " ".join(m.group(1).upper().split())
    a = int(m.group(2)) if m.group(2) else None
    b = int(m.group(3)) if m.group(3) else None
    if base in _TEXT:
        if a is None:
            a = 1 if base in ("CHAR", "NCHAR", "CHARACTER") else None
        if a is not None and not 1 <= a <= 10485760:
            raise DictionaryError(f"字段类型“{text}”的长度不合理")
        if b is not None:
            raise DictionaryError(f"字段类型“{text}”不合法")
        return ColType("text", length=a)
    if base in _NUMERIC:
        if a is None:
            return ColType("numeric")
        if not 1 <= a <= 38 or (b is not None and not 0 <= b <= a):
            raise DictionaryError(f"字段类型“{text}”的精度不合理（1–38 位，小数位不超过总位数）")
        return ColType("numeric", precision=a, scale=b or 0)
    if base in _INTEGER and a is None:
        return ColType("integer")
    if base == "DATE" and a is None:
        return ColType("date")
    if base.startswith("TIMESTAMP") and b is None and base in ("TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE"):
        return ColType("timestamp")
    if base in ("CLOB", "TEXT", "LONG") and a is None:
        return ColType("text")
    raise DictionaryError(f"不支持的字段类型“{text[:40]}”（支持 VARCHAR2(n)、VARCHAR(n)、CHAR(n)、NUMBER(p,s)、"
                          f"NUMERIC(p,s)、NUMBER、INTEGER、DATE、TIMESTAMP）")


READER_ROLE = "shebao_wh_reader"  # the query service's read-only role (``console``)


def ensure_schema(cursor) -> None:
    """The schema, created on first use; the read-only role (when it exists) may use it."""
    cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [SCHEMA])
    if cursor.fetchone():
        return
    cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER_ROLE])
    if cursor.fetchone():
        cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA),
                                                                    sql.Identifier(READER_ROLE)))


def create_table(cursor, physical: str, columns: list[tuple[str, ColType]], key: list[str], partitions: int) -> None:
    cols = [sql.SQL("{} {}").format(sql.Identifier(name), ctype.sql()) for name, ctype in columns]
    cols.append(sql.SQL("{} bigint").format(sql.Identifier(LOAD_ID)))
    if key:
        cols.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, key))))
    statement = sql.SQL("CREATE TABLE {} ({})").format(qualified(physical), sql.SQL(", ").join(cols))
    if partitions:
        statement += sql.SQL(" PARTITION BY HASH ({})").format(sql.Identifier(key[0]))
    cursor.execute(statement)
    for i in range(partitions):
        cursor.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES WITH (MODULUS {}, REMAINDER {})").format(
            qualified(f"{physical}_p{i}"), qualified(physical), sql.Literal(partitions), sql.Literal(i)))


def add_column(cursor, physical: str, name: str, ctype: ColType) -> None:
    cursor.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(qualified(physical), sql.Identifier(name),
                                                                   ctype.sql()))


def alter_type(cursor, physical: str, name: str, ctype: ColType) -> None:
    cursor.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}").format(
        qualified(physical), sql.Identifier(name), ctype.sql(), sql.Identifier(name), ctype.sql()))


def drop_column(cursor, physical: str, name: str) -> None:
    cursor.execute(sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(qualified(physical), sql.Identifier(name)))


def set_primary_key(cursor, physical: str, key: list[str]) -> None:
    cursor.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
        qualified(physical), sql.Identifier(f"{physical}_pkey")))
    if key:
        cursor.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
            qualified(physical), sql.SQL(", ").join(map(sql.Identifier, key))))


def column_has_data(cursor, physical: str, name: str) -> bool:
    cursor.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} IS NOT NULL)").format(
        qualified(physical), sql.Identifier(name)))
    return bool(cursor.fetchone()[0])


def table_exists(cursor, physical: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'{SCHEMA}."{physical}"'])
    return bool(cursor.fetchone()[0])


def row_count(cursor, physical: str) -> int:
    cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(qualified(physical)))
    return int(cursor.fetchone()[0])
