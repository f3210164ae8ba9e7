import datetime as dt
import io
import json
from decimal import Decimal as D

import pytest
from python_calamine import CalamineWorkbook

from shebao.benefits.models import Adjustment, BenefitAmount, Enrollment, RaiseRule
from shebao.benefits.services import adjustment_create, enrollment_create, scheme_get
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollRun
from shebao.payroll.services import payroll_run_approve, payroll_run_compute
from shebao.registry.models import BankAccount, Person
from shebao.registry.services import bank_account_set
from shebao.self_managed.models import FlexPayment, Income, RosterImport
from shebao.self_managed.services import income_record
from shebao.web.tests.helpers import id_number, make_person, make_user, once

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(db):
    return make_user("zgc", roles=["clerk"], all_regions=True, sensitive=True)


@pytest.fixture
def plain_clerk(db):
    return make_user("zgc2", roles=["clerk"], all_regions=True, sensitive=False)


def zg_person(user, name="王阿三", *, born=dt.date(1950, 3, 1), start="2025-01", items=None, years=0, town="浒山街道"):
    person = make_person(name, number=id_number(born), town_name=town)
    bank_account_set(user=user, person=person, bank="ICBC", account_number="6222021234567890128", holder_name=name,
                     valid_from=dt.date(2024, 1, 1))
    enrollment_create(person=person, scheme=scheme_get("ZG"), start_month=start, user=user, service_years=years,
                      items=items or {"basic": "2000.00", "extra": "150.00"})
    return person


def test_pages_need_the_view_right(client):
    person = make_person("赵一")
    client.force_login(make_user("nobody", roles=[], all_regions=True))
    for url in ("/zg/", "/zg/query/", f"/zg/query/{person.pk}/", "/zg/roster/", "/zg/roster/export/", "/zg/raise/",
                "/zg/flex/", "/zg/income/", "/zg/benefits/", "/zg/enroll/"):
        assert client.get(url).status_code == 403, url


def test_reviewer_can_view_but_not_enroll(client, clerk):
    zg_person(clerk)
    client.force_login(make_user("rev", roles=["reviewer"], all_regions=True))
    assert client.get("/zg/").status_code == 200
    assert client.get("/zg/enroll/").status_code == 403


def test_list_masks_ids_and_accounts_without_the_right_and_exports_the_same(client, clerk, plain_clerk):
    person = zg_person(clerk, items={"basic": "2000.00", "extra": "150.50"})
    client.force_login(plain_clerk)
    page = client.get("/zg/").content.decode()
    assert person.name in page
    assert person.id_number not in page
    assert person.id_number[:6] + "********" + person.id_number[-4:] in page
    assert "6222***********0128" in page
    assert "2,150.50" in page
    book = CalamineWorkbook.from_filelike(io.BytesIO(client.get("/zg/?export=xlsx").getvalue()))
    rows = book.get_sheet_by_index(0).to_python()
    assert rows[1][1] == person.id_number[:6] + "********" + person.id_number[-4:]
    assert rows[1][6] == 2150.5
    roster = client.get("/zg/roster/export/").getvalue()
    rows = CalamineWorkbook.from_filelike(io.BytesIO(roster)).get_sheet_by_index(0).to_python()
    assert rows[1][0].startswith("330282") and "*" in rows[1][0]
    assert rows[1][7] == "6222***********0128"
    client.force_login(clerk)
    page = client.get("/zg/").content.decode()
    assert person.id_number in page
    rows = CalamineWorkbook.from_filelike(io.BytesIO(client.get("/zg/roster/export/").getvalue())).get_sheet_by_index(0).to_python()
    assert rows[1][0] == person.id_number


def test_list_filters_by_status_town_and_item(client, clerk):
    zg_person(clerk, "甲", town="浒山街道", items={"basic": "1000.00"})
    zg_person(clerk, "乙", born=dt.date(1951, 1, 1), town="周巷镇", items={"basic": "1000.00", "living": "50.00"})
    client.force_login(clerk)
    from shebao.registry.models import Region

    zx = Region.objects.get(name="周巷镇").pk
    assert "乙" in client.get(f"/zg/?town={zx}").content.decode()
    assert ">甲<" not in client.get(f"/zg/?town={zx}").content.decode()
    page = client.get("/zg/?item=living").content.decode()
    assert ">乙<" in page and ">甲<" not in page


