"""``shebao user create|list|unlock``: staff accounts from scripts."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from shebao.accounts.cli import command_rule
from shebao.accounts.management.commands._password import read_password
from shebao.accounts.models import Role, User
from shebao.accounts.selectors import user_is_locked, users_list
from shebao.accounts.services import SCHEME_CODES, AccountError, user_create, user_unlock
from shebao.common.policy import CONSOLE
from shebao.registry.models import Region

# the operator at the server's console (installation, scripts); --by names the 系统管理员 written into the
# audit trail and must hold 管理用户. In the UI the same acts need accounts.manage_users.
for _sub in ("create", "list", "unlock"):
    command_rule(f"user {_sub}", CONSOLE)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace("，", ",").split(",") if part.strip()]


def _towns(names_or_codes: list[str]) -> list[int]:
    ids = []
    for item in names_or_codes:
        town = Region.objects.filter(Q(name=item) | Q(code=item), level=Region.Level.TOWN).first()
        if town is None:
            raise CommandError(f"找不到镇街道：{item}")
        ids.append(town.pk)
    return ids


class Command(BaseCommand):
    help = "用户管理：create 新增用户；list 列出用户；unlock 解锁用户"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", title="子命令", required=True)
        create = sub.add_parser("create", help="新增用户（首次登录须修改密码）")
        create.add_argument("--username", required=True)
        create.add_argument("--full-name", required=True)
        create.add_argument("--roles", required=True,
                            help=f"角色代码，逗号分隔：{', '.join(f'{v}={label}' for v, label in Role.choices)}")
        scope = create.add_mutually_exclusive_group(required=True)
        scope.add_argument("--towns", help="管辖镇街道名称或代码，逗号分隔，如 浒山街道,古塘街道")
        scope.add_argument("--all-regions", action="store_true", help="全市范围")
        create.add_argument("--schemes", help=f"险种范围，逗号分隔（{', '.join(SCHEME_CODES)}）；不填为全部险种")
        create.add_argument("--sensitive", action="store_true", help="授予“查看敏感信息”权限")
        create.add_argument("--password-stdin", action="store_true", help="从标准输入读取一行作为初始密码")
        create.add_argument("--by", help="记入审计日志的操作人用户名（默认 system）")
        sub.add_parser("list", help="列出用户")
        unlock = sub.add_parser("unlock", help="解锁被锁定的用户")
        unlock.add_argument("--username", required=True)
        unlock.add_argument("--by", required=True, help="执行解锁的系统管理员用户名（记入审计日志）")

    def handle(self, *args, subcommand: str, **options):
        getattr(self, f"_{subcommand}")(**options)

    def _actor(self, username: str | None) -> User | None:
        if not username:
            return None
        actor = User.objects.filter(username=username, is_active=True).first()
        if actor is None or not actor.has_perm("accounts.manage_users"):
            raise CommandError(f"{username} 不是在用的系统管理员")
        return actor

    def _create(self, *, username, full_name, roles, towns, all_regions, schemes, sensitive, password_stdin, by,
                **_):
        actor = self._actor(by)
        password = read_password(from_stdin=password_stdin, prompt="初始密码")
        try:
            user = user_create(
                actor=actor, username=username, full_name=full_name, password=password, roles=_split(roles),
                region_ids=_towns(_split(towns)), all_regions=all_regions, schemes=_split(schemes),
                sensitive=sensitive, must_change_password=True,
            )
        except AccountError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"已新增用户 {user.username}（{user.full_name}），首次登录须修改密码"))

    def _list(self, **_):
        for user in users_list():
            scope = "全市范围" if user.all_regions else "、".join(r.name for r in user.regions.all()) or "-"
            state = "停用" if not user.is_active else ("锁定" if user_is_locked(user) else "正常")
            roles = ",".join(g.name for g in user.groups.all()) or "-"
            sensitive = "敏感" if user.has_sensitive else ""
            self.stdout.write(f"{user.username}\t{user.full_name}\t{roles}\t{scope}\t{state}\t{sensitive}")

    def _unlock(self, *, username, by, **_):
        actor = self._actor(by)
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户 {username} 不存在")
        user_unlock(user=user, actor=actor)
        self.stdout.write(self.style.SUCCESS(f"已解锁用户 {username}"))
