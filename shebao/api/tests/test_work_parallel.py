"""Two scripts sending the same write at the same moment (two threads, two connections, real commits):
one compute of a month, one approval of a run, one import of a return file — never two."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from shebao.accounts.tests.factories import make_user
from shebao.api.tests.world import bearer, build_world
from shebao.bank.models import ReturnFile, ReturnLine
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine, PayrollRun

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(*calls) -> list:
    """Run the calls in threads released together; their responses in order."""
    barrier = threading.Barrier(len(calls))
    out: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            out[i] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_the_same_write_twice_at_once_is_done_once():
    world = build_world()
    clerk_a = bearer(make_user("api_clerk_a", roles=("clerk",), all_regions=True))
    clerk_b = bearer(make_user("api_clerk_b", roles=("clerk",), all_regions=True))
    reviewer_a = bearer(make_user("api_rev_a", roles=("reviewer",), all_regions=True))
    reviewer_b = bearer(make_user("api_rev_b", roles=("reviewer",), all_regions=True))

    def compute(client):
        return lambda: client.post("/api/v1/payroll/runs/compute", {"scheme": "ZG", "period": "2026-04"},
                                   content_type="application/json")

    statuses = sorted(r.status_code for r in at_once(compute(clerk_a), compute(clerk_b)))
    assert statuses == [201, 409]
    [run] = PayrollRun.objects.filter(period="2026-04-01")
    assert PayrollLine.objects.filter(run=run).count() == 2
    assert AuditEvent.objects.filter(action="payroll_compute", object_id=str(run.pk)).count() == 1

    def approve(client):
        return lambda: client.post(f"/api/v1/payroll/runs/{world.run_computed.pk}/approve")

    responses = at_once(approve(reviewer_a), approve(reviewer_b))
    assert sorted(r.status_code for r in responses) == [200, 409]
    refused = next(r for r in responses if r.status_code == 409).json()["detail"]
    assert refused.startswith("审核被拒绝：")
    assert AuditEvent.objects.filter(action="payroll_approve", object_id=str(world.run_computed.pk)).count() == 1

    def import_return(client):
        from django.core.files.uploadedfile import SimpleUploadedFile

        return lambda: client.post("/api/v1/bank/returns",
                                   {"file": SimpleUploadedFile("r.txt", world.return_ok, content_type="text/plain")})

    responses = at_once(import_return(clerk_a), import_return(clerk_b))
    assert sorted(r.status_code for r in responses) == [200, 201]
    assert {r.json()["return_file"]["id"] for r in responses} == {ReturnFile.objects.get().pk}
    assert ReturnLine.objects.count() == 2
    assert AuditEvent.objects.filter(action="bank_return").count() == 1
