"""巡检 (inspection): every check with its value, its threshold and a status 正常/警告/异常, saved as an
``Inspection`` (history, charted) and printable (``report_pdf``).

The JSON of ``shebao ops inspect --json`` (and of each saved report)::

    {"taken_at": "2026-01-02T07:00:00+08:00", "status": "警告", "level": "warn",
     "items": [{"key": "backup_age", "name": "最近一次成功备份", "value": "30.0 小时前",
                "threshold": "警告 > 26 小时，异常 > 50 小时", "status": "警告", "level": "warn",
                "detail": "…"}, …]}

A check that cannot be made (a statistics view the database user may not read) is 警告 with the reason,
never a crash of the whole report."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from shebao.ops.models import AppError, Inspection, RateWindow

OK, WARN, ERROR = Inspection.Level.OK.value, Inspection.Level.WARN.value, Inspection.Level.ERROR.value
LABELS = {OK: "正常", WARN: "警告", ERROR: "异常"}
RANK = {OK: 0, WARN: 1, ERROR: 2}

# thresholds (warn, error)
BACKUP_AGE_HOURS = (26, 50)
CONNECTIONS_SHARE = (0.7, 0.9)
LONG_QUERY_MINUTES = (5, 30)
CACHE_HIT = (0.95, 0.90)
DISK_FREE_SHARE = (0.20, 0.10)
DB_GROWTH_SHARE = (0.10, 0.50)  # growth since the previous report
FAILED_LOGINS_24H = (20, 100)
FAILED_JOBS_24H = (1, 5)
APP_ERRORS_24H = (1, 10)


@dataclass
class Item:
    key: str
    name: str
    value: str
    threshold: str
    level: str
    detail: str = ""

    @property
    def status(self) -> str:
        return LABELS[self.level]

    def as_dict(self) -> dict:
        return asdict(self) | {"status": self.status}


def _level_above(value: float, warn: float, error: float) -> str:
    return ERROR if value > error else WARN if value > warn else OK


def _level_below(value: float, warn: float, error: float) -> str:
    return ERROR if value < error else WARN if value < warn else OK


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def _one(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def check_db_size(state: dict) -> list[Item]:
    size = int(_one("SELECT pg_database_size(current_database())")[0][0])
    state["db_size"] = size
    prev = Inspection.objects.order_by("-taken_at", "-id").first()
    items = [Item("db_size", "数据库大小", _human(size), "仅记录", OK)]
    if prev and prev.db_size:
        growth = (size - prev.db_size) / prev.db_size
        hours = max((timezone.now() - prev.taken_at).total_seconds() / 3600, 0.01)
        items.append(Item("db_growth", "数据库增长", f"{growth:+.1%}（{hours:.0f} 小时内，{_human(size - prev.db_size)}）",
                          f"警告 > {DB_GROWTH_SHARE[0]:.0%}，异常 > {DB_GROWTH_SHARE[1]:.0%}（与上次巡检相比）",
                          _level_above(growth, *DB_GROWTH_SHARE)))
    else:
        items.append(Item("db_growth", "数据库增长", "首次巡检，无可比较", "与上次巡检相比", OK))
    return items


def check_largest_tables(state: dict) -> list[Item]:
    rows = _one("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public' "
                "ORDER BY 2 DESC LIMIT 5")
    text = "；".join(f"{name} {_human(size)}" for name, size in rows)
    return [Item("largest_tables", "最大的表", rows[0][0] if rows else "—", "仅记录", OK, text)]


def check_connections(state: dict) -> list[Item]:
    used = int(_one("SELECT count(*) FROM pg_stat_activity WHERE datname IS NOT NULL")[0][0])
    limit = int(_one("SHOW max_connections")[0][0])
    share = used / limit
    return [Item("connections", "数据库连接数", f"{used} / {limit}（{share:.0%}）",
                 f"警告 > {CONNECTIONS_SHARE[0]:.0%}，异常 > {CONNECTIONS_SHARE[1]:.0%}",
                 _level_above(share, *CONNECTIONS_SHARE))]


def check_long_queries(state: dict) -> list[Item]:
    rows = _one("SELECT pid, extract(epoch FROM now() - query_start) / 60, left(query, 120) FROM pg_stat_activity "
                "WHERE state <> 'idle' AND pid <> pg_backend_pid() AND query_start IS NOT NULL "
                "AND backend_type = 'client backend' AND now() - query_start > interval '1 minute' "
                "ORDER BY 2 DESC LIMIT 5")
    longest = float(rows[0][1]) if rows else 0.0
    detail = "；".join(f"进程 {pid}：{minutes:.0f} 分钟 {query}" for pid, minutes, query in rows)
    return [Item("long_queries", "长时间运行的查询", f"{len(rows)} 个，最长 {longest:.0f} 分钟" if rows else "无",
                 f"警告 > {LONG_QUERY_MINUTES[0]} 分钟，异常 > {LONG_QUERY_MINUTES[1]} 分钟",
                 _level_above(longest, *LONG_QUERY_MINUTES), detail)]


def check_cache_hit(state: dict) -> list[Item]:
    hit, read = _one("SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()")[0]
    total = (hit or 0) + (read or 0)
    if total < 10_000:
        return [Item("cache_hit", "缓存命中率", "样本不足" if not total else f"{hit / total:.1%}（样本不足）",
                     f"警告 < {CACHE_HIT[0]:.0%}，异常 < {CACHE_HIT[1]:.0%}", OK)]
    ratio = hit / total
    return [Item("cache_hit", "缓存命中率", f"{ratio:.2%}", f"警告 < {CACHE_HIT[0]:.0%}，异常 < {CACHE_HIT[1]:.0%}",
                 _level_below(ratio, *CACHE_HIT))]


def check_disk(state: dict) -> list[Item]:
    items = []
    places = {"备份目录": Path(settings.SHEBAO_BACKUP_DIR), "程序目录": Path(settings.BASE_DIR)}
    data_dir = _one("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
    if data_dir and data_dir[0][0] and Path(data_dir[0][0]).exists():
        places["数据库目录"] = Path(data_dir[0][0])
    seen = set()
    for label, path in places.items():
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        usage = shutil.disk_usage(probe)
        if (usage.total, usage.free) in seen:
            continue
        seen.add((usage.total, usage.free))
        share = usage.free / usage.total if usage.total else 0.0
        items.append(Item(f"disk_free_{len(items) + 1}", f"磁盘剩余空间（{label}）",
                          f"{_human(usage.free)} / {_human(usage.total)}（{share:.0%}）",
                          f"警告 < {DISK_FREE_SHARE[0]:.0%}，异常 < {DISK_FREE_SHARE[1]:.0%}",
                          _level_below(share, *DISK_FREE_SHARE), str(path)))
    items[0].key = "disk_free"
    return items


def check_backup(state: dict) -> list[Item]:
    from shebao.ops.backups import last_good_backup

    threshold = f"警告 > {BACKUP_AGE_HOURS[0]} 小时，异常 > {BACKUP_AGE_HOURS[1]} 小时"
    last = last_good_backup()
    if last is None:
        return [Item("backup_age", "最近一次成功备份", "没有成功的备份", threshold, ERROR,
                     "请检查 ops_backup 定时任务，或手动运行 shebao ops backup")]
    hours = (timezone.now() - (last.finished_at or last.started_at)).total_seconds() / 3600
    return [Item("backup_age", "最近一次成功备份", f"{hours:.1f} 小时前", threshold,
                 _level_above(hours, *BACKUP_AGE_HOURS), f"{last.file_name}（{_human(last.size)}）")]


def check_logins(state: dict) -> list[Item]:
    from shebao.accounts.models import User
    from shebao.common.models import AuditEvent

    since = timezone.now() - dt.timedelta(hours=24)
    failed = AuditEvent.objects.filter(occurred_at__gte=since, action__in=["login_failed", "login_locked"]).count()
    locked = list(User.objects.filter(locked_until__gt=timezone.now()).values_list("username", flat=True)[:20])
    tripped = list(RateWindow.objects.filter(tripped_at__gte=since).values_list("scope", "client", "count"))
    from shebao.ops.ratelimit import SCOPE_LABELS

    return [
        Item("failed_logins", "24 小时内登录失败", f"{failed} 次",
             f"警告 > {FAILED_LOGINS_24H[0]}，异常 > {FAILED_LOGINS_24H[1]}", _level_above(failed, *FAILED_LOGINS_24H)),
        Item("locked_accounts", "当前锁定的账号", f"{len(locked)} 个", "警告 ≥ 1", WARN if locked else OK,
             "、".join(locked)),
        Item("rate_limits", "24 小时内触发频率限制", f"{len(tripped)} 次", "警告 ≥ 1，异常 ≥ 10",
             ERROR if len(tripped) >= 10 else WARN if tripped else OK,
             "；".join(f"{SCOPE_LABELS.get(s, s)} {c}（{n} 次请求）" for s, c, n in tripped[:10])),
    ]


def check_jobs(state: dict) -> list[Item]:
    from shebao.common.models import Job, PeriodicRun

    since = timezone.now() - dt.timedelta(hours=24)
    jobs = Job.objects.filter(state=Job.State.FAILED, finished_at__gte=since).count()
    runs = list(PeriodicRun.objects.filter(outcome=PeriodicRun.Outcome.FAILED, started_at__gte=since)
                .values_list("name", flat=True))
    total = jobs + len(runs)
    return [Item("failed_jobs", "24 小时内失败的任务", f"后台任务 {jobs} 个，定时任务 {len(runs)} 次",
                 f"警告 ≥ {FAILED_JOBS_24H[0]}，异常 ≥ {FAILED_JOBS_24H[1]}",
                 ERROR if total >= FAILED_JOBS_24H[1] else WARN if total >= FAILED_JOBS_24H[0] else OK,
                 "、".join(sorted(set(runs))))]


def check_links(state: dict) -> list[Item]:
    from shebao.ops.links import links_summary

    s = links_summary()
    level = ERROR if s["down"] or s["open_incidents"] else WARN if s["degraded"] else OK
    return [Item("links", "链路监测", f"在用 {s['targets']} 个目标：正常 {s['up']}，降级 {s['degraded']}，中断 {s['down']}，"
                 f"未探测 {s['unknown']}；停用 {s['disabled']} 个", "警告：有降级；异常：有中断", level,
                 f"未恢复的故障 {s['open_incidents']} 个")]


def check_audit(state: dict) -> list[Item]:
    from shebao.common.audit import audit_chain_verify

    check = audit_chain_verify()
    return [Item("audit_chain", "审计链校验", "完整" if check.ok else "未通过", "须完整", OK if check.ok else ERROR,
                 check.message)]


def check_app_errors(state: dict) -> list[Item]:
    since = timezone.now() - dt.timedelta(hours=24)
    n = AppError.objects.filter(at__gte=since).count()
    last = AppError.objects.filter(at__gte=since).order_by("-at").first()
    return [Item("app_errors", "24 小时内应用错误", f"{n} 次", f"警告 ≥ {APP_ERRORS_24H[0]}，异常 ≥ {APP_ERRORS_24H[1]}",
                 ERROR if n >= APP_ERRORS_24H[1] else WARN if n >= APP_ERRORS_24H[0] else OK,
                 last.message if last else "")]


CHECKS: list[tuple[str, Callable[[dict], list[Item]]]] = [
    ("数据库大小", check_db_size), ("最大的表", check_largest_tables), ("数据库连接数", check_connections),
    ("长时间运行的查询", check_long_queries), ("缓存命中率", check_cache_hit), ("磁盘剩余空间", check_disk),
    ("最近一次成功备份", check_backup), ("登录与账号", check_logins), ("失败的任务", check_jobs),
    ("链路监测", check_links), ("审计链校验", check_audit), ("应用错误", check_app_errors),
]


def inspection_run(*, trigger: str = "手动", save: bool = True) -> Inspection:
    """Make every check and (``save``) keep the report. The report's level is its worst item's."""
    state: dict = {}
    items: list[Item] = []
    for name, check in CHECKS:
        try:
            with transaction.atomic():  # a savepoint: a check that fails leaves the others' connection usable
                items += check(state)
        except Exception as exc:  # noqa: BLE001 (one check that cannot run is reported, the others go on)
            items.append(Item(check.__name__.removeprefix("check_"), name, "无法检查", "—", WARN,
                              f"{type(exc).__name__}：{exc}"[:300]))
    level = max((i.level for i in items), key=RANK.__getitem__, default=OK)
    report = Inspection(taken_at=timezone.now(), level=level, trigger=trigger, db_size=state.get("db_size", 0),
                        items=[i.as_dict() for i in items])
    if save:
        report.save()
    return report


def report_json(report: Inspection) -> dict:
    return {"taken_at": timezone.localtime(report.taken_at).isoformat(), "status": LABELS[report.level],
            "level": report.level, "items": report.items}


def report_text(report: Inspection) -> str:
    lines = [f"巡检报告 {timezone.localtime(report.taken_at):%Y-%m-%d %H:%M:%S}  结论：{LABELS[report.level]}", ""]
    for it in report.items:
        lines.append(f"[{it['status']}] {it['name']}：{it['value']}（阈值：{it['threshold']}）")
        if it.get("detail"):
            lines.append(f"       {it['detail']}")
    return "\n".join(lines) + "\n"


def history(limit: int = 60) -> dict:
    rows = list(Inspection.objects.order_by("-taken_at", "-id")[:limit])[::-1]
    return {"labels": [timezone.localtime(r.taken_at).strftime("%m-%d %H:%M") for r in rows],
            "db_mb": [round(r.db_size / 1048576, 1) for r in rows],
            "warn": [sum(1 for i in r.items if i.get("level") == WARN) for r in rows],
            "error": [sum(1 for i in r.items if i.get("level") == ERROR) for r in rows]}


def report_pdf(report: Inspection) -> bytes:
    """The report as an A4 PDF with the CJK font the 结算单 embeds."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from shebao.rural_pension.statement import FONT, _register_font

    _register_font()
    small = ParagraphStyle("s", fontName=FONT, fontSize=8.5, leading=11)
    title = ParagraphStyle("t", fontName=FONT, fontSize=15, leading=20)
    normal = ParagraphStyle("n", fontName=FONT, fontSize=10, leading=14)
    colour = {OK: colors.HexColor("#217a3c"), WARN: colors.HexColor("#b26a00"), ERROR: colors.HexColor("#c8102e")}

    def p(text, style=small):
        from xml.sax.saxutils import escape

        return Paragraph(escape(str(text)), style)

    data = [[p("检查项"), p("值"), p("阈值"), p("状态"), p("说明")]]
    for it in report.items:
        data.append([p(it["name"]), p(it["value"]), p(it["threshold"]), p(it["status"]), p(it.get("detail", ""))])
    table = Table(data, colWidths=[32 * mm, 42 * mm, 38 * mm, 14 * mm, 54 * mm], repeatRows=1)
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
             ("VALIGN", (0, 0), (-1, -1), "TOP")]
    for row, it in enumerate(report.items, start=1):
        style.append(("TEXTCOLOR", (3, row), (3, row), colour.get(it.get("level"), colors.black)))
    table.setStyle(TableStyle(style))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title="巡检报告")
    doc.build([p(f"{settings.SHEBAO_AGENCY_NAME} 系统巡检报告", title), Spacer(1, 4 * mm),
               p(f"巡检时间：{timezone.localtime(report.taken_at):%Y-%m-%d %H:%M:%S}　结论：{LABELS[report.level]}　"
                 f"触发：{report.trigger}", normal), Spacer(1, 4 * mm), table])
    return buffer.getvalue()
