"""Bank pages: export with a confirm step and the kept bytes for download, files list masked in the
export, return import (refusal names the line and changes nothing; success counts; the same file
twice), return lines, failed-and-owed with its actions, templates, permissions."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from shebao.bank.models import BankFile, ReturnFile, ReturnLine
from shebao.bank.tests.helpers import bank_answer
from shebao.payroll.models import PayrollLine
from shebao.payroll.tests.helpers import make_user, once, run_queued, watched

pytestmark = pytest.mark.django_db


def export(client, data: dict):
    """Confirm an export on the page, let the worker run the job, watch the job page to its end."""
    started = client.post("/bank/export/", {**data, "confirm": "1"})
    assert started.status_code == 302 and started.url.startswith("/bank/jobs/"), started
    run_queued()
    return watched(client, started.url)


def export_icbc(client, run):
    """Export every bank of the run (one file per bank); the ICBC file is the one the tests answer."""
    return export(client, {"bank": "*", "template": "standard", "runs": [run.pk]})


def icbc_file():
    return BankFile.objects.get(bank="ICBC")


def seq_of(name: str) -> int:
    """A person's sequence number in the ICBC file (lines are in 身份证号 order, which the factory varies)."""
    return icbc_file().lines.get(name=name).seq


def upload(client, data: bytes, name="return.txt"):
    """Upload (the whole-file check runs as a job), then confirm on the check's page (the import runs
    as a job): what a clerk does. → the last page shown."""
    started = client.post("/bank/returns/", {"file": SimpleUploadedFile(name, data)})
    if not started.url.startswith("/bank/jobs/"):  # the same file imported before: said on the list page
        return client.get(started.url)
    run_queued()
    checked = watched(client, started.url)
    if "confirm-import" not in checked.content.decode():  # refused by the check
        return checked
    confirmed = client.post("/bank/returns/", {"confirm": "1", "job": started.url.split("/")[-2]})
    assert confirmed.status_code == 302 and confirmed.url.startswith("/bank/jobs/"), confirmed
    run_queued()
    return watched(client, confirmed.url)


def test_export_confirm_then_file_and_download(client, clerk, run):
    client.force_login(clerk)
    page = client.get(f"/bank/export/?run={run.pk}").content.decode()
    assert "中国工商银行" in page and "中国农业银行" in page  # the bank choice
    confirm = client.post("/bank/export/", {"bank": "ICBC", "template": "standard", "runs": [run.pk]}).content.decode()
    assert "请确认" in confirm and "共 <strong>2</strong> 笔，合计 <strong>1,200.50</strong> 元" in confirm
    everything = client.post("/bank/export/", {"bank": "*", "template": "standard", "runs": [run.pk]}).content.decode()
    assert "共 <strong>3</strong> 笔，合计 <strong>1,500.50</strong> 元" in everything
    assert not BankFile.objects.exists()
    done = export(client, {"bank": "ICBC", "template": "standard", "runs": [run.pk]})
    f = BankFile.objects.get()
    text = done.content.decode()
    assert done.request["PATH_INFO"] == f"/bank/files/{f.pk}/"
    assert "已生成报盘文件" in text and f.batch_no in text and "2 笔，1,200.50 元" in text
    assert "6222********1111" in text and "6222020000001111" not in text
    download = client.get(f"/bank/files/{f.pk}/download/")
    assert download.content == bytes(f.content)
    assert f.batch_no in download["Content-Disposition"]
    assert download.content.decode("gb18030").startswith(f"H|{f.batch_no}|2|1200.50|")
    # ICBC sent; the run waits for its ABC lines before it is 已报盘
    run.refresh_from_db()
    assert run.state == "approved"
    export(client, {"bank": "ABC", "template": "standard", "runs": [run.pk]})
    run.refresh_from_db()
    assert run.state == "exported" and BankFile.objects.count() == 2


