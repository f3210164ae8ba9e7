"""The 3.1 queries: per person and lists across persons with filters, within the user's region scope."""

import datetime as dt
from decimal import Decimal

import pytest

from shebao.accounts.tests.factories import make_user as make_login_user
from shebao.rural_pension.selectors import (
    account_benefit,
    account_by_id_number,
    account_contributions_by_year,
    account_overview,
    accounts_list,
)
from shebao.rural_pension.services import rural_years_recompute
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_person, set_rates

D = Decimal
pytestmark = pytest.mark.django_db


def test_person_queries_and_lists():
    set_rates()
    a = make_account(flows=HAND_FLOWS)
    b = make_account(make_person("李四", account=None), flows=[("2023-03", "personal", "100.00")], status="suspended")
    rural_years_recompute()
    overview = account_overview(account=a)
    assert overview["contribution_total"] == D("2940.00") and overview["contribution_years"] == 4
    assert account_contributions_by_year(account=a)[0] == {"year": 2020, "personal": D("1200.00"),
                                                           "collective": D("600.00"), "other": D("0"), "months": 2}
    assert account_benefit(account=a)["receiving"] is False
    assert account_by_id_number(user=None, id_number=a.person.id_number) == a
    centre = make_login_user("centre", all_regions=True)
    rows = list(accounts_list(user=centre))
    assert [r.pk for r in rows] == sorted([a.pk, b.pk], key=lambda pk: (["李四", "王阿大"].index(
        {a.pk: "王阿大", b.pk: "李四"}[pk])))
    by_pk = {r.pk: r for r in rows}
    assert by_pk[a.pk].balance_year == 2026 and by_pk[a.pk].contribution_years == 4
    assert [r.pk for r in accounts_list(user=centre, status="suspended")] == [b.pk]
    assert [r.pk for r in accounts_list(user=centre, paid_in_year_from=2024)] == [a.pk]
    assert [r.pk for r in accounts_list(user=centre, min_years=2)] == [a.pk]
    assert [r.pk for r in accounts_list(user=centre, q="李")] == [b.pk]
    assert [r.pk for r in accounts_list(user=centre, enrolled_from=dt.date(2030, 1, 1))] == []
    other_town = make_login_user("guanhai", towns=["观海卫镇"])
    assert list(accounts_list(user=other_town)) == []
