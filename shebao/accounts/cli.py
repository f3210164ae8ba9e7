"""What the batch commands share about who is acting (``--as USER``): the command side of the policy
layer (``shebao.common.policy``)."""

from __future__ import annotations

from django.core.management.base import CommandError

from shebao.accounts.models import User
from shebao.common import policy
from shebao.common.policy import Rule

# "command subcommand" → the rule its --as user must pass; filled by each command module with
# ``command_rule`` at import, read by the authorization matrix test (a subcommand without one fails it).
COMMAND_RULES: dict[str, Rule] = {}


def command_rule(name: str, rule: Rule) -> Rule:
    """Declare the rule of ``shebao <name>`` (e.g. ``"payroll compute"``); returns it."""
    COMMAND_RULES[name] = rule
    return rule


def acting_user(username: str | None, rule: Rule | None = None, *, scheme: str | None = None) -> User | None:
    """The active user named by ``--as``, once they pass ``rule`` (and ``scheme``, when the command
    works in one); None when no name was given; CommandError (Chinese) when unknown, inactive or refused."""
    if not username:
        return None
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"用户 {username} 不存在或已停用")
    if rule is not None:
        reason = policy.denial(user, rule, scheme=scheme)
        if reason is not None:
            raise CommandError(f"用户 {username}：{reason}")
    return user
