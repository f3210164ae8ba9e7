"""Every payroll and bank form that creates money or a record, submitted twice AT THE SAME TIME (two
threads, two sessions of the same user, committed data): exactly one write. One-off, re-issue and
write-off carry a one-time token (``{% once_field %}``); the confirms that start a job (compute,
recompute, approve, export, return import) start one job, by the job's key under an advisory lock."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from shebao.bank.tests.helpers import approved_run, bank_answer, make_person, paybank_world
from shebao.common.models import AuditEvent, Job
from shebao.common.once import REPEATED
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.tests.helpers import once, run_queued
from shebao.web.tests.helpers import post_at_once

pytestmark = pytest.mark.django_db(transaction=True)


at_once = post_at_once


@pytest.fixture
def world(clerk, reviewer):
    return paybank_world(clerk, reviewer)


def test_oneoff_twice_at_once_creates_one_run(clerk):
    person = make_person("零星甲", "6222020000004444")
    data = {"scheme": "ZG", "period": "2026-06", "note": "慰问金", "person": [person.pk], "amount": ["500.00"],
            "memo": ["高温慰问"], "confirm": "1", **once()}
    responses = at_once(clerk, "/payroll/oneoff/", data)
    assert PayrollRun.objects.filter(kind="one_off", period="2026-06-01").count() == 1
    assert sorted(r.status_code for r in responses) == [200, 302]
    assert any(REPEATED in r.content.decode() for r in responses if r.status_code == 200)
    assert AuditEvent.objects.filter(action="payroll_oneoff").count() == 1


def test_reissue_twice_at_once_creates_one_run(world):
    responses = at_once(world.clerk, f"/payroll/{world.run.pk}/reissue/", {"confirm": "1", **once()})
    assert PayrollRun.objects.filter(kind="reissue").count() == 1
    assert all(r.status_code == 302 for r in responses)
    assert PayrollLine.objects.filter(run__kind="reissue").count() == 2


def test_write_off_twice_at_once_writes_once(world):
    url = f"/payroll/lines/{world.foreign_line.pk}/write-off/"
    responses = at_once(world.reviewer, url, {"reason": "查无此人", **once()})
    assert sorted(r.status_code for r in responses) == [200, 302]
    assert AuditEvent.objects.filter(action="payroll_write_off").count() == 1
    world.foreign_line.refresh_from_db()
    assert world.foreign_line.status == "written_off"


def test_compute_confirm_twice_at_once_starts_one_job(clerk):
    at_once(clerk, "/payroll/compute/", {"scheme": "ZG", "period": "2026-06", "confirm": "1"})
    assert Job.objects.filter(kind="payroll_compute", params__period="2026-06").count() == 1


def test_approve_and_recompute_confirms_twice_at_once_start_one_job(world):
    url = f"/payroll/{world.computed_run.pk}/approve/"
    at_once(world.reviewer, url, {"confirm": "1"})
    assert Job.objects.filter(kind="payroll_approve").count() == 1
    Job.objects.filter(kind="payroll_approve").update(state=Job.State.FAILED)  # ended: a new act may start
    at_once(world.clerk, f"/payroll/{world.computed_run.pk}/recompute/", {"confirm": "1"})
    assert Job.objects.filter(kind="payroll_recompute").count() == 1


def test_export_confirm_twice_at_once_starts_one_job(clerk, reviewer):
    run = approved_run([(make_person("报盘甲", "6222020000005555"), "10.00")], clerk, reviewer)
    at_once(clerk, "/bank/export/", {"runs": [run.pk], "bank": "*", "template": "standard", "confirm": "1"})
    assert Job.objects.filter(kind="bank_export", params__runs=[run.pk]).count() == 1


def test_return_confirm_twice_at_once_starts_one_import(clerk, reviewer):
    from shebao.bank.selectors import bank_template_get
    from shebao.bank.services import bank_export

    run = approved_run([(make_person("回盘甲", "6222020000006666"), "10.00")], clerk, reviewer)
    [bank_file] = bank_export(runs=[run.pk], template=bank_template_get("standard"), user=clerk)
    client = Client()
    client.force_login(clerk)
    started = client.post("/bank/returns/", {"file": SimpleUploadedFile("r.txt", bank_answer(bank_file))})
    run_queued()
    check = started.url.split("/")[-2]
    at_once(clerk, "/bank/returns/", {"confirm": "1", "job": check})
    assert Job.objects.filter(kind="bank_return_import").count() == 1
    run_queued()
    assert PayrollLine.objects.get(run=run).status == "paid"
