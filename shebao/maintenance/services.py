"""Writes of 数据维护: correction requests (错误数据修改).

A request is proposed by one user and decided by another (``CorrectionRequest``'s CHECK constraint
``decided_by <> proposed_by``; the service says it in Chinese first). Approving applies the change
through the OWNING app's service in the same transaction as the request's state:

- 人员基本信息 → ``registry.services.person_update`` (one audit event with before/after);
- 支付账户 → ``registry.services.bank_account_set`` (the old account closed, history kept, audited);
- 待遇金额 → ``benefits.services.benefit_amount_set`` (a new range from the month; back-dated months
  paid already get their 补发/扣减; audited);
- 参保信息 (工龄、备注) → ``benefits.services.enrollment_update`` (audited).

The audit event's reason names the request, its proposer and reason. Nothing here writes those
tables itself. A value changed by someone else after the request was made is not overwritten: the
approval is refused ("请驳回后重新申请")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath

from django.db import transaction
from django.utils import timezone

from shebao.benefits.models import BenefitAmount, BenefitItem, Enrollment
from shebao.benefits.months import MonthError, format_month, parse_month
from shebao.benefits.services import BenefitError, benefit_amount_set, enrollment_update
from shebao.common import policy
from shebao.common.audit import audit_record
from shebao.common.identity import name_error
from shebao.common.money import MoneyError, parse_amount, to_decimal
from shebao.common.safefile import FileRefused, Limits, MiB, check_size
from shebao.maintenance.models import CorrectionRequest
from shebao.registry.models import BankAccount, Person
from shebao.registry.services import (
    RegistryError,
    account_number_check,
    bank_account_set,
    holder_name_check,
    person_update,
)

Kind = CorrectionRequest.Kind
State = CorrectionRequest.State

# the fields a correction may change, with their labels
PERSON_FIELDS = {"name": "姓名", "hukou_address": "户籍地址", "residence_address": "居住地址", "mobile": "手机",
                 "phone": "固定电话", "death_date": "死亡日期", "notes": "备注"}
ENROLLMENT_FIELDS = {"service_years": "工龄(年)", "note": "备注"}
ACCOUNT_KEYS = ("bank", "account_number", "holder_name", "branch", "valid_from")
ACCOUNT_LABELS = {"bank": "开户银行", "account_number": "银行账号", "holder_name": "户名", "branch": "开户网点",
                  "valid_from": "启用日期"}
ATTACHMENT_LIMITS = Limits(max_bytes=5 * MiB)
ATTACHMENT_TYPES = (".pdf", ".jpg", ".jpeg", ".png", ".xlsx", ".xls", ".docx", ".doc", ".csv", ".txt")
TEXT_MAX = {"name": 50, "hukou_address": 200, "residence_address": 200, "mobile": 20, "phone": 20, "notes": 1000,
            "note": 200}


class CorrectionError(Exception):
    """A refused proposal or decision; ``str()`` is the Chinese message. Nothing was written."""


@dataclass
class Target:
    """What a request changes: its kind, field, enrollment (for the benefit kinds) and label."""

    kind: str
    field: str
    enrollment: Enrollment | None = None
    label: str = ""


def field_label(kind: str, field: str, enrollment: Enrollment | None = None) -> str:
    if kind == Kind.PERSON:
        return PERSON_FIELDS.get(field, field)
    if kind == Kind.ACCOUNT:
        return "支付账户"
    if kind == Kind.ENROLLMENT:
        prefix = f"{enrollment.scheme.name} " if enrollment else ""
        return prefix + ENROLLMENT_FIELDS.get(field, field)
    if enrollment is not None:
        item = BenefitItem.objects.filter(scheme_id=enrollment.scheme_id, code=field).first()
        return f"{enrollment.scheme.name} {item.name if item else field}月金额"
    return field


# --------------------------------------------------------------------------------------------------
# current values and parsing new ones


def _date(value, label: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    try:
        if len(text) == 8 and text.isdigit():
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CorrectionError(f"{label} {value} 不是有效日期（应为 YYYY-MM-DD）") from None


def current_value(target: Target, person: Person) -> dict:
    """The value a request changes, as it is now (JSON-able, compared again at approval)."""
    if target.kind == Kind.PERSON:
        value = getattr(person, target.field)
        return {"value": value.isoformat() if isinstance(value, dt.date) else (value or "")}
    if target.kind == Kind.ACCOUNT:
        acc = BankAccount.objects.filter(person=person, valid_to__isnull=True).first()
        if acc is None:
            return {}
        return {"bank": acc.bank, "account_number": acc.account_number, "holder_name": acc.holder_name,
                "branch": acc.branch, "valid_from": acc.valid_from.isoformat()}
    enrollment = Enrollment.objects.get(pk=target.enrollment.pk)
    if target.kind == Kind.ENROLLMENT:
        value = getattr(enrollment, target.field)
        return {"value": str(value) if isinstance(value, Decimal) else (value or "")}
    rng = (BenefitAmount.objects.filter(enrollment=enrollment, item__code=target.field, to_month__isnull=True)
           .first())
    if rng is None:
        return {}
    return {"amount": str(rng.amount), "from_month": format_month(rng.from_month)}


def parse_new_value(target: Target, person: Person, raw: dict) -> dict:
    """The proposed value checked as far as it can be before approval (the owning service checks it
    again when applying). Returns the normalised JSON-able value; ``CorrectionError`` in Chinese."""
    try:
        return _parse(target, person, raw)
    except (RegistryError, BenefitError, MoneyError, MonthError) as exc:
        raise CorrectionError(str(exc)) from None


def _parse(target: Target, person: Person, raw: dict) -> dict:
    if target.kind == Kind.PERSON:
        if target.field not in PERSON_FIELDS:
            raise CorrectionError(f"不能更正的字段：{target.field}")
        value = str(raw.get("value") or "").strip()
        if target.field == "death_date":
            day = _date(value, "死亡日期")
            if day is not None and (day < person.birth_date or day > dt.date.today()):
                raise CorrectionError(f"死亡日期 {day} 不合理（早于出生日期或晚于今天）")
            return {"value": day.isoformat() if day else ""}
        if target.field == "name" and (error := name_error(value)):
            raise CorrectionError(error)
        if len(value) > TEXT_MAX[target.field]:
            raise CorrectionError(f"{PERSON_FIELDS[target.field]}超过 {TEXT_MAX[target.field]} 字")
        return {"value": value}
    if target.kind == Kind.ACCOUNT:
        bank = str(raw.get("bank") or "").strip()
        number = account_number_check(bank=bank, account_number=str(raw.get("account_number") or ""))
        holder = holder_name_check(str(raw.get("holder_name") or person.name))
        valid_from = _date(raw.get("valid_from"), "启用日期") or timezone.localdate()
        branch = str(raw.get("branch") or "").strip()[:100]
        return {"bank": bank, "account_number": number, "holder_name": holder, "branch": branch,
                "valid_from": valid_from.isoformat()}
    if target.enrollment is None:
        raise CorrectionError("请选择险种")
    if target.kind == Kind.ENROLLMENT:
        if target.field not in ENROLLMENT_FIELDS:
            raise CorrectionError(f"不能更正的字段：{target.field}")
        value = str(raw.get("value") or "").strip()
        if target.field == "service_years":
            years = to_decimal(value or "0")
            if years < 0 or years >= 1000 or years != years.quantize(Decimal("0.01")):
                raise CorrectionError(f"工龄 {value} 不正确（0 至 999.99，最多两位小数）")
            return {"value": str(years.quantize(Decimal("0.01")))}
        if len(value) > 200:
            raise CorrectionError("备注超过 200 字")
        return {"value": value}
    if not BenefitItem.objects.filter(scheme_id=target.enrollment.scheme_id, code=target.field).exists():
        raise CorrectionError(f"{target.enrollment.scheme.name}没有待遇项目 {target.field}")
    amount = parse_amount(str(raw.get("amount") or ""), label="月金额")
    month = parse_month(raw.get("from_month"))
    return {"amount": str(amount), "from_month": format_month(month)}


def _same(target: Target, current: dict, new: dict) -> bool:
    if target.kind == Kind.ACCOUNT:
        keys = ("bank", "account_number", "holder_name", "branch")
        return bool(current) and all(current.get(k) == new.get(k) for k in keys)
    if target.kind == Kind.AMOUNT:
        return bool(current) and current.get("amount") == new.get("amount")
    return current.get("value", "") == new.get("value", "")


# --------------------------------------------------------------------------------------------------
# propose, approve, refuse


def _check_person(user, person: Person, target: Target) -> None:
    if not policy.person_allowed(user, person):
        raise CorrectionError(policy.NO_TOWN)
    if target.enrollment is not None:
        if target.enrollment.person_id != person.pk:
            raise CorrectionError("该参保记录不属于此人")
        code = target.enrollment.scheme.code
        if not policy.scheme_allowed(user, code):
            raise CorrectionError(policy.NO_SCHEME.format(scheme=code))


def correction_propose(*, user, person: Person, kind: str, field: str, new_value: dict, reason: str,
                       enrollment: Enrollment | None = None, attachment_name: str = "",
                       attachment: bytes | None = None) -> CorrectionRequest:
    """Record a proposal (state 待审核) after checking scope, the new value and that it changes
    something; one open request per person and field at a time. Nothing is changed yet."""
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionError("请填写更正原因")
    if len(reason) > 500:
        raise CorrectionError("更正原因超过 500 字")
    if kind not in Kind.values:
        raise CorrectionError(f"未知的更正类型：{kind}")
    if kind in (Kind.PERSON, Kind.ACCOUNT):
        enrollment = None
    if kind == Kind.ACCOUNT:
        field = "account"
    target = Target(kind, field, enrollment)
    _check_person(user, person, target)
    name = ""
    if attachment:
        name = PurePath(attachment_name or "附件").name[:200]
        if not name.lower().endswith(ATTACHMENT_TYPES):
            raise CorrectionError(f"附件类型不支持：{name}（可用 {'、'.join(ATTACHMENT_TYPES)}）")
        try:
            check_size(len(attachment), ATTACHMENT_LIMITS)
        except FileRefused as exc:
            raise CorrectionError(f"附件：{exc}") from None
    new = parse_new_value(target, person, new_value)
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        current = current_value(target, person)
        if _same(target, current, new):
            raise CorrectionError(f"新值与现值相同，无需更正（{field_label(kind, field, enrollment)}）")
        other = CorrectionRequest.objects.filter(person=person, kind=kind, field=field, enrollment=enrollment,
                                                 state=State.OPEN).first()
        if other is not None:
            raise CorrectionError(f"该人员的{field_label(kind, field, enrollment)}已有待审核的更正申请 {other.number}")
        return CorrectionRequest.objects.create(
            person=person, kind=kind, field=field, enrollment=enrollment, current_value=current, new_value=new,
            reason=reason, attachment_name=name, attachment=attachment or None, proposed_by=user,
        )


def _lock_open(request: CorrectionRequest, user) -> CorrectionRequest:
    locked = (CorrectionRequest.objects.select_for_update(of=("self",))
              .select_related("person", "enrollment__scheme", "proposed_by").get(pk=request.pk))
    if locked.state != State.OPEN:
        raise CorrectionError(f"更正申请 {locked.number} 已{locked.get_state_display()}，不能再审核")
    if user is None or locked.proposed_by_id == user.pk:
        raise CorrectionError("不能审核自己提出的更正申请，须由另一位用户审核")
    _check_person(user, locked.person, Target(locked.kind, locked.field, locked.enrollment))
    return locked


def _audit_reason(req: CorrectionRequest, user) -> str:
    proposer = req.proposed_by.full_name or req.proposed_by.username
    approver = user.full_name or user.username
    return f"更正申请 {req.number}：{req.reason}（申请人 {proposer}，审核人 {approver}）"[:500]


def correction_approve(*, request: CorrectionRequest, user, note: str = "") -> CorrectionRequest:
    """Approve and apply, in one transaction: the owning service makes the change (and its audit
    event); the request becomes 已更正. Refused (nothing written) when the user proposed it, the
    request is closed, the person is out of scope, the value changed since, or the service refuses."""
    try:
        with transaction.atomic():
            req = _lock_open(request, user)
            person = Person.objects.select_for_update().get(pk=req.person_id)
            target = Target(req.kind, req.field, req.enrollment)
            now = current_value(target, person)
            if now != req.current_value:
                raise CorrectionError(f"提出申请后{field_label(req.kind, req.field, req.enrollment)}已被修改，"
                                      "请驳回此申请后重新申请")
            _apply(req, person, user)
            req.state = State.APPLIED
            req.decided_by = user
            req.decided_at = timezone.now()
            req.decision_note = (note or "").strip()[:500]
            req.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    except (RegistryError, BenefitError, MoneyError, MonthError) as exc:
        raise CorrectionError(str(exc)) from None
    return req


def _apply(req: CorrectionRequest, person: Person, user) -> None:
    reason = _audit_reason(req, user)
    new = req.new_value
    if req.kind == Kind.PERSON:
        value = new.get("value", "")
        if req.field == "death_date":
            value = dt.date.fromisoformat(value) if value else None
        person_update(user=user, person=person, reason=reason, **{req.field: value})
    elif req.kind == Kind.ACCOUNT:
        bank_account_set(user=user, person=person, bank=new["bank"], account_number=new["account_number"],
                         holder_name=new["holder_name"], branch=new.get("branch", ""),
                         valid_from=dt.date.fromisoformat(new["valid_from"]), reason=reason)
    elif req.kind == Kind.ENROLLMENT:
        if req.field == "service_years":
            enrollment_update(enrollment=req.enrollment, user=user, reason=reason, service_years=new["value"])
        else:
            enrollment_update(enrollment=req.enrollment, user=user, reason=reason, note=new["value"])
    else:
        benefit_amount_set(enrollment=req.enrollment, item=req.field, amount=new["amount"],
                           from_month=new["from_month"], user=user, note=reason[:200])


def correction_refuse(*, request: CorrectionRequest, user, note: str) -> CorrectionRequest:
    """Refuse with a reason (another user than the proposer); nothing of the person changes."""
    note = (note or "").strip()
    if not note:
        raise CorrectionError("请填写驳回原因")
    with transaction.atomic():
        req = _lock_open(request, user)
        req.state = State.REFUSED
        req.decided_by = user
        req.decided_at = timezone.now()
        req.decision_note = note[:500]
        req.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    return req


# --------------------------------------------------------------------------------------------------
# 数据转换: saved layouts


def layout_save(*, user, name: str, spec: str, note: str = "", layout=None):
    """Create (``layout`` None) or change a saved convert layout; the spec is parsed first (Chinese
    message naming the line)."""
    from shebao.maintenance.convert import ConvertError, columns_to_json, parse_layout
    from shebao.maintenance.models import ConvertLayout

    name = (name or "").strip()
    if not name:
        raise CorrectionError("请填写格式名称")
    try:
        columns = parse_layout(spec)
    except ConvertError as exc:
        raise CorrectionError(str(exc)) from None
    with transaction.atomic():
        clash = ConvertLayout.objects.filter(name=name).exclude(pk=getattr(layout, "pk", None)).exists()
        if clash:
            raise CorrectionError(f"格式名称“{name}”已存在")
        if layout is None:
            layout = ConvertLayout(created_by=user)
        layout.name, layout.note, layout.spec = name, (note or "").strip()[:300], spec.strip()
        layout.columns = columns_to_json(columns)
        layout.save()
    return layout


# --------------------------------------------------------------------------------------------------
# 临时数据统计: saved queries (data over a whitelist, see shebao.maintenance.statistics)


def query_save(*, user, name: str, source: str, dimensions: list[str], measures: list[str],
               parameters: list[str], chart: str = "bar", note: str = "", query=None):
    from shebao.maintenance.models import SavedQuery
    from shebao.maintenance.statistics import StatisticsError, check_definition

    name = (name or "").strip()
    if not name:
        raise CorrectionError("请填写查询名称")
    try:
        check_definition(source, dimensions, measures, parameters)
    except StatisticsError as exc:
        raise CorrectionError(str(exc)) from None
    if chart not in SavedQuery.Chart.values:
        raise CorrectionError(f"图表类型 {chart} 不支持")
    with transaction.atomic():
        if SavedQuery.objects.filter(name=name).exclude(pk=getattr(query, "pk", None)).exists():
            raise CorrectionError(f"查询名称“{name}”已存在")
        if query is None:
            query = SavedQuery(created_by=user)
        query.name, query.note, query.source, query.chart = name, (note or "").strip()[:300], source, chart
        query.dimensions, query.measures, query.parameters = dimensions, measures, parameters
        query.save()
    return query


@transaction.atomic
def compare_tables_record(*, user, a: str, b: str, summary: dict) -> None:
    """The audit event of a comparison of two database tables (a read of personal data: who compared what)."""
    audit_record(user=user, action="maintenance.compare_tables", object_type="table", object_id=f"{a}|{b}"[:60],
                 summary=(f"数据比对 {a} 与 {b}（关键列 {'、'.join(summary['keys'])}）：仅A有 {summary['only_a']}，"
                          f"仅B有 {summary['only_b']}，内容不同 {summary['changed']}")[:500])