def test_enroll_a_new_person(client, clerk):
    client.force_login(clerk)
    number = id_number(dt.date(1949, 8, 8))
    from shebao.registry.models import Region

    response = client.post("/zg/enroll/", once({
        "id_number": number, "name": "新来的", "town": Region.objects.get(name="坎墩街道").pk, "mobile": "13800001111",
        "start_month": "2026-01", "service_years": "25.5", "bank": "ABC", "account_number": "6228480000000000001",
        "holder_name": "新来的", "item_basic": "1888.00", "item_extra": "", "item_living": "66.60", "note": "",
    }))
    assert response.status_code == 302, response.content.decode()[:2000]
    e = Enrollment.objects.get(person__id_number=number)
    assert (e.start_month, e.service_years) == (dt.date(2026, 1, 1), D("25.50"))
    assert sorted(BenefitAmount.objects.filter(enrollment=e).values_list("item__code", "amount")) == [
        ("basic", D("1888.00")), ("living", D("66.60"))]
    assert BankAccount.objects.get(person=e.person).account_number == "6228480000000000001"


def test_enroll_refuses_name_mismatch_and_writes_nothing(client, clerk):
    person = make_person("真名字", number=id_number(dt.date(1948, 1, 1)))
    client.force_login(clerk)
    before = (Enrollment.objects.count(), AuditEvent.objects.count())
    response = client.post("/zg/enroll/", once({"id_number": person.id_number, "name": "假名字", "start_month": "2026-01",
                                           "service_years": "0", "item_basic": "100"}))
    assert response.status_code == 200
    assert "与登记的“真名字”不一致" in response.content.decode()
    assert (Enrollment.objects.count(), AuditEvent.objects.count()) == before


def _paid_run(period, maker, checker):
    run = payroll_run_compute(scheme=scheme_get("ZG"), period=period, user=maker)
    return payroll_run_approve(run=run, user=checker)


def test_death_shows_overpaid_months_then_records_the_deduction(client, clerk):
    person = zg_person(clerk, start="2026-01", items={"basic": "2000.00", "extra": "150.00"})
    reviewer = make_user("rv", roles=["reviewer"], all_regions=True)
    for period in ("2026-01", "2026-02", "2026-03"):
        _paid_run(period, clerk, reviewer)
    client.force_login(clerk)
    url = f"/zg/p/{person.pk}/terminate/"
    data = {"reason": "death", "death_date": "2026-01-20", "note": "家属告知"}
    page = client.post(url, once(data)).content.decode()
    assert "2026-02" in page and "2026-03" in page and "4,300.00" in page and "合计 2 个月" in page
    assert Enrollment.objects.get(person=person).payment_status == "active"
    response = client.post(url, once({**data, "confirm": "1"}))
    assert response.status_code == 302
    e = Enrollment.objects.get(person=person)
    assert (e.payment_status, e.end_month) == ("terminated", dt.date(2026, 1, 1))
    deduction = Adjustment.objects.get(enrollment=e, kind="deduction")
    assert (deduction.total, deduction.remaining) == (D("4300.00"), D("4300.00"))


def test_income_reduces_the_open_deduction(client, clerk):
    person = zg_person(clerk)
    e = Enrollment.objects.get(person=person)
    deduction = adjustment_create(enrollment=e, kind="deduction", total="1000.00", reason="多发扣回", user=clerk,
                                  monthly_cap="200.00")
    client.force_login(clerk)
    response = client.post("/zg/income/", once({"id_number": person.id_number, "kind": "overpayment", "amount": "300.00",
                                           "received_on": "2026-01-05", "source": "家属退回"}))
    assert response.status_code == 302
    deduction.refresh_from_db()
    assert (deduction.remaining, deduction.state) == (D("700.00"), "pending")
    income = Income.objects.get()
    assert (income.amount, income.applied, income.deduction_id) == (D("300.00"), D("300.00"), deduction.pk)
    # more than is left: the deduction is settled, the rest is income only
    income2 = income_record(person=person, kind="bank_return", amount="900.00", received_on=dt.date(2026, 1, 6),
                            source="银行退回", user=clerk)
    deduction.refresh_from_db()
    assert (deduction.remaining, deduction.state) == (D("0.00"), "settled")
    assert income2.applied == D("700.00")
    page = client.get("/zg/income/").content.decode()
    assert "家属退回" in page and "银行退回" in page
    export = client.get("/zg/income/?i_export=xlsx")
    rows = CalamineWorkbook.from_filelike(io.BytesIO(export.getvalue())).get_sheet_by_index(0).to_python()
    assert len(rows) == 3


