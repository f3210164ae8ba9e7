"""养老保障 类别与标准 maintenance on the real database: validation of a category (name, conversion ages,
refund formula), 停用 refused while a person is not ended, standards added by effective month and never
changed once used (by a benefit, a conversion or a computed run); every refusal says why in Chinese and
writes nothing; every change is audited; the pages are safe to submit twice."""

import datetime as dt
import uuid
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse

from shebao.accounts.tests.factories import make_user as make_role_user
from shebao.benefits.models import Scheme
from shebao.benefits.tests.factories import make_user
from shebao.common.models import AuditEvent
from shebao.payroll.services import payroll_run_compute
from shebao.pension_security import selectors as sel
from shebao.pension_security.categories import (
    category_create,
    category_set_active,
    category_update,
    standard_add,
    standard_change,
)
from shebao.pension_security.models import Category, CategoryStandard, Member
from shebao.pension_security.services import (
    BzError,
    bz_settle,
    member_register,
    proposal_approve,
    proposal_create,
    refund_amount,
)
from shebao.pension_security.tests.test_bz import person

pytestmark = pytest.mark.django_db

TERMS = {"name": "测试类别", "conversion_age_male": 60, "conversion_age_female": 55, "refund_paid_in_rate": "1",
         "refund_received_rate": "0.5", "refund_floor": "100.00"}


@pytest.fixture
def clerk(db):
    return make_user("cclerk")


@pytest.fixture
def reviewer(db):
    return make_user("crev", reviewer=True)


def state() -> tuple:
    return (AuditEvent.objects.count(), list(Category.objects.order_by("pk").values_list()),
            list(CategoryStandard.objects.order_by("pk").values_list()))


# --------------------------------------------------------------------------------------------------
# categories


def test_create_validates_every_term_and_writes_nothing_on_refusal(reviewer):
    before = state()
    bad = [
        ({"code": "Bad-Code"}, "类别代码须以小写字母开头"),
        ({"code": "land"}, "类别代码 land 已存在"),
        ({"name": "被征地人员养老保障"}, "类别名称“被征地人员养老保障”已存在"),
        ({"name": "  "}, "请填写类别名称"),
        ({"conversion_age_male": 15}, "男转换年龄须在 16 至 100 岁之间"),
        ({"conversion_age_female": "五十"}, "女转换年龄须为整数"),
        ({"refund_paid_in_rate": "1.5"}, "退保：缴费计入比例须在 0 至 1 之间"),
        ({"refund_received_rate": "0.12345"}, "退保：已领扣除比例 0.12345 最多四位小数"),
        ({"refund_received_rate": "-0.1"}, "退保：已领扣除比例须在 0 至 1 之间"),
        ({"refund_floor": "-1"}, "退保：最低退还额须不小于 0"),
        ({"refund_floor": "1.234"}, "最多两位小数"),
        ({"refund_floor": "1e3"}, "退保：最低退还额："),
    ]
    for change, message in bad:
        kwargs = {"code": "test", **TERMS, **change}
        with pytest.raises(BzError, match=message):
            category_create(user=reviewer, **kwargs)
    assert state() == before

    cat = category_create(user=reviewer, code="test", **TERMS, reason="新政策")
    assert (cat.code, cat.name, cat.conversion_age_male, cat.conversion_age_female, cat.refund_paid_in_rate,
            cat.refund_received_rate, cat.refund_floor, cat.active) == (
        "test", "测试类别", 60, 55, D("1.0000"), D("0.5000"), D("100.00"), True)
    event = AuditEvent.objects.get(action="bz_category_create")
    assert event.object_id == str(cat.pk) and event.after["refund_received_rate"] == "0.5000"
    # the formula is data: refund = max(100, 5000 × 1 − 3000 × 0.5) = 3500; floor 100 when received is large
    assert refund_amount(paid_in=D("5000"), received=D("3000"), category=cat)[0] == D("3500.00")
    assert refund_amount(paid_in=D("5000"), received=D("9900"), category=cat)[0] == D("100.00")


def test_update_audits_the_change_and_nothing_when_unchanged(reviewer):
    cat = Category.objects.get(code="elder")
    terms = {"name": cat.name, "conversion_age_male": 60, "conversion_age_female": 55, "refund_paid_in_rate": "1",
             "refund_received_rate": "1", "refund_floor": "0"}
    before = state()
    assert category_update(user=reviewer, category=cat, reason="核对", **terms).name == cat.name
    assert state() == before  # nothing changed: nothing written
    with pytest.raises(BzError, match="请填写变更原因"):
        category_update(user=reviewer, category=cat, reason=" ", **{**terms, "conversion_age_female": 60})
    with pytest.raises(BzError, match="类别名称“被征地人员养老保障”已存在"):
        category_update(user=reviewer, category=cat, reason="改名", **{**terms, "name": "被征地人员养老保障"})
    with pytest.raises(BzError, match="女转换年龄须在 16 至 100 岁之间"):
        category_update(user=reviewer, category=cat, reason="改", **{**terms, "conversion_age_female": 101})
    assert state() == before

    category_update(user=reviewer, category=cat, reason="政策调整", **{**terms, "conversion_age_female": 60,
                                                                       "refund_floor": "50"})
    cat.refresh_from_db()
    assert (cat.conversion_age_female, cat.refund_floor) == (60, D("50.00"))
    event = AuditEvent.objects.get(action="bz_category_update")
    assert event.before == {"conversion_age_female": 55, "refund_floor": "0.00"}
    assert event.after == {"conversion_age_female": 60, "refund_floor": "50.00"}
    assert event.reason == "政策调整"


