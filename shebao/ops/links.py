"""Link watch (互连网络监测): probe the targets that are due, record each probe, move each target's
state, open an incident after ``failures_before_alert`` failures in a row and close it at the first good
probe, and send the alerts.

A target is probed every ``interval_seconds`` (the ``ops_link_probe`` schedule runs every minute and
probes those due; the network part runs in threads, so one slow link does not delay the others). With
``failures_before_alert`` = 2 a fault is alerted at the second failing probe: within two intervals.

State: 中断 while an incident is open; 降级 when the last probe failed but not yet often enough to alert,
or succeeded slower than ``slow_ms``; 正常 otherwise."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import ssl
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlparse

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from shebao.ops.models import Alert, AlertChannel, Incident, LinkTarget, Probe

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20  # bytes of an HTTP answer searched for the keyword


@dataclass
class ProbeResult:
    ok: bool
    stage: str = ""
    latency_ms: int | None = None
    status_code: int | None = None
    message: str = ""


def _ms(start: float) -> int:
    return int(round((time.monotonic() - start) * 1000))


def _resolve(host: str, port: int | None, timeout: float) -> tuple[list, str]:
    socket.setdefaulttimeout(timeout)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return [], f"无法解析主机名 {host}：{exc}"
    finally:
        socket.setdefaulttimeout(None)
    return infos, ""


def probe_target(target: LinkTarget) -> ProbeResult:
    """One probe, no database access (runs in a thread): DNS, then TCP, then HTTP status and keyword."""
    start = time.monotonic()
    timeout = float(target.timeout_seconds)
    if target.kind == LinkTarget.Kind.HTTP:
        parsed = urlparse(target.url)
        host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    else:
        host, port = target.host, target.port
    infos, error = _resolve(host, port, timeout)
    if error:
        return ProbeResult(False, Probe.Stage.DNS, _ms(start), message=error)
    if target.kind == LinkTarget.Kind.DNS:
        addresses = sorted({i[4][0] for i in infos})
        return ProbeResult(True, latency_ms=_ms(start), message="解析为 " + "、".join(addresses[:5]))
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "连接超时" if isinstance(exc, TimeoutError | socket.timeout) else (exc.strerror or str(exc))
        return ProbeResult(False, Probe.Stage.TCP, _ms(start), message=f"无法连接 {host}:{port}：{reason}")
    if target.kind == LinkTarget.Kind.TCP:
        return ProbeResult(True, latency_ms=_ms(start), message=f"已连接 {host}:{port}")
    request = urllib.request.Request(target.url, headers={"User-Agent": "shebao-linkwatch/1"})
    context = ssl.create_default_context()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:  # noqa: S310 (http/https only: form)
            code, body = resp.status, resp.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        code, body = exc.code, b""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return ProbeResult(False, Probe.Stage.HTTP, _ms(start), message=f"HTTP 请求失败：{reason}")
    latency = _ms(start)
    if code != target.expect_status:
        return ProbeResult(False, Probe.Stage.HTTP, latency, code, f"HTTP 状态 {code}，期望 {target.expect_status}")
    if target.keyword and target.keyword not in body.decode("utf-8", "replace"):
        return ProbeResult(False, Probe.Stage.KEYWORD, latency, code, f"页面中没有关键字“{target.keyword}”")
    return ProbeResult(True, latency_ms=latency, status_code=code, message=f"HTTP {code}")


def links_probe_due(*, now: dt.datetime | None = None, targets: list[LinkTarget] | None = None) -> list[Probe]:
    """Probe every active target whose next probe is due (or ``targets``), record the probes, move the
    states, open/close incidents and send their alerts. Returns the probes written."""
    now = now or timezone.now()
    if targets is None:
        targets = list(LinkTarget.objects.filter(active=True).exclude(next_probe_at__gt=now).order_by("pk"))
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        results = list(pool.map(probe_target, targets))
    probes = []
    for target, result in zip(targets, results, strict=True):
        probe, events = _record(target.pk, result, now)
        probes.append(probe)
        for incident, event in events:
            alerts_send(incident, event)
    return probes


def _record(target_id: int, result: ProbeResult, now: dt.datetime) -> tuple[Probe, list[tuple[Incident, str]]]:
    events: list[tuple[Incident, str]] = []
    with transaction.atomic():
        target = LinkTarget.objects.select_for_update().get(pk=target_id)
        probe = Probe.objects.create(target=target, at=now, ok=result.ok, stage=result.stage,
                                     latency_ms=result.latency_ms, status_code=result.status_code,
                                     message=result.message[:500])
        open_incident = Incident.objects.filter(target=target, closed_at__isnull=True).first()
        if result.ok:
            target.consecutive_failures = 0
            new_state = (LinkTarget.State.DEGRADED if (result.latency_ms or 0) > target.slow_ms
                         else LinkTarget.State.UP)
            if open_incident is not None:
                open_incident.closed_at = now
                open_incident.save(update_fields=["closed_at"])
                events.append((open_incident, "close"))
        else:
            target.consecutive_failures += 1
            new_state = LinkTarget.State.DEGRADED
            if open_incident is not None:
                new_state = LinkTarget.State.DOWN
            elif target.consecutive_failures >= target.failures_before_alert:
                new_state = LinkTarget.State.DOWN
                failures = list(Probe.objects.filter(target=target, ok=False).order_by("-at", "-id")
                                .values_list("at", flat=True)[: target.consecutive_failures])
                last_good = Probe.objects.filter(target=target, ok=True).order_by("-at", "-id").first()
                incident = Incident.objects.create(
                    target=target, opened_at=now, first_failure_at=failures[-1] if failures else now,
                    stage=result.stage, message=result.message[:500], last_good_at=last_good.at if last_good else None)
                events.append((incident, "open"))
        if new_state != target.state:
            target.state, target.state_since = new_state, now
        target.last_probe_at, target.last_latency_ms = now, result.latency_ms
        target.next_probe_at = now + dt.timedelta(seconds=target.interval_seconds)
        target.save()
        for incident, event in events:
            Alert.objects.create(incident=incident, channel=None, at=now, event=event, ok=True,
                                 message=alert_text(incident, event))
    return probe, events


def alert_text(incident: Incident, event: str) -> str:
    t = incident.target
    if event == "open":
        return (f"【链路中断】{t.name}（{t.get_owner_display()}，{t.address}）自 "
                f"{timezone.localtime(incident.first_failure_at):%Y-%m-%d %H:%M:%S} 起不通：{incident.message}")
    minutes = int(incident.duration.total_seconds() // 60)
    return (f"【链路恢复】{t.name}（{t.get_owner_display()}，{t.address}）已于 "
            f"{timezone.localtime(incident.closed_at):%Y-%m-%d %H:%M:%S} 恢复，中断约 {minutes} 分钟")


def alerts_send(incident: Incident, event: str) -> None:
    """Send the alert through every active channel; each attempt is an ``Alert`` row (ok or the error)."""
    text = alert_text(incident, event)
    for channel in AlertChannel.objects.filter(active=True).order_by("pk"):
        ok, message = True, text
        try:
            if channel.kind == AlertChannel.Kind.EMAIL:
                recipients = [a.strip() for a in channel.address.split(",") if a.strip()]
                send_mail(subject=text[:60], message=text, from_email=None, recipient_list=recipients)
            else:
                body = json.dumps({"event": event, "target": incident.target.name, "owner": incident.target.owner,
                                   "incident": incident.pk, "text": text}, ensure_ascii=False).encode("utf-8")
                req = urllib.request.Request(channel.address, data=body, method="POST",
                                             headers={"Content-Type": "application/json; charset=utf-8"})
                with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (http/https only: form)
                    if resp.status >= 300:
                        raise OSError(f"HTTP {resp.status}")
        except Exception as exc:  # a channel that fails must not stop the others, nor the probes
            log.warning("alert channel %s failed: %s", channel.name, exc)
            ok, message = False, f"发送失败：{exc}"[:500]
        Alert.objects.create(incident=incident, channel=channel, at=timezone.now(), event=event, ok=ok, message=message)


PROBE_KEEP_DAYS = 180


def probes_prune(*, now: dt.datetime | None = None) -> int:
    """Drop probes older than 180 days (a target probed every minute writes ≈ 525,000 a year); incidents
    and alerts are kept."""
    now = now or timezone.now()
    deleted, _ = Probe.objects.filter(at__lt=now - dt.timedelta(days=PROBE_KEEP_DAYS)).delete()
    return deleted


# -- reads ----------------------------------------------------------------------------------------------

def uptime(target: LinkTarget, *, days: int, now: dt.datetime | None = None) -> float | None:
    """Share of good probes over the last ``days`` days, in percent (None without probes)."""
    now = now or timezone.now()
    qs = Probe.objects.filter(target=target, at__gte=now - dt.timedelta(days=days))
    total = qs.count()
    if not total:
        return None
    return round(100.0 * qs.filter(ok=True).count() / total, 2)


def latency_series(target: LinkTarget, *, hours: int = 24, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    rows = (Probe.objects.filter(target=target, at__gte=now - dt.timedelta(hours=hours)).order_by("at")
            .values_list("at", "latency_ms", "ok"))
    return {"labels": [timezone.localtime(at).strftime("%m-%d %H:%M") for at, _l, _o in rows],
            "latency": [lat if ok else None for _a, lat, ok in rows],
            "failed": [None if ok else 0 for _a, _l, ok in rows]}


def incident_diagnosis(incident: Incident, *, around: int = 10) -> dict:
    """What the on-call person needs: the probes before and after the fault, the stage that failed (and
    how often each stage failed during it), the last good probe."""
    probes = Probe.objects.filter(target=incident.target)
    before = list(probes.filter(at__lt=incident.first_failure_at).order_by("-at", "-id")[:around])[::-1]
    end = incident.closed_at or timezone.now()
    during = list(probes.filter(at__gte=incident.first_failure_at, at__lte=end).order_by("at", "id")[:200])
    after = list(probes.filter(at__gt=end).order_by("at", "id")[:around]) if incident.closed_at else []
    stages: dict[str, int] = {}
    for p in during:
        if not p.ok:
            label = str(p.get_stage_display())
            stages[label] = stages.get(label, 0) + 1
    last_good = probes.filter(ok=True, at__lt=incident.first_failure_at).order_by("-at", "-id").first()
    return {"before": before, "during": during, "after": after, "stages": sorted(stages.items(), key=lambda x: -x[1]),
            "last_good": last_good}


def links_summary() -> dict[str, int]:
    counts = {s: 0 for s in LinkTarget.State.values}
    for state in LinkTarget.objects.filter(active=True).values_list("state", flat=True):
        counts[state] += 1
    counts["open_incidents"] = Incident.objects.filter(closed_at__isnull=True).count()
    counts["targets"] = sum(counts[s] for s in LinkTarget.State.values)  # in use (active) only
    counts["disabled"] = LinkTarget.objects.filter(active=False).count()
    return counts
