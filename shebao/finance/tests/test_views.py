"""The /ts/ pages: enter → confirm arrival (a wrong amount shows the difference) → review as another user →
reverse; the payee register (invalid 统一社会信用代码, a change makes a version); the report page and its
xlsx; the voucher PDF; forms that create a record are safe to submit twice."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook
from stdnum.cn import uscc as stdnum_uscc

from shebao.accounts.tests.factories import logged_in
from shebao.finance.models import Entry
from shebao.registry.models import Payee
from shebao.web.tests.helpers import make_user, once, post_twice_in_turn

ORG_USCC = "91330282MA2H12345" + stdnum_uscc.calc_check_digit("91330282MA2H12345")


@pytest.fixture
def users(db):
    return {"clerk": make_user("v_clerk", roles=("clerk",), all_regions=True),
            "finance": make_user("v_fin", roles=("finance",), all_regions=True),
            "reviewer": make_user("v_rev", roles=("reviewer",), all_regions=True),
            "town": make_user("v_town", roles=("clerk",), towns=("浒山街道",))}


def _payee(client) -> Payee:
    r = client.post(reverse("finance:payees"), once({"name": "慈溪市财政局", "uscc": ORG_USCC, "bank": "ICBC",
                                                      "account_number": "6222 0200 0000 0077"}))
    assert r.status_code == 302
    return Payee.objects.get(name="慈溪市财政局")


def test_enter_arrive_review_reverse_through_the_pages(users):
    clerk, fin, rev = (logged_in(users[k]) for k in ("clerk", "finance", "reviewer"))
    payee = _payee(clerk)
    assert payee.account_number == "6222020000000077"
    today = timezone.localdate().isoformat()
    from shebao.finance.services import type_by_code

    r = clerk.post(reverse("finance:expenditure"), once({
        "type": type_by_code("TB_TO_SI_SUBSIDY").pk, "payee_code": payee.code, "amount": "1,234.56",
        "occurred_on": today, "voucher_no": "记-12", "note": "补助"}))
    entry = Entry.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("finance:entry", args=[entry.pk])
    assert (entry.amount, entry.payee_id, entry.state, entry.direction) == (D("1234.56"), payee.pk, "entered",
                                                                             "expenditure")
    url = reverse("finance:entry", args=[entry.pk])
    # a wrong amount is refused with the difference shown; nothing changes
    r = fin.post(reverse("finance:entry_arrival", args=[entry.pk]), once({"arrival_on": today, "amount": "1234.00"}),
                 follow=True)
    assert "到账金额 1234.00 与记录金额 1234.56 不符，相差 -0.56 元，未确认" in r.content.decode()
    assert Entry.objects.get().state == "entered"
    fin.post(reverse("finance:entry_arrival", args=[entry.pk]), once({"arrival_on": today, "amount": "1234.56"}))
    assert Entry.objects.get().state == "arrived"
    # the maker cannot review (a clerk has no review right at all: 403); the reviewer can
    assert clerk.post(reverse("finance:entry_review", args=[entry.pk]), once()).status_code == 403
    page = rev.get(url).content.decode()
    assert 'id="review-form"' in page
    rev.post(reverse("finance:entry_review", args=[entry.pk]), once())
    entry.refresh_from_db()
    assert (entry.state, entry.reviewed_by_id) == ("reviewed", users["reviewer"].pk)
    # locked: no edit form, edit refused
    assert reverse("finance:entry_edit", args=[entry.pk]) not in clerk.get(url).content.decode()
    r = clerk.post(reverse("finance:entry_edit", args=[entry.pk]), {"type": entry.type_id, "amount": "1.00",
                                                                    "occurred_on": today}, follow=True)
    assert "已复核，不能修改或删除；如需更正请做红冲" in r.content.decode()
    assert Entry.objects.get(pk=entry.pk).amount == D("1234.56")
    # reverse: a negative record, reviewed by another user
    r = fin.post(reverse("finance:entry_reverse", args=[entry.pk]), once({"reason": "重复录入"}))
    reversal = Entry.objects.get(reversal_of=entry)
    assert r["Location"] == reverse("finance:entry", args=[reversal.pk])
    assert (reversal.amount, reversal.state) == (D("-1234.56"), "arrived")
    rev.post(reverse("finance:entry_review", args=[reversal.pk]), once())
    assert Entry.objects.get(pk=reversal.pk).state == "reviewed"
    month = timezone.localdate().strftime("%Y-%m")
    page = rev.get(reverse("finance:report"), {"period": month}).content.decode()
    assert "2 笔 · 0.00" in page and "一致" in page
    # xlsx and voucher
    r = rev.get(reverse("finance:report"), {"period": month, "export": "xlsx"})
    book = CalamineWorkbook.from_filelike(io.BytesIO(r.content))
    rows = book.get_sheet_by_name(book.sheet_names[0]).to_python()
    assert ["支出", "", "", 2.0, 0.0] in [[c for c in row] for row in rows]
    r = rev.get(reverse("finance:voucher", args=[entry.pk]))
    assert r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")


def test_payee_register_refuses_invalid_uscc_and_versions_a_change(users):
    clerk = logged_in(users["clerk"])
    r = clerk.post(reverse("finance:payees"), once({"name": "某单位", "uscc": "91330282MA2H123450", "bank": "ICBC",
                                                     "account_number": "6222020000000077"}))
    assert r.status_code == 200
    assert "统一社会信用代码 91330282MA2H123450 无效（GB 32100 校验未通过），请核对" in r.content.decode()
    assert not Payee.objects.exists()
    payee = _payee(clerk)
    r = clerk.post(reverse("finance:payee", args=[payee.code]), {
        "name": "慈溪市财政局", "uscc": ORG_USCC, "bank": "ABC", "account_number": "6228480000000099",
        "reason": "账号变更"})
    assert r.status_code == 302
    assert list(Payee.objects.filter(code=payee.code).order_by("version").values_list("version", "current", "bank")) == [
        (1, False, "ICBC"), (2, True, "ABC")]


def test_town_clerk_has_no_ledger(users):
    assert logged_in(users["town"]).get(reverse("finance:expenditure")).status_code == 403


def test_enter_twice_writes_once(users):
    from shebao.finance.services import type_by_code

    data = {"type": type_by_code("EXTRA_FUND_RECOVERY").pk, "amount": "10.00",
            "occurred_on": dt.date.today().isoformat()}
    pages = post_twice_in_turn(users["clerk"], reverse("finance:income"), data)
    assert Entry.objects.count() == 1
    assert any("此表单已经提交过" in p for p in pages)


def test_home_shows_the_records_waiting_for_finance(users):
    from shebao.finance.services import entry_confirm_arrival, entry_create, type_by_code

    entry = entry_create(user=users["clerk"], type=type_by_code("EXTRA_FUND_RECOVERY"), amount="10.00",
                         occurred_on=dt.date.today())
    fin, rev = logged_in(users["finance"]), logged_in(users["reviewer"])
    assert "特殊业务待到账确认" in fin.get("/").content.decode()
    assert "特殊业务待到账确认" not in rev.get("/").content.decode()
    entry_confirm_arrival(entry=entry, user=users["finance"], arrival_on=dt.date.today(), amount="10.00")
    assert "特殊业务待复核" in rev.get("/").content.decode()
    assert "特殊业务待到账确认" not in fin.get("/").content.decode()


def test_report_chart_by_month_and_type_income_beside_expenditure(users):
    """The chart's JSON (drawn by the shared web/charts.js): the 12 months up to a monthly report's month
    (the year's months for a yearly one), a stacked series per business type, income and expenditure in
    their own stacks; a reversal counts negative in its month. Its figures equal the records'."""
    import json
    import re

    from shebao.finance.services import (
        entry_confirm_arrival,
        entry_create,
        entry_reverse,
        entry_review,
        type_by_code,
    )

    clerk = users["clerk"]

    def make(code, amount, on):
        return entry_create(user=clerk, type=type_by_code(code), amount=amount, occurred_on=on)

    sub = make("TB_TO_SI_SUBSIDY", "1000.10", dt.date(2026, 1, 5))
    make("TB_TO_SI_SUBSIDY", "200.00", dt.date(2026, 3, 2))
    make("EXTRA_FUND_RECOVERY", "50.25", dt.date(2026, 3, 9))
    make("TB_BENEFIT_RETURN", "7.00", dt.date(2025, 4, 30))  # the first of the 12 months to 2026-03
    make("TB_BENEFIT_RETURN", "9.00", dt.date(2025, 3, 31))  # a month before them
    entry_confirm_arrival(entry=sub, user=users["finance"], arrival_on=dt.date(2026, 1, 6), amount="1000.10")
    entry_review(entry=sub, user=users["reviewer"])
    entry_reverse(entry=sub, user=users["finance"], reason="重复", on=dt.date(2026, 2, 1))

    page = logged_in(users["reviewer"]).get(reverse("finance:report"), {"period": "2026-03"}).content.decode()
    assert 'data-chart="ts-chart-data"' in page and "web/charts.js" in page and "chart-4.6.1.umd.min.js" in page
    assert "截至 2026-03 的 12 个月收支（按业务类型）" in page
    chart = json.loads(re.search(r'<script id="ts-chart-data" type="application/json">(.*?)</script>', page,
                                 re.S).group(1))
    assert chart["labels"][0] == "2025-04" and chart["labels"][-1] == "2026-03" and len(chart["labels"]) == 12
    assert chart["stacked"] is True and chart["money"] is True
    series = {d["label"]: (d["stack"], d["data"]) for d in chart["datasets"]}
    assert list(series) == ["收入·统筹外经费收回", "收入·土保待遇退回", "支出·土保转社保政府补助支出"]
    months = chart["labels"]
    expenditure = dict(zip(months, series["支出·土保转社保政府补助支出"][1], strict=True))
    assert series["支出·土保转社保政府补助支出"][0] == "expenditure"
    assert (expenditure["2026-01"], expenditure["2026-02"], expenditure["2026-03"]) == (1000.10, -1000.10, 200.00)
    assert dict(zip(months, series["收入·土保待遇退回"][1], strict=True))["2025-04"] == 7.00
    assert sum(series["收入·土保待遇退回"][1]) == 7.00  # 2025-03 is outside the 12 months
    assert dict(zip(months, series["收入·统筹外经费收回"][1], strict=True))["2026-03"] == 50.25
    # a yearly report: the year's months; a period without records: no chart, a note
    year = logged_in(users["reviewer"]).get(reverse("finance:report"), {"period": "2025"}).content.decode()
    chart = json.loads(re.search(r'<script id="ts-chart-data" type="application/json">(.*?)</script>', year,
                                 re.S).group(1))
    assert chart["labels"][0] == "2025-01" and chart["labels"][-1] == "2025-12"
    assert [sum(d["data"]) for d in chart["datasets"]] == [16.00]
    empty = logged_in(users["reviewer"]).get(reverse("finance:report"), {"period": "2024"}).content.decode()
    assert "这段时间没有收支记录。" in empty and "ts-chart-data" not in empty
