"""Bank export and return import as background jobs: one job per confirm (a double click shows the
same job), progress by stage, the file or the return page with the message at the end; a refusal
shows the service's message and writes nothing; a return file gone before its job is refused
cleanly. The command line runs the same handlers with progress on stderr, stdout unchanged."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.bank.jobs import CHECK_STAGES, RETURN_STAGES, export_stages
from shebao.bank.models import BankFile, BankFileLine, ReturnFile, ReturnLine
from shebao.bank.tests.helpers import approved_run, bank_answer, make_person
from shebao.bank.tests.test_views import export_icbc, icbc_file, seq_of
from shebao.common.jobs import job_run_here
from shebao.common.models import AuditEvent, Job
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.payroll.tests.helpers import make_user, run_queued, watched
from shebao.payroll.tests.test_jobs import Shown, stages_seen

pytestmark = pytest.mark.django_db

EVERY_BANK = {"bank": "*", "template": "standard"}


def snapshot() -> tuple:
    return (list(PayrollRun.objects.order_by("pk").values_list("pk", "state", "exported_at", "returned_at")),
            list(PayrollLine.objects.order_by("pk").values_list("pk", "status", "paid_amount", "fail_reason")),
            BankFile.objects.count(), BankFileLine.objects.count(), ReturnFile.objects.count(),
            ReturnLine.objects.count(), AuditEvent.objects.count())


def preview(client, data: bytes, name: str = "r.txt") -> int:
    """Upload a return file and let its check job run: its page ends with the confirm step (nothing
    imported). → the check job's id, which the confirm posts."""
    started = client.post("/bank/returns/", {"file": SimpleUploadedFile(name, data)})
    assert started.url.startswith("/bank/jobs/"), started
    run_queued()
    assert "confirm-import" in watched(client, started.url).content.decode()
    return int(started.url.split("/")[-2])


def confirm(client, check: int):
    return client.post("/bank/returns/", {"confirm": "1", "job": str(check)})


# --------------------------------------------------------------------------------------------------
# export


def test_export_job_files_with_exact_totals_and_stages(client, clerk, run):
    client.force_login(clerk)
    started = client.post("/bank/export/", {**EVERY_BANK, "runs": [run.pk], "confirm": "1"})
    job = Job.objects.get()
    assert started.url == f"/bank/jobs/{job.pk}/"
    assert job.params["banks"] == [["ABC", "中国农业银行", 1, "300.00"], ["ICBC", "中国工商银行", 2, "1200.50"]]
    assert not BankFile.objects.exists()  # not before the worker runs it
    [job] = run_queued()
    files = list(BankFile.objects.order_by("batch_no"))
    assert [(f.bank, f.line_count, str(f.total)) for f in files] == [("ABC", 1, "300.00"), ("ICBC", 2, "1200.50")]
    assert job.state == "done" and job.result["files"] == [
        {"id": f.pk, "batch_no": f.batch_no, "bank": f.bank, "count": f.line_count, "total": str(f.total)}
        for f in files]
    run.refresh_from_db()
    assert run.state == "exported"
    page = watched(client, started.url)
    # two files (one per bank): the run's summary of all its files, not the last file alone
    assert page.request["PATH_INFO"] == f"/bank/runs/{run.pk}/"
    text = page.content.decode()
    assert "已生成报盘文件" in text and f"{files[0].batch_no}</a>（1 笔，300.00 元）" in text
    assert f"{files[1].batch_no}</a>（2 笔，1,200.50 元）" in text
    assert "共 2 个文件：已回盘 0 个，部分回盘 0 个，未回盘 2 个。" in text
    assert text.count('<tr data-state="waiting">') == 2


def test_export_job_shows_each_file_as_a_stage(clerk, run):
    banks = [["ABC", "中国农业银行", 1, "300.00"], ["ICBC", "中国工商银行", 2, "1200.50"]]
    shown = Shown()
    outcome = job_run_here("bank_export", {"runs": [run.pk], "template": "standard", "bank": None, "banks": banks},
                           user=clerk, progress=shown)
    assert stages_seen(shown) == [s.label for s in export_stages(banks)] + [outcome.message]
    assert stages_seen(shown)[1:3] == ["生成并保存中国农业银行报盘文件（1 笔，300.00 元）",
                                       "生成并保存中国工商银行报盘文件（2 笔，1,200.50 元）"]


