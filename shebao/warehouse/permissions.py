"""The rules of the 回流库 pages, commands and jobs (``shebao.common.policy``). The warehouse holds the
province's and Ningbo's rows of the whole county, so every act is county-wide data; reading the
dictionary is harmless metadata, the rows themselves are read only through the audit (findings are
scoped to the clerk's towns through their person), saved queries and the IT console."""

from shebao.accounts.roles import WH_AUDIT as AUDIT
from shebao.accounts.roles import WH_CONSOLE as CONSOLE
from shebao.accounts.roles import WH_LOAD as LOAD
from shebao.accounts.roles import WH_QUERY as QUERY
from shebao.accounts.roles import WH_VIEW as VIEW
from shebao.common.policy import rule

VIEW_RULE = rule(VIEW, note="回流库数据字典、装载记录（元数据）")
LOAD_RULE = rule(LOAD, county=True, note="装载回流数据、维护数据字典（信息科，全市数据）")
AUDIT_RULE = rule(AUDIT, note="审核结果：按人员所属镇街道")
AUDIT_RUN_RULE = rule(AUDIT, county=True, note="运行审核（全市数据）")
RULES_EDIT_RULE = rule(LOAD, county=True, note="维护审核规则（信息科）")
QUERY_RULE = rule(QUERY, county=True, note="保存的查询、分组汇总（全市数据）")
CONSOLE_RULE = rule(CONSOLE, county=True, note="SQL 控制台：只读角色，仅回流库（信息科）")

__all__ = ["AUDIT", "AUDIT_RULE", "AUDIT_RUN_RULE", "CONSOLE", "CONSOLE_RULE", "LOAD", "LOAD_RULE", "QUERY",
           "QUERY_RULE", "RULES_EDIT_RULE", "VIEW", "VIEW_RULE"]
