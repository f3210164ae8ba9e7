"""自管人员 (ZG) over the API: the enrolled persons with their payment status, current items and
account, and one person's enrollment with its items, 补发/扣减 and recent payments. Read only.

The rules are the 自管人员 pages' (``shebao.self_managed.views``): ``self_managed.view_zg`` in scheme
ZG; persons of the caller's 镇街道 only (another town's person → 404, as missing); 身份证号 and
account numbers masked without 查看敏感信息."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Literal

from django.db.models import Q
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from shebao.accounts.roles import ZG_VIEW
from shebao.api.fields import TEXT, Money, Month, bank_label
from shebao.api.masking import AccountNumber, IdNumber
from shebao.api.pagination import DEFAULT_PAGE_SIZE, page_of
from shebao.api.permissions import require
from shebao.benefits.models import BenefitAmount
from shebao.benefits.months import month_of
from shebao.common.policy import rule
from shebao.registry.selectors import person_get, person_search
from shebao.self_managed import selectors as sel

router = Router(tags=["自管人员"])

SCHEME = "ZG"
VIEW = rule(ZG_VIEW, scheme=SCHEME, note="自管人员只读")
NOT_ZG = "该人员不是自管人员"


# --------------------------------------------------------------------------------------------------
# shapes


class ItemAmount(Schema):
    code: str
    name: str
    amount: Money = Field(..., description="月金额")
    from_month: Month
    to_month: Month | None = None


class ZgPerson(Schema):
    person_id: int
    name: str
    id_number: IdNumber
    town: str
    payment_status: str = Field(..., description="active 正常 / suspended 暂停 / terminated 终止")
    payment_status_label: str
    start_month: Month
    end_month: Month | None = None
    service_years: Decimal
    monthly_total: Money = Field(..., description="本月按月发放项目合计")
    bank: str | None = None
    bank_label: str | None = None
    account_number: AccountNumber | None = None
    items: list[ItemAmount] = Field(..., description="本月执行的待遇项目")


class ZgPersonPage(Schema):
    count: int
    page: int
    page_size: int
    month: Month
    items: list[ZgPerson]


class AdjustmentOut(Schema):
    id: int
    kind: str = Field(..., description="arrears 补发 / deduction 扣减")
    kind_label: str
    state: str
    state_label: str
    total: Money
    remaining: Money = Field(..., description="未结金额")
    monthly_cap: Money | None = Field(None, description="扣减每月上限")
    reason: str
    source: str
    created_at: dt.datetime

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(obj.get_state_display())


class PaymentOut(Schema):
    line_id: int
    run_id: int
    period: Month
    kind: str
    gross: Money
    deductions: Money
    net: Money
    status: str
    status_label: str


class ZgPersonDetail(ZgPerson):
    note: str
    amounts_history: list[ItemAmount] = Field(..., description="待遇项目金额的全部历史")
    adjustments: list[AdjustmentOut]
    payments: list[PaymentOut] = Field(..., description="最近 12 笔自管人员发放")


# --------------------------------------------------------------------------------------------------
# helpers


def _amount_row(a: BenefitAmount) -> dict:
    return {"code": a.item.code, "name": a.item.name, "amount": a.amount, "from_month": a.from_month,
            "to_month": a.to_month}


def _current_items(enrollment_ids: list[int], month: dt.date) -> dict[int, list[dict]]:
    """The items in effect in ``month`` of these enrollments, in one query."""
    rows = (BenefitAmount.objects.filter(enrollment_id__in=enrollment_ids, from_month__lte=month)
            .filter(Q(to_month__isnull=True) | Q(to_month__gte=month)).select_related("item")
            .order_by("enrollment_id", "item__sort", "item__code"))
    out: dict[int, list[dict]] = defaultdict(list)
    for a in rows:
        out[a.enrollment_id].append(_amount_row(a))
    return out


def _row(e, items: list[dict]) -> dict:
    return {
        "person_id": e.person_id, "name": e.person.name, "id_number": e.person.id_number,
        "town": e.person.town.name, "payment_status": e.payment_status,
        "payment_status_label": str(e.get_payment_status_display()), "start_month": e.start_month,
        "end_month": e.end_month, "service_years": e.service_years, "monthly_total": e.monthly_total,
        "bank": e.bank, "bank_label": bank_label(e.bank) if e.bank else None,
        "account_number": e.account_number, "items": items,
    }


# --------------------------------------------------------------------------------------------------
# routes


@router.get("/persons", response=ZgPersonPage, summary="自管人员名单（发放状态、本月待遇项目、支付账户）")
def zg_persons(
    request,
    q: str = Query("", max_length=50, pattern=TEXT, description="姓名、身份证号或后几位、拼音首字母"),
    town: int | None = Query(None, description="镇街道编号"),
    status: Literal["active", "suspended", "terminated"] | None = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200),
):
    require(request, VIEW)
    month = month_of(timezone.localdate())
    qs = sel.zg_enrollments(user=request.auth, month=month)
    q = q.strip()
    if q:
        qs = qs.filter(person__in=person_search(user=request.auth, q=q, limit=None).values("pk"))
    if town is not None:
        qs = qs.filter(person__town_id=town)
    if status:
        qs = qs.filter(payment_status=status)
    data = page_of(qs.order_by("person__name_pinyin", "person_id"), page=page, page_size=page_size)
    items = _current_items([e.pk for e in data["items"]], month)
    data["items"] = [_row(e, items.get(e.pk, [])) for e in data["items"]]
    data["month"] = month
    return data


@router.get("/persons/{int:person_id}", response=ZgPersonDetail, summary="一名自管人员：待遇项目、补发扣减、最近发放")
def zg_person(request, person_id: int):
    require(request, VIEW)
    person = person_get(user=request.auth, pk=person_id)  # another town's person: 404
    month = month_of(timezone.localdate())
    enrollment = sel.zg_enrollments(user=request.auth, month=month).filter(person=person).first()
    if enrollment is None:
        raise HttpError(404, NOT_ZG)
    data = _row(enrollment, _current_items([enrollment.pk], month).get(enrollment.pk, []))
    data["note"] = enrollment.note
    data["amounts_history"] = [_amount_row(a) for a in sel.amounts_history(enrollment)]
    data["adjustments"] = sel.adjustments_of(enrollment)
    data["payments"] = [
        {"line_id": ln.pk, "run_id": ln.run_id, "period": ln.run.period, "kind": ln.run.kind, "gross": ln.gross,
         "deductions": ln.deductions, "net": ln.net, "status": ln.status, "status_label": str(ln.get_status_display())}
        for ln in sel.last_lines(person, 12)
    ]
    return data