def test_export_double_submit_shows_the_same_job(client, clerk, run):
    client.force_login(clerk)
    first = client.post("/bank/export/", {**EVERY_BANK, "runs": [run.pk], "confirm": "1"})
    second = client.post("/bank/export/", {"bank": "ICBC", "template": "standard", "runs": [run.pk], "confirm": "1"},
                         follow=True)
    assert second.redirect_chain[-1][0] == first.url and Job.objects.count() == 1
    job = Job.objects.get()
    assert f"已有任务在进行中（任务 {job.pk}：生成报盘文件：结算批次 #{run.pk}，CLERK1 于" in second.content.decode()
    run_queued()
    assert BankFile.objects.count() == 2


def test_export_refused_shows_the_message_and_writes_nothing(client, clerk, reviewer):
    no_account = make_person("孙八", None)
    bad = approved_run([(make_person("周九", "6222020000004444"), "88.00"), (no_account, "12.00")], clerk, reviewer)
    client.force_login(clerk)
    before = snapshot()
    started = client.post("/bank/export/", {**EVERY_BANK, "runs": [bad.pk], "confirm": "1"})
    [job] = run_queued()
    seq = PayrollLine.objects.get(run=bad, person=no_account).seq
    assert job.state == "failed"
    assert job.message == f"报盘被拒绝，请先维护支付账户：结算批次 #{bad.pk} 第 {seq} 笔 孙八：没有支付账户（账号或户名为空）"
    assert snapshot() == before  # no file, no line sent, no audit event
    text = watched(client, started.url).content.decode()
    assert "没有支付账户" in text and "没有生成报盘文件，结算批次未做任何更改" in text and "返回报盘" in text


# --------------------------------------------------------------------------------------------------
# return: the check (preview) and the import


def test_return_check_job_then_import_job_with_exact_totals(client, clerk, run, media):
    client.force_login(clerk)
    export_icbc(client, run)
    data = bank_answer(icbc_file(), {seq_of("赵六"): "账号不存在"})
    started = client.post("/bank/returns/", {"file": SimpleUploadedFile("r.txt", data)})
    check = Job.objects.get(kind="bank_return_check")
    stash = media / "bank_returns" / f"{clerk.pk}-{check.params['digest']}"
    assert started.url == f"/bank/jobs/{check.pk}/" and stash.read_bytes() == data
    assert check.params["digest"] == hashlib.sha256(data).hexdigest() and check.params["filename"] == "r.txt"
    [check] = run_queued()
    batch = icbc_file().batch_no
    assert check.state == "done" and check.result == {
        "bank_file_id": icbc_file().pk, "batch_no": batch, "count": 2, "total": "1200.50",
        "ok_count": 1, "ok_total": "1000.00", "failed_count": 1, "failed_total": "200.50", "not_yet_returned": 0,
        "failed_lines": [{"seq": seq_of("赵六"), "holder_name": "赵六", "amount": "200.50", "reason": "账号不存在"}]}
    assert before_import() == (0, 0) and stash.exists()  # the check writes nothing and keeps the file
    page = watched(client, started.url)  # no redirect: the check's page ends with the confirm step
    text = page.content.decode()
    assert page.request["PATH_INFO"] == started.url and 'id="confirm-import"' in text
    assert f'name="job" value="{check.pk}"' in text and f"序号 {seq_of('赵六')} 赵六 200.50（账号不存在）" in text
    imported = confirm(client, check.pk)
    job = Job.objects.get(kind="bank_return_import")
    assert imported.url == f"/bank/jobs/{job.pk}/" and job.params["check_job"] == check.pk
    [job] = run_queued()
    rf = ReturnFile.objects.get()
    assert job.state == "done" and job.result["return_file_id"] == rf.pk and job.result["created"] is True
    assert (rf.ok_count, str(rf.ok_total), rf.failed_count, str(rf.failed_total)) == (1, "1000.00", 1, "200.50")
    assert job.message == f"已导入回盘 {batch}：成功 1 笔 1000.00，失败 1 笔 200.50"
    assert not stash.exists()  # read by the import, then removed
    page = watched(client, imported.url)
    assert page.request["PATH_INFO"] == f"/bank/returns/{rf.pk}/"
    text = page.content.decode()
    assert "已导入回盘" in text and "成功 1 笔 1000.00，失败 1 笔 200.50" in text and "有 1 笔失败" in text
    # the confirm again, after the import: said so, nothing more
    again = client.post("/bank/returns/", {"confirm": "1", "job": str(check.pk)}, follow=True)
    assert f"该回盘文件已导入（回盘 #{rf.pk}），本次未做任何更改" in again.content.decode()
    assert ReturnFile.objects.count() == 1 and Job.objects.filter(kind="bank_return_import").count() == 1


