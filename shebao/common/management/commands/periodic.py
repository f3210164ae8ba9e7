"""``shebao periodic list|run NAME``: the periodic schedules (``shebao.common.periodic``) at the
console — list them with their last and next run, or run one now (recorded like a scheduled run,
trigger 手动). Exit 1 when the run failed."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from shebao.accounts.cli import command_rule
from shebao.common.models import PeriodicRun
from shebao.common.periodic import PeriodicError, periodic_run, schedule_rows
from shebao.common.policy import CONSOLE

command_rule("periodic list", CONSOLE)
command_rule("periodic run", CONSOLE)


class Command(BaseCommand):
    help = "定时任务：list 列出计划及上次/下次运行；run NAME 立即运行一次（记入运行记录）"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", title="子命令", required=True)
        listing = sub.add_parser("list", help="列出定时任务")
        listing.add_argument("--json", action="store_true")
        run = sub.add_parser("run", help="立即运行一个定时任务")
        run.add_argument("name", metavar="NAME")
        run.add_argument("--json", action="store_true")

    def handle(self, *args, subcommand: str, **options):
        if subcommand == "list":
            return self._list(options)
        return self._run(options)

    def _list(self, options):
        rows = []
        for r in schedule_rows():
            last = r.last
            rows.append({
                "name": r.schedule.name, "title": r.schedule.title, "cron": r.schedule.cron,
                "last_started_at": timezone.localtime(last.started_at).isoformat() if last else None,
                "last_outcome": last.outcome if last else None,
                "last_seconds": round(last.duration.total_seconds(), 3) if last and last.duration else None,
                "last_message": last.message if last else "",
                "next_run": timezone.localtime(r.next_run).isoformat()})
        if options["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for row in rows:
            last = (f"上次 {row['last_started_at'][:19]} {row['last_outcome']}" if row["last_started_at"]
                    else "尚未运行")
            self.stdout.write(f"{row['name']}  {row['cron']}  {row['title']}  {last}  下次 {row['next_run'][:16]}")

    def _run(self, options):
        try:
            run = periodic_run(options["name"], trigger=PeriodicRun.Trigger.MANUAL)
        except PeriodicError as exc:
            raise CommandError(str(exc)) from None
        data = {"id": run.pk, "name": run.name, "outcome": run.outcome, "message": run.message,
                "seconds": round(run.duration.total_seconds(), 3) if run.duration else None}
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(f"{run.name}：{run.get_outcome_display()}（{data['seconds']} 秒）{run.message}")
        if run.outcome == PeriodicRun.Outcome.FAILED:
            raise CommandError(f"定时任务 {run.name} 运行失败：{run.message}")
