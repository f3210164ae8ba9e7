"""Payroll pages: who may see and do what, the confirm steps, masking on the page and in the export,
maker-checker refused through the page, one-off, re-issue and write-off, month-end statistics."""

from __future__ import annotations

import io
from decimal import Decimal as D

import openpyxl
import pytest

from shebao.benefits.services import adjustment_create
from shebao.benefits.tests.factories import zg
from shebao.common.models import Job
from shebao.payroll.models import MonthEndSnapshot, PayrollLine, PayrollRun
from shebao.payroll.services import (
    payroll_lines_apply_results,
    payroll_run_approve,
    payroll_run_compute,
    payroll_run_mark_exported,
)
from shebao.payroll.tests.helpers import ACCOUNT, make_user, once, run_queued, watched

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(db):
    return make_user("fin1", roles=("finance",))


def login(client, user):
    client.force_login(user)
    return client


def test_pages_need_a_role(client, people):
    nobody = make_user("nobody")
    login(client, nobody)
    assert client.get("/payroll/").status_code == 403
    assert client.get("/payroll/stats/").status_code == 403
    client.logout()
    assert client.get("/payroll/").status_code == 302  # to the login page


def test_compute_confirm_then_result(client, clerk, people):
    login(client, clerk)
    page = client.get("/payroll/compute/")
    assert "计算月度结算" in page.content.decode()
    confirm = client.post("/payroll/compute/", {"scheme": "ZG", "period": "2026-03"})
    text = confirm.content.decode()
    assert "请确认" in text and "在册 <strong>2</strong> 人" in text
    assert not PayrollRun.objects.exists()  # the confirm step writes nothing
    started = client.post("/payroll/compute/", {"scheme": "ZG", "period": "2026-03", "confirm": "1"})
    job = Job.objects.get()
    assert started.url == f"/payroll/jobs/{job.pk}/" and job.params["scheme"] == "ZG"
    assert "排队中" in client.get(started.url).content.decode()
    assert not PayrollRun.objects.exists()  # the job has not run yet
    run_queued()
    done = watched(client, started.url)
    run = PayrollRun.objects.get()
    assert done.request["PATH_INFO"] == f"/payroll/{run.pk}/"
    text = done.content.decode()
    # gross 2150 + 2150, deduction 100 (the monthly cap) → net 4200
    assert "已计算" in text and "2 笔，应发 4,300.00 元，扣减 100.00 元，实发 4,200.00 元" in text
    assert "已计算" in text and "已审核" in text  # the state track
    # a second regular run is refused on the form, with a link to the one there is
    again = client.post("/payroll/compute/", {"scheme": "ZG", "period": "2026-03"})
    assert "月度结算已存在" in again.content.decode()
    assert PayrollRun.objects.count() == 1