def before_import() -> tuple[int, int]:
    return ReturnFile.objects.count(), ReturnLine.objects.count()


def test_return_jobs_show_each_stage_in_order(client, clerk, run, tmp_path):
    client.force_login(clerk)
    export_icbc(client, run)
    path = tmp_path / "answer.txt"
    path.write_bytes(bank_answer(icbc_file()))
    shown = Shown()
    outcome = job_run_here("bank_return_check", {"path": str(path), "filename": "answer.txt"}, user=clerk,
                           progress=shown)
    assert stages_seen(shown) == [s.label for s in CHECK_STAGES] + [outcome.message]
    shown = Shown()
    outcome = job_run_here("bank_return_import", {"path": str(path), "filename": "answer.txt"}, user=clerk,
                           progress=shown)
    assert stages_seen(shown) == [s.label for s in RETURN_STAGES] + [outcome.message]
    assert path.exists()  # a command's own file is never removed


def test_return_double_submit_shows_the_same_job(client, clerk, run):
    client.force_login(clerk)
    export_icbc(client, run)
    data = bank_answer(icbc_file())
    # the upload twice while its check waits: one check
    first = client.post("/bank/returns/", {"file": SimpleUploadedFile("r.txt", data)})
    second = client.post("/bank/returns/", {"file": SimpleUploadedFile("r.txt", data)})
    assert first.url == second.url and Job.objects.filter(kind="bank_return_check").count() == 1
    run_queued()
    check = int(first.url.split("/")[-2])
    # the confirm twice: one import
    one, two = confirm(client, check), confirm(client, check)
    assert one.url == two.url and Job.objects.filter(kind="bank_return_import").count() == 1
    run_queued()
    assert ReturnFile.objects.count() == 1


def test_return_check_refused_shows_the_message_and_keeps_nothing(client, clerk, run, media):
    client.force_login(clerk)
    export_icbc(client, run)
    bad = bank_answer(icbc_file()).replace(b"|1000.00|1000.00|", b"|1000.00|999.00|")
    before = snapshot()
    started = client.post("/bank/returns/", {"file": SimpleUploadedFile("bad.txt", bad)})
    [check] = run_queued()
    assert check.state == "failed" and check.message == (
        "回盘文件被拒绝（2 处错误）：第1行：汇总行成功金额 1200.50 与明细合计 1199.50 不符；"
        f"第{seq_of('王五') + 1}行：处理成功但实处理金额 999.00 与应处理金额 1000.00 不符")
    assert snapshot() == before and not list((media / "bank_returns").iterdir())
    text = watched(client, started.url).content.decode()
    assert "回盘文件被拒绝" in text and "文件未导入，未做任何更改。" in text and "confirm-import" not in text


def test_return_import_refused_shows_the_message_and_writes_nothing(client, clerk, run, media):
    client.force_login(clerk)
    export_icbc(client, run)
    check = preview(client, bank_answer(icbc_file(), {seq_of("赵六"): "账号不存在"}))
    started = confirm(client, check)
    # between the check and the import the line the bank paid is marked failed (say, by an earlier
    # return of the same lines): the bank's answer no longer fits it
    paid = PayrollLine.objects.get(run=run, net="1000.00")
    PayrollLine.objects.filter(pk=paid.pk).update(status="failed", fail_reason="账户冻结")
    before = snapshot()
    [job] = run_queued()
    assert job.state == "failed"
    assert job.message == (f"回盘文件被拒绝（1 处错误）：结算批次 #{run.pk}：第 {paid.seq} 笔已是“失败”，"
                           "与本次回盘结果不符")
    assert snapshot() == before
    text = watched(client, started.url).content.decode()
    assert "回盘文件被拒绝" in text and "文件未导入，未做任何更改。" in text
    assert not list((media / "bank_returns").iterdir())


