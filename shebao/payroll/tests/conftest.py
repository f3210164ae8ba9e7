"""Fixtures shared by the payroll page and job tests: a clerk, a reviewer, and two 自管人员 with a deduction."""

import pytest

from shebao.benefits.services import adjustment_create
from shebao.benefits.tests.factories import enroll, make_person
from shebao.payroll.tests.helpers import ACCOUNT, make_user


@pytest.fixture
def clerk(db):
    return make_user("clerk1", roles=("clerk",))


@pytest.fixture
def reviewer(db):
    return make_user("rev1", roles=("reviewer",))


@pytest.fixture
def people(clerk):
    a = make_person("张三", account=ACCOUNT)
    b = make_person("李四", account="6228480000000002")
    enroll(a, user=clerk)
    eb = enroll(b, user=clerk)
    adjustment_create(enrollment=eb, kind="deduction", total="300.00", monthly_cap="100.00", reason="多发追回",
                      source="2025-12 死亡后多发", user=clerk)
    return a, b
