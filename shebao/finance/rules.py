"""The rules (``shebao.common.policy``) of the 社会保险特殊业务 pages and command. The ledger is the
centre's: every rule is 全市范围 (a town's clerk has no ledger). The permissions are held by roles in
``shebao.accounts.roles.ROLE_PERMISSIONS``."""

from shebao.common.policy import CONSOLE, rule

VIEW = "finance.view_ledger"
MANAGE = "finance.manage_ledger"
ARRIVAL = "finance.confirm_arrival"
REVIEW = "finance.review_ledger"
TYPES = "finance.manage_types"

VIEW_RULE = rule(VIEW, county=True, note="特殊业务收支查询（全市）")
MANAGE_RULE = rule(MANAGE, county=True, note="特殊业务经办：收支录入、收款方登记、银行支付（全市）")
ARRIVAL_RULE = rule(ARRIVAL, county=True, note="特殊业务到账确认（财务，全市）")
REVIEW_RULE = rule(REVIEW, county=True, note="特殊业务复核与红冲（另一位复核人，全市）")
REVIEW_PAGE_RULE = rule(ARRIVAL, REVIEW, county=True, note="财务复核页：到账确认或复核之一")
TYPES_RULE = rule(TYPES, county=True, note="特殊业务类型维护（全市）")
REPORT_COMMAND_RULE = CONSOLE
