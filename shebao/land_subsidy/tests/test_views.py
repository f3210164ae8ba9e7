"""The 土保补贴 pages: the person page says why a year is (not) paid; 修改补贴信息 is audited with its reason
and written once (a resent form writes nothing); categories and rules are added from the page; the
roster page and its xlsx; the registry's person page shows the 土保补贴 section."""

import datetime as dt

import pytest

from shebao.common.models import AuditEvent
from shebao.land_subsidy.models import SubsidyCategory, SubsidyPerson, SubsidyRule
from shebao.land_subsidy.tests.factories import login, make_category, make_tb, make_user
from shebao.payroll.services import payroll_run_compute
from shebao.web.tests.helpers import once

pytestmark = pytest.mark.django_db


def test_person_page_and_audited_edit(client, clerk):
    cat = make_category(user=clerk, male=60, female=55)
    other = make_category("B", "征地补贴二类", user=clerk)
    sp = make_tb("甲", user=clerk, category=cat, birth=dt.date(1967, 5, 1))
    login(client, clerk)
    page = client.get(f"/tb/p/{sp.person_id}/").content.decode()
    assert "征地补贴一类" in page
    for year in range(dt.date.today().year - 1, dt.date.today().year + 2):  # the three years the page shows
        age = year - 1967
        want = (f"符合：认定日 {year}-12-31 年龄 {age} 周岁" if age >= 60
                else f"认定日 {year}-12-31 年龄 {age} 周岁，未满 60 周岁")
        assert want in page, year
    form = once({"category": other.pk, "land_date": "2019-05-20", "land_project": "新城大道二期", "note": "",
                 "reason": "村里核对，类别登记错误"})
    response = client.post(f"/tb/p/{sp.person_id}/edit/", form)
    assert response.status_code == 302
    sp.refresh_from_db()
    assert (sp.category_id, sp.land_date, sp.land_project) == (other.pk, dt.date(2019, 5, 20), "新城大道二期")
    event = AuditEvent.objects.get(action="update", object_type="land_subsidy.subsidyperson")
    assert (event.reason, event.person_id, event.before["category_id"], event.after["category_id"]) == (
        "村里核对，类别登记错误", sp.person_id, cat.pk, other.pk)
    # the same form again (a double click): refused, nothing written
    events = AuditEvent.objects.count()
    again = client.post(f"/tb/p/{sp.person_id}/edit/", {**form, "land_project": "别的"}, follow=True)
    assert "此表单已经提交过" in again.content.decode()
    assert (AuditEvent.objects.count(), SubsidyPerson.objects.get(pk=sp.pk).land_project) == (events, "新城大道二期")
    # no reason: the form says so, nothing written
    bad = client.post(f"/tb/p/{sp.person_id}/edit/", once({"category": cat.pk, "reason": ""}))
    assert bad.status_code == 200 and AuditEvent.objects.count() == events
    # the registry's person page shows the 土保补贴 section
    assert "土保补贴信息" in client.get(f"/persons/{sp.person_id}/").content.decode()


def test_categories_and_rules_from_the_page(client, clerk):
    login(client, clerk)
    client.post("/tb/categories/", once({"what": "category", "code": "x1", "name": "征地补贴三类", "sort": "3"}))
    category = SubsidyCategory.objects.get(code="X1")
    response = client.post("/tb/categories/", once({
        "what": "rule", "category": category.pk, "from_year": "2026", "amount": "1800.00", "reference_month": "2",
        "reference_day": "29", "min_age_male": "60", "min_age_female": "55"}))
    assert "认定日 2 月 29 日不是每年都有的日期" in response.content.decode()
    assert not SubsidyRule.objects.exists()
    client.post("/tb/categories/", once({
        "what": "rule", "category": category.pk, "from_year": "2026", "amount": "1800.00", "reference_month": "6",
        "reference_day": "30", "min_age_male": "60", "min_age_female": ""}))
    rule = SubsidyRule.objects.get()
    assert (rule.amount, rule.reference_month, rule.reference_day, rule.min_age_male, rule.min_age_female) == (
        1800, 6, 30, 60, None)
    assert AuditEvent.objects.filter(object_type="land_subsidy.subsidyrule", action="create").count() == 1
    # a town clerk reads the page but cannot add (a county-wide act)
    town = login(client.__class__(), make_user("tbtown", towns=("浒山街道",)))
    assert town.get("/tb/categories/").status_code == 200
    assert town.post("/tb/categories/", once({"what": "category", "code": "Y", "name": "四类"})).status_code == 403
    assert not SubsidyCategory.objects.filter(code="Y").exists()


def test_runs_roster_page_and_xlsx(client, clerk):
    cat = make_category(user=clerk, male=None, female=None)
    make_tb("甲", user=clerk, category=cat)
    run = payroll_run_compute(scheme=SubsidyPerson.objects.get().enrollment.scheme, period="2026", user=clerk,
                              kind="annual")
    login(client, clerk)
    runs = client.get("/tb/runs/").content.decode()
    assert f"/payroll/{run.pk}/" in runs and "1,200.00" in runs
    roster = client.get(f"/tb/runs/{run.pk}/").content.decode()
    assert "共 1 人；应发 1,200.00，扣减 0.00，实发 <strong>1,200.00</strong>" in roster
    xlsx = client.get(f"/tb/runs/{run.pk}/xlsx/")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "tb_roster_2026.xlsx" in xlsx["Content-Disposition"]


def test_suspend_resume_and_death_from_the_tb_page(client, clerk):
    from shebao.land_subsidy.rules import entitlement

    cat = make_category(user=clerk, male=None, female=None)
    sp = make_tb("甲", user=clerk, category=cat)
    login(client, clerk)
    url = f"/tb/p/{sp.person_id}/status/"
    assert "请选择暂停原因" in client.post(url, once({"action": "suspend", "month": "2026-06"})).content.decode()
    client.post(url, once({"action": "suspend", "reason": "no_cert", "month": "2026-06", "note": "逾期未认证"}))
    sp.refresh_from_db()
    assert sp.enrollment.payment_status == "suspended"
    assert entitlement(sp, 2026).reason == "认定日 2026-12-31 处于暂停发放"
    client.post(url, once({"action": "resume", "month": "2026-11"}))
    sp.refresh_from_db()
    assert sp.enrollment.payment_status == "active" and entitlement(sp, 2026).entitled
    client.post(url, once({"action": "terminate", "reason": "death", "death_date": "2026-03-05"}))
    sp.refresh_from_db()
    sp.person.refresh_from_db()
    assert (sp.enrollment.payment_status, sp.person.death_date) == ("terminated", dt.date(2026, 3, 5))
    assert not entitlement(sp, 2026).entitled
