"""The rules (``shebao.common.policy``) of the 数据维护 pages and commands. Permissions are held by roles
in ``shebao.accounts.roles.ROLE_PERMISSIONS``: a clerk proposes, a reviewer (``accounts.review``)
approves or refuses — never their own request (a CHECK constraint). A request's person must be in the
user's towns (out of scope looks missing) and a benefit request's scheme in the user's schemes."""

from shebao.accounts.roles import (
    MAINT_COMPARE,
    MAINT_PROPOSE,
    MAINT_QUERY_MANAGE,
    MAINT_QUERY_RUN,
    MAINT_VIEW,
    REVIEW,
)
from shebao.common.policy import rule

VIEW_RULE = rule(MAINT_VIEW, note="数据更正申请查询，本人管辖镇街道")
PROPOSE_RULE = rule(MAINT_PROPOSE, note="提出数据更正申请，本人管辖镇街道的人员")
DECIDE_RULE = rule(REVIEW, note="审核数据更正申请（不能审核本人提出的）")
# a batch may name persons of several towns: its approval is a county-wide act
BATCH_DECIDE_RULE = rule(REVIEW, county=True, note="审核批量更正（涉及多个镇街道，须全市范围；不能审核本人上传的）")
COMPARE_RULE = rule(MAINT_COMPARE, note="数据比对：上传的两个文件，不读写业务数据")
# a table holds the whole county's rows (archive, warehouse; live persons are read in the user's towns, but
# the other side is not): comparing two tables is county-wide
COMPARE_TABLES_RULE = rule(MAINT_COMPARE, county=True, note="数据比对：两张数据库表（全市数据），只读")
QUERY_RUN_RULE = rule(MAINT_QUERY_RUN, note="运行保存的统计查询，按本人管辖镇街道和险种")
QUERY_MANAGE_RULE = rule(MAINT_QUERY_MANAGE, note="定义统计查询（信息科）")

__all__ = ["BATCH_DECIDE_RULE", "COMPARE_RULE", "COMPARE_TABLES_RULE", "QUERY_MANAGE_RULE", "QUERY_RUN_RULE", "DECIDE_RULE", "PROPOSE_RULE", "VIEW_RULE"]
