"""The rules of the 互联网络和安全 pages and commands (``shebao.common.policy``): links, inspection and
backups are 信息科's (``accounts.it_ops``); the security pages (rate limits, locked accounts) also the
系统管理员's (``accounts.manage_users``)."""

from shebao.common.policy import CONSOLE, rule

OPS_RULE = rule("accounts.it_ops", note="信息科：链路监测、巡检、备份")
SECURITY_RULE = rule("accounts.it_ops", "accounts.manage_users", note="信息科或系统管理员：安全")

__all__ = ["CONSOLE", "OPS_RULE", "SECURITY_RULE"]
