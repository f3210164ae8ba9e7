"""The permissions of the 自管人员 pages (held by roles in ``shebao.accounts.roles.ROLE_PERMISSIONS``)."""

from shebao.accounts.roles import ZG_INCOME_ADD as INCOME_ADD
from shebao.accounts.roles import ZG_INCOME_VIEW as INCOME_VIEW
from shebao.accounts.roles import ZG_MANAGE as MANAGE
from shebao.accounts.roles import ZG_VIEW as VIEW

__all__ = ["INCOME_ADD", "INCOME_VIEW", "MANAGE", "VIEW"]
