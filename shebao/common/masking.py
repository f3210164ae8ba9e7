"""Masking of sensitive numbers for users without the 查看敏感信息 permission (SPEC)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SENSITIVE_PERMISSION = "accounts.view_sensitive"


def mask_id_number(value: str) -> str:
    """330282195001011234 → 330282********1234 (first 6, last 4)."""
    if not value:
        return value
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_account(value: str) -> str:
    """Bank account: first 4 and last 4 shown."""
    if not value:
        return value
    if len(value) <= 8:
        return value[:2] + "*" * (len(value) - 2)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """Mobile 13812341234 → 138****1234; other numbers keep the first 3 and last 4 where long enough."""
    if not value:
        return value
    if len(value) >= 11:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    if len(value) > 4:
        return "*" * (len(value) - 4) + value[-4:]
    return "*" * len(value)


def mask_address(value: str) -> str:
    """An address keeps its first part (the town, at most 6 characters, never more than half):
    浒山街道南门路 12 号 3 室 → 浒山街道南门****."""
    if not value:
        return value
    keep = min(6, len(value) // 2)
    return value[:keep] + "****"


@dataclass(frozen=True)
class Masker:
    """Shows or masks sensitive values according to one user's right. Use ``masker_for(user)``."""

    can_view: bool

    def id_number(self, value: str) -> str:
        return value if self.can_view else mask_id_number(value)

    def account(self, value: str) -> str:
        return value if self.can_view else mask_account(value)

    def phone(self, value: str) -> str:
        return value if self.can_view else mask_phone(value)

    def address(self, value: str) -> str:
        return value if self.can_view else mask_address(value)

    def apply(self, kind: str, value: str) -> str:
        return {"id_number": self.id_number, "account": self.account, "phone": self.phone,
                "address": self.address}[kind](value)


def masker_for(user) -> Masker:
    return Masker(can_view=bool(user and user.is_authenticated and user.has_perm(SENSITIVE_PERMISSION)))


# -- keys of recorded data (audit before/after, event details) ---------------------------------------

# exact keys, then suffixes: any ``*_id_number``, ``*_account_number`` (legacy_account_number …),
# ``*_phone``, ``*_address`` is sensitive wherever it appears
_EXACT_KEYS = {
    "id_number": "id_number", "id_number_original": "id_number", "account_number": "account",
    "account_no": "account", "bank_account": "account", "card_number": "account", "mobile": "phone",
    "phone": "phone", "tel": "phone", "telephone": "phone", "address": "address",
}
_SUFFIXES = (("_id_number", "id_number"), ("_account_number", "account"), ("_account_no", "account"),
             ("_mobile", "phone"), ("_phone", "phone"), ("_address", "address"))


def sensitive_kind(key: str) -> str | None:
    """The masking kind of a recorded key (``"legacy_account_number"`` → ``"account"``), or None."""
    key = str(key).lower()
    if key in _EXACT_KEYS:
        return _EXACT_KEYS[key]
    for suffix, kind in _SUFFIXES:
        if key.endswith(suffix):
            return kind
    return None


def mask_data(data: Any, masker: Masker) -> Any:
    """Mask the sensitive keys anywhere in a JSON value (audit before/after, event details)."""
    if masker.can_view:
        return data
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            kind = sensitive_kind(k)
            if kind and v not in (None, "") and not isinstance(v, dict | list | bool):
                out[k] = masker.apply(kind, str(v))
            else:
                out[k] = mask_data(v, masker)
        return out
    if isinstance(data, list):
        return [mask_data(v, masker) for v in data]
    return data


# 18-character 身份证号, then 15–19 digit runs (15-digit 身份证号, bank card and account numbers)
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_LONG_NUMBER_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{15,19}(?![0-9A-Za-z])")


def mask_text(text: str, masker: Masker) -> str:
    """Mask 身份证号 and long account numbers written inside free text (an audit summary or reason)."""
    if masker.can_view or not text:
        return text
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)
    return _LONG_NUMBER_IN_TEXT.sub(lambda m: mask_account(m.group(0)), text)
