"""Fixtures shared by the bank page and job tests: uploads in a temporary MEDIA_ROOT, a clerk, a reviewer
and an approved run of three payees at two banks."""

import pytest

from shebao.bank.tests.helpers import approved_run, make_person
from shebao.payroll.tests.helpers import make_user


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded return files wait under MEDIA_ROOT/bank_returns between the preview and the job."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def clerk(db):
    return make_user("clerk1", roles=("clerk",))


@pytest.fixture
def reviewer(db):
    return make_user("rev1", roles=("reviewer",))


@pytest.fixture
def run(clerk, reviewer):
    a = make_person("王五", "6222020000001111")
    b = make_person("赵六", "6222020000002222")
    c = make_person("钱七", "6228480000003333", bank="ABC")
    return approved_run([(a, "1000.00"), (b, "200.50"), (c, "300.00")], clerk, reviewer)
