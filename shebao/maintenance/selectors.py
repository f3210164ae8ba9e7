"""Reads of 数据维护: correction requests within the user's towns and schemes, and how to show a
request's values (masked for users without 查看敏感信息)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from shebao.benefits.models import BenefitItem, Enrollment
from shebao.common import policy
from shebao.common.masking import Masker
from shebao.maintenance.models import CorrectionRequest
from shebao.maintenance.services import ACCOUNT_LABELS, ENROLLMENT_FIELDS, PERSON_FIELDS, field_label
from shebao.registry.selectors import bank_label

Kind = CorrectionRequest.Kind
MASKED_PERSON_FIELDS = {"mobile": "phone", "phone": "phone", "hukou_address": "address",
                        "residence_address": "address"}


def corrections_visible(user) -> QuerySet[CorrectionRequest]:
    """The requests of persons in the user's towns; benefit requests only of the user's schemes."""
    qs = CorrectionRequest.objects.select_related("person", "person__town", "enrollment__scheme", "proposed_by",
                                                  "decided_by")
    qs = policy.scope_town(qs, user, "person__town_id")
    codes = policy.schemes_of(user)
    if codes is not None:
        qs = qs.filter(Q(enrollment__isnull=True) | Q(enrollment__scheme__code__in=codes))
    return qs


def correction_get(*, user, pk: int) -> CorrectionRequest:
    req = corrections_visible(user).filter(pk=pk).first()
    if req is None:
        raise Http404("没有这条更正申请")
    return req


def corrections_of_person(*, user, person_id: int) -> QuerySet[CorrectionRequest]:
    return corrections_visible(user).filter(person_id=person_id)


def targets_for(person, user) -> list[tuple[str, str]]:
    """The choices of what to correct for one person: ``(value, label)``; value is
    ``kind:field`` or ``kind:enrollment_id:field`` for the benefit kinds (only the user's schemes)."""
    out = [(f"person:{f}", f"人员基本信息 · {label}") for f, label in PERSON_FIELDS.items()]
    out.append(("account:account", "支付账户（开户银行、账号、户名）"))
    enrollments = Enrollment.objects.filter(person=person).select_related("scheme").order_by("scheme__sort")
    for e in enrollments:
        if not policy.scheme_allowed(user, e.scheme.code):
            continue
        for item in BenefitItem.objects.filter(scheme_id=e.scheme_id).order_by("sort"):
            out.append((f"amount:{e.pk}:{item.code}", f"待遇金额 · {e.scheme.name} {item.name}"))
        for f, label in ENROLLMENT_FIELDS.items():
            out.append((f"enrollment:{e.pk}:{f}", f"参保信息 · {e.scheme.name} {label}"))
    return out


def value_text(req_kind: str, field: str, value: dict, masker: Masker) -> str:
    """A request's old or new value as one line of text, masked as the user may see it."""
    if not value:
        return "（无）"
    if req_kind == Kind.PERSON:
        text = value.get("value", "")
        kind = MASKED_PERSON_FIELDS.get(field)
        if text and kind:
            text = masker.apply(kind, text)
        return text or "（空）"
    if req_kind == Kind.ACCOUNT:
        parts = []
        for key in ("bank", "account_number", "holder_name", "branch", "valid_from"):
            v = value.get(key, "")
            if not v:
                continue
            if key == "bank":
                v = bank_label(v)
            elif key == "account_number":
                v = masker.account(v)
            parts.append(f"{ACCOUNT_LABELS[key]} {v}")
        return "，".join(parts)
    if req_kind == Kind.AMOUNT:
        return f"{value.get('amount', '')} 元（{value.get('from_month', '')} 起）"
    return value.get("value", "") or "（空）"


def request_label(req: CorrectionRequest) -> str:
    return field_label(req.kind, req.field, req.enrollment)
