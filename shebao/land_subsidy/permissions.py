"""The permissions of the 土保补贴 pages (held by roles in ``shebao.accounts.roles.ROLE_PERMISSIONS``) and
the rules (``shebao.common.policy``) every /tb/ page, export and command is behind: each is scheme TB, so
a user whose schemes do not include TB is refused; persons are further limited to the user's towns."""

from shebao.accounts.roles import TB_MANAGE as MANAGE
from shebao.accounts.roles import TB_VIEW as VIEW
from shebao.common.policy import rule

SCHEME = "TB"

VIEW_RULE = rule(VIEW, scheme=SCHEME, note="土保补贴人员查询（TB），本人管辖镇街道")
MANAGE_RULE = rule(MANAGE, scheme=SCHEME, note="土保补贴经办（TB），本人管辖镇街道")
# categories and their amount rules decide every person's yearly amount: a county-wide act
RULES_MANAGE_RULE = rule(MANAGE, scheme=SCHEME, county=True, note="补贴类别与标准涉及全市土保补贴人员")
# the yearly roster lists every person of the run (all towns)
ROSTER_RULE = rule(VIEW, scheme=SCHEME, county=True, note="年度发放明细涉及全市土保补贴人员")

__all__ = ["MANAGE", "MANAGE_RULE", "ROSTER_RULE", "RULES_MANAGE_RULE", "SCHEME", "VIEW", "VIEW_RULE"]
