"""The permissions of the 自管人员 pages and which roles hold them.

``ROLE_GRANTS`` is merged into ``shebao.accounts.roles.ROLE_PERMISSIONS`` when the app is ready (see
``wiring``), so ``roles_sync`` gives the role groups these permissions too."""

VIEW = "self_managed.view_zg"  # lists, person pages, 综合查询, exports
MANAGE = "self_managed.manage_zg"  # 经办: enroll, 减员, status, amounts, 补发/扣减, roster import, raise, 灵活支付
INCOME_VIEW = "self_managed.view_income"
INCOME_ADD = "self_managed.add_income"

ROLE_GRANTS: dict[str, list[str]] = {
    "clerk": [VIEW, MANAGE, INCOME_VIEW, INCOME_ADD],
    "reviewer": [VIEW, INCOME_VIEW],
    "finance": [VIEW, INCOME_VIEW, INCOME_ADD],
    "it_admin": [VIEW],
}
