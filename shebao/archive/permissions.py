"""The rules of the archive's pages and command (``shebao.common.policy``). A person's archived records
are shown to a town user only when the registry places that person in the user's towns (anyone else, and
anyone the registry does not know, looks missing); a whole table holds every town's persons, so browsing
or exporting one is county-wide. Loading is IT's, county-wide."""

from shebao.accounts.roles import ARCH_LOAD as LOAD
from shebao.accounts.roles import ARCH_VIEW as VIEW
from shebao.common.policy import rule

VIEW_RULE = rule(VIEW, note="原遗留系统档案：按身份证号或姓名查人、个人档案记录（本人管辖镇街道）")
TABLE_RULE = rule(VIEW, county=True, note="浏览、导出整张档案表（全市数据）")
LOAD_RULE = rule(LOAD, county=True, note="装载原遗留系统的数据（信息科，全市数据）")

__all__ = ["LOAD", "LOAD_RULE", "TABLE_RULE", "VIEW", "VIEW_RULE"]
