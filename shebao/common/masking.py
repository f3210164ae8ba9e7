"""Masking of sensitive numbers for users without the 查看敏感信息 permission (SPEC)."""

from __future__ import annotations

from dataclasses import dataclass

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

    def apply(self, kind: str, value: str) -> str:
        return {"id_number": self.id_number, "account": self.account, "phone": self.phone}[kind](value)


def masker_for(user) -> Masker:
    return Masker(can_view=bool(user and user.is_authenticated and user.has_perm(SENSITIVE_PERMISSION)))
