"""The 老农保 yearly walk and the legacy import's staging live in ``rural_pension/sql/*.sql`` with their
planner notes as comments, and name the models' kinds and statuses as parameters, never as literals (a
renamed kind cannot drift from the SQL). What the statements compute is tested by the yearly-table and
import tests; this checks the files' shape."""

from __future__ import annotations

import re
from importlib import resources

from shebao.rural_pension import legacy_checks, services
from shebao.rural_pension.models import AccountStatus, ContributionKind, PayoutKind


def _text(name: str) -> str:
    return (resources.files("shebao.rural_pension") / "sql" / name).read_text(encoding="utf-8")


def test_the_files_keep_the_planner_notes():
    assert "probes the sums' index 2.3 million times" in _text("years.sql")
    assert "the OFFSET 0 fences" in _text("legacy_import.sql") and "65–108 s" in _text("legacy_import.sql")


def test_the_loaded_statements_carry_no_comment_and_no_kind_or_status_literal():
    codes = set(ContributionKind.values) | set(PayoutKind.values) | set(AccountStatus.values)
    statements = [services._SQL_SUMS, services._SQL_WALK, *legacy_checks.LEGACY_SQL.values()]
    assert len(legacy_checks.LEGACY_SQL) == 16
    for sql in statements:
        assert "\n--" not in sql and not sql.lstrip().startswith("--")
        assert not set(re.findall(r"'(\w+)'", sql)) & codes, sql[:200]


def test_the_flow_checks_bind_the_kinds_of_their_file():
    (check, params), *_ = legacy_checks.flow_check_sql("payouts.csv")
    assert params["kind_labels"] == ["养老金", "退保", "其他"] and params["kind_codes"] == ["pension", "refund", "other"]
    assert params["pension"] == PayoutKind.PENSION.value and "e.start_month AS nb_start" in check
    (check, params), *_ = legacy_checks.flow_check_sql("contributions.csv")
    assert params["kind_codes"] == ["personal", "collective", "other"] and "NULL::date AS nb_start" in check
