"""Maintaining 土保补贴 from the pages: a category renamed or disabled (refused while persons not yet 减员
are in it), a yearly rule changed or disabled (refused once a computed yearly run used it: a later year's
rule instead), and one person added by the 人员新增 form through the import's own row check. Every change
audited; every refusal in Chinese with nothing written; every form safe to submit twice."""

import datetime as dt
from decimal import Decimal as D

import pytest

from shebao.benefits.models import Enrollment
from shebao.benefits.services import enrollment_terminate
from shebao.common.models import AuditEvent
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule
from shebao.land_subsidy.rules import entitlement
from shebao.land_subsidy.services import (
    TbError,
    TbRowError,
    subsidy_person_add,
    subsidy_rule_save,
)
from shebao.land_subsidy.tests.factories import login, make_category, make_tb, make_user
from shebao.payroll.services import payroll_run_compute
from shebao.registry.models import BankAccount, Person, Region
from shebao.registry.tests.factories import id_number
from shebao.web.tests.helpers import once

pytestmark = pytest.mark.django_db


def written() -> tuple:
    return (AuditEvent.objects.count(), Person.objects.count(), Enrollment.objects.count(),
            SubsidyPerson.objects.count(), BankAccount.objects.count(),
            list(SubsidyCategory.objects.order_by("pk").values_list("code", "name", "active", "sort", "note")),
            list(SubsidyRule.objects.order_by("pk").values_list("from_year", "amount", "active", "min_age_male",
                                                                "note")))


def town(name="浒山街道") -> Region:
    return Region.objects.get(level="town", name=name)


def registered(name: str, *, user, town_name: str = "浒山街道") -> Person:
    """A registered person with a current account, in no 土保补贴 (as one of another scheme)."""
    from shebao.registry.services import bank_account_set, name_initials

    born = dt.date(1951, 2, 2)
    person = Person.objects.create(id_number=id_number(born), name=name, name_initials=name_initials(name), sex="M",
                                   birth_date=born, town=town(town_name))
    bank_account_set(user=user, person=person, bank="ICBC", account_number="6222021234567890136", holder_name=name)
    return person


# --------------------------------------------------------------------------------------------------
# categories


def test_a_category_is_renamed_and_disabled_from_its_page(client, clerk):
    cat = make_category(user=clerk)
    sp = make_tb("甲", user=clerk, category=cat)
    login(client, clerk)
    url = f"/tb/categories/{cat.pk}/edit/"
    assert "现有未减员人员 1 人" in client.get(url).content.decode()
    form = once({"code": "A", "name": "征地补贴甲类", "sort": "1", "note": "改名", "active": "on"})
    assert client.post(url, form).status_code == 302
    cat.refresh_from_db()
    assert (cat.name, cat.note, cat.active) == ("征地补贴甲类", "改名", True)
    event = AuditEvent.objects.filter(object_type="land_subsidy.subsidycategory", action="update").get()
    assert (event.before["name"], event.after["name"]) == ("征地补贴一类", "征地补贴甲类")
    # the same form again: refused, nothing written
    before = written()
    again = client.post(url, {**form, "name": "别的"}, follow=True).content.decode()
    assert "此表单已经提交过" in again and written() == before
    # disabling while a person is not yet 减员: refused with the reason, nothing written
    response = client.post(url, once({"code": "A", "name": "征地补贴甲类", "sort": "1"})).content.decode()
    assert "补贴类别“征地补贴甲类”还有 1 名未减员的人员（正常或暂停发放），不能停用" in response
    assert written() == before
    # once the person is 减员, the category can be disabled (audited); their rule still applies
    enrollment_terminate(enrollment=sp.enrollment, reason="transfer", last_month="2026-12", user=clerk)
    assert client.post(url, once({"code": "A", "name": "征地补贴甲类", "sort": "1"})).status_code == 302
    cat.refresh_from_db()
    assert cat.active is False
    assert AuditEvent.objects.filter(object_type="land_subsidy.subsidycategory", summary="停用补贴类别 征地补贴甲类",
                                     before__active=True, after__active=False).count() == 1
    sp.refresh_from_db()
    assert entitlement(sp, 2026).entitled  # 2026-12 was their last month: the year is still theirs
    # a disabled category takes no one new
    with pytest.raises(TbRowError, match="补贴类别“征地补贴甲类”已停用"):
        subsidy_person_add(user=clerk, id_number=id_number(dt.date(1950, 3, 3)), name="乙", town=town(),
                           category=cat, start_month=dt.date(2026, 1, 1), bank="ICBC",
                           account_number="6222021234567890128")


