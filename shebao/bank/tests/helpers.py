"""Test data for the bank interface, built with the registry and payroll services: persons with
accounts, approved one-off runs, and return files written as the bank would write them."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from shebao.accounts.models import User
from shebao.accounts.tests import factories
from shebao.bank.formats import ReturnRecord, Template
from shebao.bank.models import BankFile
from shebao.benefits.models import Scheme
from shebao.common.identity import check_char
from shebao.payroll.services import payroll_oneoff_create, payroll_run_approve
from shebao.registry.models import Person, Region
from shebao.registry.services import bank_account_set

_n = itertools.count(1)
DAY = dt.date(2026, 3, 20)


def make_user(username: str, *, reviewer: bool = False) -> User:
    """A county-wide clerk, or (``reviewer``) a county-wide reviewer: the commands check ``--as``."""
    user = factories.make_user(username, roles=("reviewer",) if reviewer else ("clerk",), all_regions=True)
    return User.objects.get(pk=user.pk)


def make_person(name: str, account: str | None, *, bank: str = "ICBC", user=None, town: str | None = None) -> Person:
    """A person (of ``town`` by name, else the first town) with an account at ``bank``."""
    n = next(_n)
    first17 = f"330282195{n % 10}0101{(n * 2 + 1) % 1000:03d}"
    town = (Region.objects.get(level="town", name=town) if town
            else Region.objects.filter(level="town").order_by("id").first())
    person = Person.objects.create(id_number=first17 + check_char(first17), name=name, sex="M",
                                   birth_date=dt.date(1950 + n % 10, 1, 1), town=town)
    if account:
        bank_account_set(user=user, person=person, bank=bank, account_number=account, holder_name=name,
                         valid_from=dt.date(2020, 1, 1))
    return person


def approved_run(items, clerk, reviewer, *, period="2026-03"):
    """A one-off run paying ``items`` = [(person, "amount"), …], approved by the reviewer."""
    run = payroll_oneoff_create(scheme=Scheme.objects.get(code="ZG"), items=[(p, a, "") for p, a in items],
                                user=clerk, period=period)
    return payroll_run_approve(run=run, user=reviewer)


def bank_answer(bank_file: BankFile, failed: dict[int, str] | None = None, *, only=None) -> bytes:
    """The return file the bank would send for ``bank_file``: every line paid except ``failed``
    (file seq → reason), in the file's own template."""
    failed = failed or {}
    records = []
    for line in bank_file.lines.order_by("seq"):
        if only is not None and line.seq not in only:
            continue
        ok = line.seq not in failed
        records.append(ReturnRecord(seq=line.seq, account_no=line.account_number, holder_name=line.holder_name,
                                    amount=line.amount, processed_amount=line.amount if ok else Decimal("0.00"),
                                    ok=ok, reason=failed.get(line.seq, "")))
    return Template(bank_file.definition).render_return(batch_no=bank_file.batch_no, date=DAY, records=records)


FOREIGN_TOWN, HOME_TOWN = "附海镇", "浒山街道"
FOREIGN_ACCOUNT, HOME_ACCOUNT = "6222020000007771", "6222020000008882"


@dataclass
class World:
    """A ZG one-off run approved, exported and returned with a line for a person of 附海镇 (foreign)
    and one of 浒山街道 (home), both failed by the bank; its bank file and return; a second ZG run
    still computed; a queued compute job and a queued export job."""

    clerk: User
    reviewer: User
    foreign: Person
    home: Person
    run: object
    foreign_line: object
    home_line: object
    bank_file: BankFile
    return_file: object
    return_bytes: bytes
    computed_run: object
    compute_job: object
    export_job: object


def paybank_world(clerk: User, reviewer: User) -> World:
    from shebao.bank.selectors import bank_template_get
    from shebao.bank.services import bank_export, bank_return_import
    from shebao.common.jobs import job_start
    from shebao.payroll.models import PayrollLine

    foreign = make_person("外镇甲", FOREIGN_ACCOUNT, town=FOREIGN_TOWN)
    home = make_person("本镇乙", HOME_ACCOUNT, town=HOME_TOWN)
    run = approved_run([(foreign, "100.00"), (home, "200.00")], clerk, reviewer)
    [bank_file] = bank_export(runs=[run.pk], template=bank_template_get("standard"), user=clerk, on=DAY)
    seqs = dict(bank_file.lines.values_list("name", "seq"))
    data = bank_answer(bank_file, {seqs["外镇甲"]: "账号不存在", seqs["本镇乙"]: "账户已冻结"})
    imported = bank_return_import(data=data, filename="return.txt", user=clerk)
    computed = payroll_oneoff_create(scheme=Scheme.objects.get(code="ZG"), items=[(home, "50.00", "")],
                                     user=clerk, period="2026-04")
    compute_job = job_start(kind="payroll_compute", title="计算月度结算", params={"scheme": "ZG", "period": "2026-05"},
                            user=clerk)
    export_job = job_start(kind="bank_export", title="生成报盘文件", params={"runs": [run.pk], "template": "standard",
                                                                       "bank": None}, user=clerk)
    run.refresh_from_db()
    return World(clerk, reviewer, foreign, home, run, PayrollLine.objects.get(run=run, person=foreign),
                 PayrollLine.objects.get(run=run, person=home), bank_file, imported.return_file, data, computed,
                 compute_job, export_job)
