"""Inspection: each check with threshold and status; a stale backup and a broken audit chain are flagged
异常; the command (text, --json, --out, PDF), the daily schedule, the page and its history."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from shebao.common.audit import audit_record
from shebao.common.periodic import periodic_run
from shebao.ops.inspection import inspection_run
from shebao.ops.models import Backup, Inspection

pytestmark = pytest.mark.django_db

KEYS = {"db_size", "db_growth", "largest_tables", "connections", "long_queries", "cache_hit", "disk_free",
        "backup_age", "failed_logins", "locked_accounts", "rate_limits", "failed_jobs", "links", "audit_chain",
        "app_errors"}


def _items(report):
    return {i["key"]: i for i in report.items}


def _fresh_backup(hours: float):
    at = timezone.now() - dt.timedelta(hours=hours)
    return Backup.objects.create(started_at=at, finished_at=at, status="ok", file_name="x.dump", size=10)


def test_every_check_has_value_threshold_and_status():
    _fresh_backup(2)
    report = inspection_run()
    items = _items(report)
    assert set(items) >= KEYS
    for item in report.items:
        assert item["status"] in ("正常", "警告", "异常") and item["threshold"] and item["value"], item
    assert items["backup_age"]["status"] == "正常" and items["backup_age"]["value"] == "2.0 小时前"
    assert items["audit_chain"]["status"] == "正常"
    assert Inspection.objects.get().pk == report.pk


def test_a_stale_backup_is_flagged():
    _fresh_backup(30)
    assert _items(inspection_run())["backup_age"]["status"] == "警告"
    _fresh_backup(60)
    Backup.objects.filter(file_name="x.dump", started_at__gt=timezone.now() - dt.timedelta(hours=40)).delete()
    report = inspection_run()
    item = _items(report)["backup_age"]
    assert (item["status"], item["value"]) == ("异常", "60.0 小时前")
    assert item["threshold"] == "警告 > 26 小时，异常 > 50 小时"
    assert report.level == "error"
    Backup.objects.all().delete()
    assert _items(inspection_run())["backup_age"]["value"] == "没有成功的备份"


def test_a_broken_audit_chain_is_flagged():
    _fresh_backup(1)
    events = [audit_record(user=None, action="test", object_type="test", summary=f"事件 {i}") for i in range(3)]
    assert _items(inspection_run())["audit_chain"]["status"] == "正常"
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE common_auditevent DISABLE TRIGGER audit_no_update")
        cursor.execute("UPDATE common_auditevent SET summary = 'tampered' WHERE id = %s", [events[1].pk])
        cursor.execute("ALTER TABLE common_auditevent ENABLE TRIGGER audit_no_update")
    report = inspection_run()
    item = _items(report)["audit_chain"]
    assert (item["status"], item["value"]) == ("异常", "未通过")
    assert f"第 {events[1].pk} 条记录的内容与其哈希不符" in item["detail"]
    assert report.level == "error"


def test_locked_accounts_failed_jobs_and_app_errors_are_counted():
    from shebao.accounts.models import User
    from shebao.accounts.tests.factories import make_user
    from shebao.common.models import PeriodicRun
    from shebao.ops.models import AppError

    User.objects.filter(pk=make_user("locked_one").pk).update(locked_until=timezone.now() + dt.timedelta(minutes=10))
    PeriodicRun.objects.create(name="bank_return_pickup", started_at=timezone.now(), outcome="failed")
    AppError.objects.create(at=timezone.now(), logger="django.request", message="Internal Server Error: /x/")
    items = _items(inspection_run())
    assert (items["locked_accounts"]["status"], items["locked_accounts"]["detail"]) == ("警告", "locked_one")
    assert items["failed_jobs"]["status"] == "警告" and items["failed_jobs"]["detail"] == "bank_return_pickup"
    assert (items["app_errors"]["status"], items["app_errors"]["value"]) == ("警告", "1 次")


def test_command_json_text_and_pdf(tmp_path):
    _fresh_backup(1)
    out = io.StringIO()
    call_command("ops", "inspect", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) >= {"taken_at", "status", "level", "items"}
    assert {"key", "name", "value", "threshold", "status", "level", "detail"} <= set(data["items"][0])
    target = tmp_path / "report.txt"
    call_command("ops", "inspect", "--out", str(target), stdout=io.StringIO())
    text = target.read_text(encoding="utf-8")
    assert text.startswith("巡检报告 ") and "[正常] 审计链校验：完整" in text
    pdf = tmp_path / "report.pdf"
    call_command("ops", "inspect", "--out", str(pdf), stdout=io.StringIO())
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 2000
    assert Inspection.objects.count() == 3


def test_daily_schedule_and_page(client, monkeypatch):
    import shutil

    from shebao.accounts.tests.factories import make_user

    # the conclusion names every item in 异常: the machine's real disk (below 10 % free on a busy CI disk)
    # must not decide it — this test is about the schedule and the page, the disk check has its own
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(1000, 500, 500))
    run = periodic_run("ops_inspection")
    assert run.outcome == "ok" and run.message.startswith("结论：异常（最近一次成功备份")
    client.force_login(make_user("insp_it", roles=("it_admin",)))
    page = client.get(reverse("ops:inspection")).content.decode()
    assert 'id="inspection-data"' in page and "没有成功的备份" in page
    response = client.post(reverse("ops:inspection"))
    assert response.status_code == 302 and Inspection.objects.count() == 2
    report = Inspection.objects.order_by("-id").first()
    pdf = client.get(reverse("ops:inspection_pdf", args=[report.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_a_check_that_fails_is_reported_and_the_others_still_run(monkeypatch):
    from shebao.ops import inspection

    def broken(state):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_here")
        return []

    monkeypatch.setattr(inspection, "CHECKS", [("坏的检查", broken), *inspection.CHECKS])
    _fresh_backup(1)
    report = inspection_run()
    items = _items(report)
    assert (items["broken"]["status"], items["broken"]["value"]) == ("警告", "无法检查")
    assert "no_such_table_here" in items["broken"]["detail"]
    assert items["audit_chain"]["status"] == "正常" and items["backup_age"]["status"] == "正常"
