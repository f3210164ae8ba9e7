"""The bank return pick-up is the first periodic schedule: registered with the Procrastinate worker on
its cron, and a run through the worker's task records what it did."""

import pytest
from procrastinate.contrib.django import app

from shebao.bank.models import BankTemplate, ReturnFile
from shebao.bank.services import bank_export
from shebao.bank.tasks import PICKUP_CRON
from shebao.bank.transfer import bank_channel_save
from shebao.common.models import PeriodicRun
from shebao.common.periodic import schedules, task_name

from .helpers import bank_answer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def roots(settings, tmp_path):
    settings.SHEBAO_BANK_SHARES = tmp_path


def test_registered_with_the_worker():
    assert schedules()["bank_return_pickup"].cron == PICKUP_CRON
    periodic_task = app.periodic_registry.periodic_tasks[(task_name("bank_return_pickup"), "bank_return_pickup")]
    assert periodic_task.cron == PICKUP_CRON


def test_the_worker_task_picks_up_and_records(tmp_path, run, clerk, reviewer, monkeypatch):
    import shebao.bank.transfer as transfer

    monkeypatch.setattr(transfer, "SETTLE_SECONDS", 0)
    [_, icbc] = bank_export(runs=[run], template=BankTemplate.objects.get(code="standard"), user=clerk)
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    out.mkdir()
    bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(out), in_dir=str(inbox),
                      import_user=clerk)
    (inbox / "ret.txt").write_bytes(bank_answer(icbc))
    task = app.tasks[task_name("bank_return_pickup")]
    task.func(timestamp=0)  # what the worker calls on the cron
    run_row = PeriodicRun.objects.get(name="bank_return_pickup")
    assert (run_row.outcome, run_row.trigger) == ("ok", "schedule")
    assert run_row.message == "导入 1 个，跳过（已导入）0 个，拒绝 0 个"
    assert ReturnFile.objects.count() == 1
    task.func(timestamp=60)
    second = PeriodicRun.objects.order_by("-id").first()
    assert second.message == "导入 0 个，跳过（已导入）0 个，拒绝 0 个" and ReturnFile.objects.count() == 1


def test_an_unreachable_channel_fails_the_run_with_its_reason(tmp_path, reviewer, clerk):
    bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(tmp_path / "o"),
                      in_dir=str(tmp_path / "not-mounted"), import_user=clerk)
    app.tasks[task_name("bank_return_pickup")].func(timestamp=0)
    run_row = PeriodicRun.objects.get()
    assert run_row.outcome == "failed"
    assert run_row.message == f"导入 0 个，跳过（已导入）0 个，拒绝 0 个；ICBC：接收目录 {tmp_path / 'not-mounted'} 不存在或未挂载"
