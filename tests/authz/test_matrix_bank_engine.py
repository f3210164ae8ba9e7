"""Authorization matrix of the bank engine's pages and commands: banks as data, template editing and
versions, delivery channels and the transfer log, and the periodic schedules."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from shebao.common.policy import CONSOLE, rule
from tests.authz.harness import Entry, make_identities, run_page_row

# reading the bank pages' configuration: whoever reads the bank pages, or a reviewer
READ = rule("payroll.view_payrollrun", "accounts.review")
# configuration of banks, templates and channels is a reviewer's, county-wide (it serves every town)
CONFIGURE = rule("accounts.review", county=True)
# sending a payment file is the export's right, county-wide (a file spans towns)
DELIVER = rule("payroll.export_run", county=True)
TRANSFERS = rule("payroll.view_payrollrun", "accounts.review", "accounts.it_ops")
PERIODIC = rule("accounts.it_ops")

ROWS = [
    Entry("bank:banks", READ),
    Entry("bank:bank_add", CONFIGURE),
    Entry("bank:bank_edit", CONFIGURE, args=lambda w: {"code": "ICBC"}),
    Entry("bank:template_add", CONFIGURE),
    Entry("bank:template_edit", CONFIGURE, args=lambda w: {"code": "standard"}),
    Entry("bank:template_versions", READ, args=lambda w: {"code": "standard"}),
    Entry("bank:channels", READ),
    Entry("bank:channel_edit", CONFIGURE, args=lambda w: {"bank": "ICBC"}),
    Entry("bank:file_deliver", DELIVER, args=lambda w: {"pk": w.bank_file.pk}),
    Entry("bank:transfers", TRANSFERS),
    Entry("jobs:periodic", PERIODIC),
    Entry("periodic list", CONSOLE),
    Entry("periodic run", CONSOLE),
]


class World:
    def __init__(self):
        from shebao.bank.models import BankTemplate
        from shebao.bank.services import bank_export
        from shebao.bank.tests.helpers import approved_run, make_person
        from shebao.payroll.tests.helpers import make_user

        clerk = make_user("mx_maker", roles=("clerk",))
        reviewer = make_user("mx_checker", roles=("reviewer",))
        run = approved_run([(make_person("矩阵甲", "6222020000009999"), "10.00")], clerk, reviewer)
        [self.bank_file] = bank_export(runs=[run], template=BankTemplate.objects.get(code="standard"), user=clerk)


@pytest.fixture
def world(db):
    return World()


@pytest.fixture
def users(db):
    return make_identities()


@pytest.mark.parametrize("entry", [r for r in ROWS if " " not in r.name or r.name.startswith("api ")],
                         ids=lambda e: e.id)
def test_page_row(entry, world, users):
    assert run_page_row(entry, world, users) == []


@pytest.mark.django_db
def test_console_commands_run_without_a_user(capsys):
    from shebao.common.models import PeriodicRun
    from shebao.common.periodic import periodic

    @periodic("matrix_noop", cron="0 0 * * *", title="矩阵测试", worker=False)
    def noop():
        return "无事"

    call_command("periodic", "list")
    assert "matrix_noop" in capsys.readouterr().out
    call_command("periodic", "run", "matrix_noop")
    assert PeriodicRun.objects.get(name="matrix_noop").outcome == "ok"


def test_these_pages_carry_the_rule_of_their_row():
    """What ``test_completeness`` checks for every page, for this file's pages alone (it stops at the
    first area still missing its rows)."""
    from django.core.management import load_command_class
    from django.urls import resolve, reverse

    from shebao.accounts.cli import COMMAND_RULES

    load_command_class("shebao.common", "periodic")  # declares its rules on import
    kwargs = {"bank:bank_edit": {"code": "ICBC"}, "bank:template_edit": {"code": "standard"},
              "bank:template_versions": {"code": "standard"}, "bank:channel_edit": {"bank": "ICBC"},
              "bank:file_deliver": {"pk": 1}}
    for row in ROWS:
        if " " in row.name:
            assert COMMAND_RULES[row.name] == row.rule, row.name
            continue
        view = resolve(reverse(row.name, kwargs=kwargs.get(row.name))).func
        assert view.policy == row.rule, row.name
