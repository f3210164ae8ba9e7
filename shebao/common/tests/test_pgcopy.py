"""``common.pgcopy``: rows and bytes go into PostgreSQL by COPY and come back exactly — NULLs, tabs,
backslashes, newlines, carriage returns and Chinese text in rows; bytes of every value across piece
boundaries."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from django.db import connection

from shebao.common.pgcopy import copy_bytes, copy_rows

pytestmark = pytest.mark.django_db

AWKWARD = ["", "\t", "\\", "\\N", "a\tb\\c\nd\re", "慈溪市浒山街道\t第一村\n", "\\.", "'\"", "end\\"]


def make_table(cursor, name: str, columns: str) -> None:
    cursor.execute(f"CREATE TEMP TABLE {name} ({columns})")


def test_rows_round_trip_exactly():
    rows = [(n, text, None if n % 3 == 0 else Decimal("1234.50"), n % 2 == 0, None if n % 4 == 0 else "户名")
            for n, text in enumerate(AWKWARD)]
    rows.append((len(rows), None, Decimal("0.00"), False, None))
    with connection.cursor() as cursor:
        make_table(cursor, "t_rows", "n int, s text, amount numeric(14, 2), ok boolean, name varchar(50)")
        assert copy_rows(cursor, "t_rows", ("n", "s", "amount", "ok", "name"), iter(rows)) == len(rows)
        cursor.execute("SELECT n, s, amount, ok, name FROM t_rows ORDER BY n")
        assert cursor.fetchall() == rows


def test_rows_with_types_and_a_qualified_temp_table_and_a_generator():
    rows = ((n, f"第{n}行\\\t{n}", None) for n in range(50_000))  # never a list: streamed as it comes
    with connection.cursor() as cursor:
        make_table(cursor, "t_gen", "n bigint, s text, x numeric")
        assert copy_rows(cursor, "pg_temp.t_gen", ("n", "s", "x"), rows, types=("int8", "text", "numeric")) == 50_000
        cursor.execute("SELECT count(*), sum(n), count(x), min(s), max(length(s)) FROM t_gen")
        assert cursor.fetchone() == (50_000, sum(range(50_000)), 0, "第0行\\\t0", len("第49999行\\\t49999"))


def test_no_rows():
    with connection.cursor() as cursor:
        make_table(cursor, "t_none", "n int")
        assert copy_rows(cursor, "t_none", ("n",), []) == 0
        cursor.execute("SELECT count(*) FROM t_none")
        assert cursor.fetchone() == (0,)


@pytest.mark.parametrize("size, piece", [(0, 7), (1, 7), (6, 7), (7, 7), (8, 7), (7 * 5 + 3, 7), (3 << 20, 1 << 20),
                                         ((1 << 20) + 1, 1 << 20)])
def test_bytes_round_trip_across_piece_boundaries(size, piece):
    data = (bytes(range(256)) * (size // 256 + 1))[:size] if size < 1000 else os.urandom(size)
    with connection.cursor() as cursor:
        make_table(cursor, "t_bytes", "content bytea")
        copy_bytes(cursor, "COPY t_bytes (content) FROM STDIN (FORMAT binary)", data, piece=piece)
        cursor.execute("SELECT content, length(content) FROM t_bytes")
        content, length = cursor.fetchone()
    assert length == size and bytes(content) == data


def test_bytes_piece_must_be_positive():
    with connection.cursor() as cursor, pytest.raises(ValueError):
        copy_bytes(cursor, "COPY t (content) FROM STDIN (FORMAT binary)", b"x", piece=0)
