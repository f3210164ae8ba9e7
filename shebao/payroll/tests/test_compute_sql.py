"""The compute statements live in ``payroll/sql/*.sql`` (with their planner notes as SQL comments) and
name every state and kind as a parameter bound from the models' TextChoices. The text sent to
PostgreSQL is what it was when the statements lived in the Python module: with each state parameter
written back as its literal, the composed statements hash to the figures taken from that text (the
comments are dropped on loading, the rest is kept byte for byte). The services report their stages to
a ``progress`` callback, in order, as each starts."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import pytest
from django.db import connection

from shebao.benefits.models import Adjustment
from shebao.benefits.tests.factories import zg
from shebao.payroll import services
from shebao.payroll.models import PayrollComponent, PayrollLine
from shebao.payroll.services import payroll_run_approve, payroll_run_compute, payroll_run_recompute

# sha256 of the statements as they were in payroll/services.py before they moved (with their literals)
COMPUTE_SHA256 = "60420cbd606837ffd3b39f408a97d9c442042d2d8316b39d1d00d17908ac773c"
ANNUAL_SHA256 = "e6fcb48c9eb8a6cfbd868e0b29fe92902d5cf4d418f1c3b5e329608176f5836b"  # with "{rule}" in place
TOTALS_SHA256 = "1cbdfc46be8cafa8a410353eb9e18824b14c38d8712903f26c060ac09bce8a2d"
RESULTS_BAD_SHA256 = "e3f3b2657f3a231177e31af33f6b2cc5027a3d269775203fa1a3a1aff4cb5508"
# changed on purpose (issue 17): the rejected lines are recorded by account in the same statement
RESULTS_APPLY_SHA256 = "e196c353890b7f01a02abcb626aab2094f399c2b618077d46e64a5cad40c20f3"


def with_literals(sql: str) -> str:
    """The statement with each state parameter written as its literal (what the client-side binding of
    Django's cursor sends for it)."""
    return re.sub(r"%\((\w+)\)s", lambda m: f"'{services._STATES[m[1]]}'" if m[1] in services._STATES else m[0], sql)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("sql, expected", [
    (services._SQL_COMPUTE, COMPUTE_SHA256),
    (services._annual_sql("{rule}"), ANNUAL_SHA256),
    (services._SQL_TOTALS, TOTALS_SHA256),
    (services._SQL_RESULTS_BAD, RESULTS_BAD_SHA256),
    (services._SQL_RESULTS_APPLY, RESULTS_APPLY_SHA256),
], ids=["compute", "annual", "totals", "results_bad", "results_apply"])
def test_statements_are_the_text_they_were(sql, expected):
    assert "--" not in sql  # the notes stay in the file
    assert sha(with_literals(sql)) == expected


def test_no_state_literal_left_in_the_statements():
    states = set(services._STATES.values())
    for sql in (services._SQL_COMPUTE, services._annual_sql("{rule}"), services._SQL_RESULTS_BAD,
                services._SQL_RESULTS_APPLY):
        assert not {literal for literal in re.findall(r"'(\w+)'", sql)} & states


def test_the_states_come_from_the_textchoices():
    assert services._STATES["paid"] == PayrollLine.Status.PAID.value
    assert services._STATES["deduction"] == PayrollComponent.Kind.DEDUCTION.value
    assert services._STATES["adjustment_pending"] == Adjustment.State.PENDING.value
    assert {services._STATES[s.value] for s in PayrollLine.Status} == set(PayrollLine.Status.values)


def test_the_files_keep_the_planner_notes():
    text = (resources.files("shebao.payroll") / "sql" / "compute.sql").read_text(encoding="utf-8")
    assert "-- Run with nested loops off" in text and "the greedy fill as a window" in text


@pytest.mark.django_db
def test_the_bound_statement_sent_is_the_old_text(people, clerk):
    """What psycopg sends for the compute statement: every state parameter became the old literal."""
    params = {**services._STATES, "scheme": 1, "period": "2026-03-01", "run": 1, "items": "{1}", "memo": "m"}
    with connection.cursor() as cursor:
        sent = cursor.cursor.mogrify(services._SQL_COMPUTE, params)
    assert "ad.state = 'pending' AND ad.kind IN ('arrears', 'deduction')" in sent
    assert "'deduction'::varchar(10) AS kind" in sent and "g.gross - COALESCE(t.taken, 0), 'pending', 0" in sent


@pytest.mark.django_db
def test_the_services_report_their_stages_in_order(people, clerk, reviewer):
    seen: list[str] = []
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk, progress=seen.append)
    assert seen == ["lines", "totals", "audit"]
    seen.clear()
    payroll_run_recompute(run=run, user=clerk, progress=seen.append)
    assert seen == ["delete", "lines", "totals", "audit"]
    seen.clear()
    run = payroll_run_approve(run=run, user=reviewer, progress=seen.append)
    assert seen == ["settle", "audit"]
    assert (run.line_count, str(run.gross), str(run.deductions), str(run.net)) == (2, "4300.00", "100.00", "4200.00")


@pytest.mark.django_db
def test_an_annual_rule_naming_a_state_parameter_is_refused_and_nothing_written(people, clerk):
    """A rule's own parameter named like a state would be replaced by the service's: refused, loudly."""
    from shebao.payroll import schemes
    from shebao.payroll.models import PayrollRun

    before = schemes._registry.get("ZG")
    schemes.register("ZG", schemes.SchemeRules(annual=lambda run: ("SELECT 1::bigint AS enrollment_id, NULL::bigint "
                                                                   "AS item_id, 1 AS amount, '' AS description "
                                                                   "WHERE %(paid)s = 'x'", {"paid": "x"})))
    try:
        with pytest.raises(ValueError, match=r"\['paid'\] are the service's own"):
            payroll_run_compute(scheme=zg(), period="2026", user=clerk, kind="annual")
    finally:
        schemes.register("ZG", before)
    assert not PayrollRun.objects.exists() and not PayrollLine.objects.exists()