def test_finance_reads_but_cannot_compute_or_approve(client, clerk, finance, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    login(client, finance)
    assert client.get("/payroll/").status_code == 200
    detail = client.get(f"/payroll/{run.pk}/").content.decode()
    assert "张三" in detail and "btn-approve" not in detail and "重新计算" not in detail
    assert client.get("/payroll/compute/").status_code == 403
    assert client.post(f"/payroll/{run.pk}/approve/", {"confirm": "1"}).status_code == 403
    assert client.post(f"/payroll/{run.pk}/recompute/", {"confirm": "1"}).status_code == 403
    run.refresh_from_db()
    assert run.state == "computed"


def test_lines_masked_on_page_and_in_export(client, clerk, reviewer, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    a = people[0]
    login(client, reviewer)
    text = client.get(f"/payroll/{run.pk}/").content.decode()
    assert a.id_number not in text and ACCOUNT not in text
    assert a.id_number[:6] + "********" + a.id_number[-4:] in text
    assert "6222********7890" in text
    export = client.get(f"/payroll/{run.pk}/?export=xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content)))
    cells = [str(c.value) for row in wb.active.iter_rows() for c in row]
    assert "6222********7890" in cells and ACCOUNT not in cells and a.id_number not in cells
    # with the sensitive-data right the numbers are whole
    seer = make_user("seer", "accounts.view_sensitive", roles=("reviewer",))
    login(client, seer)
    assert ACCOUNT in client.get(f"/payroll/{run.pk}/").content.decode()


def test_same_user_approve_refused_through_the_page(client, people):
    both = make_user("both", roles=("clerk", "reviewer"))
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=both)
    login(client, both)
    confirm = client.get(f"/payroll/{run.pk}/approve/").content.decode()
    assert "审核人不能与经办人为同一人" in confirm
    started = client.post(f"/payroll/{run.pk}/approve/", {"confirm": "1"})
    [job] = run_queued()
    assert (job.kind, job.state, job.message) == ("payroll_approve", "failed", "审核被拒绝：审核人不能与经办人为同一人")
    page = watched(client, started.url).content.decode()
    assert "审核被拒绝：审核人不能与经办人为同一人" in page
    assert "结算批次未做任何更改（已计算，2 笔，应发 4,300.00 元，扣减 100.00 元，实发 4,200.00 元）" in page
    run.refresh_from_db()
    assert run.state == "computed" and run.approved_by is None


def test_approve_by_reviewer(client, clerk, reviewer, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    login(client, reviewer)
    assert "确认审核通过" in client.get(f"/payroll/{run.pk}/approve/").content.decode()
    started = client.post(f"/payroll/{run.pk}/approve/", {"confirm": "1"})
    run_queued()
    page = watched(client, started.url)
    assert page.request["PATH_INFO"] == f"/payroll/{run.pk}/"
    text = page.content.decode()
    assert f"已审核 月度结算 2026-03 #{run.pk}：2 笔，应发 4,300.00 元，扣减 100.00 元，实发 4,200.00 元。可以生成报盘文件了。" in text
    run.refresh_from_db()
    assert (run.state, run.approved_by) == ("approved", reviewer)
    # approved: no recompute any more
    login(client, clerk)
    started = client.post(f"/payroll/{run.pk}/recompute/", {"confirm": "1"})
    [job] = run_queued()
    assert job.state == "failed" and "已审核，不能重新计算" in job.message
    page = watched(client, started.url).content.decode()
    assert "已审核，不能重新计算" in page and "结算批次未做任何更改" in page


def test_recompute_while_computed(client, clerk, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    a = people[0]
    adjustment_create(enrollment=a.enrollments.get(), kind="arrears", total="50.00", reason="补发调资", user=clerk)
    login(client, clerk)
    assert "确认重新计算" in client.get(f"/payroll/{run.pk}/recompute/").content.decode()
    started = client.post(f"/payroll/{run.pk}/recompute/", {"confirm": "1"})
    run_queued()
    page = watched(client, started.url).content.decode()
    assert "实发 4,200.00 元 → 2 笔，应发 4,350.00 元，扣减 100.00 元，实发 4,250.00 元" in page


def test_line_explained(client, clerk, reviewer, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    line = PayrollLine.objects.get(run=run, person=people[1])
    login(client, reviewer)
    text = client.get(f"/payroll/lines/{line.pk}/").content.decode()
    assert "为什么是这个金额" in text
    for part in ("基本养老金", "2,000.00", "150.00", "扣减", "多发追回", "2025-12 死亡后多发", "300.00", "2,050.00"):
        assert part in text, part
    assert "6228********0002" in text and "6228480000000002" not in text


def _exported(run, clerk, reviewer):
    run = payroll_run_approve(run=run, user=reviewer)
    return payroll_run_mark_exported(run=run, user=clerk)


def test_reissue_and_write_off(client, clerk, reviewer, people):
    run = _exported(payroll_run_compute(scheme=zg(), period="2026-03", user=clerk), clerk, reviewer)
    la, lb = PayrollLine.objects.filter(run=run).order_by("seq")
    payroll_lines_apply_results(run=run, results=[(la.pk, D("0"), False, "账号不存在"), (lb.pk, lb.net, True, "")],
                                user=clerk)
    login(client, clerk)
    detail = client.get(f"/payroll/{run.pk}/").content.decode()
    assert "btn-reissue" in detail and "失败待发 1 笔" in detail
    confirm = client.get(f"/payroll/{run.pk}/reissue/").content.decode()
    assert "账号不存在" in confirm and "账户未变更" in confirm and "2,150.00" in confirm
    page = client.post(f"/payroll/{run.pk}/reissue/", {"confirm": "1", **once()}, follow=True).content.decode()
    new = PayrollRun.objects.get(kind="reissue")
    assert f"已生成二次报盘批次 {new.pk}" in page and "仍发往原失败账户" in page
    # the reissue fails again; a clerk cannot write off, a reviewer can, with a reason
    new = _exported(new, clerk, reviewer)
    (ln,) = PayrollLine.objects.filter(run=new)
    payroll_lines_apply_results(run=new, results=[(ln.pk, D("0"), False, "已销户")], user=clerk)
    assert client.post(f"/payroll/lines/{ln.pk}/write-off/", {"reason": "x"}).status_code == 403
    login(client, reviewer)
    empty = client.post(f"/payroll/lines/{ln.pk}/write-off/", {"reason": ""}).content.decode()
    assert "这个字段是必填项" in empty or "必填" in empty
    page = client.post(f"/payroll/lines/{ln.pk}/write-off/", {"reason": "本人死亡，无继承人", **once()},
                       follow=True).content.decode()
    assert "已核销 张三 2,150.00 元" in page
    ln.refresh_from_db()
    assert (ln.status, ln.write_off_reason, ln.written_off_by) == ("written_off", "本人死亡，无继承人", reviewer)


def test_oneoff_confirm_and_create(client, clerk, people):
    a, b = people
    login(client, clerk)
    found = client.get("/payroll/oneoff/search/", {"q": "张三"}).content.decode()
    assert f'data-id="{a.pk}"' in found and a.id_number not in found
    data = {"scheme": "ZG", "period": "2026-04", "note": "慰问金", "person": [a.pk, b.pk],
            "amount": ["500.00", "12.5"], "memo": ["高温慰问", ""]}
    confirm = client.post("/payroll/oneoff/", data).content.decode()
    assert "请确认" in confirm and "<strong>2</strong> 人，合计 <strong>512.50</strong> 元" in confirm
    assert not PayrollRun.objects.exists()
    bad = client.post("/payroll/oneoff/", {**data, "amount": ["500.001", "-1"]}).content.decode()
    assert "应为大于 0 的两位小数" in bad
    page = client.post("/payroll/oneoff/", {**data, "confirm": "1", **once()}, follow=True).content.decode()
    run = PayrollRun.objects.get(kind="one_off")
    assert f"已生成零星发放批次 {run.pk}" in page and run.net == D("512.50")
    assert run.created_by == clerk


def test_stats_page_chart_and_export(client, clerk, reviewer, people):
    run = _exported(payroll_run_compute(scheme=zg(), period="2026-03", user=clerk), clerk, reviewer)
    lines = list(PayrollLine.objects.filter(run=run).order_by("seq"))
    payroll_lines_apply_results(run=run, results=[(ln.pk, ln.net, True, "") for ln in lines], user=clerk)
    assert MonthEndSnapshot.objects.filter(period="2026-03-01").exists()
    login(client, reviewer)
    text = client.get("/payroll/stats/?scheme=ZG").content.decode()
    assert "stats-chart" in text and "chart-4.6.1.umd.min.js" in text and "2026-03" in text
    assert "4,200.00" in text and "基本养老金" in text
    export = client.get("/payroll/stats/?scheme=ZG&export=xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content)))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][0] == "年月" and rows[1][0] == "2026-03" and rows[1][1] == 2
    assert D(str(rows[1][rows[0].index("实付")])) == D("4200.00")


def test_run_list_filters_and_work_items(client, clerk, reviewer, people):
    run = payroll_run_compute(scheme=zg(), period="2026-03", user=clerk)
    login(client, reviewer)
    text = client.get("/payroll/?state=computed&period=2026-03").content.decode()
    assert f'href="/payroll/{run.pk}/"' in text and "共 1 条" in text
    assert "共 0 条" in client.get("/payroll/?state=approved").content.decode()
    assert "格式不正确" in client.get("/payroll/?period=2026-13").content.decode()
    home = client.get("/").content.decode()
    assert "待审核的结算批次" in home
    login(client, clerk)
    assert "待审核的结算批次" not in client.get("/").content.decode()


def test_the_old_clerk_marker_no_longer_opens_payroll(client, people):
    """Payroll has its own permissions: registering persons (the old clerk marker) is not 结算."""
    registrar = make_user("registrar", "registry.add_person")
    login(client, registrar)
    assert client.get("/payroll/").status_code == 403
    assert client.get("/payroll/compute/").status_code == 403