def test_income_refused_writes_nothing(clerk):
    person = zg_person(clerk)
    before = (Income.objects.count(), AuditEvent.objects.count())
    from shebao.self_managed.services import ZgError

    with pytest.raises(ZgError, match="应为大于 0 的两位小数"):
        income_record(person=person, kind="overpayment", amount="1.005", received_on=dt.date(2026, 1, 1),
                      source="x", user=clerk)
    assert (Income.objects.count(), AuditEvent.objects.count()) == before


def test_raise_page_preview_totals_then_apply_once(client, clerk):
    a = zg_person(clerk, "甲", born=dt.date(1940, 1, 1), start="2025-01", items={"basic": "2000.00"}, years="30.7")
    zg_person(clerk, "乙", born=dt.date(1960, 6, 1), start="2026-03", items={"basic": "1500.00"}, years="10")
    client.force_login(clerk)
    form = {"name": "2026年调整", "item": "basic", "effective_month": "2026-01", "apply_month": "2026-07",
            "fixed": "50.00", "per_service_year": "2.00", "percent": "1", "age_tilts": "70:20,80:40"}
    page = client.post("/zg/raise/", once(form)).content.decode()
    # 甲: 50 + 2×30 + 20.00 + 40 (age 86 on 2026-01-01) = 170.00 × 6 months = 1020.00
    # 乙: 50 + 2×10 + 15.00 = 85.00 × 4 months (2026-03..06) = 340.00
    assert "调整 <strong>2</strong> 人，月增合计 <strong>255.00</strong> 元，补发合计 <strong>1360.00</strong> 元" in page
    assert "1,020.00" in page and "340.00" in page and "2,170.00" in page
    assert RaiseRule.objects.count() == 0
    rule_json = json.dumps({"name": "2026年调整", "scheme": "ZG", "item": "basic", "effective_month": "2026-01",
                            "fixed": "50.00", "per_service_year": "2.00", "percent": "1",
                            "age_tilts": [{"min_age": 70, "amount": "20"}, {"min_age": 80, "amount": "40"}]})
    response = client.post("/zg/raise/", once({"rule_json": rule_json, "apply_month_confirm": "2026-07", "apply": "1"}))
    assert response.status_code == 302
    rule = RaiseRule.objects.get()
    assert (rule.person_count, rule.monthly_total, rule.arrears_total) == (2, D("255.00"), D("1360.00"))
    assert BenefitAmount.objects.get(enrollment__person=a, to_month__isnull=True).amount == D("2170.00")
    before = (BenefitAmount.objects.count(), Adjustment.objects.count())
    page = client.post("/zg/raise/", once({"rule_json": rule_json, "apply_month_confirm": "2026-07", "apply": "1"}))
    assert "已执行过，不能重复执行" in page.content.decode()
    assert (BenefitAmount.objects.count(), Adjustment.objects.count()) == before


def test_roster_upload_preview_confirm(client, clerk):
    from pathlib import Path

    client.force_login(clerk)
    sample = Path(__file__).resolve().parents[3] / "docs" / "samples" / "zg_roster_sample.xlsx"
    with sample.open("rb") as fh:
        response = client.post("/zg/roster/", once({"file": fh}))
    assert response.status_code == 302
    batch = RosterImport.objects.get()
    page = client.get(response.url).content.decode()
    assert "检查通过" in page and "新增人员 5" in page and "确认导入 5 人的变动" in page
    assert Person.objects.count() == 0
    client.post(f"/zg/roster/{batch.pk}/confirm/", once())
    assert Person.objects.count() == 5
    batch.refresh_from_db()
    assert (batch.state, batch.changed_count) == ("applied", 5)
    # a double click changes nothing
    client.post(f"/zg/roster/{batch.pk}/confirm/", once())
    assert Enrollment.objects.count() == 5
    bad = io.BytesIO("身份证号,姓名\n1,2\n".encode())
    bad.name = "bad.csv"
    page = client.post("/zg/roster/", once({"file": bad})).content.decode()
    assert "表头缺少列" in page


