"""``shebao token create --user U --name N``: an API token for a script (printed once)."""

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import command_rule
from shebao.accounts.models import ApiToken, User
from shebao.accounts.services import AccountError, api_token_create, api_token_revoke
from shebao.common.policy import CONSOLE

# the operator at the server's console issues, lists and revokes tokens for a named user (no --as: the
# token carries that user's own rights, no more); staff manage their own on the 「API 令牌」 page
for _sub in ("create", "list", "revoke"):
    command_rule(f"token {_sub}", CONSOLE)


class Command(BaseCommand):
    help = "API 令牌：create 签发（令牌只显示一次）；list 列出某用户的令牌；revoke 吊销"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", title="子命令", required=True)
        create = sub.add_parser("create", help="为用户签发令牌，令牌打印到标准输出（只此一次）")
        create.add_argument("--user", required=True, help="令牌所属用户名（令牌权限与该用户相同）")
        create.add_argument("--name", required=True, help="用途，如 夜间核对脚本")
        create.add_argument("--days", type=int, default=365, help="有效天数（默认 365）")
        listing = sub.add_parser("list", help="列出用户的令牌")
        listing.add_argument("--user", required=True)
        revoke = sub.add_parser("revoke", help="吊销令牌")
        revoke.add_argument("--user", required=True, help="令牌所属用户名")
        revoke.add_argument("--prefix", required=True, help="令牌前 8 个字符（list 中显示）")

    def handle(self, *args, subcommand: str, **options):
        user = User.objects.filter(username=options["user"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"用户 {options['user']} 不存在或已停用")
        if subcommand == "create":
            try:
                key = api_token_create(user=user, name=options["name"], days=options["days"])
            except AccountError as exc:
                raise CommandError(str(exc)) from None
            self.stderr.write(f"已为 {user.username} 签发令牌「{options['name']}」，请妥善保存（只显示这一次）：")
            self.stdout.write(key)
        elif subcommand == "list":
            for token in ApiToken.objects.filter(user=user).order_by("-created_at"):
                state = "已吊销" if token.revoked else "有效"
                expires = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "长期"
                self.stdout.write(f"{token.prefix}\t{token.name}\t{expires}\t{state}")
        elif subcommand == "revoke":
            tokens = list(ApiToken.objects.filter(user=user, prefix=options["prefix"], revoked=False))
            if len(tokens) != 1:
                raise CommandError("找不到唯一的有效令牌，请检查前缀")
            api_token_revoke(token=tokens[0], actor=user)
            self.stdout.write(f"已吊销令牌 {tokens[0].prefix}（{tokens[0].name}）")
