"""``shebao setup --username U --full-name N``: create the first 系统管理员 of a new installation."""

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import command_rule
from shebao.accounts.management.commands._password import read_password
from shebao.accounts.services import AccountError, roles_sync, system_setup
from shebao.common.policy import CONSOLE

# the installer at the server's console creates the first administrator (refused once one exists)
command_rule("setup", CONSOLE)


class Command(BaseCommand):
    help = ("新系统初始化：创建第一个系统管理员（全市范围，首次登录须修改密码）。"
            "已有系统管理员时拒绝执行——没有共用或默认账号，其他账号由系统管理员在“用户管理”中创建。")

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True, help="登录用户名")
        parser.add_argument("--full-name", required=True, help="管理员姓名")
        parser.add_argument("--password-stdin", action="store_true", help="从标准输入读取一行作为密码（不提示）")

    def handle(self, *args, username: str, full_name: str, password_stdin: bool, **options):
        roles_sync()
        password = read_password(from_stdin=password_stdin, prompt="初始密码")
        try:
            user = system_setup(username=username, full_name=full_name, password=password)
        except AccountError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"已创建系统管理员 {user.username}（{user.full_name}）。首次登录后须修改密码。"
        ))
