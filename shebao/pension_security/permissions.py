"""The rules (``shebao.common.policy``) every /bz/ page, export, command and job is behind: each is
scheme BZ, so a user whose schemes do not include BZ is refused; persons are further limited to the
user's towns (``policy.scope_town``; another town's person looks missing). The permissions are held by
roles (``shebao.accounts.roles``)."""

from shebao.accounts.roles import BZ_CATEGORY as CATEGORY
from shebao.accounts.roles import BZ_MANAGE as MANAGE
from shebao.accounts.roles import BZ_VIEW as VIEW
from shebao.accounts.roles import REVIEW
from shebao.common.policy import rule

SCHEME = "BZ"

VIEW_RULE = rule(VIEW, scheme=SCHEME, note="养老保障查询（BZ），本人管辖镇街道")
MANAGE_RULE = rule(MANAGE, scheme=SCHEME, note="养老保障经办（BZ），本人管辖镇街道")
# 待遇核准: a reviewer (审核), never the proposer (the database refuses it)
APPROVE_RULE = rule(REVIEW, scheme=SCHEME, note="养老保障待遇核准（审核，非申报人）")
# 到龄转换 and 增资 work over every BZ person of the county
COUNTY_VIEW_RULE = rule(VIEW, scheme=SCHEME, county=True, note="涉及全市养老保障人员")
COUNTY_MANAGE_RULE = rule(MANAGE, scheme=SCHEME, county=True, note="涉及全市养老保障人员的批量办理")
# 类别与标准: what every later approval and conversion of the county pays (a reviewer's right, 全市范围)
CATEGORY_RULE = rule(CATEGORY, scheme=SCHEME, county=True, note="维护养老保障类别与标准（全市）")

__all__ = ["APPROVE_RULE", "CATEGORY", "CATEGORY_RULE", "COUNTY_MANAGE_RULE", "COUNTY_VIEW_RULE", "MANAGE", "MANAGE_RULE", "SCHEME", "VIEW",
           "VIEW_RULE"]
