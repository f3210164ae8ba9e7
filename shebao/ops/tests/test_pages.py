"""The backups and security pages, the menu entries, and the demo step."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse
from django.utils import timezone

from shebao.ops.models import Backup, Incident, LinkTarget, Probe

pytestmark = pytest.mark.django_db


def test_backups_page_lists_runs(client):
    from shebao.accounts.tests.factories import make_user

    Backup.objects.create(started_at=timezone.now(), finished_at=timezone.now(), status="ok", trigger="定时",
                          file_name="shebao-20261201-023000.dump", size=12345, sha256="ab" * 32)
    Backup.objects.create(started_at=timezone.now(), status="failed", trigger="定时", message="pg_dump 失败（退出码 1）")
    client.force_login(make_user("bk_it", roles=("it_admin",)))
    page = client.get(reverse("ops:backups")).content.decode()
    assert "shebao-20261201-023000.dump" in page and "pg_dump 失败（退出码 1）" in page
    assert "最近一次成功备份" in page
    export = client.get(reverse("ops:backups"), {"export": "xlsx", "status": "failed"})
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client.get(reverse("ops:backups"), {"status": "bogus"}).status_code == 200


def test_incident_list_filters_and_sorts(client):
    from shebao.accounts.tests.factories import make_user

    now = timezone.now()
    a = LinkTarget.objects.create(name="省专线", owner="province", kind="tcp", host="x", port=1)
    b = LinkTarget.objects.create(name="宁波专线", owner="ningbo", kind="tcp", host="y", port=1)
    Incident.objects.create(target=a, opened_at=now, first_failure_at=now, closed_at=now, message="已恢复的")
    Incident.objects.create(target=b, opened_at=now, first_failure_at=now, message="还在中断")
    client.force_login(make_user("inc_it", roles=("it_admin",)))
    page = client.get(reverse("ops:incidents"), {"open": "1"}).content.decode()
    assert "还在中断" in page and "已恢复的" not in page
    page = client.get(reverse("ops:incidents"), {"owner": "province"}).content.decode()
    assert "已恢复的" in page and "还在中断" not in page


def test_security_page_for_the_system_administrator(client):
    from shebao.accounts.tests.factories import make_user

    client.force_login(make_user("sec_admin", roles=("sys_admin",)))
    page = client.get(reverse("ops:security")).content.decode()
    assert "访问频率限制的触发" in page and "当前锁定的账号" in page and "登录失败" in page
    assert client.get(reverse("ops:backups")).status_code == 403


def test_menu_points_at_the_pages(client):
    from shebao.accounts.tests.factories import make_user

    client.force_login(make_user("menu_it", roles=("it_admin",)))
    home = client.get(reverse("web:home")).content.decode()
    for name in ("ops:links", "ops:inspection", "ops:backups", "ops:security"):
        assert f'href="{reverse(name)}"' in home, name


def test_demo_step_makes_targets_with_history():
    from shebao.ops.demo import ops_demo

    line = ops_demo("small", random.Random(1), None)
    assert LinkTarget.objects.count() == 5 and Incident.objects.count() == 4
    assert Probe.objects.count() == 4 * (7 * 24 * 12 + 1)
    assert line == f"链路监测目标 5 个，探测记录 {Probe.objects.count()} 条"
    assert ops_demo("small", random.Random(1), None).endswith("探测记录 0 条")  # idempotent