def test_a_town_clerk_cannot_change_a_category(client, clerk):
    cat = make_category(user=clerk)
    town_clerk = login(client, make_user("tbtown", towns=("浒山街道",)))
    before = written()
    response = town_clerk.post(f"/tb/categories/{cat.pk}/edit/", once({"code": "A", "name": "改", "sort": "0"}))
    assert response.status_code == 403 and written() == before


# --------------------------------------------------------------------------------------------------
# yearly rules


def rule_form(**kw):
    return once({"from_year": "2020", "amount": "1200.00", "reference_month": "12", "reference_day": "31",
                 "min_age_male": "60", "min_age_female": "55", "active": "on", **kw})


def test_a_rule_no_run_used_is_changed_and_disabled(client, clerk):
    cat = make_category(user=clerk, male=None, female=None)
    rule = cat.rules.get()
    sp = make_tb("甲", user=clerk, category=cat)
    login(client, clerk)
    url = f"/tb/rules/{rule.pk}/edit/"
    assert client.post(url, rule_form(amount="1300.00", min_age_male="", min_age_female="")).status_code == 302
    rule.refresh_from_db()
    assert rule.amount == D("1300.00") and entitlement(sp, 2026).amount == D("1300.00")
    event = AuditEvent.objects.get(object_type="land_subsidy.subsidyrule", action="update")
    assert (event.before["amount"], event.after["amount"]) == ("1200.00", "1300.00")
    # disabled: the year has no rule any more
    assert client.post(url, rule_form(amount="1300.00", active="")).status_code == 302
    rule.refresh_from_db()
    assert rule.active is False and entitlement(sp, 2026).code == "no_rule"


def test_a_rule_a_computed_run_used_is_never_changed(client, clerk):
    cat = make_category(user=clerk, male=None, female=None)
    rule = cat.rules.get()
    sp = make_tb("甲", user=clerk, category=cat)
    run = payroll_run_compute(scheme=sp.enrollment.scheme, period="2026", user=clerk, kind="annual")
    login(client, clerk)
    url = f"/tb/rules/{rule.pk}/edit/"
    before = written()
    used = (f"该标准（征地补贴一类 2020 年起）已用于 2026 年度发放（批次 #{run.pk}），不能修改或停用："
            "标准调整请新增 2027 年或以后起始的标准")
    for change in ({"amount": "1300.00"}, {"active": ""}, {"min_age_male": "60"}, {"from_year": "2027"},
                   {"reference_month": "6", "reference_day": "30"}):
        response = client.post(url, rule_form(**{"min_age_male": "", "min_age_female": "", **change})).content.decode()
        assert used in response, change
        assert written() == before
    # a new rule that would take over the computed year: refused too
    with pytest.raises(TbError, match=f"征地补贴一类 2026 年度发放已按 2020 年起的标准计算（批次 #{run.pk}），"
                                      "不能改变该年度适用的标准：请新增 2027 年或以后起始的标准"):
        subsidy_rule_save(user=clerk, category=cat, from_year=2025, amount="1500.00")
    assert written() == before
    # only the 说明 may change (audited); a rule from 2027 on is the way to a new amount
    assert client.post(url, rule_form(min_age_male="", min_age_female="", note="2026 年已发放")).status_code == 302
    newer = subsidy_rule_save(user=clerk, category=cat, from_year=2027, amount="1500.00")
    rule.refresh_from_db()
    assert (rule.amount, rule.note, newer.amount) == (D("1200.00"), "2026 年已发放", D("1500.00"))
    assert (entitlement(sp, 2026).amount, entitlement(sp, 2027).amount) == (D("1200.00"), D("1500.00"))
    # the later rule is free until its year is computed
    subsidy_rule_save(user=clerk, category=cat, rule=newer, from_year=2027, amount="1600.00")
    assert SubsidyRule.objects.get(pk=newer.pk).amount == D("1600.00")


