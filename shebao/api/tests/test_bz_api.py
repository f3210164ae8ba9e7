"""养老保障 (BZ) over the API, read only: categories with their standards by month, persons (scoped to
the caller's towns, masked), one person's enrollment, standard, paid in, received and 应付/实付 per
month — after a failed and a re-issued payment — and the report reconciled to the run."""

import datetime as dt
from decimal import Decimal as D

import pytest

from shebao.accounts.tests.factories import id_number, logged_in, make_person, make_user
from shebao.benefits.models import Scheme
from shebao.payroll.models import PayrollLine
from shebao.payroll.services import (
    payroll_lines_apply_results,
    payroll_reissue_create,
    payroll_run_approve,
    payroll_run_compute,
    payroll_run_mark_exported,
)
from shebao.pension_security.models import Category
from shebao.pension_security.services import member_register, paid_in_add, proposal_approve, proposal_create
from shebao.registry.services import bank_account_set

pytestmark = pytest.mark.django_db

HOME_ID = id_number(dt.date(1975, 4, 2), "321")  # 浒山街道
FOREIGN_ID = id_number(dt.date(1976, 5, 3), "642")  # 附海镇
API = "/api/v1/bz"


@pytest.fixture
def world(db):
    clerk = make_user("bz_api_clerk", all_regions=True)
    reviewer = make_user("bz_api_rev", roles=("reviewer",), all_regions=True)
    land = Category.objects.get(code="land")
    members = {}
    for key, number, name, town, account in [("home", HOME_ID, "浒山甲", "浒山街道", "6222020000001111"),
                                             ("foreign", FOREIGN_ID, "附海乙", "附海镇", "6222020000002222")]:
        p = make_person(number, name=name, town_name=town)
        bank_account_set(user=clerk, person=p, bank="ICBC", account_number=account, holder_name=name,
                         valid_from=dt.date(2020, 1, 1))
        m = member_register(user=clerk, category=land, person=p)
        proposal_approve(proposal=proposal_create(member=m, user=clerk, start_month="2026-03"), user=reviewer)
        members[key] = m
    paid_in_add(member=members["home"], kind="lump_sum", paid_on=dt.date(2012, 5, 1), amount="18000.00", user=clerk)
    bz = Scheme.objects.get(code="BZ")
    run = payroll_run_mark_exported(run=payroll_run_approve(run=payroll_run_compute(scheme=bz, period="2026-03",
                                                                                    user=clerk), user=reviewer),
                                    user=clerk)
    home_line = PayrollLine.objects.get(run=run, person_id=members["home"].person_id)
    foreign_line = PayrollLine.objects.get(run=run, person_id=members["foreign"].person_id)
    payroll_lines_apply_results(run=run, results=[(home_line.pk, D("320.00"), True, ""),
                                                  (foreign_line.pk, D("0"), False, "账户冻结")], user=clerk)
    return {"clerk": clerk, "reviewer": reviewer, "run": run, **members}


def _reissue_and_pay(world):
    bank_account_set(user=world["clerk"], person=world["foreign"].person, bank="ABC",
                     account_number="6228480000003333", holder_name="附海乙", valid_from=dt.date(2026, 4, 1))
    reissue = payroll_run_mark_exported(run=payroll_run_approve(run=payroll_reissue_create(run=world["run"],
                                                                                           user=world["clerk"]),
                                                                user=world["reviewer"]), user=world["clerk"])
    (line,) = PayrollLine.objects.filter(run=reissue)
    payroll_lines_apply_results(run=reissue, results=[(line.pk, D("320.00"), True, "")], user=world["clerk"])


def test_categories_with_standards_by_month(world):
    body = logged_in(world["clerk"]).get(f"{API}/categories").json()
    land = next(c for c in body if c["code"] == "land")
    assert (land["name"], land["conversion_age_male"], land["conversion_age_female"], land["refund_floor"],
            land["subsidy_now"], land["pension_now"]) == ("被征地人员养老保障", 60, 55, "0.00", "320.00", "860.00")
    assert [(s["phase"], s["item"], s["amount"], s["from_month"], s["to_month"], s["used"]) for s in land["standards"]] == [
        ("pension", "basic", "860.00", "2020-01", None, False),
        ("subsidy", "living", "320.00", "2020-01", None, True),  # used by the approvals and the 2026-03 run
        # (the 养老金 standard: nobody of the category was approved or paid in that phase)
    ]
    elder = next(c for c in body if c["code"] == "elder")
    assert [s["used"] for s in elder["standards"]] == [False, False]


