"""The 身份证号 rule (GB 11643, ``common.identity``) as IMMUTABLE SQL functions, so a set of a million
numbers is checked in one statement (the audit's 身份证号 rule, the bench's synthetic persons):

- ``shebao_id_check_char(first17 text) → text``: the 18th character ('0'–'9' or 'X') of 17 digits; NULL
  for anything but 17 digits;
- ``shebao_ymd_ok(y, m, d int, today date) → boolean``: a calendar date from 1880-01-01 up to ``today``
  (integer arithmetic, no exception on a bad date); ``shebao_yyyymmdd_ok(d text, today date)`` the same
  for 8 digits YYYYMMDD;
- ``shebao_id_number_ok(v text, today date) → boolean``: ``v`` (no whitespace; a lowercase x allowed, as
  ``identity.parse_id_number`` upper-cases) is a valid 18-character number (province, birth date,
  check character) or a valid 15-digit one (province, birth date 19YYMMDD).

Plain ``LANGUAGE sql`` bodies of one expression, not STRICT and using only immutable functions, so the
planner inlines them into the calling query (no function call per row). ``today`` is a parameter so the
functions are honestly IMMUTABLE (callers pass ``current_date``)."""

from django.db import migrations

PROVINCES = ("11,12,13,14,15,21,22,23,31,32,33,34,35,36,37,41,42,43,44,45,46,50,51,52,53,54,61,62,63,64,65,71,"
             "81,82")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _terms(v: str) -> str:
    """Σ digit × weight over the first 17 characters of ``v``, reading bytes (text → bytea costs nothing;
    no multibyte character counting, no substring made)."""
    return " + ".join(f"(get_byte({v}::bytea, {i}) - 48) * {w}" for i, w in enumerate(WEIGHTS))


CREATE = f"""
CREATE OR REPLACE FUNCTION shebao_id_check_char(first17 text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN first17 ~ '^[0-9]{{17}}$' THEN substr('10X98765432', ({_terms("first17")}) % 11 + 1, 1) END
$$;

CREATE OR REPLACE FUNCTION shebao_ymd_ok(y int, m int, d int, today date) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN y BETWEEN 1880 AND 9999 AND m BETWEEN 1 AND 12
    AND d BETWEEN 1 AND CASE m WHEN 2 THEN CASE WHEN (y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0 THEN 29 ELSE 28 END
                               WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END
  THEN make_date(y, m, d) <= today ELSE false END
$$;

CREATE OR REPLACE FUNCTION shebao_yyyymmdd_ok(d text, today date) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN d ~ '^[0-9]{{8}}$'
  THEN shebao_ymd_ok(substr(d, 1, 4)::int, substr(d, 5, 2)::int, substr(d, 7, 2)::int, today) ELSE false END
$$;

CREATE OR REPLACE FUNCTION shebao_id_number_ok(v text, today date) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
  WHEN v ~ '^[0-9]{{17}}[0-9Xx]$' THEN left(v, 2) = ANY ('{{{PROVINCES}}}'::text[])
       AND shebao_ymd_ok(substr(v, 7, 4)::int, substr(v, 11, 2)::int, substr(v, 13, 2)::int, today)
       AND substr('10X98765432', ({_terms("v")}) % 11 + 1, 1) = upper(right(v, 1))
  WHEN v ~ '^[0-9]{{15}}$' THEN left(v, 2) = ANY ('{{{PROVINCES}}}'::text[])
       AND shebao_ymd_ok(1900 + substr(v, 7, 2)::int, substr(v, 9, 2)::int, substr(v, 11, 2)::int, today)
  ELSE false END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS shebao_id_number_ok(text, date);
DROP FUNCTION IF EXISTS shebao_yyyymmdd_ok(text, date);
DROP FUNCTION IF EXISTS shebao_ymd_ok(int, int, int, date);
DROP FUNCTION IF EXISTS shebao_id_check_char(text);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('warehouse', '0003_rules_from_dictionary_query_roles'),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
