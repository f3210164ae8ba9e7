"""The authorization matrix of the money-safety pages (issue 17): releasing a risky line (放行), a
run's files and their returns, and the approval page's comparison export.

The world: the payroll/bank world (``shebao.bank.tests.helpers.paybank_world``: a ZG run whose lines
to a person of 附海镇 (foreign) and one of 浒山街道 (home) the bank rejected) and a new ZG one-off run
paying both again to the same accounts — each of its two lines is a risky line.

The rules, in this test's words:
- release one risky line: 审核, the line's person in the user's towns, a ZG user;
- a run's files and returns: any of 查看结算 / 结算 / 报盘 / 审核, a ZG user;
- the comparison export of the approval page: the approval's rule (审核, 全市范围)."""

from __future__ import annotations

import pytest

from shebao.common.policy import rule
from tests.authz.harness import Entry, make_identities, run_page_row

VIEW = rule("payroll.view_payrollrun", "payroll.compute_run", "payroll.export_run", "accounts.review")
APPROVE = rule("accounts.review", county=True)
RELEASE = rule("accounts.review")


def _token() -> dict:
    from shebao.payroll.tests.helpers import once

    return once()


def _foreign_risky(w):
    return {"pk": w.risky.lines.get(person=w.foreign).pk}


def _home_risky(w):
    return {"pk": w.risky.lines.get(person=w.home).pk}


ROWS = [
    Entry("payroll:line_risk_release", RELEASE, args=_foreign_risky, scheme="ZG", town_scoped=True),
    Entry("payroll:line_risk_release", RELEASE, args=_home_risky, scheme="ZG", town_scoped=True, home=True),
    Entry("payroll:line_risk_release", RELEASE, args=_foreign_risky, scheme="ZG", town_scoped=True, method="POST",
          data=lambda w: {"reason": "电话核实，账户已恢复", **_token()}),
    Entry("bank:run_files", VIEW, args=lambda w: {"pk": w.run.pk}, scheme="ZG"),
    Entry("payroll:run_approve", APPROVE, args=lambda w: {"pk": w.risky.pk}, scheme="ZG",
          query={"export": "compare"}),
]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db, tmp_path, settings):
    from shebao.bank.tests.helpers import paybank_world
    from shebao.benefits.models import Scheme
    from shebao.payroll.services import payroll_oneoff_create
    from shebao.payroll.tests.helpers import make_user

    settings.MEDIA_ROOT = str(tmp_path / "media")
    clerk = make_user("world_clerk", roles=("clerk",))
    reviewer = make_user("world_reviewer", roles=("reviewer",))
    w = paybank_world(clerk, reviewer)
    w.risky = payroll_oneoff_create(scheme=Scheme.objects.get(code="ZG"), period="2026-05", user=clerk,
                                    items=[(w.foreign, "30.00", ""), (w.home, "40.00", "")])
    assert w.risky.risks.count() == 2
    return w


@pytest.mark.parametrize("entry", ROWS, ids=lambda e: f"{e.id} {e.query or ''}{'home' if e.home else ''}")
def test_page_row(entry, world):
    users = make_identities()
    assert run_page_row(entry, world, users) == []