def test_return_file_gone_before_a_job_is_refused_cleanly(client, clerk, run, media):
    client.force_login(clerk)
    export_icbc(client, run)
    data = bank_answer(icbc_file())
    stash = media / "bank_returns" / f"{clerk.pk}-{hashlib.sha256(data).hexdigest()}"
    before = snapshot()
    # gone before the import job runs
    started = confirm(client, preview(client, data))
    stash.unlink()  # e.g. a clean-up of the upload folder
    [job] = run_queued()
    assert (job.state, job.message) == ("failed", "上传的文件已失效，请重新选择文件")
    assert snapshot() == before
    assert "上传的文件已失效" in watched(client, started.url).content.decode()
    # changed after its check: refused the same way
    confirm(client, preview(client, data))
    stash.write_bytes(data.replace(b"|1000.00|1000.00|", b"|1000.00|0.00|"))
    [job] = run_queued()
    assert (job.state, job.message) == ("failed", "上传的文件已失效，请重新选择文件")
    assert snapshot() == before and not stash.exists()
    # gone before the check job runs
    client.post("/bank/returns/", {"file": SimpleUploadedFile("r.txt", data)})
    stash.unlink()
    [job] = run_queued()
    assert (job.kind, job.state, job.message) == ("bank_return_check", "failed", "上传的文件已失效，请重新选择文件")
    # gone before the confirm: the page says so, no job
    check = preview(client, data)
    stash.unlink()
    page = confirm(client, check)
    assert page.url == "/bank/returns/" and not Job.objects.filter(state="queued").exists()
    assert "上传的文件已失效" in client.get(page.url).content.decode()
    assert snapshot() == before


def test_only_the_uploader_confirms_a_check(client, clerk, run):
    client.force_login(clerk)
    export_icbc(client, run)
    check = preview(client, bank_answer(icbc_file()))
    other = make_user("clerk2", roles=("clerk",))
    client.force_login(other)
    page = client.get(f"/bank/jobs/{check}/").content.decode()
    assert "由上传该文件的经办人确认导入" in page and "confirm-import" not in page
    assert confirm(client, check).url == "/bank/returns/"
    assert not Job.objects.filter(kind="bank_return_import").exists()


def test_job_page_access(client, clerk, run):
    client.force_login(clerk)
    started = client.post("/bank/export/", {**EVERY_BANK, "runs": [run.pk], "confirm": "1"})
    client.force_login(make_user("nobody"))
    assert client.get(started.url).status_code == 403
    client.force_login(clerk)
    payroll_job = Job.objects.create(kind="payroll_compute", title="x", params={}, created_by=clerk)
    assert client.get(f"/bank/jobs/{payroll_job.pk}/").status_code == 404


# --------------------------------------------------------------------------------------------------
# command line


def test_cli_progress_on_stderr_stdout_unchanged(run, tmp_path, capsys):
    out = io.StringIO()
    call_command("bank", "export", str(run.pk), "--template", "standard", "--out", str(tmp_path), "--json",
                 "--as", "clerk1", "--date", "2026-03-18", stdout=out)
    data = json.loads(out.getvalue())
    files = list(BankFile.objects.order_by("batch_no"))
    assert [(f["batch_no"], f["count"], f["total"]) for f in data["files"]] == [
        ("20260318ABC001", 1, "300.00"), ("20260318ICBC001", 2, "1200.50")]
    assert data["total"] == "1500.50"
    for f in files:  # written after the commit
        assert (tmp_path / f.file_name).read_bytes() == bytes(f.content)
    err = capsys.readouterr().err
    assert "锁定结算批次，读取待发明细" in err and "生成并保存报盘文件" in err and "已生成报盘文件" in err
    answer = tmp_path / "answer.txt"
    answer.write_bytes(bank_answer(icbc_file(), {seq_of("赵六"): "账号不存在"}))
    out = io.StringIO()
    call_command("bank", "import-return", str(answer), "--as", "clerk1", stdout=out)
    rf = ReturnFile.objects.get()
    assert out.getvalue().strip() == f"回盘 #{rf.pk}（批次 20260318ICBC001）：成功 1 笔 1000.00，失败 1 笔 200.50"
    assert "逐笔核对报盘明细" in capsys.readouterr().err and answer.exists()


def test_cli_refused_return_json_names_each_line(run, tmp_path):
    call_command("bank", "export", str(run.pk), "--template", "standard", "--out", str(tmp_path), "--as", "clerk1",
                 "--date", "2026-03-18", stdout=io.StringIO())
    bad = tmp_path / "bad.txt"
    bad.write_bytes(bank_answer(icbc_file()).replace(b"|1000.00|1000.00|", b"|1000.00|999.00|"))
    out = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("bank", "import-return", str(bad), "--as", "clerk1", "--json", stdout=out)
    assert exc.value.returncode == 2
    data = json.loads(out.getvalue())
    assert data["refused"] is True and data["errors"] == [
        {"line": 1, "reason": "汇总行成功金额 1200.50 与明细合计 1199.50 不符"},
        {"line": seq_of("王五") + 1, "reason": "处理成功但实处理金额 999.00 与应处理金额 1000.00 不符"}]
    assert not ReturnFile.objects.exists()
