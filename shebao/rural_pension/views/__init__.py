"""老农保 pages (/nb/): 查询 (accounts list and the account page with 参保, 缴费, 退保, 支付, 待遇享受 and
个人年账户明细), 信息修改, 记账利率, 退款 (quote → confirm → settle → 结算单 PDF), 退款回退, the 结算单
list, 开始领取 (start of the monthly benefit), 代领人 (the heir), 死亡结算 (death settlement with the
heir → 结算单), the 计发系数 table, and the legacy import for IT. Thin: parse, ask a selector or call one
service, render.

Who may do what (the rules below, ``shebao.common.policy``; superusers may do everything). Every page is
scheme NB (a user whose schemes do not include NB is refused) and every account, document and pick list
is limited to the user's towns (another town's account looks missing, 404):
- see the pages: ``rural_pension.view_ruralaccount`` (or any permission below);
- 信息修改: ``rural_pension.change_ruralaccount``;
- 退款 (settle, print), 开始领取, 代领人, 死亡结算: ``rural_pension.add_ruraldocument`` (the clerks who
  refund: each of these fixes or changes who is paid what);
- 退款回退: ``rural_pension.change_ruraldocument``;
- set a 记账利率 or a 计发系数: ``rural_pension.change_creditedrate`` (reviewers: parameters of every
  account; the model has no role of its own for the coefficient table);
- legacy import: ``accounts.it_ops`` (信息科) with 全市范围; setting a rate or a coefficient needs 全市范围
  too (it changes every account).

Every write is two steps: a page that says what will happen (with the amounts), then the action and a
message saying what was done, with a link to the result. Each confirm form carries a one-time token
(``{% once_field %}``) claimed in the write's transaction: submitted twice, it is done once and the
second submit is told so.

The pages by module: ``accounts`` (查询, the account page, 信息修改, the person page's section),
``refund`` (退款), ``receipt`` (开始领取, 代领人, 死亡结算), ``documents`` (结算单, 退款回退, the work item),
``rates`` (记账利率, 计发系数), ``imports`` (the legacy import); ``base`` holds the rules and helpers
they share. The refusals a page shows come from ``rural_pension.rules`` (or the quote services), the
same the services apply."""

from shebao.rural_pension.views.accounts import (
    account_detail,
    account_edit,
    account_list,
    account_pick,
    account_years,
    person_section,
)
from shebao.rural_pension.views.base import (
    EDIT_PERM,
    EDIT_RULE,
    IMPORT_JOB,
    IMPORT_PERM,
    IMPORT_RULE,
    RATES_PERM,
    RATES_SET_RULE,
    REFUND_PERM,
    REFUND_RULE,
    ROLLBACK_PERM,
    ROLLBACK_RULE,
    SCHEME,
    VIEW_PERM,
    VIEW_RULE,
    WRITE_PERMS,
    can_view,
)
from shebao.rural_pension.views.documents import (
    document_detail,
    document_list,
    document_pdf,
    document_reprint,
    document_rollback,
    rollback_list,
    work_refunds_awaiting_bank,
)
from shebao.rural_pension.views.imports import import_batch, import_commit, import_job, import_start
from shebao.rural_pension.views.rates import coefficients, rates
from shebao.rural_pension.views.receipt import (
    benefit,
    benefit_confirm,
    benefit_quote,
    death,
    death_quote,
    death_settle,
    heir,
)
from shebao.rural_pension.views.refund import refund, refund_quote, refund_settle

__all__ = [
    "EDIT_PERM", "EDIT_RULE", "IMPORT_JOB", "IMPORT_PERM", "IMPORT_RULE", "RATES_PERM", "RATES_SET_RULE", "REFUND_PERM",
    "REFUND_RULE", "ROLLBACK_PERM", "ROLLBACK_RULE", "SCHEME", "VIEW_PERM", "VIEW_RULE", "WRITE_PERMS",
    "account_detail", "account_edit", "account_list", "account_pick", "account_years", "benefit", "benefit_confirm",
    "benefit_quote", "can_view", "coefficients", "death", "death_quote", "death_settle", "document_detail",
    "document_list", "document_pdf", "document_reprint", "document_rollback", "heir", "import_batch", "import_commit", "import_job",
    "import_start", "person_section", "rates", "refund", "refund_quote", "refund_settle", "rollback_list",
    "work_refunds_awaiting_bank",
]