def test_files_list_export_masked(client, clerk, reviewer, run):
    client.force_login(clerk)
    export_icbc(client, run)
    f = icbc_file()
    client.force_login(reviewer)
    text = client.get(f"/bank/?run={run.pk}").content.decode()
    assert f.batch_no in text and "1,200.50" in text and "共 2 条" in text
    lines = client.get(f"/bank/files/{f.pk}/?export=xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(lines.streaming_content)))
    cells = [str(c.value) for row in wb.active.iter_rows() for c in row]
    assert "6222********1111" in cells and "6222020000001111" not in cells
    # the sent values (read from the payroll lines) under their labels, on the page and in the export
    heads = ["序号", "姓名", "身份证号", "银行账号", "户名", "金额"]
    assert [c.value for c in next(wb.active.iter_rows(max_row=1))][:6] == heads
    page = client.get(f"/bank/files/{f.pk}/").content.decode()
    assert all(f">{h}" in page for h in heads) and ">holder_name<" not in page and ">amount<" not in page
    # reviewers read but do not export
    assert client.get("/bank/export/").status_code == 403


def test_return_refused_names_line_and_changes_nothing(client, clerk, run):
    client.force_login(clerk)
    export_icbc(client, run)
    f = icbc_file()
    good = bank_answer(f, {seq_of("赵六"): "账号不存在"})
    bad = good.replace(b"|1000.00|1000.00|0|", b"|1000.00|999.00|0|")
    page = upload(client, bad).content.decode()
    assert "回盘文件被拒绝" in page and f"第{seq_of('王五') + 1}行" in page and "未做任何更改" in page
    assert not ReturnFile.objects.exists() and not ReturnLine.objects.exists()
    assert set(PayrollLine.objects.filter(run=run, bank="ICBC").values_list("status", flat=True)) == {"sent"}
    unknown = good.replace(f.batch_no.encode(), b"20990101ICBC999")
    assert "未知批次" in upload(client, unknown).content.decode()
    assert not ReturnFile.objects.exists()


def test_return_imported_then_same_file_again(client, clerk, run):
    client.force_login(clerk)
    export_icbc(client, run)
    f = icbc_file()
    data = bank_answer(f, {seq_of("赵六"): "账号不存在"})
    started = client.post("/bank/returns/", {"file": SimpleUploadedFile("r.txt", data)})
    run_queued()
    preview = watched(client, started.url).content.decode()
    assert "请确认" in preview and "账号不存在" in preview and not ReturnFile.objects.exists()
    assert "成功<b>1 笔</b>1,000.00 元" in preview and "失败<b>1 笔</b>200.50 元" in preview
    page = upload(client, data, "r.txt").content.decode()
    rf = ReturnFile.objects.get()
    assert "已导入回盘" in page and "成功 1 笔 1000.00，失败 1 笔 200.50" in page
    assert (rf.ok_count, rf.failed_count) == (1, 1)
    failed = PayrollLine.objects.get(run=run, status="failed")
    assert failed.fail_reason == "账号不存在"
    again = upload(client, data, "r.txt").content.decode()
    assert "已于" in again and "本次未做任何更改" in again
    assert ReturnFile.objects.count() == 1
    # return lines query with filters
    lines = client.get("/bank/lines/?ok=False").content.decode()
    assert "账号不存在" in lines and "共 1 条" in lines


def test_failed_owed_list_actions(client, clerk, reviewer, run):
    client.force_login(clerk)
    export_icbc(client, run)
    upload(client, bank_answer(icbc_file(), {seq_of("赵六"): "账号不存在"}))
    failed = PayrollLine.objects.get(run=run, status="failed")
    text = client.get("/bank/failed/").content.decode()
    assert "账号不存在" in text and "更正账户" in text and f"/persons/{failed.person_id}/" in text
    assert f"/payroll/{run.pk}/reissue/" in text and "write-off" not in text  # clerks don't write off
    assert "未变更" in text and "6222********2222" in text
    client.force_login(reviewer)
    text = client.get("/bank/failed/").content.decode()
    assert f"/payroll/lines/{failed.pk}/write-off/" in text
    assert "银行发放失败待处理" in client.get("/").content.decode()
    client.post(f"/payroll/lines/{failed.pk}/write-off/", {"reason": "查无此人", "next": "/bank/failed/", **once()})
    assert "共 0 条" in client.get("/bank/failed/").content.decode()


def test_templates_page_and_permissions(client, clerk):
    client.force_login(clerk)
    text = client.get("/bank/templates/").content.decode()
    assert "standard" in text and "GB18030" in text and "account_no" in text
    nobody = make_user("nobody")
    client.force_login(nobody)
    for url in ("/bank/", "/bank/returns/", "/bank/lines/", "/bank/failed/", "/bank/templates/"):
        assert client.get(url).status_code == 403, url
