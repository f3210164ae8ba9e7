"""社会保险特殊业务 (the ledger) over the API: the records (支出/收入, list and one with its attachments'
metadata), the business types with their accounting subjects, and the monthly or yearly report. Read only:
entering, 到账确认, 复核 and 红冲 stay on the pages (each a one-time form with its own maker-checker).

The rules are the /ts/ pages' (``shebao.finance.rules``): ``finance.view_ledger``, 全市范围 (the ledger
is the centre's: a town's user is refused, 403). A payee's account number and a person's 身份证号 are
masked without 查看敏感信息; a note is masked as free text. Money is a string with two decimals; a
reversal (红冲) is a record with a negative amount that names its original (``reversal_of``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.db.models import Q
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from shebao.api.fields import TEXT, Money, bank_label
from shebao.api.masking import AccountNumber, IdNumber, MaskedText
from shebao.api.pagination import DEFAULT_PAGE_SIZE, MAX_ID, MAX_PAGE, page_of
from shebao.api.permissions import require
from shebao.finance import selectors as sel
from shebao.finance.models import Attachment, Entry
from shebao.finance.rules import VIEW_RULE

router = Router(tags=["社会保险特殊业务"])

NOT_FOUND = "收支记录不存在"
TYPE_CODE = r"^[A-Za-z][A-Za-z0-9_]{1,29}$"
PAYEE_CODE = r"^[A-Za-z0-9]{1,20}$"
PERIOD = r"^\d{4}(-\d{1,2})?$"


# --------------------------------------------------------------------------------------------------
# shapes


class TypeOut(Schema):
    code: str
    name: str
    direction: str = Field(..., description="expenditure 支出 / income 收入")
    direction_label: str
    subject_code: str = Field(..., description="会计科目代码")
    subject_name: str = Field(..., description="会计科目名称")
    subject_confirmed: bool = Field(..., description="会计科目已由财务确认（false：待财务确认）")
    subject_confirmed_by: str | None = None
    subject_confirmed_at: dt.datetime | None = None
    scheme: str | None = Field(None, description="经银行支付时所用险种代码；空：不经银行")
    active: bool

    @staticmethod
    def resolve_direction_label(obj) -> str:
        return str(obj.get_direction_display())

    @staticmethod
    def resolve_subject_confirmed_by(obj) -> str | None:
        return obj.subject_confirmed_by.display_name if obj.subject_confirmed_by_id else None

    @staticmethod
    def resolve_scheme(obj) -> str | None:
        return obj.scheme.code if obj.scheme_id else None


class TypeRef(Schema):
    code: str
    name: str
    subject_code: str
    subject_name: str
    subject_confirmed: bool


class PayeeRef(Schema):
    code: str = Field(..., description="收款方编号")
    version: int = Field(..., description="记录所用的收款方版本")
    name: str = Field(..., description="户名")
    uscc: str = Field(..., description="统一社会信用代码（个人收款方为空）")
    bank: str
    bank_label: str
    branch: str
    account_number: AccountNumber

    @staticmethod
    def resolve_bank_label(obj) -> str:
        return bank_label(obj.bank)


class PersonRef(Schema):
    id: int
    name: str
    id_number: IdNumber


class EntryRef(Schema):
    id: int
    number: str
    amount: Money


class EntryOut(Schema):
    id: int
    number: str = Field(..., description="记录号（ZC…支出 / SR…收入）")
    direction: str = Field(..., description="expenditure 支出 / income 收入")
    direction_label: str
    type: TypeRef
    payee: PayeeRef | None = Field(None, description="收款方/付款方（单位）")
    person: PersonRef | None = Field(None, description="涉及的登记人员")
    amount: Money = Field(..., description="金额；红冲记录为负数")
    occurred_on: dt.date = Field(..., description="业务日期")
    voucher_no: str = Field(..., description="凭证号")
    note: MaskedText
    state: str = Field(..., description="entered 待到账确认 / arrived 已到账待复核 / reviewed 已复核")
    state_label: str
    pay_status: str = Field(..., description="none 不经银行 / pending 待银行支付 / paid 已支付 / failed 支付失败")
    pay_status_label: str
    run_id: int | None = Field(None, description="经银行支付的零星发放批次")
    arrival_on: dt.date | None = Field(None, description="银行到账日期")
    arrival_amount: Money | None = None
    arrival_by: str | None = None
    created_by: str
    created_at: dt.datetime
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    reversal_of: EntryRef | None = Field(None, description="本记录红冲的原记录")
    source: str | None = Field(None, description="来自险种的来源引用（每个来源只有一条记录）")

    @staticmethod
    def resolve_direction_label(obj) -> str:
        return str(obj.get_direction_display())

    @staticmethod
    def resolve_type(obj) -> dict:
        t = obj.type
        return {"code": t.code, "name": t.name, "subject_code": t.subject_code, "subject_name": t.subject_name,
                "subject_confirmed": t.subject_confirmed}

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(obj.get_state_display())

    @staticmethod
    def resolve_pay_status_label(obj) -> str:
        return str(obj.get_pay_status_display())

    @staticmethod
    def resolve_arrival_by(obj) -> str | None:
        return obj.arrival_by.display_name if obj.arrival_by_id else None

    @staticmethod
    def resolve_created_by(obj) -> str:
        return obj.created_by.display_name

    @staticmethod
    def resolve_reviewed_by(obj) -> str | None:
        return obj.reviewed_by.display_name if obj.reviewed_by_id else None


class AttachmentOut(Schema):
    id: int
    file_name: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: dt.datetime

    @staticmethod
    def resolve_uploaded_by(obj) -> str:
        return obj.uploaded_by.display_name


class EntryDetail(EntryOut):
    reversed_by: EntryRef | None = Field(None, description="冲销本记录的红冲记录")
    attachments: list[AttachmentOut] = Field(..., description="附件（元数据；文件在页面下载）")

    @staticmethod
    def resolve_attachments(obj) -> list:
        return list(Attachment.objects.filter(entry=obj).defer("content").select_related("uploaded_by"))


class EntryPage(Schema):
    count: int
    page: int
    page_size: int
    total: Money = Field(..., description="符合条件的记录金额合计（红冲以负数计）")
    items: list[EntryOut]


class CountTotal(Schema):
    count: int
    total: Money


class ReportType(Schema):
    direction: str
    code: str
    name: str
    subject_code: str
    subject_name: str
    subject_confirmed: bool
    count: int
    total: Money


class ReportPayee(Schema):
    direction: str
    payee: str = Field(..., description="收款方编号；人员为 person:<编号>；未指定为空")
    name: str
    count: int
    total: Money


class ReportStatus(Schema):
    direction: str
    state: str
    label: str
    count: int
    total: Money


class ReportBank(Schema):
    records_count: int = Field(..., description="经银行支付且已支付的记录笔数")
    records_total: Money
    files_count: int = Field(..., description="这些记录在报盘文件中已支付的明细笔数")
    files_total: Money


class ReportOut(Schema):
    period: str = Field(..., description="YYYY-MM（月报）或 YYYY（年报）")
    start: dt.date = Field(..., description="期间第一天")
    end: dt.date = Field(..., description="期间最后一天")
    income: CountTotal
    expenditure: CountTotal
    net: Money = Field(..., description="收入 − 支出")
    by_type: list[ReportType]
    by_payee: list[ReportPayee]
    by_status: list[ReportStatus]
    bank: ReportBank
    reconciled: bool = Field(..., description="各分组合计、记录合计与报盘文件一致")


# --------------------------------------------------------------------------------------------------
# routes


@router.get("/types", response=list[TypeOut], summary="业务类型与会计科目（含财务确认状态）")
def types_list(request, direction: Literal["expenditure", "income"] | None = None):
    require(request, VIEW_RULE)
    return list(sel.types(direction).select_related("subject_confirmed_by"))


def _entries():
    return sel.entries().select_related("arrival_by", "reversal_of")


@router.get("/entries", response=EntryPage, summary="收支记录（支出、收入）列表与筛选")
def entries_list(
    request,
    direction: Literal["expenditure", "income"] | None = Query(None, description="expenditure 支出 / income 收入"),
    state: Literal["entered", "arrived", "reviewed"] | None = None,
    type: str | None = Query(None, max_length=30, pattern=TYPE_CODE, description="业务类型代码"),
    pay_status: Literal["none", "pending", "paid", "failed"] | None = None,
    payee: str | None = Query(None, max_length=20, pattern=PAYEE_CODE, description="收款方编号（含其各版本）"),
    person_id: int | None = Query(None, ge=1, le=MAX_ID),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    reversals: bool | None = Query(None, description="true 只列红冲记录，false 不含红冲记录"),
    q: str = Query("", max_length=50, pattern=TEXT, description="记录号、凭证号、户名或姓名的一部分"),
    page: int = Query(1, ge=1, le=MAX_PAGE),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200),
):
    require(request, VIEW_RULE)
    qs = _entries()
    if direction:
        qs = qs.filter(direction=direction)
    if state:
        qs = qs.filter(state=state)
    if type:
        qs = qs.filter(type__code=type.upper())
    if pay_status:
        qs = qs.filter(pay_status=pay_status)
    if payee:
        qs = qs.filter(payee__code=payee.upper())
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    if date_from:
        qs = qs.filter(occurred_on__gte=date_from)
    if date_to:
        qs = qs.filter(occurred_on__lte=date_to)
    if reversals is not None:
        qs = qs.filter(reversal_of__isnull=not reversals)
    q = q.strip()
    if q:
        qs = qs.filter(Q(number__contains=q) | Q(voucher_no__contains=q) | Q(payee__name__contains=q)
                       | Q(person__name__contains=q))
    data = page_of(qs.order_by("-occurred_on", "-id"), page=page, page_size=page_size)
    data["total"] = sel.entries_total(qs)
    return data


@router.get("/entries/{int:entry_id}", response=EntryDetail, summary="一条收支记录：到账、复核、红冲、附件")
def entries_detail(request, entry_id: int):
    require(request, VIEW_RULE)
    if entry_id > MAX_ID:
        raise HttpError(404, NOT_FOUND)
    entry = _entries().filter(pk=entry_id).first()
    if entry is None:
        raise HttpError(404, NOT_FOUND)
    entry.reversed_by = Entry.objects.filter(reversal_of=entry).only("pk", "number", "amount").first()
    return entry


@router.get("/report", response=ReportOut, summary="收支报表：按业务类型、收款方、状态的月度或年度合计及核对")
def report(request, period: str = Query(..., max_length=7, pattern=PERIOD,
                                         description="YYYY-MM（月报）或 YYYY（年报）", examples=["2026-03"])):
    require(request, VIEW_RULE)
    try:
        rep = sel.report_for(period)
    except ValueError as exc:
        raise HttpError(422, f"请求数据有误：{exc}") from None
    return {
        "period": rep.label, "start": rep.start, "end": rep.end,
        "income": {"count": rep.income_count, "total": rep.income_total},
        "expenditure": {"count": rep.expenditure_count, "total": rep.expenditure_total},
        "net": rep.net, "by_type": rep.by_type, "by_payee": rep.by_payee, "by_status": rep.by_status,
        "bank": rep.bank, "reconciled": rep.reconciled,
    }
