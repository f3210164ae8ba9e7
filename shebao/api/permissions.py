"""Permission checks of the API, the API side of the policy layer (``shebao.common.policy``): 403 with
the policy's Chinese message, the same rules as the pages."""

from __future__ import annotations

from ninja.errors import HttpError

from shebao.common import policy
from shebao.common.policy import Rule

MESSAGES = {
    "registry.view_person": "您没有查看人员信息的权限",
    "registry.add_person": "您没有新增人员的权限",
    "registry.change_person": "您没有修改人员信息的权限",
    "registry.change_bankaccount": "您没有变更支付账户的权限",
    "accounts.view_audit": "您没有查看审计日志的权限",
    "payroll.compute_run": "您没有结算的权限",
    "payroll.export_run": "您没有报盘、回盘的权限",
    "bank.download_file": "您没有下载报盘文件的权限",
    "accounts.review": "您没有审核的权限",
    "self_managed.view_zg": "您没有查看自管人员的权限",
    "rural_pension.add_ruraldocument": "您没有老农保退款的权限",
    "finance.view_ledger": "您没有查看特殊业务收支的权限",
    "pension_security.view_bz": "您没有查看养老保障人员的权限",
}


def require(request, rule: Rule | str, *, scheme: str | None = None) -> None:
    """403 unless the caller passes ``rule`` (a Rule, or one permission) in ``scheme``."""
    if isinstance(rule, str):
        rule = Rule(perms=(rule,))
    reason = policy.denial(request.auth, rule, scheme=scheme)
    if reason is not None:
        if reason == policy.NO_RIGHT and len(rule.perms) == 1:
            reason = MESSAGES.get(rule.perms[0], "您没有进行此操作的权限")
        raise HttpError(403, reason)
