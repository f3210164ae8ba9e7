"""老农保 receipt pages: 开始领取 (form → 试算 with the accumulation, the coefficient and the monthly benefit →
confirm), 代领人 (find a registered person, their bank account masked by the viewer's right, a reason), 死亡结算
(the whole balance before receipt, the guaranteed months × monthly while receiving, nothing after the
guarantee → the 结算单 and its PDF), the 计发系数 table; the receiving details on the account page. Exact
amounts; every refusal shows its Chinese message and writes nothing; a second click shows the first result;
who may do what, and the town scope."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from shebao.accounts.models import User
from shebao.accounts.services import user_create
from shebao.benefits.models import BenefitAmount, Enrollment
from shebao.common.models import AuditEvent
from shebao.payroll.models import PayrollLine, PayrollRun
from shebao.registry.models import Person, Region
from shebao.rural_pension.models import (
    BenefitCoefficient,
    CreditedRate,
    Payout,
    RuralAccount,
    RuralDocument,
)
from shebao.rural_pension.services import (
    RuralError,
    rural_benefit_start,
    rural_heir_set,
    rural_refund_rollback,
    rural_refund_settle,
    rural_years_recompute,
)
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_person, set_rates
from shebao.web.tests.helpers import once

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = timezone.localdate()
# HAND_FLOWS on 2024-07-01: 2023 closing 2640.21 + Feb 240.00 + Jun 100.00 + interest
# round(0.018 × (6 × 2640.21 + 5 × 240 + 1 × 100) / 12, 2) = 25.71 → 3005.92; × 0.008631526 = 25.9457 → 25.95
ACCUMULATION = D("3005.92")
MONTHLY = D("25.95")


def make_user(username: str, *, roles=("clerk",), sensitive=False, towns=None, perms=()) -> User:
    user = user_create(actor=None, username=username, full_name=username.upper(), password="Passw0rd!x",
                       roles=list(roles), all_regions=not towns, region_ids=[t.pk for t in towns or []],
                       must_change_password=False, sensitive=sensitive)
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def clerk(db):
    return make_user("nbr_clerk")  # the clerk role: 查询, 信息修改, 退款, 退款回退


@pytest.fixture
def account(db):
    set_rates()
    acc = make_account(flows=HAND_FLOWS)  # born 1962-03-05: 60 in 2022-03
    rural_years_recompute()
    return acc


@pytest.fixture
def heir(db):
    return make_person("王小二", birth=dt.date(1988, 4, 2), account="6222020000000077")


@pytest.fixture
def c(client, clerk):
    client.force_login(clerk)
    return client


def written(account) -> tuple:
    """Everything these pages may write."""
    acc = RuralAccount.objects.get(pk=account.pk)
    return (acc.status, acc.closed_on, acc.heir_id, acc.enrollment_id, acc.benefit_start_month, acc.monthly_benefit,
            Person.objects.get(pk=acc.person_id).death_date, Enrollment.objects.count(),
            BenefitAmount.objects.count(), RuralDocument.objects.count(), Payout.objects.count(),
            PayrollRun.objects.count(), BenefitCoefficient.objects.count(), AuditEvent.objects.count())


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def follow(client, response) -> str:
    assert response.status_code == 302, response.status_code
    return page(client.get(response.url))


def url(name, account, **query) -> str:
    base = reverse(f"rural:{name}", args=[account.pk])
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def confirm_benefit(client, account, *, start="2024-07", monthly="25.95", note=""):
    return client.post(url("benefit_confirm", account), once({"start": start, "monthly": monthly, "note": note,
                                                         "confirm": "1"}))


def settle_death(client, account, heir, *, death_date="2024-06-01", on="2024-06-15", pay="cash",
                 amount="3001.45"):
    return client.post(url("death_settle", account), once({"death_date": death_date, "on": on, "pay": pay,
                                                      "heir": heir.pk, "amount": amount, "confirm": "1"}))


# --------------------------------------------------------------------------------------------------
# the account page: actions per state, the receiving details


def test_account_page_offers_the_actions_of_each_state(c, account, clerk):
    detail = page(c.get(reverse("rural:account_detail", args=[account.pk])))
    for button in ('id="btn-benefit"', 'id="btn-refund"', 'id="btn-death"', 'id="btn-heir"'):
        assert button in detail
    young = make_account(make_person("年轻人", birth=dt.date(1970, 1, 1)), flows=HAND_FLOWS)
    detail = page(c.get(reverse("rural:account_detail", args=[young.pk])))
    assert 'id="btn-benefit"' not in detail and 'id="btn-death"' in detail  # not 60 yet
    rural_benefit_start(account=account, start_month="2024-07", user=clerk)
    detail = page(c.get(reverse("rural:account_detail", args=[account.pk])))
    assert 'id="btn-benefit"' not in detail and 'id="btn-refund"' not in detail
    assert 'id="btn-death"' in detail and 'id="btn-heir"' in detail
    finance = make_user("nbr_fin", roles=("finance",))
    c.force_login(finance)
    detail = page(c.get(reverse("rural:account_detail", args=[account.pk])))
    assert not any(b in detail for b in ('id="btn-benefit"', 'id="btn-death"', 'id="btn-heir"'))


def test_receiving_details_on_the_account_page(c, account, heir, clerk):
    rural_benefit_start(account=account, start_month="2024-07", user=clerk)
    rural_heir_set(account=account, heir=heir, user=clerk, reason="家属申报")
    used = min(120, (TODAY.year - 2024) * 12 + TODAY.month - 7 + 1)
    for tab in ("enroll", "benefit"):
        detail = page(c.get(reverse("rural:account_detail", args=[account.pk]) + f"?tab={tab}"))
        assert '<dd id="receipt-start">2024-07</dd>' in detail
        assert '<span class="num" id="receipt-base">3,005.92</span>' in detail
        assert '<dd class="mono" id="receipt-coefficient">0.008631526</dd>' in detail
        assert '<strong class="num" id="receipt-monthly">25.95</strong>' in detail
        assert f'已到 <strong id="guarantee-used">{used}</strong> 个月，剩余 <strong id="guarantee-left">{120 - used}</strong>' \
            in detail
        assert "王小二" in detail and "6222********0077" in detail and "6222020000000077" not in detail


# --------------------------------------------------------------------------------------------------
# 开始领取


def test_benefit_start_quote_then_confirm(c, account):
    form = page(c.get(url("benefit", account)))
    assert f'value="{TODAY:%Y-%m}"' in form  # 60 long ago: from this month by default
    before = written(account)
    quote = page(c.get(url("benefit_quote", account, start="2024-07")))
    assert '<span class="figure num" id="benefit-base">3,005.92</span>' in quote
    assert '<span class="figure mono" id="benefit-coefficient">0.008631526</span>' in quote
    assert '<span class="figure num" id="benefit-monthly">25.95</span>' in quote
    assert "贰拾伍元玖角伍分" in quote and 'name="monthly" value="25.95"' in quote
    assert "2,640.21" in quote  # the yearly table to the start month
    assert written(account) == before  # a quote writes nothing

    response = confirm_benefit(c, account, note="本人申请")
    assert response.url == reverse("rural:account_detail", args=[account.pk]) + "?tab=benefit"
    shown = follow(c, response)
    assert "已开始领取：王阿大 自 2024-07 起每月 25.95 元（领取时账户积累额 3,005.92 元 × 计发系数 0.008631526）" in shown
    account.refresh_from_db()
    assert (account.status, account.benefit_start_month, account.benefit_base, account.coefficient,
            account.monthly_benefit) == ("receiving", dt.date(2024, 7, 1), ACCUMULATION, D("0.008631526"), MONTHLY)
    assert account.enrollment.scheme.code == "NB" and account.enrollment.start_month == dt.date(2024, 7, 1)
    assert BenefitAmount.objects.get(enrollment=account.enrollment).amount == MONTHLY
    event = AuditEvent.objects.get(action="rural_benefit_start")
    assert event.reason == "本人申请" and "每月 25.95" in event.summary

    # the second click: the first result, nothing more
    after = written(account)
    again = confirm_benefit(c, account)
    assert again.url == response.url
    assert "已于 2024-07 起领取，月养老金 25.95 元" in follow(c, again)
    assert written(account) == after


def test_benefit_start_refusals_show_the_message_and_write_nothing(c, account, clerk):
    before = written(account)
    cases = [
        ("2022-02", "2022-03 才年满 60 周岁，不能从 2022-02 开始领取"),
        ("2024-01", "之后还有缴费记录（2024-02）"),
    ]
    for start, message in cases:
        shown = page(c.get(url("benefit_quote", account, start=start)))
        assert message in shown and 'id="confirm-benefit"' not in shown
    CreditedRate.objects.filter(year=2022).delete()
    shown = page(c.get(url("benefit_quote", account, start="2024-07")))
    assert "2022 年度没有记账利率" in shown and 'id="confirm-benefit"' not in shown
    assert "2022 年度没有记账利率" in follow(c, confirm_benefit(c, account))
    set_rates()
    BenefitCoefficient.objects.update(from_month=dt.date(2025, 1, 1))
    assert "2024-07 没有适用的计发系数" in page(c.get(url("benefit_quote", account, start="2024-07")))
    BenefitCoefficient.objects.update(from_month=dt.date(1992, 1, 1))
    # the confirm page was stale: the amount changed
    shown = follow(c, confirm_benefit(c, account, monthly="25.94"))
    assert "月养老金已变化（确认时 25.94，现为 25.95），请重新试算。未做任何修改。" in shown
    assert page(c.get(url("benefit_quote", account, start="2099-13"))).count("errorlist") >= 1
    assert written(account) == before
    # a refunded account
    rural_refund_settle(account=account, on=dt.date(2024, 6, 15), pay_method="cash", user=clerk)
    before = written(account)
    assert "已退保，不能开始领取" in page(c.get(url("benefit", account)))
    assert "已退保，不能开始领取" in follow(c, confirm_benefit(c, account))
    assert written(account) == before


def test_the_configured_coefficient_is_the_one_used(c, account):
    BenefitCoefficient.objects.create(from_month=dt.date(2024, 7, 1), coefficient=D("0.010000000"))
    quote = page(c.get(url("benefit_quote", account, start="2024-07")))
    assert '<span class="figure num" id="benefit-monthly">30.06</span>' in quote  # 3005.92 × 0.01
    quote = page(c.get(url("benefit_quote", account, start="2024-06")))
    assert '<span class="figure mono" id="benefit-coefficient">0.008631526</span>' in quote


# --------------------------------------------------------------------------------------------------
# 代领人


def test_heir_found_chosen_and_set_with_a_reason(c, account, heir):
    shown = page(c.get(url("heir", account, q="王小二")))
    masked_id = heir.id_number[:6] + "********" + heir.id_number[-4:]
    assert masked_id in shown and heir.id_number not in shown
    assert "6222********0077" in shown and "6222020000000077" not in shown
    assert f"heir={heir.pk}" in shown
    assert page(c.get(url("heir", account, q=heir.id_number[-6:]))).count("选为代领人") == 1  # by the last digits
    before = written(account)
    shown = page(c.get(url("heir", account, q="王小二", heir=heir.pk)))
    assert 'id="confirm-heir"' in shown and "6222********0077" in shown and "6222020000000077" not in shown
    response = c.post(url("heir", account, q="王小二", heir=heir.pk), once({"heir": heir.pk, "reason": "", "confirm": "1"}))
    assert "这个字段是必填项" in page(response)
    assert written(account) == before

    response = c.post(url("heir", account), once({"heir": heir.pk, "reason": "家属申报", "confirm": "1"}))
    assert response.url == reverse("rural:account_detail", args=[account.pk]) + "?tab=benefit"
    shown = follow(c, response)
    assert "已登记 王阿大 的代领人：王小二（原因：家属申报）" in shown and "6222********0077" in shown
    account.refresh_from_db()
    assert account.heir == heir
    event = AuditEvent.objects.filter(action="update", object_type="rural_pension.ruralaccount").latest("id")
    assert (event.reason, event.before, event.after) == ("家属申报", {"heir": None}, {"heir": heir.pk})

    after = written(account)  # the second click
    shown = follow(c, c.post(url("heir", account), once({"heir": heir.pk, "reason": "家属申报", "confirm": "1"})))
    assert "代领人已是 王小二，未做修改" in shown
    assert written(account) == after


def test_heir_account_number_shown_in_full_only_with_the_right(client, account, heir, clerk):
    rural_heir_set(account=account, heir=heir, user=clerk, reason="家属申报")
    seer = make_user("nbr_seer", sensitive=True)
    client.force_login(seer)
    for target in (url("heir", account, q="王小二", heir=heir.pk), reverse("rural:account_detail", args=[account.pk]),
                   url("death", account)):
        shown = page(client.get(target))
        assert "6222020000000077" in shown and heir.id_number in shown


def test_heir_refusals_show_the_message_and_write_nothing(c, account, heir, clerk):
    dead = make_person("已故者", birth=dt.date(1950, 1, 1))
    Person.objects.filter(pk=dead.pk).update(death_date=dt.date(2025, 1, 1))
    other_town = Region.objects.filter(level="town").exclude(pk=account.town_id).first()
    stranger = make_person("外镇人", birth=dt.date(1980, 1, 1))
    Person.objects.filter(pk=stranger.pk).update(town=other_town)
    before = written(account)
    cases = [(account.person_id, "代领人不能是本人"), (dead.pk, "已故者 已于 2025-01-01 死亡，不能作为代领人"),
             (999999, "人员不存在或不在您的管辖范围内")]
    for pk, message in cases:
        shown = page(c.post(url("heir", account), once({"heir": pk, "reason": "核对", "confirm": "1"})))
        assert message in shown, message
    scoped = make_user("nbr_scoped", towns=[account.town])
    c.force_login(scoped)  # a login is audited
    before = written(account)
    shown = page(c.post(url("heir", account), once({"heir": stranger.pk, "reason": "核对", "confirm": "1"})))
    assert "人员不存在或不在您的管辖范围内" in shown
    shown = page(c.get(url("heir", account, q="外镇人")))
    assert "没有找到“外镇人”" in shown and f"heir={stranger.pk}" not in shown
    assert written(account) == before
    c.force_login(clerk)
    rural_refund_settle(account=account, on=dt.date(2024, 6, 15), pay_method="cash", user=clerk)
    before = written(account)
    shown = page(c.post(url("heir", account), once({"heir": heir.pk, "reason": "核对", "confirm": "1"})))
    assert "王阿大 的账户已退保，不能变更代领人" in shown
    assert written(account) == before


# --------------------------------------------------------------------------------------------------
# 死亡结算


def test_death_before_receipt_pays_the_whole_balance_to_the_heir(c, account, heir, clerk):
    shown = page(c.get(url("death", account)))
    assert "未登记代领人" in shown
    assert "请先登记代领人" in page(c.get(url("death_quote", account, death_date="2024-06-01", on="2024-06-15",
                                                pay="cash")))
    rural_heir_set(account=account, heir=heir, user=clerk, reason="家属申报")
    before = written(account)
    quote = page(c.get(url("death_quote", account, death_date="2024-06-01", on="2024-06-15", pay="cash")))
    assert '<span class="figure num" id="death-amount">3,001.45</span>' in quote
    assert "叁仟零壹元肆角伍分" in quote and 'name="amount" value="3001.45"' in quote
    assert "账户全部余额 <strong>3,001.45</strong> 元" in quote and "6222020000000077" not in quote
    assert written(account) == before

    response = settle_death(c, account, heir)
    doc = RuralDocument.objects.get()
    assert response.url == reverse("rural:document_detail", args=[doc.number])
    assert (doc.kind, doc.payee, doc.amount, doc.pay_method, doc.on_date, doc.state) == (
        "death_balance", heir, D("3001.45"), "cash", dt.date(2024, 6, 15), "settled")
    shown = follow(c, response)
    assert f"已办理死亡结算：王阿大 结算单 {doc.number}，付代领人 王小二 3,001.45 元（叁仟零壹元肆角伍分）" in shown
    assert reverse("rural:document_pdf", args=[doc.number]) in shown and "死亡结算(账户余额)" in shown
    assert 'id="btn-rollback"' not in shown and "不能按退款回退" in shown
    account.refresh_from_db()
    assert (account.status, account.closed_on, account.heir) == ("terminated", dt.date(2024, 6, 15), heir)
    assert account.person.__class__.objects.get(pk=account.person_id).death_date == dt.date(2024, 6, 1)
    assert Payout.objects.get(document=doc).amount == D("3001.45")
    pdf = c.get(reverse("rural:document_pdf", args=[doc.number]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    after = written(account)  # the second click on 确认结算
    again = settle_death(c, account, heir)
    assert again.url == response.url
    assert "不能办理死亡结算" in follow(c, again)
    assert written(account) == after
    # a death settlement is not rolled back as a refund
    assert doc.number not in page(c.get(reverse("rural:rollback_list")))
    with pytest.raises(RuralError, match="不能按退款回退"):
        rural_refund_rollback(document=doc, user=clerk, reason="误操作")
    assert written(account) == after


def test_death_within_the_guarantee_pays_the_months_left_by_bank(c, account, heir, clerk):
    rural_benefit_start(account=account, start_month="2024-07", user=clerk)
    rural_heir_set(account=account, heir=heir, user=clerk, reason="家属申报")
    before = written(account)
    quote = page(c.get(url("death_quote", account, death_date="2025-03-09", on=TODAY.isoformat(), pay="bank")))
    # start 2024-07, death 2025-03: 9 months due (the death month paid) → 111 × 25.95 = 2880.45
    assert '<strong id="death-months">111</strong>' in quote
    assert '<span class="figure num" id="death-amount">2,880.45</span>' in quote, quote[quote.find("death-amount"):][:300]
    assert "贰仟捌佰捌拾元零肆角伍分" in quote
    assert "6222********0077" in quote and "6222020000000077" not in quote
    assert written(account) == before
    response = settle_death(c, account, heir, death_date="2025-03-09", on=TODAY.isoformat(), pay="bank",
                            amount="2880.45")
    doc = RuralDocument.objects.get()
    assert response.url == reverse("rural:document_detail", args=[doc.number])
    assert (doc.kind, doc.amount, doc.pay_method, doc.table["guarantee"]["months_left"]) == (
        "death_guarantee", D("2880.45"), "bank", 111)
    line = PayrollLine.objects.get(pk=doc.payroll_line_id)
    assert (line.person_id, line.account_number, line.net) == (heir.pk, "6222020000000077", D("2880.45"))
    assert "已生成零星发放批次" in follow(c, response)
    account.refresh_from_db()
    assert account.status == "terminated" and account.enrollment.payment_status == "terminated"


def test_death_after_the_guarantee_pays_nothing(c, heir, clerk):
    set_rates({y: "0.0200" for y in range(2010, 2020)})
    set_rates()
    acc = make_account(make_person("李老汉", birth=dt.date(1950, 2, 1)), flows=[("2010-01", "personal", "1000.00")])
    rural_benefit_start(account=acc, start_month="2011-01", user=clerk)
    rural_heir_set(account=acc, heir=heir, user=clerk, reason="家属申报")
    quote = page(c.get(url("death_quote", acc, death_date="2021-01-05", on=TODAY.isoformat(), pay="cash")))
    # 2011-01 through 2021-01 is 121 months: the guarantee is used up
    assert '<strong id="death-months">0</strong>' in quote and "120 个月保证期已满，<strong>无应付金额</strong>" in quote
    response = settle_death(c, acc, heir, death_date="2021-01-05", on=TODAY.isoformat(), amount="0.00")
    assert response.url == reverse("rural:account_detail", args=[acc.pk])
    assert "保证期已满，无应付金额" in follow(c, response)
    acc.refresh_from_db()
    assert acc.status == "terminated" and not RuralDocument.objects.exists()


def test_death_refusals_show_the_message_and_write_nothing(c, account, heir, clerk):
    rural_heir_set(account=account, heir=heir, user=clerk, reason="家属申报")
    before = written(account)
    cases = [
        ({"death_date": "2024-06-20", "on": "2024-06-15"}, "死亡日期不能晚于结算日期"),
        ({"death_date": "1950-01-01", "on": "2024-06-15"}, "死亡日期不能早于出生日期"),
    ]
    for query, message in cases:
        shown = page(c.get(url("death_quote", account, pay="cash", **query)))
        assert message in shown and 'id="confirm-death"' not in shown
        assert message in follow(c, settle_death(c, account, heir, pay="cash", **query))
    tomorrow = TODAY + dt.timedelta(days=1)
    assert "结算日期不能晚于今天" in page(c.get(url("death_quote", account, death_date="2024-06-01",
                                                     on=tomorrow.isoformat(), pay="cash")))
    CreditedRate.objects.filter(year=2022).delete()
    assert "2022 年度没有记账利率" in page(c.get(url("death_quote", account, death_date="2024-06-01",
                                                      on="2024-06-15", pay="cash")))
    assert "2022 年度没有记账利率" in follow(c, settle_death(c, account, heir))
    set_rates()
    shown = follow(c, settle_death(c, account, heir, amount="3001.44"))
    assert "应付金额已变化（确认时 3001.44，现为 3001.45），请重新试算。未做任何修改。" in shown
    other = make_person("王小三", birth=dt.date(1990, 1, 1), account=None)
    assert "代领人已变更，请重新试算" in follow(c, settle_death(c, account, other))
    assert written(account) == before
    # bank to an heir without a bank account
    rural_heir_set(account=account, heir=other, user=clerk, reason="家属申报")
    before = written(account)
    shown = page(c.get(url("death_quote", account, death_date="2024-06-01", on="2024-06-15", pay="bank")))
    assert "代领人 王小三 没有登记银行账户，不能银行代发" in shown and 'id="confirm-death"' not in shown
    assert "王小三 没有登记银行账户" in follow(c, settle_death(c, account, other, pay="bank"))
    assert written(account) == before
    # while receiving: a death before the start of receipt
    rural_benefit_start(account=account, start_month="2024-07", user=clerk)
    before = written(account)
    shown = page(c.get(url("death_quote", account, death_date="2024-06-30", on=TODAY.isoformat(), pay="cash")))
    assert "死亡日期早于开始领取年月，请核对" in shown
    assert written(account) == before


# --------------------------------------------------------------------------------------------------
# 计发系数


def test_coefficient_table_set_with_confirm_and_audited(client, account, clerk):
    viewer = make_user("nbr_fin2", roles=("finance",))
    client.force_login(viewer)
    shown = page(client.get(reverse("rural:coefficients")))
    assert '<td class="num mono">0.008631526</td>' in shown and "1992-01" in shown and "下一步" not in shown
    assert client.post(reverse("rural:coefficients"), once({"from_month": "2027-01", "coefficient": "0.0085",
                                                       "reason": "x", "confirm": "1"})).status_code == 403
    reviewer = make_user("nbr_rev", roles=("reviewer",))
    client.force_login(reviewer)
    rural_benefit_start(account=account, start_month="2024-07", user=clerk)
    before = written(account)
    for value, message in [("abc", "“abc”不是数字"), ("1.5", "大于 0、小于 1"), ("0.0086315261", "最多 9 位小数"),
                           ("0.008631526", "1992-01 起的计发系数已是 0.008631526，无需修改")]:
        month = "1992-01" if value == "0.008631526" else "2024-01"
        assert message in page(client.post(reverse("rural:coefficients"),
                                           once({"from_month": month, "coefficient": value, "reason": "文件"})))
    assert "这个字段是必填项" in page(client.post(reverse("rural:coefficients"),
                                               once({"from_month": "2024-01", "coefficient": "0.0085"})))
    shown = page(client.post(reverse("rural:coefficients"),
                             once({"from_month": "2024-01", "coefficient": "0.0085", "reason": "县文件调整"})))
    assert "将新增 <strong>2024-01</strong> 起的计发系数 <strong>0.008500000</strong>" in shown
    assert "目前该月适用 1992-01 起的 0.008631526" in shown
    assert '<strong id="coefficient-started">1</strong>' in shown  # started 2024-07: its amount stays
    assert written(account) == before
    response = client.post(reverse("rural:coefficients"), once({"from_month": "2024-01", "coefficient": "0.0085",
                                                           "reason": "县文件调整", "confirm": "1"}))
    shown = follow(client, response)
    assert "已设置 2024-01 起的计发系数 0.008500000" in shown
    row = BenefitCoefficient.objects.get(from_month=dt.date(2024, 1, 1))
    assert row.coefficient == D("0.008500000")
    event = AuditEvent.objects.get(object_type="rural_pension.benefitcoefficient", action="create")
    assert event.reason == "县文件调整" and event.after == {"from_month": "2024-01", "coefficient": "0.008500000"}
    assert "2023-12" in shown and "nbr_rev" in shown  # the 1992 row now ends 2023-12; who set the new one
    account.refresh_from_db()
    assert account.monthly_benefit == MONTHLY  # fixed at the start


# --------------------------------------------------------------------------------------------------
# who may do what


def test_permissions_and_town_scope(client, account, heir):
    targets = [url("benefit", account), url("benefit_quote", account, start="2024-07"), url("heir", account),
               url("death", account), url("death_quote", account, death_date="2024-06-01", on="2024-06-15", pay="cash")]
    posts = [(url("benefit_confirm", account), {"start": "2024-07", "monthly": "25.95", "confirm": "1"}),
             (url("heir", account), {"heir": heir.pk, "reason": "x", "confirm": "1"}),
             (url("death_settle", account), {"death_date": "2024-06-01", "on": "2024-06-15", "pay": "cash",
                                             "heir": heir.pk, "amount": "3001.45", "confirm": "1"})]
    before = written(account)
    for username, roles in (("nbr_nobody", ()), ("nbr_fin3", ("finance",)), ("nbr_rev2", ("reviewer",))):
        client.force_login(make_user(username, roles=roles))
        before = written(account)
        for target in targets:
            assert client.get(target).status_code == 403, (username, target)
        for target, data in posts:
            assert client.post(target, once(data)).status_code == 403, (username, target)
        assert written(account) == before
    client.force_login(make_user("nbr_nobody2", roles=()))
    assert client.get(reverse("rural:coefficients")).status_code == 403
    other_town = Region.objects.filter(level="town").exclude(pk=account.town_id).first()
    client.force_login(make_user("nbr_elsewhere", towns=[other_town]))
    before = written(account)
    for target in targets:
        assert client.get(target).status_code == 404, target
    for target, data in posts:
        assert client.post(target, once(data)).status_code == 404, target
    assert written(account) == before


def test_menu_pickers_list_the_accounts_each_action_applies_to(c, account):
    young = make_account(make_person("年轻人", birth=dt.date(1970, 1, 1)), flows=HAND_FLOWS)
    rural_years_recompute()
    shown = page(c.get(reverse("rural:pick", args=["benefit"])))
    assert url("benefit", account) in shown and url("benefit", young) not in shown
    shown = page(c.get(reverse("rural:pick", args=["death"])))
    assert url("death", account) in shown and url("death", young) in shown
    assert url("heir", account) in page(c.get(reverse("rural:pick", args=["heir"])))