def test_roster_errors_shown_on_the_preview(client, clerk):
    client.force_login(clerk)
    f = io.BytesIO(("身份证号,姓名,待遇项目,月金额,开始年月,状态,开户银行,银行账号,户名,工龄(年),镇街道,联系电话,备注\n"
                    "330282195001010011,某人,基本养老金,12.345,2026-01,正常,,,,,浒山街道,,\n").encode("gb18030"))
    f.name = "r.csv"
    response = client.post("/zg/roster/", once({"file": f}))
    page = client.get(response.url).content.decode()
    assert "整个文件不能导入" in page and "最多两位小数" in page
    assert "确认导入" not in page


def test_flex_payment_creates_a_one_off_run(client, clerk):
    person = zg_person(clerk)
    client.force_login(clerk)
    response = client.post("/zg/flex/", once({"id_number": person.id_number, "amount": "1234.56", "reason": "丧葬补助",
                                         "source": "慈人社〔2026〕1号"}))
    assert response.status_code == 302
    payment = FlexPayment.objects.get()
    run = PayrollRun.objects.get(pk=payment.run_id)
    assert (run.kind, run.state, run.net, run.created_by_id) == ("one_off", "computed", D("1234.56"), clerk.pk)
    assert run.lines.get().account_number == "6222021234567890128"


def test_flex_list_labels_and_filters_every_run_state_partial_too(client, clerk):
    person = zg_person(clerk)
    other = zg_person(clerk, "李小四", born=dt.date(1951, 4, 2))
    client.force_login(clerk)
    for p, amount in ((person, "100.00"), (other, "200.00")):
        client.post("/zg/flex/", once({"id_number": p.id_number, "amount": amount, "reason": "困难补助",
                                       "source": "慈人社〔2026〕2号"}))
    partial_run = FlexPayment.objects.get(person=person).run_id
    # the state a run with files at several banks has after the first return (set here directly)
    now = dt.datetime.now(dt.UTC)
    PayrollRun.objects.filter(pk=partial_run).update(
        state="partial", approved_by=make_user("zgr", roles=["reviewer"], all_regions=True), approved_at=now,
        exported_at=now)
    page = client.get("/zg/flex/").content.decode()
    assert "部分回盘" in page and "已计算" in page
    assert '<option value="partial">部分回盘</option>' in page  # the filter offers it
    page = client.get("/zg/flex/?f_run_state=partial").content.decode()
    assert person.name in page and other.name not in page
    page = client.get("/zg/flex/?f_run_state=computed").content.decode()
    assert other.name in page and person.name not in page


def test_query_person_shows_history_and_lines(client, clerk):
    person = zg_person(clerk, start="2026-01")
    reviewer = make_user("rv2", roles=["reviewer"], all_regions=True)
    _paid_run("2026-01", clerk, reviewer)
    client.force_login(clerk)
    page = client.get(f"/zg/query/{person.pk}/").content.decode()
    assert "全部发放记录（1 笔）" in page
    assert "待遇项目·基本养老金 2,000.00" in page
    assert "2,150.00" in page
    detail = client.get(f"/persons/{person.pk}/").content.decode()
    assert "自管人员" in detail and "待遇管理" in detail


def test_out_of_scope_person_is_404(client, clerk):
    person = zg_person(clerk, town="周巷镇")
    client.force_login(make_user("hs", roles=["clerk"], towns=["浒山街道"]))
    assert client.get(f"/zg/p/{person.pk}/").status_code == 404
    assert client.get(f"/zg/query/{person.pk}/").status_code == 404
    assert person.name not in client.get("/zg/").content.decode()