# --------------------------------------------------------------------------------------------------
# 人员新增


def person_form(cat, **kw):
    return once({"id_number": id_number(dt.date(1955, 4, 9)), "name": "王小二", "town": town().pk,
                 "category": cat.pk, "start_month": "2026-01", "bank": "ICBC", "account_number": "6222021234567890128",
                 "holder_name": "", "land_date": "2019-05-20", "land_project": "新城大道", "phone": "13812345678",
                 "note": "", **kw})


def test_one_person_is_added_from_the_form_once(client, clerk):
    cat = make_category(user=clerk, male=None, female=None)
    login(client, clerk)
    assert client.get("/tb/p/new/").status_code == 200
    form = person_form(cat, account_number="6222 0212 3456 7890 129")  # fails Luhn: a warning, not a refusal
    response = client.post("/tb/p/new/", form, follow=True)
    page = response.content.decode()
    sp = SubsidyPerson.objects.select_related("person", "enrollment").get()
    assert response.redirect_chain[-1][0] == f"/tb/p/{sp.person_id}/"
    assert "已纳入土保补贴：王小二（征地补贴一类）" in page
    assert "请核对账号：账号未通过 Luhn 校验" in page
    p = sp.person
    assert (p.id_number, p.name, p.town.name, p.mobile) == (form["id_number"], "王小二", "浒山街道", "13812345678")
    assert (sp.category_id, sp.land_date, sp.land_project) == (cat.pk, dt.date(2019, 5, 20), "新城大道")
    assert (sp.enrollment.start_month, sp.enrollment.payment_status) == (dt.date(2026, 1, 1), "active")
    account = BankAccount.objects.get(person=p)
    assert (account.bank, account.account_number, account.holder_name, account.luhn_warning) == (
        "ICBC", "6222021234567890129", "王小二", True)
    assert AuditEvent.objects.filter(object_type="land_subsidy.subsidyperson", action="create", person_id=p.pk,
                                     reason="土保补贴人员新增 王小二").count() == 1
    assert entitlement(sp, 2026).entitled
    # the same form again (a double click): one person
    before = written()
    assert "此表单已经提交过" in client.post("/tb/p/new/", form, follow=True).content.decode()
    assert written() == before
    # a new form for the same person: refused (already in 土保补贴), nothing written
    again = client.post("/tb/p/new/", person_form(cat, id_number=form["id_number"])).content.decode()
    assert "王小二 已是土保补贴人员" in again and written() == before


def test_a_15_digit_number_and_a_registered_person(clerk):
    cat = make_category(user=clerk, male=None, female=None)
    full = id_number(dt.date(1952, 8, 8))
    added = subsidy_person_add(user=clerk, id_number=full[:6] + full[8:17], name="老号", town=town(), category=cat,
                               start_month=dt.date(2026, 3, 1), bank="ICBC", account_number="6222021234567890128",
                               community=Region.objects.filter(parent=town(), level="community").first())
    assert added.record.person.id_number == full and added.warnings == []
    assert added.record.person.community.parent_id == town().pk
    # a person registered with an account (another scheme's) needs no account in the form
    other = registered("已登记", user=clerk)
    added = subsidy_person_add(user=clerk, id_number=other.id_number, name="已登记", town=town(), category=cat,
                               start_month=dt.date(2026, 1, 1))
    assert added.record.person_id == other.pk and added.warnings == []


