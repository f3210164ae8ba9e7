"""自管人员 payroll through the bank, in the browser: a clerk computes the month, a reviewer (another
session) approves, the clerk exports with the standard template and downloads the file, the bank's
answer fails one line (账号不存在), the clerk corrects that person's account, re-issues, the reviewer
approves the re-issue, the clerk exports it and imports a return marking it paid — the run ends
已完成 and nothing is left failed and owed. Screenshots of each step go to test-artifacts/.

Compute, approve, export, the return check and the return import run as background jobs: the
Procrastinate worker runs here in a thread (as ``make run`` starts it beside the server), and each
step waits on the job page (htmx polling) until it goes on to the run, the file or the confirm."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from shebao.accounts.services import user_create
from shebao.bank.formats import ReturnRecord, builtin_template
from shebao.benefits.models import Scheme
from shebao.benefits.services import adjustment_create, enrollment_create
from shebao.common.models import Job
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.registry.services import bank_account_set
from shebao.web.tests.helpers import id_number, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Passw0rd!x"
PERIOD = "2026-03"


@pytest.fixture
def worker(live_server):
    """The Procrastinate worker (what ``manage.py procrastinate worker`` runs) in a thread, on the test
    database, for the length of the test."""
    from django.db import connections
    from procrastinate.contrib.django import app

    # the task threads' own Django connections close after each job (CONN_MAX_AGE 0), so none is left
    # open on the test database when the test ends
    conf = connections.settings["default"]
    max_age, conf["CONN_MAX_AGE"] = conf["CONN_MAX_AGE"], 0
    worker_app = app.with_connector(app.connector.get_worker_connector())
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict = {}

    async def main():
        async with worker_app.open_async():
            await worker_app.run_worker_async(wait=True, install_signal_handlers=False, concurrency=1,
                                              fetch_job_polling_interval=0.5, shutdown_graceful_timeout=10)

    def run():
        asyncio.set_event_loop(loop)
        state["task"] = loop.create_task(main())
        ready.set()
        try:
            loop.run_until_complete(state["task"])
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            state["error"] = exc
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="procrastinate-worker", daemon=True)
    thread.start()
    ready.wait(10)
    yield
    loop.call_soon_threadsafe(state["task"].cancel)
    thread.join(15)
    conf["CONN_MAX_AGE"] = max_age
    assert "error" not in state, state.get("error")


def seed():
    zg = Scheme.objects.get(code="ZG")
    clerk = user_create(actor=None, username="jingban", full_name="王经办", password=PASSWORD, roles=["clerk"],
                        all_regions=True, must_change_password=False)
    user_create(actor=None, username="shenhe", full_name="李审核", password=PASSWORD, roles=["reviewer"],
                all_regions=True, must_change_password=False)
    people = [("陈国华", dt.date(1948, 3, 2), "ICBC", "6222021001000000011", {"basic": "2310.00", "extra": "180.00"}),
              ("周美玲", dt.date(1952, 7, 19), "ICBC", "6222021001000000029", {"basic": "1985.50", "extra": "150.00"}),
              ("孙建军", dt.date(1950, 11, 8), "CXRCB", "6230910000000000037", {"basic": "2050.00"})]
    persons = []
    for n, (name, born, bank, account, items) in enumerate(people):
        person = make_person(name, number=id_number(born, male=n != 1, seq=400 + n))
        bank_account_set(user=clerk, person=person, bank=bank, account_number=account, holder_name=name,
                         valid_from=dt.date(2020, 1, 1))
        enrollment = enrollment_create(person=person, scheme=zg, start_month="2025-01", user=clerk, items=items)
        persons.append((person, enrollment))
    adjustment_create(enrollment=persons[2][1], kind="deduction", total="600.00", monthly_cap="200.00",
                      reason="多发追回", source="2025 年重复发放", user=clerk)
    return persons


def bank_return(payment: bytes, failed: dict[str, str]) -> bytes:
    """The bank's answer to a standard payment file: every line paid except those whose holder is in
    ``failed`` (holder name → reason), in the standard return layout."""
    template = builtin_template("standard")
    parsed = template.parse_payment(payment)
    records = [ReturnRecord(seq=ln.seq, account_no=ln.account_no, holder_name=ln.holder_name, amount=ln.amount,
                            processed_amount=Decimal("0.00") if ln.holder_name in failed else ln.amount,
                            ok=ln.holder_name not in failed, reason=failed.get(ln.holder_name, ""))
               for ln in parsed.lines]
    return template.render_return(batch_no=parsed.batch_no, date=dt.date(2026, 3, 25), records=records)


def export_and_download(page, ui, run_id: int, prefix: str) -> bytes:
    from playwright.sync_api import expect

    page.goto(f"{ui.base_url}/payroll/{run_id}/")
    page.click("#btn-export")
    expect(page.locator(f"#run-{run_id}")).to_be_checked()
    page.click("#export-next")
    expect(page.locator(".confirm-box")).to_contain_text("请确认")
    ui.shot(page, f"{prefix}-export-confirm")
    page.click("#confirm-export")
    expect(page.locator(".messages")).to_contain_text("已生成报盘文件")
    ui.shot(page, f"{prefix}-file")
    if page.locator("#tbl-run-files").count():  # several files: the run's summary of them (issue 17)
        expect(page.locator("#run-files-summary")).to_contain_text("未回盘")
        page.click("#tbl-run-files tbody tr:first-child a")
    with page.expect_download() as info:
        page.click("#download-file")
    return Path(info.value.path()).read_bytes()


def upload_return(page, ui, data: bytes, name: str, tmp_path, prefix: str) -> None:
    from playwright.sync_api import expect

    path = tmp_path / name
    path.write_bytes(data)
    page.goto(f"{ui.base_url}/bank/returns/")
    page.set_input_files("input[type=file]", str(path))
    page.click("#upload-next")
    # the whole-file check runs as a job; its page ends with the confirm step
    expect(page.locator(".confirm-box")).to_contain_text("请确认")
    expect(page).to_have_url(re.compile(r"/bank/jobs/\d+/$"))
    expect(page.locator("#job-state")).to_have_text("已完成")
    ui.shot(page, f"{prefix}-return-confirm")
    page.click("#confirm-import")
    expect(page.locator(".messages")).to_contain_text("已导入回盘")
    ui.shot(page, f"{prefix}-return-imported")


def test_compute_approve_export_return_reissue_until_paid(ui, worker, tmp_path):
    from playwright.sync_api import expect

    persons = seed()
    failing = persons[1][0]  # 周美玲: the bank answers 账号不存在

    # 1. the clerk computes the month: a confirm step, then the run
    clerk = ui.login("jingban", PASSWORD)
    clerk.goto(f"{ui.base_url}/payroll/compute/")
    clerk.select_option("select[name=scheme]", "ZG")
    clerk.fill("input[name=period]", PERIOD)
    clerk.click("form.form button[type=submit]")
    expect(clerk.locator(".confirm-box")).to_contain_text("在册 3 人")
    ui.shot(clerk, "flow-01-compute-confirm")
    clerk.click("#confirm-compute")
    expect(clerk.locator(".messages")).to_contain_text("3 笔，应发 6,675.50 元，扣减 200.00 元，实发 6,475.50 元")
    run = PayrollRun.objects.get(kind="regular")
    expect(clerk.locator("ol.steps li.current")).to_contain_text("已计算")
    ui.shot(clerk, "flow-02-run-computed")
    # why is 孙建军's amount what it is
    clerk.click("text=孙建军")
    expect(clerk.locator("main")).to_contain_text("多发追回")
    expect(clerk.locator("main")).to_contain_text("1,850.00")
    ui.shot(clerk, "flow-03-line-explained")

    # 2. the reviewer, in another session, sees it waiting and approves
    reviewer = ui.login("shenhe", PASSWORD)
    expect(reviewer.locator(".work-items")).to_contain_text("待审核的结算批次")
    ui.shot(reviewer, "flow-04-reviewer-home")
    reviewer.goto(f"{ui.base_url}/payroll/{run.pk}/")
    reviewer.click("#btn-approve")
    expect(reviewer.locator(".confirm-box")).to_contain_text("6,475.50")
    reviewer.click("#confirm-action")
    expect(reviewer.locator(".messages")).to_contain_text("已审核")
    expect(reviewer.locator("ol.steps li.current")).to_contain_text("已审核")
    ui.shot(reviewer, "flow-05-approved")

    # 3. the clerk exports with the standard template (one file per bank) and downloads it
    clerk.goto(f"{ui.base_url}/bank/export/?run={run.pk}")
    expect(clerk.locator("select[name=template]")).to_have_value("standard")
    downloaded = export_and_download(clerk, ui, run.pk, "flow-06")
    files = {f.bank: f for f in run_files(run)}
    assert set(files) == {"ICBC", "CXRCB"}  # one file per bank
    assert downloaded in (bytes(files["ICBC"].content), bytes(files["CXRCB"].content))
    payment = {}
    for bank, f in files.items():  # each file's bytes as the page offers them
        clerk.goto(f"{ui.base_url}/bank/files/{f.pk}/")
        with clerk.expect_download() as info:
            clerk.click("#download-file")
        payment[bank] = Path(info.value.path()).read_bytes()
        assert payment[bank] == bytes(f.content)
        assert payment[bank].decode("gb18030").startswith(f"H|{f.batch_no}|{f.line_count}|")
    assert "周美玲" in payment["ICBC"].decode("gb18030")

    # 4. the bank's answers: 周美玲 fails (账号不存在), the rest paid
    upload_return(clerk, ui, bank_return(payment["ICBC"], {"周美玲": "账号不存在"}), "icbc-return.txt", tmp_path,
                  "flow-07")
    expect(clerk.locator("main")).to_contain_text("账号不存在")
    upload_return(clerk, ui, bank_return(payment["CXRCB"], {}), "cxrcb-return.txt", tmp_path, "flow-08")
    clerk.goto(f"{ui.base_url}/bank/failed/")
    expect(clerk.locator("#tbl-failed-results")).to_contain_text("周美玲")
    expect(clerk.locator("#tbl-failed-results")).to_contain_text("账号不存在")
    expect(clerk.locator("#tbl-failed-results")).to_contain_text("未变更")
    ui.shot(clerk, "flow-09-failed-owed")

    # 5. correct her account on the person page, then re-issue
    clerk.click("#tbl-failed-results >> text=更正账户")
    expect(clerk).to_have_url(f"{ui.base_url}/persons/{failing.pk}/")
    clerk.click("main .page-actions >> text=变更支付账户")
    clerk.select_option("select[name=bank]", "ABC")
    clerk.fill("input[name=account_number]", "6228480329000000015")
    clerk.fill("input[name=holder_name]", "周美玲")
    clerk.fill("textarea[name=reason]", "银行回盘：账号不存在，本人提供新卡")
    ui.shot(clerk, "flow-10-account-change")
    clerk.click("form.form button[type=submit]")
    expect(clerk.locator(".messages")).to_contain_text("已变更 周美玲 的支付账户")
    clerk.goto(f"{ui.base_url}/bank/failed/")
    expect(clerk.locator("#tbl-failed-results")).not_to_contain_text("未变更")
    clerk.click("#tbl-failed-results >> text=二次报盘")
    expect(clerk.locator(".confirm-box")).to_contain_text("1 笔失败明细")
    ui.shot(clerk, "flow-11-reissue-confirm")
    clerk.click("#confirm-action")
    expect(clerk.locator(".messages")).to_contain_text("已生成二次报盘批次")
    reissue = PayrollRun.objects.get(kind="reissue")
    line = PayrollLine.objects.get(run=reissue)
    assert (line.account_number, line.bank, line.net) == ("6228480329000000015", "ABC", Decimal("2135.50"))
    ui.shot(clerk, "flow-12-reissue-run")

    # 6. the reviewer approves the re-issue; the clerk exports it and the bank pays it
    reviewer.goto(f"{ui.base_url}/payroll/{reissue.pk}/")
    reviewer.click("#btn-approve")
    reviewer.click("#confirm-action")
    expect(reviewer.locator(".messages")).to_contain_text("已审核")
    again = export_and_download(clerk, ui, reissue.pk, "flow-13")
    assert "6228480329000000015" in again.decode("gb18030")
    upload_return(clerk, ui, bank_return(again, {}), "abc-return.txt", tmp_path, "flow-14")

    # 7. everything paid: the run is 已完成, nothing failed and owed
    clerk.goto(f"{ui.base_url}/payroll/{run.pk}/")
    expect(clerk.locator("ol.steps li.current")).to_contain_text("已完成")
    ui.shot(clerk, "flow-15-run-completed", full_page=True)
    clerk.goto(f"{ui.base_url}/bank/failed/")
    expect(clerk.locator("#tbl-failed-results")).to_contain_text("共 0 条")
    ui.shot(clerk, "flow-16-failed-empty")
    clerk.goto(f"{ui.base_url}/payroll/stats/?scheme=ZG")
    expect(clerk.locator("table.stats")).to_contain_text(PERIOD)
    clerk.wait_for_timeout(300)
    ui.shot(clerk, "flow-17-stats")
    run.refresh_from_db()
    reissue.refresh_from_db()
    assert (run.state, reissue.state) == ("completed", "completed")
    assert not PayrollLine.objects.filter(status="failed").exists()
    # every one of these steps went through the worker
    assert sorted(set(Job.objects.values_list("kind", "state"))) == [
        ("bank_export", "done"), ("bank_return_check", "done"), ("bank_return_import", "done"),
        ("payroll_approve", "done"), ("payroll_compute", "done")]
    assert Job.objects.filter(kind="bank_return_import").count() == 3


def run_files(run):
    from shebao.bank.models import BankFile

    return list(BankFile.objects.filter(runs=run))
