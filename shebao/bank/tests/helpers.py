"""Test data for the bank interface, built with the registry and payroll services: persons with
accounts, approved one-off runs, and return files written as the bank would write them."""

from __future__ import annotations

import datetime as dt
import itertools
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


def make_person(name: str, account: str | None, *, bank: str = "ICBC", user=None) -> Person:
    n = next(_n)
    first17 = f"330282195{n % 10}0101{(n * 2 + 1) % 1000:03d}"
    town = Region.objects.filter(level="town").order_by("id").first()
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
