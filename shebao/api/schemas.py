"""Request and response shapes of the API. Sensitive fields use the types of ``shebao.api.masking``."""

from __future__ import annotations

import datetime as dt

from ninja import Field, Schema

from shebao.api.masking import AccountNumber, AuditData, IdNumber, MaskedText, PhoneNumber
from shebao.registry.selectors import person_current_account


class Message(Schema):
    detail: str


class RegionRef(Schema):
    id: int
    code: str
    name: str


class Town(RegionRef):
    communities: list[RegionRef]


class PersonItem(Schema):
    """A row in a list or search result."""

    id: int
    id_number: IdNumber
    name: str
    sex: str
    sex_display: str
    birth_date: dt.date
    town: RegionRef
    community: RegionRef | None = None
    death_date: dt.date | None = None

    @staticmethod
    def resolve_sex_display(obj) -> str:
        return str(obj.get_sex_display())


class BankAccountOut(Schema):
    id: int
    bank: str
    bank_display: str
    branch: str
    account_number: AccountNumber
    holder_name: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    luhn_warning: bool
    current: bool

    @staticmethod
    def resolve_bank_display(obj) -> str:
        return str(obj.get_bank_display())

    @staticmethod
    def resolve_current(obj) -> bool:
        return obj.valid_to is None


class PersonDetail(PersonItem):
    id_number_original: IdNumber
    name_initials: str
    hukou_address: str
    residence_address: str
    mobile: PhoneNumber
    phone: PhoneNumber
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime
    current_account: BankAccountOut | None = None

    @staticmethod
    def resolve_current_account(obj):
        return person_current_account(obj)


class PersonPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[PersonItem]


class PersonCreateIn(Schema):
    id_number: str = Field(..., max_length=20, description="18 位（或旧 15 位）身份证号")
    name: str = Field(..., max_length=50)
    town_id: int
    community_id: int | None = None
    sex: str | None = Field(None, description="M 或 F；填写时须与身份证号一致")
    birth_date: dt.date | None = Field(None, description="填写时须与身份证号一致")
    hukou_address: str = Field("", max_length=200)
    residence_address: str = Field("", max_length=200)
    mobile: str = Field("", max_length=20)
    phone: str = Field("", max_length=20)
    notes: str = Field("", max_length=2000)
    reason: str = Field("", max_length=500)


class PersonUpdateIn(Schema):
    """Only the fields sent are changed; ``reason`` is required."""

    reason: str = Field(..., max_length=500)
    name: str | None = Field(None, max_length=50)
    town_id: int | None = None
    community_id: int | None = None
    hukou_address: str | None = Field(None, max_length=200)
    residence_address: str | None = Field(None, max_length=200)
    mobile: str | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=20)
    death_date: dt.date | None = None
    notes: str | None = Field(None, max_length=2000)


class BankAccountIn(Schema):
    bank: str = Field(..., max_length=10, description="银行代码，如 ICBC、CXRCB")
    account_number: str = Field(..., max_length=40, description="数字 0-9，长度按开户银行（见 README“Files in and out”）")
    holder_name: str = Field(..., max_length=50)
    branch: str = Field("", max_length=100)
    valid_from: dt.date | None = None
    reason: str = Field("", max_length=500)


class BankAccountChangeOut(Schema):
    account: BankAccountOut
    warnings: list[str]


class AuditEventOut(Schema):
    id: int
    occurred_at: dt.datetime
    user_id: int | None = None
    username: str
    ip: str
    action: str
    object_type: str
    object_id: str
    person_id: int | None = None
    summary: MaskedText
    before: AuditData = None
    after: AuditData = None
    reason: MaskedText


class AuditPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[AuditEventOut]
