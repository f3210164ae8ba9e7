"""The permissions of the 自管人员 pages (held by roles in ``shebao.accounts.roles.ROLE_PERMISSIONS``) and
the rules (``shebao.common.policy``) every /zg/ page, export and command is behind: each is scheme ZG, so
a user whose schemes do not include ZG is refused; persons are further limited to the user's towns
(``policy.scope_town``; another town's person looks missing)."""

from shebao.accounts.roles import ZG_INCOME_ADD as INCOME_ADD
from shebao.accounts.roles import ZG_INCOME_VIEW as INCOME_VIEW
from shebao.accounts.roles import ZG_MANAGE as MANAGE
from shebao.accounts.roles import ZG_VIEW as VIEW
from shebao.common.policy import rule

SCHEME = "ZG"

VIEW_RULE = rule(VIEW, scheme=SCHEME, note="自管人员查询（ZG），本人管辖镇街道")
MANAGE_RULE = rule(MANAGE, scheme=SCHEME, note="自管人员经办（ZG），本人管辖镇街道")
INCOME_VIEW_RULE = rule(INCOME_VIEW, scheme=SCHEME, note="自管人员收入查询（ZG）")
INCOME_ADD_RULE = rule(INCOME_ADD, scheme=SCHEME, note="自管人员收入登记（ZG）")
# 批量调待 previews and applies a rule to every 自管人员 of the county: a county-wide act
RAISE_VIEW_RULE = rule(VIEW, scheme=SCHEME, county=True, note="批量调待预览涉及全市自管人员")
RAISE_APPLY_RULE = rule(MANAGE, scheme=SCHEME, county=True, note="批量调待执行涉及全市自管人员")

__all__ = ["INCOME_ADD", "INCOME_ADD_RULE", "INCOME_VIEW", "INCOME_VIEW_RULE", "MANAGE", "MANAGE_RULE",
           "RAISE_APPLY_RULE", "RAISE_VIEW_RULE", "SCHEME", "VIEW", "VIEW_RULE"]
