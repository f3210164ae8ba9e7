"""自动发送: a channel with automatic delivery sends each payment file of its bank written since it was
switched on — once, as the channel's import user, through the same ``bank_file_deliver`` as the button
(logged, audited). Files written before are never sent by it; a failed attempt is tried again after
``AUTO_RETRY_MINUTES`` and at most ``AUTO_MAX_FAILURES`` times; the periodic job records what it did."""

import datetime as dt

import pytest
from django.utils import timezone
from procrastinate.contrib.django import app

from shebao.bank.models import BankChannel, BankFile, BankTemplate, BankTransfer
from shebao.bank.services import BankError, bank_export
from shebao.bank.tasks import AUTO_DELIVER_CRON
from shebao.bank.transfer import (
    AUTO_MAX_FAILURES,
    AUTO_RETRY_MINUTES,
    bank_channel_save,
    bank_file_deliver,
    bank_files_auto_deliver,
)
from shebao.common.models import AuditEvent, PeriodicRun
from shebao.common.periodic import schedules, task_name

pytestmark = pytest.mark.django_db
OUT = BankTransfer.Outcome


@pytest.fixture(autouse=True)
def roots(settings, tmp_path):
    settings.SHEBAO_BANK_SHARES = tmp_path


def _export(run, clerk):
    return {f.bank: f for f in bank_export(runs=[run], template=BankTemplate.objects.get(code="standard"),
                                           user=clerk)}


def _channel(tmp_path, reviewer, clerk, *, auto=True, bank="ICBC"):
    out, inbox = tmp_path / bank / "out", tmp_path / bank / "in"
    out.mkdir(parents=True)
    inbox.mkdir(parents=True)
    bank_channel_save(user=reviewer, bank=bank, kind="folder", out_dir=str(out), in_dir=str(inbox),
                      import_user=clerk, auto_deliver=auto)
    return out


def _sent():
    return list(BankTransfer.objects.filter(direction="out").order_by("id")
                .values_list("bank_file__batch_no", "outcome", "user__username"))


def test_new_files_are_sent_once_and_older_ones_never(tmp_path, run, clerk, reviewer):
    out = _channel(tmp_path, reviewer, clerk)
    channel = BankChannel.objects.get(bank="ICBC")
    files = _export(run, clerk)
    icbc = files["ICBC"]
    older = BankFile.objects.create(  # written before automatic delivery was switched on
        batch_no="20200101ICBC001", template=icbc.template, definition=icbc.definition, bank="ICBC",
        file_date=dt.date(2020, 1, 1), file_name="old.txt", content=b"x", sha256="0" * 64, line_count=1,
        total=icbc.total)
    BankFile.objects.filter(pk=older.pk).update(created_at=channel.auto_since - dt.timedelta(days=1))
    result = bank_files_auto_deliver()
    assert result.sent == [icbc.batch_no] and result.failed == [] and result.given_up == []
    assert (out / icbc.file_name).read_bytes() == bytes(BankFile.objects.get(pk=icbc.pk).content)
    assert not (out / "old.txt").exists()
    assert _sent() == [(icbc.batch_no, OUT.SENT, clerk.username)]
    event = AuditEvent.objects.get(action="bank_deliver")
    assert event.summary.startswith(f"自动发送报盘文件 {icbc.batch_no} 到 ICBC")
    again = bank_files_auto_deliver()
    assert again.sent == [] and _sent() == [(icbc.batch_no, OUT.SENT, clerk.username)]
    # a bank without a channel (the run's other bank) is left alone
    assert set(files) - {"ICBC"} and BankTransfer.objects.exclude(bank="ICBC").count() == 0
    # and a person's button on the sent file is refused as before
    with pytest.raises(BankError, match="已于 .* 发送，不能重复发送"):
        bank_file_deliver(bank_file=icbc, user=clerk)


def test_a_channel_without_auto_delivery_sends_nothing(tmp_path, run, clerk, reviewer):
    _channel(tmp_path, reviewer, clerk, auto=False)
    _export(run, clerk)
    assert bank_files_auto_deliver().sent == [] and _sent() == []


def test_switching_it_on_needs_an_import_user_and_starts_the_clock(tmp_path, run, clerk, reviewer):
    with pytest.raises(BankError, match="自动发送须设置导入身份"):
        bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(tmp_path), in_dir=str(tmp_path),
                          auto_deliver=True)
    assert not BankChannel.objects.exists()
    _channel(tmp_path, reviewer, clerk, auto=False)
    files = _export(run, clerk)  # written while automatic delivery is off …
    before = timezone.now()
    bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(tmp_path / "ICBC" / "out"),
                      in_dir=str(tmp_path / "ICBC" / "in"), import_user=clerk, auto_deliver=True)
    assert BankChannel.objects.get(bank="ICBC").auto_since >= before
    assert bank_files_auto_deliver().sent == []  # … is never sent by it
    assert files["ICBC"].batch_no not in [b for b, *_ in _sent()]


def test_a_failure_is_retried_later_and_given_up_after_three(tmp_path, run, clerk, reviewer):
    out = _channel(tmp_path, reviewer, clerk)
    icbc = _export(run, clerk)["ICBC"]
    out.rmdir()  # the share is not mounted
    t0 = timezone.now()
    first = bank_files_auto_deliver(now=t0)
    assert first.sent == [] and len(first.failed) == 1 and first.failed[0].startswith(f"{icbc.batch_no}：")
    assert bank_files_auto_deliver(now=t0 + dt.timedelta(minutes=AUTO_RETRY_MINUTES - 1)).failed == []  # waits
    for n in range(2, AUTO_MAX_FAILURES + 1):
        later = timezone.now() + dt.timedelta(minutes=AUTO_RETRY_MINUTES * n)
        assert len(bank_files_auto_deliver(now=later).failed) == 1
    assert BankTransfer.objects.filter(outcome=OUT.FAILED).count() == AUTO_MAX_FAILURES
    out.mkdir()
    late = bank_files_auto_deliver(now=timezone.now() + dt.timedelta(days=1))
    assert late.sent == [] and late.given_up == [icbc.batch_no]
    assert f"须人工发送：{icbc.batch_no}" in late.message
    bank_file_deliver(bank_file=icbc, user=clerk)  # a person sends it
    assert (out / icbc.file_name).exists() and bank_files_auto_deliver().given_up == []


def test_an_import_user_who_lost_the_right_sends_nothing(tmp_path, run, clerk, reviewer):
    _channel(tmp_path, reviewer, clerk)
    _export(run, clerk)
    clerk.groups.clear()
    result = bank_files_auto_deliver()
    assert result.sent == [] and len(result.failed) == 1 and result.failed[0].startswith("ICBC：")
    assert _sent() == []


def test_the_periodic_job_is_registered_and_records_its_run(tmp_path, run, clerk, reviewer):
    assert schedules()["bank_auto_deliver"].cron == AUTO_DELIVER_CRON
    _channel(tmp_path, reviewer, clerk)
    icbc = _export(run, clerk)["ICBC"]
    app.tasks[task_name("bank_auto_deliver")].func(timestamp=0)
    row = PeriodicRun.objects.get(name="bank_auto_deliver")
    assert (row.outcome, row.message) == ("ok", "自动发送 1 个")
    assert _sent() == [(icbc.batch_no, OUT.SENT, clerk.username)]
