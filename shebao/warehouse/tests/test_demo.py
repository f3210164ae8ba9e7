"""The demo step makes the sample dictionary, shared rows of paid persons and an audit run."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from shebao.common.jobs import Progress
from shebao.warehouse.models import Finding, Load, WhTable
from shebao.warehouse.tests.world import paid_line
from shebao.web.tests.helpers import id_number, make_person, make_user

pytestmark = pytest.mark.django_db


def test_demo_step_and_reset():
    from shebao.warehouse.demo import warehouse_demo, warehouse_demo_reset

    user = make_user("wh_it", roles=("it_admin",), all_regions=True)
    for i in range(8):
        person = make_person(f"演示{i}", number=id_number(dt.date(1950 + i, 1, 1)))
        for m in (1, 2, 3):
            paid_line(person, dt.date(2025, m, 1), user)
    line = warehouse_demo("small", random.Random(1), Progress())
    assert line.startswith("回流库：8 人，审核结果")
    assert Load.objects.filter(state="done").count() == 4
    assert Finding.objects.filter(rule__kind="death").count() >= 3  # paid for months after the death date
    warehouse_demo_reset()
    assert WhTable.objects.count() == 0