def test_disable_is_refused_while_a_person_is_not_ended(clerk, reviewer):
    cat = category_create(user=reviewer, code="small", **{**TERMS, "name": "小类别"})
    standard_add(user=reviewer, category=cat, phase="subsidy", from_month="2024-01", amount="300")
    member = member_register(user=clerk, category=cat, person=person("停用甲", dt.date(1975, 6, 1)))
    before = state()
    with pytest.raises(BzError, match="类别“小类别”还有 1 名未终止的养老保障人员，不能停用"):
        category_set_active(user=reviewer, category=cat, active=False, reason="合并")
    assert state() == before and Category.objects.get(pk=cat.pk).active

    proposal_approve(proposal=proposal_create(member=member, user=clerk, start_month="2025-01"), user=reviewer)
    with pytest.raises(BzError, match="还有 1 名未终止"):
        category_set_active(user=reviewer, category=cat, active=False, reason="合并")
    bz_settle(member=Member.objects.get(pk=member.pk), reason="withdrawal", on=dt.date(2025, 3, 31), user=clerk)
    category_set_active(user=reviewer, category=cat, active=False, reason="并入其他类别")
    cat.refresh_from_db()
    assert not cat.active
    assert AuditEvent.objects.filter(action="bz_category_disable", object_id=str(cat.pk), reason="并入其他类别").count() == 1

    # a disabled category takes no new person and no new standard
    count = Member.objects.count()
    with pytest.raises(BzError, match="类别“小类别”已停用"):
        member_register(user=clerk, category=cat, person=person("停用乙", dt.date(1976, 6, 1)))
    with pytest.raises(BzError, match="已停用，不能新增标准"):
        standard_add(user=reviewer, category=cat, phase="subsidy", from_month="2030-01", amount="300")
    assert Member.objects.count() == count
    category_set_active(user=reviewer, category=cat, active=True, reason="恢复")
    assert Category.objects.get(pk=cat.pk).active


# --------------------------------------------------------------------------------------------------
# standards


def test_a_standard_used_by_an_approved_benefit_cannot_change_and_a_new_one_starts_later(clerk, reviewer):
    cat = Category.objects.get(code="land")
    seeded = CategoryStandard.objects.get(category=cat, phase="subsidy", from_month=dt.date(2020, 1, 1))
    # not used yet: its amount may be corrected (audited)
    standard_change(user=reviewer, standard=seeded, amount="330.00", reason="录入错误")
    seeded.refresh_from_db()
    assert seeded.amount == D("330.00")
    assert AuditEvent.objects.get(action="bz_standard_change").before == {"amount": "320.00"}

    member = member_register(user=clerk, category=cat, person=person("标准甲", dt.date(1975, 6, 1)))
    proposal_approve(proposal=proposal_create(member=member, user=clerk, start_month="2025-03"), user=reviewer)
    assert sel.standard_usage(seeded) == [dt.date(2025, 3, 1)]
    before = state()
    with pytest.raises(BzError, match=r"该标准（2020-01 起）已被 2025-03 的待遇核准、到龄转换或月度结算使用，不能修改"):
        standard_change(user=reviewer, standard=seeded, amount="340.00", reason="调整")
    with pytest.raises(BzError, match="新标准须从 2025-04 或以后生效"):
        standard_add(user=reviewer, category=cat, phase="subsidy", from_month="2025-03", amount="340")
    with pytest.raises(BzError, match="已有 2020-01 起的生活补助标准，不能重复新增"):
        standard_add(user=reviewer, category=cat, phase="subsidy", from_month="2020-01", amount="340")
    with pytest.raises(BzError, match="月标准 1.001 最多两位小数"):
        standard_add(user=reviewer, category=cat, phase="subsidy", from_month="2026-01", amount="1.001")
    assert state() == before
    # the other phase is not used: a 养老金 standard may start earlier
    assert standard_add(user=reviewer, category=cat, phase="pension", from_month="2025-01", amount="900").amount == D("900.00")

    new = standard_add(user=reviewer, category=cat, phase="subsidy", from_month="2025-04", amount="340", reason="提标")
    assert (new.item.code, new.amount, new.created_by) == ("living", D("340.00"), reviewer)
    assert AuditEvent.objects.filter(action="bz_standard_add", object_id=str(new.pk)).count() == 1
    # history by month: the old one used until 2025-03, ending 2025-03; the new one current and unused
    history = [(h["phase"], h["from_month"], h["to_month"], h["used"], h["current"])
               for h in sel.standards_history(cat)]
    assert history == [
        ("pension", dt.date(2020, 1, 1), dt.date(2024, 12, 1), False, False),
        ("pension", dt.date(2025, 1, 1), None, False, True),
        ("subsidy", dt.date(2020, 1, 1), dt.date(2025, 3, 1), True, False),
        ("subsidy", dt.date(2025, 4, 1), None, False, True),
    ]
    # a proposal from 2025-06 takes the new standard
    other = member_register(user=clerk, category=cat, person=person("标准乙", dt.date(1976, 6, 1)))
    assert proposal_create(member=other, user=clerk, start_month="2025-06").items == {"living": "340.00"}


