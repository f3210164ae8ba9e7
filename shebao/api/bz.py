"""养老保障 (BZ) over the API, read only: the categories with their conversion ages, refund formula and
standards by month; the BZ persons (category, phase, enrollment, this month's items); one person's
enrollment with the category standard in effect, what was paid in and received, the 待遇核准 history,
the 到龄转换 and the 退保清算; 应付/实付 per month of a person, and the report by month, town and
category reconciled to the runs.

The rules are the /bz/ pages' (``shebao.pension_security.permissions.VIEW_RULE``): 查看养老保障人员 in
scheme BZ; persons of the caller's 镇街道 only (another town's person → 404, as missing); 身份证号 and
account numbers masked without 查看敏感信息. The figures come from the same selectors as the pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.db.models import Q
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from shebao.api.fields import TEXT, Money, Month, bank_label, month_or_422
from shebao.api.masking import AccountNumber, IdNumber
from shebao.api.pagination import DEFAULT_PAGE_SIZE, page_of
from shebao.api.permissions import require
from shebao.benefits.models import BenefitAmount
from shebao.benefits.months import month_of
from shebao.common import policy
from shebao.pension_security import selectors as sel
from shebao.pension_security.models import Category, Member
from shebao.pension_security.permissions import VIEW_RULE
from shebao.registry.selectors import person_current_account, person_get, person_search

router = Router(tags=["养老保障"])

NOT_BZ = "该人员不是养老保障人员"


# --------------------------------------------------------------------------------------------------
# shapes


class StandardOut(Schema):
    phase: str = Field(..., description="subsidy 生活补助（转换前）/ pension 养老金（转换后）")
    phase_label: str
    item: str = Field(..., description="待遇项目代码：living 生活补助 / basic 养老保障金")
    amount: Money = Field(..., description="月标准")
    from_month: Month
    to_month: Month | None = Field(None, description="下一条同阶段标准生效前的最后一个月；空 = 至今")
    used: bool = Field(..., description="已被待遇申报/核准、到龄转换或月度结算使用（不能再修改）")


class CategoryOut(Schema):
    id: int
    code: str
    name: str
    active: bool
    conversion_age_male: int
    conversion_age_female: int
    refund_paid_in_rate: Decimal = Field(..., description="退保：缴费计入比例")
    refund_received_rate: Decimal = Field(..., description="退保：已领扣除比例")
    refund_floor: Money = Field(..., description="退保：最低退还额")
    refund_formula: str
    subsidy_now: Money | None = Field(None, description="本月执行的生活补助标准")
    pension_now: Money | None = Field(None, description="本月执行的养老金标准")
    standards: list[StandardOut] = Field(..., description="按阶段、生效年月的全部标准")


class ItemAmount(Schema):
    code: str
    name: str
    amount: Money
    from_month: Month
    to_month: Month | None = None


class BzPerson(Schema):
    person_id: int
    name: str
    id_number: IdNumber
    town: str
    category: str
    category_code: str
    phase: str = Field(..., description="subsidy 生活补助 / pension 养老金")
    phase_label: str
    status: str = Field(..., description="unapproved 未核准 / active 正常 / suspended 暂停 / terminated 终止")
    status_label: str
    start_month: Month | None = None
    end_month: Month | None = None
    monthly_total: Money = Field(..., description="本月执行的待遇项目合计")
    items: list[ItemAmount] = Field(..., description="本月执行的待遇项目")


class BzPersonPage(Schema):
    count: int
    page: int
    page_size: int
    month: Month
    items: list[BzPerson]


class PaidInOut(Schema):
    kind: str = Field(..., description="contribution 缴费 / lump_sum 一次性趸缴")
    kind_label: str
    paid_on: dt.date
    amount: Money


class ProposalOut(Schema):
    id: int
    state: str = Field(..., description="proposed 待核准 / approved 已核准 / refused 已退回")
    state_label: str
    phase: str
    start_month: Month
    monthly_total: Money
    proposed_by: str
    proposed_at: dt.datetime
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_reason: str


class ConversionOut(Schema):
    month: Month
    age: int
    before: dict
    after: dict
    reviewed: bool


class SettlementOut(Schema):
    number: str
    reason: str
    on_date: dt.date
    paid_in: Money
    received: Money
    refund: Money
    net: Money
    formula: str


class PayableMonth(Schema):
    period: Month
    payable: Money = Field(..., description="应付：该月正常结算明细的实发")
    paid: Money = Field(..., description="实付：银行确认已支付（含二次报盘）")
    written_off: Money = Field(..., description="已核销")
    owed: Money = Field(..., description="尚欠 = 应付 − 实付 − 核销")


class BzPersonDetail(BzPerson):
    standard_now: Money | None = Field(None, description="类别在本月、本人阶段执行的标准")
    bank: str | None = None
    bank_label: str | None = None
    account_number: AccountNumber | None = None
    paid_in: list[PaidInOut]
    paid_in_total: Money
    received_total: Money = Field(..., description="银行确认已支付的养老保障待遇合计（退保清算的依据）")
    amounts_history: list[ItemAmount]
    proposals: list[ProposalOut] = Field(..., description="待遇核准记录（申报、核准、退回及原因）")
    conversion: ConversionOut | None = None
    settlement: SettlementOut | None = None
    payable: list[PayableMonth] = Field(..., description="最近 24 个月的应付/实付")


class PayablePage(Schema):
    person_id: int
    months: list[PayableMonth]
    totals: PayableMonth | None = Field(None, description="合计（period 为最后一个月）")


class PayableReportRow(Schema):
    period: Month
    town: str
    category: str
    persons: int
    payable: Money
    paid: Money
    written_off: Money
    owed: Money


class PayableReportMonth(Schema):
    period: Month
    persons: int
    payable: Money
    paid: Money
    written_off: Money
    owed: Money
    run_total: Money | None = Field(None, description="该月正常结算批次的实发合计")
    reconciled: bool | None = Field(None, description="应付合计与批次合计一致（仅全市范围用户核对）")


class PayableReport(Schema):
    months: list[PayableReportMonth]
    rows: list[PayableReportRow]


# --------------------------------------------------------------------------------------------------
# helpers


def _items_in(enrollment_ids: list[int], month: dt.date) -> dict[int, list[dict]]:
    rows = (BenefitAmount.objects.filter(enrollment_id__in=enrollment_ids, from_month__lte=month)
            .filter(Q(to_month__isnull=True) | Q(to_month__gte=month)).select_related("item")
            .order_by("enrollment_id", "item__sort", "item__code"))
    out: dict[int, list[dict]] = {}
    for a in rows:
        out.setdefault(a.enrollment_id, []).append(_amount(a))
    return out


def _amount(a: BenefitAmount) -> dict:
    return {"code": a.item.code, "name": a.item.name, "amount": a.amount, "from_month": a.from_month,
            "to_month": a.to_month}


STATUS_LABELS = {"unapproved": "未核准", "active": "正常", "suspended": "暂停", "terminated": "终止"}


def _row(m: Member, items: list[dict]) -> dict:
    e = m.enrollment
    status = e.payment_status if e else "unapproved"
    return {
        "person_id": m.person_id, "name": m.person.name, "id_number": m.person.id_number,
        "town": m.person.town.name, "category": m.category.name, "category_code": m.category.code,
        "phase": m.phase, "phase_label": str(m.get_phase_display()), "status": status,
        "status_label": STATUS_LABELS.get(status, status), "start_month": e.start_month if e else None,
        "end_month": e.end_month if e else None, "monthly_total": sum((i["amount"] for i in items), Decimal("0")),
        "items": items,
    }


def _member(request, person_id: int) -> Member:
    person = person_get(user=request.auth, pk=person_id)  # another town's person: 404
    member = sel.members_visible(request.auth).filter(person=person).first()
    if member is None:
        raise HttpError(404, NOT_BZ)
    return member


def _months(value: str, label: str) -> dt.date | None:
    return month_or_422(value, label=label) if value else None


# --------------------------------------------------------------------------------------------------
# routes


@router.get("/categories", response=list[CategoryOut], summary="养老保障类别：转换年龄、退保公式、按月的标准")
def bz_categories(request):
    require(request, VIEW_RULE)
    month = month_of(timezone.localdate())
    out = []
    for c in Category.objects.order_by("sort", "code"):
        history = sel.standards_history(c)
        now = {ph: next((h["amount"] for h in reversed(history) if h["phase"] == ph and h["from_month"] <= month),
                        None) for ph in ("subsidy", "pension")}
        out.append({
            "id": c.pk, "code": c.code, "name": c.name, "active": c.active,
            "conversion_age_male": c.conversion_age_male, "conversion_age_female": c.conversion_age_female,
            "refund_paid_in_rate": c.refund_paid_in_rate, "refund_received_rate": c.refund_received_rate,
            "refund_floor": c.refund_floor,
            "refund_formula": f"max({c.refund_floor}, 缴费合计×{c.refund_paid_in_rate} − 已领待遇×{c.refund_received_rate})",
            "subsidy_now": now["subsidy"], "pension_now": now["pension"],
            "standards": [{"phase": h["phase"], "phase_label": str(h["phase_label"]), "item": h["standard"].item.code,
                           "amount": h["amount"], "from_month": h["from_month"], "to_month": h["to_month"],
                           "used": h["used"]} for h in history],
        })
    return out


@router.get("/persons", response=BzPersonPage, summary="养老保障人员（类别、阶段、发放状态、本月待遇项目）")
def bz_persons(
    request,
    q: str = Query("", max_length=50, pattern=TEXT, description="姓名、身份证号或后几位、拼音首字母"),
    town: int | None = Query(None, description="镇街道编号"),
    category: str | None = Query(None, max_length=20, pattern=TEXT, description="类别代码"),
    status: Literal["unapproved", "active", "suspended", "terminated"] | None = None,
    phase: Literal["subsidy", "pension"] | None = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200),
):
    require(request, VIEW_RULE)
    month = month_of(timezone.localdate())
    qs = sel.members_visible(request.auth)
    q = q.strip()
    if q:
        qs = qs.filter(person__in=person_search(user=request.auth, q=q, limit=None).values("pk"))
    if town is not None:
        qs = qs.filter(person__town_id=town)
    if category:
        qs = qs.filter(category__code=category)
    if status == "unapproved":
        qs = qs.filter(enrollment__isnull=True)
    elif status:
        qs = qs.filter(enrollment__payment_status=status)
    if phase:
        qs = qs.filter(phase=phase)
    data = page_of(qs.order_by("person__name_pinyin", "person_id"), page=page, page_size=page_size)
    items = _items_in([m.enrollment_id for m in data["items"] if m.enrollment_id], month)
    data["items"] = [_row(m, items.get(m.enrollment_id, [])) for m in data["items"]]
    data["month"] = month
    return data


@router.get("/persons/{int:person_id}", response=BzPersonDetail,
            summary="一名养老保障人员：类别与标准、缴费、已领、待遇核准、转换、清算、应付实付")
def bz_person(request, person_id: int):
    require(request, VIEW_RULE)
    member = _member(request, person_id)
    month = month_of(timezone.localdate())
    e = member.enrollment
    data = _row(member, _items_in([e.pk], month).get(e.pk, []) if e else [])
    standard = sel.standard_at(category=member.category, phase=member.phase, month=month)
    account = person_current_account(member.person)
    conversion = getattr(member, "conversion", None) if hasattr(member, "conversion") else None
    settlement = sel.settlements_visible(request.auth).filter(member=member).first()
    data.update({
        "standard_now": standard.amount if standard else None,
        "bank": account.bank if account else None, "bank_label": bank_label(account.bank) if account else None,
        "account_number": account.account_number if account else None,
        "paid_in": [{"kind": r.kind, "kind_label": str(r.get_kind_display()), "paid_on": r.paid_on, "amount": r.amount}
                    for r in member.paid_in.all()],
        "paid_in_total": sel.paid_in_total(member), "received_total": sel.received_total(member),
        "amounts_history": [_amount(a) for a in BenefitAmount.objects.filter(enrollment=e).select_related("item")
                            .order_by("item__sort", "from_month")] if e else [],
        "proposals": [{"id": p.pk, "state": p.state, "state_label": str(p.get_state_display()), "phase": p.phase,
                       "start_month": p.start_month, "monthly_total": p.monthly_total,
                       "proposed_by": p.proposed_by.username, "proposed_at": p.proposed_at,
                       "decided_by": p.decided_by.username if p.decided_by else None, "decided_at": p.decided_at,
                       "decision_reason": p.decision_reason} for p in sel.proposals_of(member)],
        "conversion": {"month": conversion.month, "age": conversion.age, "before": conversion.before,
                       "after": conversion.after, "reviewed": conversion.reviewed_by_id is not None}
        if conversion else None,
        "settlement": {"number": settlement.number, "reason": settlement.reason, "on_date": settlement.on_date,
                       "paid_in": settlement.paid_in, "received": settlement.received, "refund": settlement.refund,
                       "net": settlement.net, "formula": settlement.formula.get("text", "")} if settlement else None,
        "payable": sel.payable_paid(user=request.auth, person_id=member.person_id)[-24:],
    })
    return data


@router.get("/persons/{int:person_id}/payable", response=PayablePage, summary="一名养老保障人员每月的应付、实付、尚欠")
def bz_person_payable(
    request, person_id: int,
    month_from: str = Query("", alias="from", pattern=r"^(\d{4}-\d{2})?$", description="起始年月 YYYY-MM"),
    month_to: str = Query("", alias="to", pattern=r"^(\d{4}-\d{2})?$", description="截止年月 YYYY-MM"),
):
    require(request, VIEW_RULE)
    member = _member(request, person_id)
    rows = sel.payable_paid(user=request.auth, person_id=member.person_id,
                            month_from=_months(month_from, "起始年月"), month_to=_months(month_to, "截止年月"))
    totals = None
    if rows:
        totals = {"period": rows[-1]["period"], **{k: sum((r[k] for r in rows), Decimal("0"))
                                                   for k in ("payable", "paid", "written_off", "owed")}}
    return {"person_id": member.person_id, "months": rows, "totals": totals}


@router.get("/payable", response=PayableReport, summary="养老保障应付实付：按月、镇街道、类别，与结算批次核对")
def bz_payable(
    request,
    month_from: str = Query("", alias="from", pattern=r"^(\d{4}-\d{2})?$", description="起始年月 YYYY-MM"),
    month_to: str = Query("", alias="to", pattern=r"^(\d{4}-\d{2})?$", description="截止年月 YYYY-MM"),
):
    require(request, VIEW_RULE)
    m_from, m_to = _months(month_from, "起始年月"), _months(month_to, "截止年月")
    rows = sel.payable_paid_report(user=request.auth, month_from=m_from, month_to=m_to)
    county = policy.county_wide(request.auth)
    totals = sel.run_totals(month_from=m_from, month_to=m_to) if county else {}
    by_month: dict = {}
    for r in rows:
        t = by_month.setdefault(r["period"], {"period": r["period"], "persons": 0, "payable": Decimal("0"),
                                              "paid": Decimal("0"), "written_off": Decimal("0"), "owed": Decimal("0")})
        for k in ("persons", "payable", "paid", "written_off", "owed"):
            t[k] += r[k]
    months = []
    for t in sorted(by_month.values(), key=lambda t: t["period"]):
        run_total = totals.get(t["period"]) if county else None
        months.append({**t, "run_total": run_total, "reconciled": (run_total == t["payable"]) if county else None})
    return {"months": months, "rows": rows}
