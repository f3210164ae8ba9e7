"""The authorization matrix of payroll (月度结算, 零星发放, 月末数据) and the bank interface (报盘, 回盘,
失败待发): every page (and the xlsx export of its list), every ``shebao payroll|bank`` subcommand, each
as every identity of the harness.

The world: a ZG one-off run approved, exported and returned, with a failed line for a person of 附海镇
(the foreign town) and one of 浒山街道 (home); its bank file and return; a second ZG run still
computed; a third approved and not yet exported; a queued compute job and export job
(``shebao.bank.tests.helpers.paybank_world``).

The rules, in this test's words:
- reading (every list and page): any of 查看结算 / 结算 / 报盘 / 审核;
- compute, recompute, 二次报盘: 结算 and 全市范围 (a run holds every town);
- 零星发放: 结算 (persons of the user's towns);
- approve: 审核 and 全市范围; write-off of one line: 审核, the line's person in the user's towns;
- export and return import: 报盘 and 全市范围;
- the bank file download: 下载报盘文件 (clerks) and 全市范围;
- every object here is of a ZG run: users of other schemes are refused (404 for an object, 403 for a
  form naming the scheme)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shebao.common import policy
from shebao.common.policy import CONSOLE, rule
from tests.authz.harness import IDENTITIES, Entry, expected, make_identities, run_page_row

VIEW = rule("payroll.view_payrollrun", "payroll.compute_run", "payroll.export_run", "accounts.review")
COMPUTE = rule("payroll.compute_run", county=True)
ONEOFF = rule("payroll.compute_run")
APPROVE = rule("accounts.review", county=True)
WRITE_OFF = rule("accounts.review")
EXPORT = rule("payroll.export_run", county=True)
DOWNLOAD = rule("bank.download_file", county=True)

XLSX = {"export": "xlsx"}


def _token() -> dict:
    from shebao.payroll.tests.helpers import once

    return once()


def _run(w):
    return {"pk": w.run.pk}


def _computed(w):
    return {"pk": w.computed_run.pk}


def _foreign_line(w):
    return {"pk": w.foreign_line.pk}


def _home_line(w):
    return {"pk": w.home_line.pk}


def _file(w):
    return {"pk": w.bank_file.pk}


def _return(w):
    return {"pk": w.return_file.pk}


ROWS = [
    # payroll pages
    Entry("payroll:run_list", VIEW),
    Entry("payroll:run_list", VIEW, query=XLSX),
    Entry("payroll:compute", COMPUTE),
    Entry("payroll:compute", COMPUTE, method="POST", scheme="ZG",
          data=lambda w: {"scheme": "ZG", "period": "2026-05"}),
    Entry("payroll:run_detail", VIEW, args=_run, scheme="ZG"),
    Entry("payroll:run_detail", VIEW, args=_run, scheme="ZG", query=XLSX),
    Entry("payroll:job", VIEW, args=lambda w: {"pk": w.compute_job.pk}, scheme="ZG"),
    Entry("payroll:run_recompute", COMPUTE, args=_computed, scheme="ZG"),
    Entry("payroll:run_recompute", COMPUTE, args=_computed, scheme="ZG", method="POST",
          data=lambda w: {"confirm": "1"}),
    Entry("payroll:run_approve", APPROVE, args=_computed, scheme="ZG"),
    Entry("payroll:run_approve", APPROVE, args=_computed, scheme="ZG", method="POST",
          data=lambda w: {"confirm": "1"}),
    Entry("payroll:run_reissue", COMPUTE, args=_run, scheme="ZG"),
    Entry("payroll:run_reissue", COMPUTE, args=_run, scheme="ZG", method="POST",
          data=lambda w: {"confirm": "1", **_token()}),
    Entry("payroll:line_detail", VIEW, args=_foreign_line, scheme="ZG", town_scoped=True),
    Entry("payroll:line_detail", VIEW, args=_home_line, scheme="ZG", town_scoped=True, home=True),
    Entry("payroll:line_write_off", WRITE_OFF, args=_foreign_line, scheme="ZG", town_scoped=True),
    Entry("payroll:line_write_off", WRITE_OFF, args=_home_line, scheme="ZG", town_scoped=True, home=True),
    Entry("payroll:line_write_off", WRITE_OFF, args=_foreign_line, scheme="ZG", town_scoped=True, method="POST",
          data=lambda w: {"reason": "查无此人", **_token()}),
    Entry("payroll:oneoff", ONEOFF),
    Entry("payroll:oneoff", ONEOFF, method="POST", scheme="ZG",
          data=lambda w: {"scheme": "ZG", "period": "2026-05", "person": [w.home.pk], "amount": ["10.00"],
                          "memo": [""]}),
    Entry("payroll:oneoff_search", ONEOFF, query={"q": "本镇"}),
    Entry("payroll:stats", VIEW),
    Entry("payroll:stats", VIEW, scheme="ZG", query={"scheme": "ZG", **XLSX}),
    # bank pages
    Entry("bank:file_list", VIEW),
    Entry("bank:file_list", VIEW, query=XLSX),
    Entry("bank:export", EXPORT),
    Entry("bank:export", EXPORT, method="POST", scheme="ZG",
          data=lambda w: {"runs": [w.pending.pk], "bank": "*", "template": "standard"}),
    Entry("bank:file_detail", VIEW, args=_file, scheme="ZG"),
    Entry("bank:file_detail", VIEW, args=_file, scheme="ZG", query=XLSX),
    Entry("bank:file_download", DOWNLOAD, args=_file, scheme="ZG"),
    Entry("bank:returns", VIEW),
    Entry("bank:returns", VIEW, query=XLSX),
    Entry("bank:return_detail", VIEW, args=_return, scheme="ZG"),
    Entry("bank:return_detail", VIEW, args=_return, scheme="ZG", query=XLSX),
    Entry("bank:job", VIEW, args=lambda w: {"pk": w.export_job.pk}, scheme="ZG"),
    Entry("bank:lines", VIEW),
    Entry("bank:lines", VIEW, query=XLSX),
    Entry("bank:failed", VIEW),
    Entry("bank:failed", VIEW, query=XLSX),
    Entry("bank:templates", VIEW),
    # commands (argv after the subcommand; --as is added per identity)
    Entry("payroll compute", COMPUTE, scheme="ZG", args=lambda w: ["--scheme", "ZG", "--period", "2026-05"]),
    Entry("payroll approve", APPROVE, scheme="ZG", args=lambda w: [str(w.computed_run.pk)]),
    Entry("bank export", EXPORT, scheme="ZG",
          args=lambda w: [str(w.pending.pk), "--template", "standard", "--out", str(w.out)]),
    Entry("bank import-return", EXPORT, scheme="ZG", args=lambda w: [str(w.return_path)]),
    Entry("bank reissue", COMPUTE, scheme="ZG", args=lambda w: [str(w.run.pk)]),
    Entry("bank write-off", WRITE_OFF, scheme="ZG", town_scoped=True,
          args=lambda w: [str(w.foreign_line.pk), "--reason", "查无此人"]),
    Entry("bank write-off", WRITE_OFF, scheme="ZG", town_scoped=True, home=True,
          args=lambda w: [str(w.home_line.pk), "--reason", "查无此人"]),
    Entry("bank templates", CONSOLE),
]

# A page whose POST asks more than its GET (the rule of ``view.policy`` is the GET's): the return
# upload and import confirm of the 回盘 page need 报盘 and 全市范围.
POST_ROWS = [
    Entry("bank:returns", EXPORT, method="POST", data=lambda w: {"confirm": "1", "job": "0"}),
]

PAGE_ROWS = [r for r in ROWS if ":" in r.name] + POST_ROWS
COMMAND_ROWS = [r for r in ROWS if ":" not in r.name]
POLICY_MESSAGES = (policy.NO_RIGHT, policy.NO_COUNTY, policy.NO_TOWN, "险种的权限")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db, tmp_path, settings):
    from shebao.bank.tests.helpers import approved_run, make_person, paybank_world
    from shebao.payroll.tests.helpers import make_user

    settings.MEDIA_ROOT = str(tmp_path / "media")
    clerk = make_user("world_clerk", roles=("clerk",))
    reviewer = make_user("world_reviewer", roles=("reviewer",))
    w = paybank_world(clerk, reviewer)
    w.pending = approved_run([(make_person("待报丙", "6222020000009993", town="附海镇"), "10.00")], clerk, reviewer,
                             period="2026-05")
    w.out = tmp_path / "out"
    w.out.mkdir()
    w.return_path = tmp_path / "return.txt"
    w.return_path.write_bytes(w.return_bytes)
    return w


@pytest.mark.parametrize("entry", PAGE_ROWS, ids=lambda e: f"{e.id} {e.query or ''}{'home' if e.home else ''}")
def test_page_row(entry, world):
    users = make_identities()
    assert run_page_row(entry, world, users) == []


def _written():
    from shebao.bank.models import BankFile, ReturnFile, ReturnLine
    from shebao.common.models import AuditEvent, Job
    from shebao.payroll.models import PayrollLine, PayrollRun

    return (PayrollRun.objects.count(), BankFile.objects.count(), ReturnFile.objects.count(),
            ReturnLine.objects.count(), Job.objects.count(), AuditEvent.objects.count(),
            sorted(PayrollLine.objects.values_list("pk", "status")),
            sorted(PayrollRun.objects.values_list("pk", "state")))


@pytest.mark.parametrize("entry", COMMAND_ROWS, ids=lambda e: f"{e.name}{' home' if e.home else ''}")
def test_command_row(entry, world):
    """Each identity runs the command with ``--as``: a refusal is a CommandError with the policy's
    Chinese reason and writes nothing; an identity the rule lets through is not refused by it (the
    command may still say no for a reason of its own, e.g. the run was approved by an earlier one)."""
    users = make_identities()
    command, sub = entry.name.split(" ", 1)
    argv = entry.args(world) if entry.args else []
    problems = []
    for ident in IDENTITIES:
        if ident.anonymous:
            continue
        as_user = [] if entry.rule is CONSOLE else ["--as", users[ident.name].username]
        before = _written()
        try:
            call_command(command, sub, *argv, *as_user, stdout=io.StringIO(), stderr=io.StringIO())
            got, message = "ok", ""
        except CommandError as exc:
            message = str(exc)
            got = "denied" if any(m in message for m in POLICY_MESSAGES) else "ok"
        want = expected(ident, entry)
        if got != want:
            problems.append(f"{entry.name} as {ident.name}: expected {want}, got {got} ({message})")
        elif got == "denied" and _written() != before:
            problems.append(f"{entry.name} as {ident.name}: refused but wrote something")
    assert problems == []
