"""Masking of sensitive values in API responses — the one place it happens.

Schemas declare a field as ``IdNumber``, ``AccountNumber`` or ``PhoneNumber`` (or ``AuditData`` for the
before/after JSON of an audit record); on output the value is masked unless the caller (``request.auth``)
holds ``accounts.view_sensitive``. With no request in the serialisation context the value is masked."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainSerializer, SerializationInfo

from shebao.common.masking import Masker, mask_data, mask_text, masker_for


def masker_of(info: SerializationInfo | None) -> Masker:
    context = (info.context if info is not None else None) or {}
    request = context.get("request")
    user = getattr(request, "auth", None) if request is not None else None
    return masker_for(user)


def _serializer(kind: str):
    def serialize(value: Any, info: SerializationInfo) -> Any:
        if value is None:
            return None
        return masker_of(info).apply(kind, str(value))

    return PlainSerializer(serialize, return_type=str | None)


IdNumber = Annotated[str, _serializer("id_number")]
AccountNumber = Annotated[str, _serializer("account")]
PhoneNumber = Annotated[str, _serializer("phone")]
# free text that may hold a 身份证号 or an account number (an audit summary or reason)
MaskedText = Annotated[str, PlainSerializer(lambda value, info: mask_text(value, masker_of(info)), return_type=str)]
AuditData = Annotated[
    dict[str, Any] | None,
    PlainSerializer(lambda value, info: mask_data(value, masker_of(info)), return_type=dict[str, Any] | None),
]
