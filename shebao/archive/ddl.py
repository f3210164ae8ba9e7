"""The archive's schema ``archive``: one table per declared legacy table, and the person index.

Names are checked by the warehouse's ``ddl.ident`` and always quoted; types are the warehouse's parsed
``ColType`` (a hostile dictionary cannot put SQL into a statement). Every archived table has ``_row``
(the record's number in its file, the primary key) and the dictionary's key as a UNIQUE constraint.

**Read-only.** Each table (and the person index) carries a statement trigger that refuses INSERT,
UPDATE, DELETE and TRUNCATE unless the transaction set ``shebao.archive_loading`` — which only
``archive_load`` does, with ``SET LOCAL``, inside its own transaction. No page, API route or command
offers a write; the trigger makes sure no hand-written statement does either."""

from __future__ import annotations

from psycopg import sql

from shebao.warehouse.ddl import READER_ROLE, ColType

SCHEMA = "archive"
ROW = "_row"
LOADING_SETTING = "shebao.archive_loading"
READ_ONLY_MESSAGE = "原遗留养老系统档案是只读的，不能修改"

_FUNCTION = f"""
CREATE OR REPLACE FUNCTION archive.refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('{LOADING_SETTING}', true), '') <> 'on' THEN
        RAISE EXCEPTION '{READ_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$"""


def qualified(name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(name))


def _guard(cursor, name: str) -> None:
    cursor.execute(sql.SQL("CREATE TRIGGER archive_read_only BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {} "
                           "FOR EACH STATEMENT EXECUTE FUNCTION archive.refuse_write()").format(qualified(name)))


def _grant(cursor, name: str) -> None:
    """The warehouse console's read-only role reads the archive too (when the role exists)."""
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER_ROLE])
    if cursor.fetchone():
        cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA),
                                                                    sql.Identifier(READER_ROLE)))
        cursor.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(qualified(name), sql.Identifier(READER_ROLE)))


def ensure_schema(cursor) -> None:
    """The schema, the trigger function and the person index, created on first use."""
    cursor.execute("SELECT to_regclass('archive.person_row') IS NOT NULL")
    if cursor.fetchone()[0]:
        return
    cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
    cursor.execute(_FUNCTION)
    # a person: the first 17 characters of a 身份证号 (a 15-digit number as 6 + '19' + 9)
    cursor.execute("CREATE TABLE archive.person (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                   "idkey varchar(17) NOT NULL UNIQUE)")
    # every archived row of a person: its table, its _row, the name and 个人编号 it was written with
    cursor.execute("CREATE TABLE archive.person_row (person_id bigint NOT NULL, "
                   "table_id integer NOT NULL, row bigint NOT NULL, name text, pno text)")
    add_person_row_keys(cursor)
    for name in ("person", "person_row"):
        _guard(cursor, name)
        _grant(cursor, name)


def create_table(cursor, name: str, columns: list[tuple[str, ColType]], key: list[str], *, keys: bool = True) -> None:
    """The table with its trigger and grant; ``keys=False`` leaves out the primary key and the UNIQUE
    key (the load fills the table first and builds them after with ``add_keys``: one sort, not an index
    insertion per row)."""
    cols = [sql.SQL("{} bigint NOT NULL").format(sql.Identifier(ROW))]
    cols += [sql.SQL("{} {}").format(sql.Identifier(c), ctype.sql()) for c, ctype in columns]
    cursor.execute(sql.SQL("CREATE TABLE {} ({})").format(qualified(name), sql.SQL(", ").join(cols)))
    if keys:
        add_keys(cursor, name, key)
    _guard(cursor, name)
    _grant(cursor, name)


def add_keys(cursor, name: str, key: list[str]) -> None:
    """``_row`` as the primary key and the dictionary's key as UNIQUE (fails on a repeated key)."""
    cursor.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(qualified(name), sql.Identifier(ROW)))
    if key:
        cursor.execute(sql.SQL("ALTER TABLE {} ADD UNIQUE ({})").format(
            qualified(name), sql.SQL(", ").join(map(sql.Identifier, key))))


# the person index's constraints and index, dropped and built again around a load bigger than the index
PERSON_ROW_KEYS = [
    "ALTER TABLE archive.person_row ADD CONSTRAINT person_row_pkey PRIMARY KEY (person_id, table_id, row)",
    "ALTER TABLE archive.person_row ADD CONSTRAINT person_row_person_id_fkey FOREIGN KEY (person_id) "
    "REFERENCES archive.person",
    "CREATE INDEX person_row_name ON archive.person_row (name text_pattern_ops) WHERE name IS NOT NULL",
]


def drop_person_row_keys(cursor) -> None:
    cursor.execute("DROP INDEX archive.person_row_name")
    cursor.execute("ALTER TABLE archive.person_row DROP CONSTRAINT person_row_person_id_fkey, "
                   "DROP CONSTRAINT person_row_pkey")


def add_person_row_keys(cursor) -> None:
    for statement in PERSON_ROW_KEYS:
        cursor.execute(statement)


def table_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'{SCHEMA}."{name}"'])
    return bool(cursor.fetchone()[0])


def id_key(v: sql.Composable) -> sql.Composable:
    """The person key of a 身份证号 in SQL, from ``v`` = the value upper-cased and trimmed
    (``upper(btrim(col::text))``, computed once by the caller): the first 17 characters of an 18-character
    number (17 digits and a digit or X), a 15-digit number as its first 6 digits + '19' + the next 9; NULL
    for anything else. ``ltrim(v, digits)`` leaves '' for all digits and 'X' for 17 digits + X — no
    regular expression per row."""
    return sql.SQL("CASE length({v}) WHEN 18 THEN CASE WHEN ltrim({v}, '0123456789') IN ('', 'X') THEN left({v}, 17) END "
                   "WHEN 15 THEN CASE WHEN ltrim({v}, '0123456789') = '' THEN left({v}, 6) || '19' || substr({v}, 7, 9) "
                   "END END").format(v=v)
