"""``shebao jobs reap [--stale-after SECONDS]``: mark 失败 the background jobs whose worker died (running,
no heartbeat for longer than the threshold), so they no longer block that month's work. Safe to run at
any time and as often as wanted (a cron line, or a periodic task)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import command_rule
from shebao.common.jobs import REAPED_MESSAGE, jobs_reap, stale_after_default
from shebao.common.policy import CONSOLE

REAP_RULE = command_rule("jobs reap", CONSOLE)


class Command(BaseCommand):
    help = "后台任务工具。reap：把后台进程已中断（心跳超时）的运行中任务标记为失败"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", title="子命令", required=True)
        reap = sub.add_parser("reap", help="把心跳超时的运行中任务标记为失败（未写入任何数据，可重新发起）")
        reap.add_argument("--stale-after", type=int, default=None, metavar="SECONDS",
                          help=f"心跳超过多少秒算中断（默认 {int(stale_after_default().total_seconds())}）")

    def handle(self, *args, subcommand: str, **options):
        if subcommand == "reap":
            seconds = options["stale_after"]
            if seconds is not None and seconds < 1:
                raise CommandError("--stale-after 须为正整数（秒）")
            stale = dt.timedelta(seconds=seconds) if seconds is not None else None
            reaped = jobs_reap(stale_after=stale)
            if not reaped:
                self.stdout.write("没有心跳超时的任务")
                return
            ids = "、".join(str(i) for i in reaped)
            self.stdout.write(self.style.WARNING(f"已将 {len(reaped)} 个任务标记为失败（{ids}）：{REAPED_MESSAGE}"))
