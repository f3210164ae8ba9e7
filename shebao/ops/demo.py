"""Demo data of 互联网络和安全: link targets of the province, the ministry and Ningbo with a week of probe
history (every 5 minutes, one closed incident), and one internal target the demo server really answers
(``http://127.0.0.1:8000/accounts/login/``) so the live probe job has something to reach. The outside
links are inactive here (no dedicated lines on a demo machine): their pages show the history only."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from shebao.demo.steps import demo_step

EXTERNAL = [
    ("浙江省社会保险信息系统", "province", "tcp", {"host": "10.33.1.20", "port": 7001}),
    ("人社部异地认证平台", "ministry", "http", {"url": "https://10.1.8.5/health", "keyword": "OK"}),
    ("宁波市级社保平台", "ningbo", "tcp", {"host": "10.74.2.11", "port": 443}),
    ("宁波市政务外网DNS", "ningbo", "dns", {"host": "dns.nb.example"}),
]


def _reset() -> None:
    from shebao.ops.models import Alert, Incident, LinkTarget, Probe

    Alert.objects.all().delete()
    Probe.objects.all().delete()
    Incident.objects.all().delete()
    LinkTarget.objects.all().delete()


@demo_step("ops", order=90, reset=_reset)
def ops_demo(scale: str, rng: random.Random, progress) -> str | None:
    from shebao.ops.models import Incident, LinkTarget, Probe

    now = timezone.now().replace(second=0, microsecond=0)
    LinkTarget.objects.get_or_create(name="本系统登录页", defaults={
        "owner": "internal", "kind": "http", "url": "http://127.0.0.1:8000/accounts/login/", "keyword": "登录",
        "interval_seconds": 60, "timeout_seconds": 5})
    probes = 0
    for name, owner, kind, fields in EXTERNAL:
        target, created = LinkTarget.objects.get_or_create(name=name, defaults={
            "owner": owner, "kind": kind, "interval_seconds": 300, "timeout_seconds": 5, "active": False, **fields})
        if not created:
            continue
        base = rng.randint(8, 60)
        outage_start = now - dt.timedelta(days=rng.randint(1, 6), minutes=rng.randint(0, 600))
        outage_len = dt.timedelta(minutes=5 * rng.randint(3, 24))
        rows, last_good = [], None
        at = now - dt.timedelta(days=7)
        while at <= now:
            down = outage_start <= at < outage_start + outage_len
            stage = "tcp" if kind != "dns" else "dns"
            rows.append(Probe(target=target, at=at, ok=not down, stage=stage if down else "",
                              latency_ms=None if down else base + rng.randint(0, base),
                              message="连接超时" if down else "正常"))
            if not down and at < outage_start:
                last_good = at
            at += dt.timedelta(minutes=5)
        Probe.objects.bulk_create(rows, batch_size=2000)
        probes += len(rows)
        Incident.objects.create(target=target, first_failure_at=outage_start,
                                opened_at=outage_start + dt.timedelta(minutes=5), closed_at=outage_start + outage_len,
                                stage="tcp" if kind != "dns" else "dns", message="连接超时", last_good_at=last_good)
        LinkTarget.objects.filter(pk=target.pk).update(state="up", state_since=outage_start + outage_len,
                                                       last_probe_at=rows[-1].at, last_latency_ms=rows[-1].latency_ms)
    return f"链路监测目标 {LinkTarget.objects.count()} 个，探测记录 {probes} 条"