def test_a_computed_run_locks_the_standard_of_its_month(clerk, reviewer):
    cat = Category.objects.get(code="elder")
    member = member_register(user=clerk, category=cat, person=person("结算甲", dt.date(1975, 6, 1)))
    proposal = proposal_create(member=member, user=clerk, start_month="2025-01", items={"living": "200"})
    proposal_approve(proposal=proposal, user=reviewer)
    assert sel.standard_used_months(category=cat, phase="subsidy") == [dt.date(2025, 1, 1)]
    payroll_run_compute(scheme=Scheme.objects.get(code="BZ"), period="2026-02", user=clerk)  # computed, not approved
    # the run paid 生活补助 to a person of the category: its month is used; 养老金 was paid to nobody
    assert sel.standard_used_months(category=cat, phase="subsidy") == [dt.date(2025, 1, 1), dt.date(2026, 2, 1)]
    assert sel.standard_used_months(category=cat, phase="pension") == []
    subsidy = CategoryStandard.objects.get(category=cat, phase="subsidy")
    with pytest.raises(BzError, match="已被 2025-01 的待遇核准"):
        standard_change(user=reviewer, standard=subsidy, amount="250", reason="调整")
    with pytest.raises(BzError, match="新标准须从 2026-03 或以后生效"):
        standard_add(user=reviewer, category=cat, phase="subsidy", from_month="2026-02", amount="250")
    assert standard_add(user=reviewer, category=cat, phase="subsidy", from_month="2026-03", amount="250").pk
    pension = CategoryStandard.objects.get(category=cat, phase="pension")
    assert standard_change(user=reviewer, standard=pension, amount="650", reason="录入错误").amount == D("650.00")


# --------------------------------------------------------------------------------------------------
# pages


def _client(user) -> Client:
    client = Client()
    client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    return client


def test_pages_add_a_category_once_and_show_the_chinese_refusal(db):
    rev = make_role_user("page_rev", roles=("reviewer",), all_regions=True)
    clerk = make_role_user("page_clerk", roles=("clerk",), all_regions=True)
    c = _client(rev)
    assert c.get(reverse("pension_security:categories")).status_code == 200
    assert _client(clerk).get(reverse("pension_security:category_add")).status_code == 403

    form = {"code": "page", "name": "页面类别", "conversion_age_male": "60", "conversion_age_female": "55",
            "refund_paid_in_rate": "1", "refund_received_rate": "1", "refund_floor": "0", "_once": str(uuid.uuid4())}
    before = state()
    bad = c.post(reverse("pension_security:category_add"), {**form, "code": "Page!"})
    assert bad.status_code == 200 and "类别代码须以小写字母开头" in bad.content.decode()
    assert state() == before

    first = c.post(reverse("pension_security:category_add"), form)
    cat = Category.objects.get(code="page")
    assert first.status_code == 302 and first["Location"] == reverse("pension_security:category", args=[cat.pk])
    again = c.post(reverse("pension_security:category_add"), form, follow=True)
    assert Category.objects.filter(code="page").count() == 1
    assert "此表单已经提交过" in again.content.decode()

    # a standard from the page, then its history page
    std_form = {"phase": "subsidy", "from_month": "2026-01", "amount": "310.00", "reason": "", "_once": str(uuid.uuid4())}
    c.post(reverse("pension_security:standard_add", args=[cat.pk]), std_form)
    c.post(reverse("pension_security:standard_add", args=[cat.pk]), std_form)
    assert list(CategoryStandard.objects.filter(category=cat).values_list("amount", flat=True)) == [D("310.00")]
    detail = c.get(reverse("pension_security:category", args=[cat.pk])).content.decode()
    assert "2026-01" in detail and "310.00" in detail and "尚未使用" in detail

    # 停用 with a person not ended: the refusal shown, nothing written
    member_register(user=clerk, category=cat, person=person("页面甲", dt.date(1975, 6, 1)))
    before = state()
    resp = c.post(reverse("pension_security:category_active", args=[cat.pk]),
                  {"active": "0", "reason": "合并", "_once": str(uuid.uuid4())}, follow=True)
    assert "还有 1 名未终止的养老保障人员，不能停用" in resp.content.decode()
    assert state() == before
