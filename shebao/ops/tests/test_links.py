"""Link watch: a target on a closed local port goes down and opens an incident within two probe intervals
(alerted in the UI, by mail and by webhook), then closes when a local listener comes up; HTTP status and
keyword; the status, target and diagnosis pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from shebao.ops.links import links_probe_due, uptime
from shebao.ops.models import Alert, AlertChannel, Incident, LinkTarget, Probe
from shebao.ops.tests.helpers import closed_port, http_server, tcp_listener

pytestmark = pytest.mark.django_db


def _tcp_target(port: int, **kw) -> LinkTarget:
    return LinkTarget.objects.create(**{"name": "省集中系统专线", "owner": "province", "kind": "tcp",
                                        "host": "127.0.0.1", "port": port, "interval_seconds": 60,
                                        "timeout_seconds": 2, "failures_before_alert": 2} | kw)


def test_a_closed_port_opens_an_incident_within_two_intervals_and_a_listener_closes_it():
    port = closed_port()
    with http_server() as (hook_url, received):
        AlertChannel.objects.create(name="值班短信", kind="webhook", address=f"{hook_url}/sms")
        AlertChannel.objects.create(name="信息科邮箱", kind="email", address="it@cixi.example, duty@cixi.example")
        target = _tcp_target(port)
        t0 = timezone.now()

        [first] = links_probe_due(now=t0)
        assert not first.ok and first.stage == "tcp" and f"无法连接 127.0.0.1:{port}" in first.message
        target.refresh_from_db()
        assert target.state == "degraded" and target.consecutive_failures == 1
        assert not Incident.objects.exists()
        assert links_probe_due(now=t0 + dt.timedelta(seconds=30)) == []  # not due yet

        [second] = links_probe_due(now=t0 + dt.timedelta(seconds=60))  # the second interval
        assert not second.ok
        incident = Incident.objects.get()
        assert incident.closed_at is None and incident.first_failure_at == t0
        assert incident.opened_at == t0 + dt.timedelta(seconds=60)
        assert incident.opened_at - incident.first_failure_at <= dt.timedelta(seconds=2 * target.interval_seconds)
        assert incident.stage == "tcp" and incident.last_good_at is None
        target.refresh_from_db()
        assert target.state == "down" and target.state_since == t0 + dt.timedelta(seconds=60)
        # alerts: the UI row, the webhook (JSON POST) and one mail to both addresses
        assert [(a.channel.name if a.channel else "", a.event, a.ok) for a in Alert.objects.order_by("id")] == [
            ("", "open", True), ("值班短信", "open", True), ("信息科邮箱", "open", True)]
        assert received[0]["event"] == "open" and received[0]["target"] == "省集中系统专线"
        assert received[0]["text"].startswith("【链路中断】省集中系统专线（省，127.0.0.1:")
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["it@cixi.example", "duty@cixi.example"]

        [third] = links_probe_due(now=t0 + dt.timedelta(seconds=120))  # still down: no second incident
        assert not third.ok and Incident.objects.count() == 1 and len(received) == 1

        with tcp_listener(port):
            [fourth] = links_probe_due(now=t0 + dt.timedelta(seconds=180))
        assert fourth.ok and fourth.message == f"已连接 127.0.0.1:{port}"
        incident.refresh_from_db()
        assert incident.closed_at == t0 + dt.timedelta(seconds=180)
        assert incident.duration == dt.timedelta(seconds=180)
        target.refresh_from_db()
        assert target.state in ("up", "degraded") and target.consecutive_failures == 0
        assert [r["event"] for r in received] == ["open", "close"]
        assert "已于" in received[1]["text"] and "恢复，中断约 3 分钟" in received[1]["text"]
        assert len(mail.outbox) == 2
    assert uptime(target, days=1, now=t0 + dt.timedelta(seconds=200)) == 25.0


def test_a_failing_channel_is_recorded_and_does_not_stop_the_others():
    port = closed_port()
    AlertChannel.objects.create(name="坏的网关", kind="webhook", address=f"http://127.0.0.1:{closed_port()}/x")
    AlertChannel.objects.create(name="邮箱", kind="email", address="it@cixi.example")
    _tcp_target(port, failures_before_alert=1)
    links_probe_due()
    bad = Alert.objects.get(channel__name="坏的网关")
    assert not bad.ok and bad.message.startswith("发送失败：")
    assert Alert.objects.get(channel__name="邮箱").ok and len(mail.outbox) == 1


def test_http_status_and_keyword():
    with http_server(body="<html>浙江省社会保险 正常</html>") as (url, _received):
        ok = LinkTarget.objects.create(name="宁波平台", owner="ningbo", kind="http", url=f"{url}/health",
                                       keyword="社会保险", interval_seconds=60, timeout_seconds=3)
        missing = LinkTarget.objects.create(name="部平台", owner="ministry", kind="http", url=f"{url}/",
                                            keyword="人社部", interval_seconds=60, timeout_seconds=3)
        status = LinkTarget.objects.create(name="内部", owner="internal", kind="http", url=f"{url}/",
                                           expect_status=204, interval_seconds=60, timeout_seconds=3)
        probes = {p.target.name: p for p in links_probe_due()}
    assert probes["宁波平台"].ok and probes["宁波平台"].status_code == 200
    assert (probes["部平台"].ok, probes["部平台"].stage, probes["部平台"].message) == (
        False, "keyword", "页面中没有关键字“人社部”")
    assert (probes["内部"].stage, probes["内部"].message) == ("http", "HTTP 状态 200，期望 204")
    assert {ok.pk, missing.pk, status.pk} == set(Probe.objects.values_list("target_id", flat=True))


def test_dns_probe_resolves_a_name():
    LinkTarget.objects.create(name="DNS", owner="internal", kind="dns", host="localhost", interval_seconds=60)
    [probe] = links_probe_due()
    assert probe.ok and probe.message.startswith("解析为 ")


def test_status_target_and_diagnosis_pages(client):
    from shebao.accounts.tests.factories import make_user

    port = closed_port()
    target = _tcp_target(port)
    t0 = timezone.now() - dt.timedelta(minutes=10)
    with tcp_listener(port):
        links_probe_due(now=t0)  # a good probe first
    links_probe_due(now=t0 + dt.timedelta(seconds=60))
    links_probe_due(now=t0 + dt.timedelta(seconds=120))
    incident = Incident.objects.get()
    assert incident.last_good_at == t0
    client.force_login(make_user("ops_it", roles=("it_admin",)))

    page = client.get(reverse("ops:links")).content.decode()
    assert "省集中系统专线" in page and "未恢复的故障" in page and "中断" in page
    assert "【链路中断】省集中系统专线" in page
    detail = client.get(reverse("ops:target", args=[target.pk])).content.decode()
    assert 'id="latency-data"' in detail and "可用率" in detail and "33.33%" in detail
    diag = client.get(reverse("ops:incident", args=[incident.pk])).content.decode()
    assert "TCP 连接" in diag and "最后一次成功" in diag
    assert timezone.localtime(t0).strftime("%Y-%m-%d %H:%M:%S") in diag
    assert "故障前的探测" in diag and "故障期间的探测" in diag


def test_target_form_saves_once_and_refuses_bad_input(client):
    from shebao.accounts.tests.factories import make_user
    from shebao.common.models import AuditEvent
    from shebao.web.tests.helpers import once, post_twice_in_turn

    user = make_user("ops_it2", roles=("it_admin",))
    client.force_login(user)
    url = reverse("ops:target_add")
    assert client.get(url).status_code == 200
    data = {"name": "坏目标", "owner": "province", "kind": "tcp", "host": "", "interval_seconds": 5,
            "timeout_seconds": 2, "failures_before_alert": 2, "expect_status": 200, "slow_ms": 1000, "active": "on"}
    response = client.post(url, once(data))
    text = response.content.decode()
    assert response.status_code == 200 and "TCP 和 DNS 探测须填写主机" in text and "探测间隔至少 10 秒" in text
    assert not LinkTarget.objects.exists()
    good = data | {"name": "宁波专线", "host": "10.1.2.3", "port": 443, "interval_seconds": 60}
    first, second = post_twice_in_turn(user, url, good)
    assert "已保存监测目标“宁波专线”" in first
    assert "此表单已经提交过" in second
    assert LinkTarget.objects.filter(name="宁波专线").count() == 1
    assert AuditEvent.objects.filter(object_type="ops.linktarget", action="create").count() == 1


def test_webhook_channel_form(client):
    from shebao.accounts.tests.factories import make_user
    from shebao.web.tests.helpers import once

    client.force_login(make_user("ops_it3", roles=("it_admin",)))
    url = reverse("ops:channels")
    bad = client.post(url, once({"name": "短信", "kind": "webhook", "address": "ftp://x", "active": "on"}))
    assert "Webhook 地址须以 http:// 或 https:// 开头" in bad.content.decode() and not AlertChannel.objects.exists()
    ok = client.post(url, once({"name": "短信", "kind": "webhook", "address": "http://10.0.0.5/sms", "active": "on"}))
    assert ok.status_code == 302 and AlertChannel.objects.get().address == "http://10.0.0.5/sms"


def test_probes_older_than_180_days_are_pruned_incidents_kept():
    from shebao.ops.links import probes_prune

    target = _tcp_target(1)
    now = timezone.now()
    Probe.objects.create(target=target, at=now - dt.timedelta(days=181), ok=False, stage="tcp")
    Probe.objects.create(target=target, at=now - dt.timedelta(days=179), ok=True)
    Incident.objects.create(target=target, opened_at=now - dt.timedelta(days=200),
                            first_failure_at=now - dt.timedelta(days=200), closed_at=now - dt.timedelta(days=199))
    assert probes_prune(now=now) == 1
    assert Probe.objects.count() == 1 and Incident.objects.count() == 1


def test_summary_counts_targets_in_use_and_says_how_many_are_disabled(client):
    """The summary used to say 共 N 个目标 while counting only the active ones: a disabled target vanished
    from the count without a word."""
    from shebao.accounts.tests.factories import make_user
    from shebao.ops.links import links_summary

    _tcp_target(closed_port())
    _tcp_target(closed_port(), name="宁波市局专线", active=False)
    _tcp_target(closed_port(), name="银行专线", active=False)
    s = links_summary()
    assert (s["targets"], s["unknown"], s["disabled"]) == (1, 1, 2)
    client.force_login(make_user("ops_it", roles=("it_admin",)))
    page = client.get(reverse("ops:links")).content.decode()
    assert "在用 1 个目标：正常 0，降级 0，中断 0，未探测 1；停用 2 个" in page
