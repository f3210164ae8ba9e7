"""``shebao demo --scale small|full [--seed N] [--reset]``: load the demo data and the demo logins."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import command_rule
from shebao.common.policy import CONSOLE
from shebao.demo.runner import DEFAULT_SEED, DemoError, demo_load, demo_users_ensure
from shebao.demo.steps import SCALES

# the operator at the console of a demonstration machine (refuses to reset real data)
command_rule("demo", CONSOLE)


class Command(BaseCommand):
    help = "加载演示数据（慈溪的模拟人员、银行账户等）和各角色的演示账号"

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=list(SCALES), default="small",
                            help="规模：small 约 3,000 人（数秒），full 约 80,000 人")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"随机种子（默认 {DEFAULT_SEED}）")
        parser.add_argument("--reset", action="store_true",
                            help="先删除已有的演示数据再加载（仅当全部人员都是演示数据时允许）")
        parser.add_argument("--no-users", action="store_true", help="不创建演示账号")
        parser.add_argument("--quiet", action="store_true", help="不显示进度")

    def handle(self, *args, scale, seed, reset, no_users, quiet, **options):
        try:
            info = demo_load(scale=scale, seed=seed, reset=reset, progress=not quiet)
        except DemoError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"{info['summary']}（用时 {info['seconds']} 秒）"))
        if no_users:
            return
        self.stdout.write("演示账号（仅供演示）：")
        for username, password, label in demo_users_ensure():
            self.stdout.write(f"  {label:<12} 用户名 {username:<10} 密码 {password}")
