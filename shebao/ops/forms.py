from __future__ import annotations

from urllib.parse import urlparse

from django import forms
from django.utils.translation import gettext_lazy as _

from shebao.ops.models import AlertChannel, LinkTarget


class TargetForm(forms.ModelForm):
    class Meta:
        model = LinkTarget
        fields = ["name", "owner", "kind", "host", "port", "url", "expect_status", "keyword", "interval_seconds",
                  "timeout_seconds", "failures_before_alert", "slow_ms", "active"]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind in (LinkTarget.Kind.TCP, LinkTarget.Kind.DNS) and not data.get("host"):
            self.add_error("host", _("TCP 和 DNS 探测须填写主机"))
        if kind == LinkTarget.Kind.TCP and not data.get("port"):
            self.add_error("port", _("TCP 探测须填写端口"))
        if data.get("port") is not None and not 1 <= data["port"] <= 65535:
            self.add_error("port", _("端口应在 1 到 65535 之间"))
        if kind == LinkTarget.Kind.HTTP:
            url = urlparse(data.get("url") or "")
            if url.scheme not in ("http", "https") or not url.hostname:
                self.add_error("url", _("HTTP 探测须填写以 http:// 或 https:// 开头的完整地址"))
        if (data.get("interval_seconds") or 0) < 10:
            self.add_error("interval_seconds", _("探测间隔至少 10 秒"))
        timeout, interval = data.get("timeout_seconds") or 0, data.get("interval_seconds") or 0
        if timeout < 1:
            self.add_error("timeout_seconds", _("超时至少 1 秒"))
        elif interval and timeout >= interval:
            self.add_error("timeout_seconds", _("超时须短于探测间隔"))
        if (data.get("failures_before_alert") or 0) < 1:
            self.add_error("failures_before_alert", _("至少 1 次"))
        return data


class ChannelForm(forms.ModelForm):
    class Meta:
        model = AlertChannel
        fields = ["name", "kind", "address", "active"]

    def clean(self):
        data = super().clean()
        address = (data.get("address") or "").strip()
        if data.get("kind") == AlertChannel.Kind.WEBHOOK:
            url = urlparse(address)
            if url.scheme not in ("http", "https") or not url.hostname:
                self.add_error("address", _("Webhook 地址须以 http:// 或 https:// 开头"))
        elif data.get("kind") == AlertChannel.Kind.EMAIL:
            bad = [a for a in address.split(",") if a.strip() and "@" not in a]
            if bad or not address:
                self.add_error("address", _("请填写收件人邮箱，多个以逗号分隔"))
        return data
