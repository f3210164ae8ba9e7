"""The legacy import writes the registry's rows through the registry's set-based services
(``persons_bulk_insert_from``, ``bank_accounts_bulk_open_from``): each audits one summary event, a
re-run registers nothing and audits nothing more, a person already registered with a current account
keeps it, and a staging table's name is checked before it is put into SQL."""

import datetime as dt
from pathlib import Path

import pytest

from shebao.common.models import AuditEvent
from shebao.registry.models import BankAccount, Person
from shebao.registry.services import bank_account_set, bank_accounts_bulk_open_from, persons_bulk_insert_from
from shebao.registry.tests.factories import make_person
from shebao.rural_pension.legacy_import import rural_import
from shebao.rural_pension.tests.factories import make_user

pytestmark = pytest.mark.django_db
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_the_import_registers_persons_and_accounts_by_the_registry_services_with_one_event_each():
    clerk = make_user("it_reg", perms=["accounts.it_ops"])
    result = rural_import(directory=SAMPLES, user=clerk)
    persons = AuditEvent.objects.get(action="person_bulk_create")
    first, last = result.batch.summary["person_ids"]
    assert persons.after == {"count": 4, "first_id": first, "last_id": last}
    assert persons.reason == f"老农保导入批次 {result.batch.pk}" and persons.username == clerk.username
    assert list(Person.objects.filter(pk__gte=first, pk__lte=last).values_list("pk", flat=True).order_by("pk")) == \
        list(range(first, last + 1))
    accounts = AuditEvent.objects.get(action="bank_account_bulk_open")
    assert accounts.after == {"count": 3} and result.created["bank_accounts"] == 3
    assert BankAccount.objects.filter(valid_to__isnull=True).count() == 3

    again = rural_import(directory=SAMPLES, user=clerk)
    assert again.created["persons"] == again.created["bank_accounts"] == 0
    assert AuditEvent.objects.filter(action__in=["person_bulk_create", "bank_account_bulk_open"]).count() == 2


def test_a_registered_person_keeps_the_current_account(tmp_path):
    """persons.csv names a person already registered with an account: no second person, no new account."""
    clerk = make_user("it_reg2", perms=["accounts.it_ops"])
    lines = (SAMPLES / "persons.csv").read_text(encoding="utf-8").splitlines()
    number, name = lines[1].split(",")[:2]
    known = make_person(name=name, id_number=number)
    bank_account_set(user=None, person=known, bank="ICBC", account_number="6222020000000077", holder_name=name,
                     valid_from=dt.date(2020, 1, 1))
    (tmp_path / "persons.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = rural_import(directory=tmp_path, user=clerk)
    assert result.created["persons"] == 3
    assert list(BankAccount.objects.filter(person=known).values_list("account_number", flat=True)) == [
        "6222020000000077"]


def test_a_staging_table_name_is_checked_before_it_reaches_sql():
    clerk = make_user("it_reg3", perms=["accounts.it_ops"])
    for bad in ("x; DROP TABLE registry_person", "Persons", ""):
        with pytest.raises(ValueError, match="not a staging table name"):
            persons_bulk_insert_from(table=bad, user=clerk, reason="x")
        with pytest.raises(ValueError, match="not a staging table name"):
            bank_accounts_bulk_open_from(table=bad, user=clerk, reason="x")
    assert not Person.objects.exists() and not AuditEvent.objects.filter(action__contains="bulk").exists()
