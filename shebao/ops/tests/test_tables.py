"""Every ops list sorts, filters and exports through ``shebao.web.tables`` (the one safe writer): link
targets, probes (all and a target's), a target's incidents, alerts, channels, inspection history,
audit archives, rate-limit trips, locked accounts and failed logins."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from shebao.ops.models import (
    Alert,
    AlertChannel,
    AuditArchive,
    Incident,
    Inspection,
    LinkTarget,
    Probe,
    RateWindow,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def it(client):
    from shebao.accounts.tests.factories import make_user

    client.force_login(make_user("tbl_it", roles=("it_admin",)))
    return client


def _sheet(response) -> list[list]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    data = b"".join(response.streaming_content) if response.streaming else response.content
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def _block(response, dom_id: str) -> str:
    """The HTML of one table block (filters, rows) of a page."""
    page = response.content.decode()
    start = page.index(f'id="{dom_id}"')
    return page[start:page.index("</table>", start)]


@pytest.fixture
def world():
    now = timezone.now()
    a = LinkTarget.objects.create(name="省专线", owner="province", kind="tcp", host="10.1.1.1", port=8080,
                                  state="up", last_latency_ms=12)
    b = LinkTarget.objects.create(name="宁波网关", owner="ningbo", kind="http", url="https://nb.example/health",
                                  state="down", last_latency_ms=None)
    for i in range(4):  # a: 3 of 4 good in 24 h
        Probe.objects.create(target=a, at=now - dt.timedelta(minutes=i), ok=i != 0, latency_ms=10 + i,
                             stage="" if i else "tcp", message="已连接" if i else "无法连接 10.1.1.1:8080：超时")
    Probe.objects.create(target=a, at=now - dt.timedelta(days=3), ok=False, stage="tcp", message="三天前的失败")
    Probe.objects.create(target=b, at=now, ok=False, stage="http", status_code=502, message="HTTP 状态 502，期望 200")
    incident = Incident.objects.create(target=b, opened_at=now, first_failure_at=now - dt.timedelta(minutes=2),
                                       stage="http", message="HTTP 状态 502")
    old = Incident.objects.create(target=a, opened_at=now - dt.timedelta(days=2),
                                  first_failure_at=now - dt.timedelta(days=2, minutes=3),
                                  closed_at=now - dt.timedelta(days=2) + dt.timedelta(minutes=30), stage="tcp",
                                  message="专线中断")
    channel = AlertChannel.objects.create(name="值班短信", kind="webhook", address="http://127.0.0.1:9/sms")
    AlertChannel.objects.create(name="信息科邮箱", kind="email", address="it@example.org", active=False)
    Alert.objects.create(incident=incident, at=now, event="open", ok=True, message="【链路中断】宁波网关")
    Alert.objects.create(incident=incident, channel=channel, at=now, event="open", ok=False, message="短信网关无应答")
    Alert.objects.create(incident=old, at=now - dt.timedelta(days=2), event="close", ok=True, message="【链路恢复】省专线")
    return {"a": a, "b": b, "incident": incident, "old": old}


def test_targets_table_filters_sorts_and_exports_the_uptime(it, world):
    page = _block(it.get(reverse("ops:links"), {"owner": "ningbo"}), "tbl-targets")
    assert "宁波网关" in page and "省专线" not in page
    page = _block(it.get(reverse("ops:links"), {"q": "10.1.1"}), "tbl-targets")
    assert "省专线" in page and "宁波网关" not in page and "75.00%" in page
    page = _block(it.get(reverse("ops:links"), {"sort": "-name"}), "tbl-targets")
    assert page.index("省专线") < page.index("宁波网关")  # 省 (sheng) after 宁 (ning) in pinyin: descending
    rows = _sheet(it.get(reverse("ops:links"), {"export": "xlsx", "sort": "name"}))
    assert rows[0][:5] == ["名称", "归属", "方式", "地址", "状态"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["省专线"][3] == "10.1.1.1:8080" and by_name["省专线"][8] == 75.0
    assert by_name["宁波网关"][3] == "https://nb.example/health" and by_name["宁波网关"][4] == "中断"
    assert by_name["宁波网关"][8] == 0.0  # its one probe in 24 h failed
    bad = _block(it.get(reverse("ops:links"), {"state": "bogus"}), "tbl-targets")
    assert "没有“bogus”这一选项" in bad


def test_probes_page_and_a_targets_probes(it, world):
    page = _block(it.get(reverse("ops:probes"), {"ok": "0"}), "tbl-probes")
    assert "HTTP 状态 502" in page and "已连接" not in page
    rows = _sheet(it.get(reverse("ops:probes"), {"export": "xlsx", "stage": "tcp"}))
    assert rows[0][:3] == ["时间", "目标", "结果"]
    assert sorted(r[6] for r in rows[1:]) == ["三天前的失败", "无法连接 10.1.1.1:8080：超时"]
    assert {r[2] for r in rows[1:]} == {"失败"}
    url = reverse("ops:target", args=[world["a"].pk])
    page = _block(it.get(url, {"p_ok": "1"}), "tbl-target-probes")
    assert "已连接" in page and "无法连接" not in page and "HTTP 状态 502" not in page
    rows = _sheet(it.get(url, {"p_export": "xlsx"}))
    assert len(rows) == 1 + 5 and "目标" not in rows[0]
    rows = _sheet(it.get(url, {"i_export": "xlsx"}))
    assert [r[-1] for r in rows[1:]] == ["专线中断"] and rows[1][3] == "33 分"
    date = timezone.localdate().isoformat()
    page = _block(it.get(url, {"p_date_from": date, "p_date_to": date}), "tbl-target-probes")
    assert "三天前的失败" not in page and "已连接" in page


def test_incident_and_alert_lists(it, world):
    rows = _sheet(it.get(reverse("ops:incidents"), {"export": "xlsx", "sort": "first_failure_at"}))
    assert [r[0] for r in rows[1:]] == ["省专线", "宁波网关"]
    assert rows[1][5] == "33 分" and rows[2][4] in ("", None)
    page = _block(it.get(reverse("ops:alerts"), {"ok": "0"}), "tbl-alerts")
    assert "短信网关无应答" in page and "【链路中断】" not in page
    rows = _sheet(it.get(reverse("ops:alerts"), {"export": "xlsx", "event": "open", "sort": "channel__name"}))
    assert {(r[3], r[4]) for r in rows[1:]} == {("系统页面", "已发出"), ("值班短信", "失败")}
    assert {r[2] for r in rows[1:]} == {"中断"}


def test_channels_table(it, world):
    page = _block(it.get(reverse("ops:channels"), {"kind": "email"}), "tbl-channels")
    assert "it@example.org" in page and "值班短信" not in page
    rows = _sheet(it.get(reverse("ops:channels"), {"export": "xlsx"}))
    assert rows[1:] == [["信息科邮箱", "邮件", "it@example.org", "否"], ["值班短信", "Webhook（短信网关）",
                                                                 "http://127.0.0.1:9/sms", "是"]]


def test_inspection_history_table(it):
    now = timezone.now()
    Inspection.objects.create(taken_at=now - dt.timedelta(days=1), level="ok", trigger="定时", db_size=50 * 1048576)
    Inspection.objects.create(taken_at=now, level="error", trigger="手动", db_size=52 * 1048576)
    page = _block(it.get(reverse("ops:inspection"), {"level": "error"}), "tbl-inspections")
    assert "手动" in page and "定时</td>" not in page and "共 1 条" in page
    rows = _sheet(it.get(reverse("ops:inspection"), {"export": "xlsx", "sort": "taken_at"}))
    assert rows[0] == ["巡检时间", "触发", "结论", "数据库大小（MB）"]
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [("定时", "正常", 50), ("手动", "异常", 52)]


def test_audit_archives_table_beside_the_backups(it):
    now = timezone.now()
    for first, last in ((1, 100), (101, 250)):
        AuditArchive.objects.create(created_at=now, before=now, first_id=first, last_id=last, rows=last - first + 1,
                                    chain_count=last, last_hash="0" * 64, folder="/var/a",
                                    file_name=f"audit-{first:012d}-{last:012d}.jsonl.gz", sha256="ab" * 32)
    rows = _sheet(it.get(reverse("ops:backups"), {"a_export": "xlsx", "a_sort": "rows"}))
    assert [(r[2], r[3], r[4]) for r in rows[1:]] == [(1, 100, 100), (101, 250, 150)]
    backups = _sheet(it.get(reverse("ops:backups"), {"export": "xlsx"}))
    assert backups[0][0] == "开始时间" and len(backups) == 1  # the other table's export: no backups yet


def test_security_tables(client):
    from shebao.accounts.tests.factories import make_user
    from shebao.common.audit import audit_record

    now = timezone.now()
    admin = make_user("tbl_sec", roles=("sys_admin",))
    locked = make_user("tbl_locked", roles=("clerk",))
    type(locked).objects.filter(pk=locked.pk).update(locked_until=now + dt.timedelta(minutes=10))
    RateWindow.objects.create(scope="login", client="10.0.0.9", window_start=now, count=31, max_count=30,
                              tripped_at=now)
    RateWindow.objects.create(scope="api", client="10.0.0.7", window_start=now, count=5, max_count=300)
    audit_record(user=None, username="ghost", action="login_failed", summary="密码错误")
    client.force_login(admin)
    url = reverse("ops:security")
    page = client.get(url).content.decode()
    assert "10.0.0.9" in page and "10.0.0.7" not in page and "tbl_locked" in page and "ghost" in page
    assert "共 1 条" in _block(client.get(url), "tbl-rate-trips")
    rows = _sheet(client.get(url, {"r_export": "xlsx"}))
    assert [(r[1], r[2], r[4], r[5]) for r in rows[1:]] == [("登录", "10.0.0.9", 31, 30)]
    rows = _sheet(client.get(url, {"l_export": "xlsx"}))
    assert [r[0] for r in rows[1:]] == ["tbl_locked"]
    rows = _sheet(client.get(url, {"f_export": "xlsx", "f_q": "ghost"}))
    assert [(r[1], r[2], r[4]) for r in rows[1:]] == [("登录失败", "ghost", "密码错误")]
    page = _block(client.get(url, {"r_scope": "api"}), "tbl-rate-trips")
    assert "10.0.0.9" not in page and "没有触发" in page