@pytest.mark.parametrize("change,field,message", [
    ({"id_number": "330282195504091234"}, "id_number", "校验"),
    ({"name": ""}, "name", "这个字段是必填项"),
    ({"start_month": "2026-13"}, "start_month", ""),
    ({"account_number": ""}, "account_number", "开户银行、银行账号、户名须同时填写"),
    ({"bank": "", "account_number": ""}, "bank", "新纳入人员须有发放账户（开户银行、银行账号、户名）"),
    ({"account_number": "12AB"}, "account_number", ""),
    ({"land_date": "2099-01-01"}, "land_date", "征地时间 2099-01-01 不合理"),
])
def test_a_bad_person_form_says_why_and_writes_nothing(client, clerk, change, field, message):
    cat = make_category(user=clerk, male=None, female=None)
    login(client, clerk)
    before = written()
    response = client.post("/tb/p/new/", person_form(cat, **change))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert written() == before


def test_out_of_scope_and_registered_under_another_name(clerk):
    cat = make_category(user=clerk, male=None, female=None)
    other = registered("附海人", user=clerk, town_name="附海镇")
    town_clerk = make_user("tbtown", towns=("浒山街道",))
    before = written()
    with pytest.raises(TbRowError, match="该人员不在您的管辖范围内") as exc:
        subsidy_person_add(user=town_clerk, id_number=other.id_number, name="附海人", town=town(),
                           category=cat, start_month=dt.date(2026, 1, 1))
    assert ("town", "该人员不在您的管辖范围内") in exc.value.errors
    with pytest.raises(TbRowError, match="“别名”与系统中该身份证号的姓名“附海人”不一致"):
        subsidy_person_add(user=clerk, id_number=other.id_number, name="别名", town=town("附海镇"),
                           category=cat, start_month=dt.date(2026, 1, 1))
    with pytest.raises(TbRowError, match="不属于"):
        subsidy_person_add(user=clerk, id_number=id_number(), name="新人", town=town(), category=cat,
                           start_month=dt.date(2026, 1, 1), bank="ICBC", account_number="6222021234567890128",
                           community=Region.objects.filter(parent=town("附海镇"), level="community").first())
    assert written() == before


@pytest.mark.django_db(transaction=True)
def test_a_rule_change_cannot_pass_a_yearly_run_being_computed():
    """The yearly run's transaction holds its categories (FOR SHARE) from before its statement reads the
    rules until it commits, so a rule change — which locks its category FOR UPDATE before checking which
    years are computed — waits for the run and then sees it. Without the lock the change could slip in
    between: the run computed with the old rule, the rule then saying something else for that year."""
    import types

    import psycopg
    from django.db import connection, transaction

    from shebao.benefits.models import Scheme
    from shebao.land_subsidy.rules import annual_rows
    from shebao.land_subsidy.tests.factories import make_category, make_user

    category = make_category(user=make_user("tb_lock_clerk"))
    run = types.SimpleNamespace(scheme_id=Scheme.objects.get(code="TB").pk, period=dt.date(2026, 1, 1))
    s = connection.settings_dict
    other = psycopg.connect(dbname=s["NAME"], user=s.get("USER") or None, password=s.get("PASSWORD") or None,
                            host=s.get("HOST") or None, port=s.get("PORT") or None, autocommit=True)
    lock = "SELECT id FROM land_subsidy_subsidycategory WHERE id = %s FOR UPDATE NOWAIT"
    try:
        with transaction.atomic():
            annual_rows(run)  # as the yearly run does, inside its transaction
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute(lock, [category.pk])
        assert other.execute(lock, [category.pk]).fetchone() == (category.pk,)  # free once the run commits
    finally:
        other.close()
