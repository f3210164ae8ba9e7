"""Property: for random items, arrears and deductions over several months, each line has
net = gross − deductions ≥ 0, deductions ≤ gross, no deduction takes more than its remaining (or its
cap), and the deductions taken over the months add up to what was recovered."""

from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shebao.benefits.models import Adjustment
from shebao.benefits.services import adjustment_create
from shebao.benefits.tests.factories import enroll, make_person, make_user, zg
from shebao.payroll.models import PayrollComponent, PayrollLine
from shebao.payroll.services import payroll_run_approve, payroll_run_compute

cents = st.integers(min_value=1, max_value=500_000).map(lambda n: D(n) / 100)
deduction = st.tuples(cents, st.one_of(st.none(), cents))


@pytest.mark.django_db(transaction=False)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(cents, min_size=1, max_size=3), arrears=st.lists(cents, max_size=2),
       deductions=st.lists(deduction, min_size=1, max_size=3))
def test_payroll_arithmetic(django_db_blocker, items, arrears, deductions):
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        sid = transaction.savepoint()
        clerk, rev = make_user("c_prop"), make_user("r_prop", reviewer=True)
        e = enroll(make_person(), user=clerk,
                   items=dict(zip(["basic", "extra", "living"], [str(x) for x in items], strict=False)))
        for a in arrears:
            adjustment_create(enrollment=e, kind="arrears", total=a, reason="a", user=clerk)
        deds = [adjustment_create(enrollment=e, kind="deduction", total=t, monthly_cap=c, reason="d", user=clerk)
                for t, c in deductions]
        for m in range(1, 5):
            run = payroll_run_approve(run=payroll_run_compute(scheme=zg(), period=f"2026-{m:02d}", user=clerk),
                                      user=rev)
            line = PayrollLine.objects.get(run=run)
            assert line.net == line.gross - line.deductions and line.net >= 0
            assert line.deductions <= line.gross
            assert line.gross == sum(items) + (sum(arrears) if m == 1 else 0)
        recovered = D(0)
        for d, (total, cap) in zip(deds, deductions, strict=True):
            taken = [c.amount for c in PayrollComponent.objects.filter(adjustment=d).order_by("line__run__period")]
            assert all(t <= total for t in taken)
            if cap is not None:
                assert all(t <= cap for t in taken)
            d.refresh_from_db()
            assert sum(taken, D(0)) == d.total - d.remaining
            assert d.state == (Adjustment.State.SETTLED if d.remaining == 0 else Adjustment.State.PENDING)
            recovered += d.total - d.remaining
        all_lines = PayrollLine.objects.filter(person_id=e.person_id)
        assert sum((x.deductions for x in all_lines), D(0)) == recovered
        transaction.savepoint_rollback(sid)