def test_persons_are_scoped_and_masked(world):
    body = logged_in(world["clerk"]).get(f"{API}/persons", {"status": "active"}).json()
    assert body["count"] == 2
    row = next(r for r in body["items"] if r["person_id"] == world["foreign"].person_id)
    assert row["id_number"] != FOREIGN_ID and row["id_number"].endswith(FOREIGN_ID[-4:])
    assert (row["category_code"], row["phase"], row["status"], row["start_month"], row["monthly_total"]) == (
        "land", "subsidy", "active", "2026-03", "320.00")
    sensitive = make_user("bz_api_sens", all_regions=True, sensitive=True)
    full = logged_in(sensitive).get(f"{API}/persons", {"q": "附海乙"}).json()
    assert [r["id_number"] for r in full["items"]] == [FOREIGN_ID]

    town_clerk = make_user("bz_api_town", towns=("浒山街道",))
    c = logged_in(town_clerk)
    assert [r["person_id"] for r in c.get(f"{API}/persons").json()["items"]] == [world["home"].person_id]
    resp = c.get(f"{API}/persons/{world['foreign'].person_id}")
    assert resp.status_code == 404
    assert c.get(f"{API}/persons/{world['foreign'].person_id}/payable").status_code == 404

    nb_only = make_user("bz_api_nb", all_regions=True)
    nb_only.all_schemes, nb_only.schemes = False, ["NB"]
    nb_only.save(update_fields=["all_schemes", "schemes"])
    assert logged_in(nb_only).get(f"{API}/persons").status_code == 403
    assert logged_in(make_user("bz_api_none", roles=(), all_regions=True)).get(f"{API}/categories").json() == {
        "detail": "您没有查看养老保障人员的权限"}


def test_person_detail_and_payable_after_a_failed_and_reissued_payment(world):
    c = logged_in(world["clerk"])
    pid = world["foreign"].person_id
    detail = c.get(f"{API}/persons/{pid}").json()
    assert (detail["standard_now"], detail["received_total"], detail["paid_in_total"]) == ("320.00", "0.00", "0.00")
    assert detail["account_number"] != "6222020000002222" and detail["account_number"].endswith("2222")
    assert [(p["state"], p["start_month"], p["monthly_total"]) for p in detail["proposals"]] == [
        ("approved", "2026-03", "320.00")]
    assert detail["payable"] == [{"period": "2026-03", "payable": "320.00", "paid": "0.00", "written_off": "0.00",
                                  "owed": "320.00"}]

    _reissue_and_pay(world)
    body = c.get(f"{API}/persons/{pid}/payable", {"from": "2026-01", "to": "2026-12"}).json()
    assert body["months"] == [{"period": "2026-03", "payable": "320.00", "paid": "320.00", "written_off": "0.00",
                               "owed": "0.00"}]
    assert body["totals"]["owed"] == "0.00"
    assert c.get(f"{API}/persons/{pid}").json()["received_total"] == "320.00"
    home = c.get(f"{API}/persons/{world['home'].person_id}").json()
    assert (home["paid_in_total"], home["paid_in"][0]["kind"], home["received_total"]) == ("18000.00", "lump_sum",
                                                                                           "320.00")

    report = c.get(f"{API}/payable", {"from": "2026-03", "to": "2026-03"}).json()
    assert report["months"] == [{"period": "2026-03", "persons": 2, "payable": "640.00", "paid": "640.00",
                                 "written_off": "0.00", "owed": "0.00", "run_total": "640.00", "reconciled": True}]
    town = logged_in(make_user("bz_api_town2", towns=("浒山街道",))).get(f"{API}/payable").json()
    assert [(m["persons"], m["payable"], m["reconciled"]) for m in town["months"]] == [(1, "320.00", None)]


def test_refusals(world):
    c = logged_in(world["clerk"])
    other = make_person(id_number(dt.date(1970, 1, 1), "111"), name="非保障")
    assert c.get(f"{API}/persons/{other.pk}").json() == {"detail": "该人员不是养老保障人员"}
    assert c.get(f"{API}/persons/{world['home'].person_id}/payable", {"from": "2026-13"}).status_code == 422
    assert c.get(f"{API}/persons", {"status": "gone"}).status_code == 422
    from django.test import Client

    assert Client().get(f"{API}/categories").status_code == 401
