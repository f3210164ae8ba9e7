"""The periodic jobs of 互联网络和安全 (run by the job worker; cron in UTC)."""

from __future__ import annotations

from shebao.common.periodic import PeriodicError, Routine, periodic


@periodic("ops_backup", cron="30 18 * * *", title="数据库备份（每晚 02:30，含保留策略）")
def ops_backup() -> str:
    from shebao.ops.backups import BackupError, backup_create

    try:
        record = backup_create(trigger="定时")
    except BackupError as exc:
        raise PeriodicError(str(exc)) from None
    return f"{record.file_name}：{record.message}"


@periodic("ops_link_probe", cron="* * * * *", title="链路监测：探测到期的目标", quiet=True)
def ops_link_probe() -> str:
    """Every minute: a run whose probes all succeeded (or with none due) is routine — folded into one row
    an hour on the 定时任务 page; a run with a failed probe keeps its own row."""
    from shebao.ops.links import links_probe_due

    probes = links_probe_due()
    failed = sum(1 for p in probes if not p.ok)
    if not probes:
        return Routine("没有到期的目标")
    message = f"探测 {len(probes)} 个目标，失败 {failed} 个"
    return message if failed else Routine(message)


@periodic("ops_inspection", cron="0 23 * * *", title="每日巡检（07:00）")
def ops_inspection() -> str:
    from shebao.ops.inspection import LABELS, inspection_run
    from shebao.ops.links import probes_prune
    from shebao.ops.ratelimit import rate_windows_prune

    rate_windows_prune()
    probes_prune()
    report = inspection_run(trigger="定时")
    bad = [i["name"] for i in report.items if i["level"] != "ok"]
    return f"结论：{LABELS[report.level]}" + (f"（{'、'.join(bad)}）" if bad else "")


@periodic("ops_audit_archive", cron="0 19 1 * *", title="审计记录归档（每月 1 日 03:00，180 天前的记录，不删除）")
def ops_audit_archive() -> str:
    from shebao.ops.archive import ArchiveError, audit_archive

    try:
        done = audit_archive()
    except ArchiveError as exc:
        raise PeriodicError(str(exc)) from None
    return f"已归档第 {done.first_id}–{done.last_id} 条（{done.rows} 条）" if done else "没有需要归档的审计记录"
