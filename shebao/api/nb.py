"""老农保 (NB) over the API: accounts (list, detail), an account's yearly table (个人年账户明细) and a
refund quote (退款试算) on a date. Read only: a quote writes nothing.

The rules are the 老农保 pages' (``shebao.rural_pension.views``), in scheme NB:
- accounts, detail, yearly table: ``rural_pension.view_ruralaccount`` (or any of the 老农保 write rights);
- refund quote: ``rural_pension.add_ruraldocument`` (the page that shows it is the refund clerk's);
- accounts of persons in the caller's 镇街道 only (another town's account → 404, as missing);
  身份证号 and account numbers masked without 查看敏感信息.

The amounts are computed now from the account's flows and the credited-rate table, by the same rule
as the pages (``rural_pension.interest``). A year without a rate, an account already refunded or
closed, or a date with flows after it → 409 with the Chinese reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from shebao.accounts.roles import NB_EDIT, NB_RATES, NB_REFUND, NB_ROLLBACK, NB_VIEW
from shebao.api.fields import TEXT, Money, Month, bank_label
from shebao.api.masking import AccountNumber, IdNumber
from shebao.api.pagination import DEFAULT_PAGE_SIZE, page_of
from shebao.api.permissions import require
from shebao.common.policy import rule
from shebao.registry.selectors import person_current_account
from shebao.rural_pension.interest import RateMissing
from shebao.rural_pension.rules import refund_refusal
from shebao.rural_pension.selectors import (
    account_benefit,
    account_get,
    account_overview,
    account_yearly_table,
    accounts_list,
)
from shebao.rural_pension.services import RuralError, rural_refund_quote

router = Router(tags=["老农保"])

SCHEME = "NB"
# as the pages: whoever works on 老农保 accounts reads them
VIEW = rule(NB_VIEW, NB_EDIT, NB_REFUND, NB_ROLLBACK, NB_RATES, scheme=SCHEME, note="老农保账户只读")
QUOTE = rule(NB_REFUND, scheme=SCHEME, note="退款试算是退款经办的页面")


# --------------------------------------------------------------------------------------------------
# shapes


class AccountOut(Schema):
    id: int
    person_id: int
    name: str
    id_number: IdNumber
    town: str
    community: str | None = None
    status: str = Field(..., description="paying 缴费 / suspended 中断缴费 / receiving 领取 / refunded 已退保 / "
                                         "terminated 已终止")
    status_label: str
    enrolled_on: dt.date
    closed_on: dt.date | None = None
    contribution_years: int = Field(..., description="有缴费的年数")
    balance: Money | None = Field(None, description="账户余额：最近已计算年度的期末")
    balance_year: int | None = None
    monthly_benefit: Money | None = Field(None, description="月养老金")

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.person.name

    @staticmethod
    def resolve_id_number(obj) -> str:
        return obj.person.id_number

    @staticmethod
    def resolve_town(obj) -> str:
        return obj.town.name

    @staticmethod
    def resolve_community(obj) -> str | None:
        return obj.community.name if obj.community_id else None

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())


class AccountPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[AccountOut]


class BankAccountRef(Schema):
    bank: str
    bank_label: str
    account_number: AccountNumber
    holder_name: str


class BenefitOut(Schema):
    receiving: bool
    start_month: Month | None = None
    base: Money | None = Field(None, description="领取时账户积累额")
    coefficient: Decimal | None = Field(None, description="计发系数")
    monthly: Money | None = Field(None, description="月养老金")
    months_paid: int
    amount_paid: Money
    guarantee_months: int
    guarantee_left: int | None = None


class AccountDetail(Schema):
    id: int
    person_id: int
    name: str
    id_number: IdNumber
    town: str
    community: str | None = None
    status: str
    status_label: str
    enrolled_on: dt.date
    closed_on: dt.date | None = None
    legacy_bank: str
    legacy_account_number: AccountNumber
    bank_account: BankAccountRef | None = Field(None, description="当前支付账户")
    contribution_total: Money = Field(..., description="缴费合计")
    contribution_years: int
    first_year: int | None = None
    last_year: int | None = None
    payout_total: Money = Field(..., description="支付合计")
    balance: Money | None = Field(None, description="账户余额：按记账利率表计算到最后一个有利率的年度期末")
    balance_year: int | None = None
    balance_error: str = Field("", description="无法计算余额的原因（如缺某年度记账利率）")
    benefit: BenefitOut
    heir_person_id: int | None = None
    note: str


class YearRowOut(Schema):
    year: int
    months: int = Field(..., description="计息月数：整年 12")
    opening: Money = Field(..., description="期初")
    personal: Money = Field(..., description="个人缴费")
    collective: Money = Field(..., description="集体补助")
    other: Money = Field(..., description="其他")
    payouts: Money = Field(..., description="支付")
    rate: Decimal = Field(..., description="记账利率（小数，0.0250 即 2.5%）")
    interest: Money = Field(..., description="利息")
    closing: Money = Field(..., description="期末")


class YearTable(Schema):
    account_id: int
    years: list[YearRowOut]
    balance: Money = Field(..., description="最后一年期末")


class QuoteOut(Schema):
    account_id: int
    on: dt.date
    amount: Money = Field(..., description="试算日的账户余额，即退款金额")
    years: list[YearRowOut]


# --------------------------------------------------------------------------------------------------
# helpers


def _year_row(r) -> dict:
    return {"year": r.year, "months": r.months, "opening": r.opening, "personal": r.credits["personal"],
            "collective": r.credits["collective"], "other": r.credits["other"], "payouts": r.payouts,
            "rate": r.rate, "interest": r.interest, "closing": r.closing}


# --------------------------------------------------------------------------------------------------
# routes


@router.get("/accounts", response=AccountPage, summary="老农保账户列表")
def nb_accounts(
    request,
    q: str = Query("", max_length=50, pattern=TEXT, description="姓名包含，或身份证号后几位"),
    town: int | None = Query(None, description="镇街道编号"),
    community: int | None = Query(None, description="村编号"),
    status: Literal["paying", "suspended", "receiving", "refunded", "terminated"] | None = None,
    min_years: int | None = Query(None, ge=0, description="缴费年数至少"),
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200),
):
    require(request, VIEW)
    qs = accounts_list(user=request.auth, town_id=town, community_id=community, status=status,
                       min_years=min_years, q=q)
    return page_of(qs, page=page, page_size=page_size)


@router.get("/accounts/{int:account_id}", response=AccountDetail, summary="老农保账户详情（参保、缴费、支付、待遇享受）")
def nb_account(request, account_id: int):
    require(request, VIEW)
    account = account_get(user=request.auth, pk=account_id)  # another town's account: 404
    person = account.person
    overview = account_overview(account=account)
    benefit = account_benefit(account=account)
    current = person_current_account(person)
    data = {
        "id": account.pk, "person_id": person.pk, "name": person.name, "id_number": person.id_number,
        "town": account.town.name, "community": account.community.name if account.community_id else None,
        "status": account.status, "status_label": str(account.get_status_display()),
        "enrolled_on": account.enrolled_on, "closed_on": account.closed_on, "legacy_bank": account.legacy_bank,
        "legacy_account_number": account.legacy_account_number,
        "bank_account": {"bank": current.bank, "bank_label": bank_label(current.bank),
                         "account_number": current.account_number, "holder_name": current.holder_name}
        if current else None,
        "contribution_total": overview["contribution_total"], "contribution_years": overview["contribution_years"],
        "first_year": overview["first_year"], "last_year": overview["last_year"],
        "payout_total": overview["payout_total"], "balance": None, "balance_year": None, "balance_error": "",
        "benefit": {k: benefit[k] for k in ("receiving", "start_month", "base", "coefficient", "monthly",
                                            "months_paid", "amount_paid", "guarantee_months", "guarantee_left")},
        "heir_person_id": account.heir_id, "note": account.note,
    }
    try:
        rows = account_yearly_table(account=account)
    except RateMissing as exc:
        data["balance_error"] = str(exc)
    else:
        if rows:
            data["balance"], data["balance_year"] = rows[-1].closing, rows[-1].year
    return data


@router.get("/accounts/{int:account_id}/years", response=YearTable, summary="个人年账户明细（按记账利率表现算）")
def nb_account_years(request, account_id: int):
    require(request, VIEW)
    account = account_get(user=request.auth, pk=account_id)
    try:
        rows = account_yearly_table(account=account)
    except RateMissing as exc:
        raise HttpError(409, str(exc)) from None
    return {"account_id": account.pk, "years": [_year_row(r) for r in rows],
            "balance": rows[-1].closing if rows else Decimal("0.00")}


@router.get("/accounts/{int:account_id}/refund-quote", response=QuoteOut, summary="退款试算（不写入任何数据）")
def nb_refund_quote(
    request, account_id: int, on: Annotated[dt.date | None, Query(description="结算日期，默认今天")] = None,
):
    """The yearly rows to the date (full years before its year; its year with interest for month − 1
    months) and the balance on that date, which a refund would pay."""
    require(request, QUOTE)
    account = account_get(user=request.auth, pk=account_id)
    today = timezone.localdate()
    on = on or today
    if on > today:
        raise HttpError(422, "请求数据有误：on：结算日期不能晚于今天")
    if refusal := refund_refusal(account):  # the one refundable rule of the pages and the service
        raise HttpError(409, refusal)
    try:
        quote = rural_refund_quote(account=account, on=on)
    except RuralError as exc:
        raise HttpError(409, str(exc)) from None
    return {"account_id": account.pk, "on": on, "amount": quote.amount, "years": [_year_row(r) for r in quote.rows]}