def test_suspend_and_resume_pages(client, clerk):
    person = zg_person(clerk, start="2025-01")
    client.force_login(clerk)
    assert client.post(f"/zg/p/{person.pk}/status/", once({"reason": "no_cert", "from_month": "2026-02"})).status_code == 302
    assert Enrollment.objects.get(person=person).payment_status == "suspended"
    response = client.post(f"/zg/p/{person.pk}/status/", once({"from_month": "2026-04"}))
    assert response.status_code == 302
    arrears = Adjustment.objects.get(enrollment__person=person, kind="arrears")
    assert arrears.total == D("4300.00")  # 2026-02 and 2026-03, 2150.00 each, not paid: paid on resume
    page = client.post(f"/zg/p/{person.pk}/amount/", once({"item": "basic", "amount": "2100.00", "from_month": "2025-01",
                                                      "note": "x"})).content.decode()
    assert "历史标准不可覆盖" in page


def test_enroll_a_registered_person_chosen_by_id_shows_no_full_number(client, plain_clerk):
    """The chosen person travels as an opaque id: the page shows the 身份证号 masked (it was the full number in
    the input's value for users without 查看敏感信息) and the POST enrolls that person without it."""
    person = make_person("登记过", number=id_number(dt.date(1947, 2, 2)), mobile="13805749999")
    bank_account_set(user=plain_clerk, person=person, bank="ICBC", account_number="6222021234567890128",
                     holder_name="登记过", valid_from=dt.date(2024, 1, 1))
    client.force_login(plain_clerk)
    page = client.get(f"/zg/enroll/?person={person.pk}").content.decode()
    assert person.id_number not in page and "6222021234567890128" not in page and "13805749999" not in page
    assert person.id_number[:6] + "********" + person.id_number[-4:] in page
    assert f'name="person" value="{person.pk}"' in page
    response = client.post(f"/zg/enroll/?person={person.pk}", once({
        "person": person.pk, "name": "登记过", "start_month": "2026-01", "service_years": "3", "item_basic": "1500.00"}))
    assert response.status_code == 302, response.content.decode()[:2000]
    e = Enrollment.objects.get(person=person)
    assert (e.start_month, e.service_years) == (dt.date(2026, 1, 1), D("3.00"))
    assert list(BankAccount.objects.filter(person=person).values_list("account_number", flat=True)) == [
        "6222021234567890128"]  # left empty: unchanged
    assert Person.objects.filter(name="登记过").count() == 1


def test_enroll_of_another_towns_person_is_missing(client):
    town_clerk = make_user("zg_town", roles=["clerk"], towns=["浒山街道"])
    person = make_person("别镇的", number=id_number(dt.date(1946, 6, 6)), town_name="附海镇")
    client.force_login(town_clerk)
    assert client.get(f"/zg/enroll/?person={person.pk}").status_code == 404
    before = Enrollment.objects.count()
    response = client.post("/zg/enroll/", once({"person": person.pk, "start_month": "2026-01", "service_years": "0",
                                                "item_basic": "1500.00"}))
    assert response.status_code == 404
    assert Enrollment.objects.count() == before


def test_roster_list_shows_a_town_clerk_only_their_own_uploads(client, clerk):
    """花名册: the recent imports of other users (file names, counts) are the county's; a town's clerk sees
    the batches they uploaded."""
    from pathlib import Path

    from shebao.self_managed.services import roster_upload

    sample = Path(__file__).resolve().parents[3] / "docs" / "samples" / "zg_roster_sample.csv"
    roster_upload(file_name="全市名单.csv", data=sample.read_bytes(), user=clerk)
    town_clerk = make_user("zg_town2", roles=["clerk"], towns=["浒山街道"])
    roster_upload(file_name="浒山名单.csv", data=sample.read_bytes(), user=town_clerk)
    client.force_login(town_clerk)
    page = client.get("/zg/roster/").content.decode()
    assert "浒山名单.csv" in page and "全市名单.csv" not in page
    client.force_login(clerk)
    page = client.get("/zg/roster/").content.decode()
    assert "浒山名单.csv" in page and "全市名单.csv" in page
