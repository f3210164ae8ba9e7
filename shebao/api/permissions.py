"""Permission checks of the API: 403 with a Chinese message, the same rights as the pages."""

from __future__ import annotations

from ninja.errors import HttpError

MESSAGES = {
    "registry.view_person": "您没有查看人员信息的权限",
    "registry.add_person": "您没有新增人员的权限",
    "registry.change_person": "您没有修改人员信息的权限",
    "registry.change_bankaccount": "您没有变更支付账户的权限",
    "accounts.view_audit": "您没有查看审计日志的权限",
}


def require(request, perm: str) -> None:
    user = request.auth
    if not user.has_perm(perm):
        raise HttpError(403, MESSAGES.get(perm, "您没有进行此操作的权限"))
