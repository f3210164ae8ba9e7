"""Test data for 土保补贴: categories with a rule, subsidy persons (registered person, account, TB
enrollment and record), users."""

from __future__ import annotations

import datetime as dt

from shebao.accounts.models import User
from shebao.accounts.tests import factories as account_factories
from shebao.benefits.services import enrollment_create, scheme_get
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule
from shebao.registry.models import Person, Region
from shebao.registry.services import bank_account_set, name_initials
from shebao.registry.tests.factories import id_number


def make_user(username: str, *, roles=("clerk",), towns=(), sensitive: bool = False) -> User:
    user = account_factories.make_user(username, full_name=username.upper(), roles=roles, towns=towns,
                                       all_regions=not towns, sensitive=sensitive)
    return User.objects.get(pk=user.pk)


def make_category(code: str = "A", name: str = "征地补贴一类", *, user, amount: str = "1200.00", from_year: int = 2020,
                  month: int = 12, day: int = 31, male: int | None = 60, female: int | None = 55,
                  pays_suspended: bool = False) -> SubsidyCategory:
    category = SubsidyCategory.objects.create(code=code, name=name)
    SubsidyRule.objects.create(category=category, from_year=from_year, amount=amount, reference_month=month,
                               reference_day=day, min_age_male=male, min_age_female=female,
                               pays_suspended=pays_suspended, created_by=user)
    return category


def make_tb(name: str, *, user, category: SubsidyCategory, birth: dt.date = dt.date(1950, 5, 1), male: bool = True,
            start: str = "2020-01", account: str | None = "6222021234567890", town: str = "浒山街道") -> SubsidyPerson:
    person = Person.objects.create(id_number=id_number(birth, male=male), name=name, name_initials=name_initials(name),
                                   sex="M" if male else "F", birth_date=birth,
                                   town=Region.objects.get(level="town", name=town))
    if account:
        bank_account_set(user=user, person=person, bank="ICBC", account_number=account, holder_name=name,
                         valid_from=dt.date(2020, 1, 1))
    enrollment = enrollment_create(person=person, scheme=scheme_get("TB"), start_month=start, user=user)
    return SubsidyPerson.objects.create(enrollment=enrollment, person=person, category=category)


def login(client, user):
    """``client`` signed in as ``user`` through the project's own backend."""
    client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    return client
