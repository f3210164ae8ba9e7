"""Load, recognise and reset the demo data; create the demo logins.

The marker: a load ends by appending ONE audit event (``action="demo_load"``, ``object_type="demo"``)
in the same transaction as the data, its ``after`` holding what was loaded (scale, seed, steps, the
person id range). A reset appends ``demo_reset``. So ``demo_loaded()`` is "the latest demo event is a
load": it lives in the database it describes (no file to go stale when ``DATABASE_URL`` changes), and
it is itself in the tamper-evident trail. Persons registered after the load have ids above the range,
which is how ``--reset`` knows whether every person is demo data.
"""

from __future__ import annotations

import random
import time
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from shebao.common.audit import audit_record
from shebao.common.jobs import CliProgress, NullProgress, Progress
from shebao.common.models import AuditEvent
from shebao.demo.steps import SCALES, demo_steps
from shebao.registry.models import Person, Region

DEFAULT_SEED = 2026
LOAD_ACTION = "demo_load"
RESET_ACTION = "demo_reset"
_LOCK = 7_301_002  # pg_advisory_xact_lock key: one demo load or reset at a time

DEMO_PASSWORD = "Demo@2026"
# username, label, full name, roles, town names (empty: 全市), view_sensitive
DEMO_USERS: list[tuple[str, str, str, list[str], list[str], bool]] = [
    ("clerk", "经办员", "陈丽萍", ["clerk"], [], True),
    ("clerk2", "经办员(无敏感权限)", "胡建国", ["clerk"], [], False),
    ("hushan", "经办员-浒山", "孙燕", ["clerk"], ["浒山街道"], True),
    ("reviewer", "审核员", "王志明", ["reviewer"], [], True),
    ("finance", "财务", "徐敏", ["finance"], [], True),
    ("itadmin", "信息管理员", "沈立", ["it_admin"], [], False),
    ("sysadmin", "系统管理员", "岑国华", ["sys_admin"], [], True),
]


class DemoError(Exception):
    """A refused demo operation; ``str()`` is the message for the user (Chinese)."""


def _latest_event() -> AuditEvent | None:
    return (
        AuditEvent.objects.filter(object_type="demo", action__in=[LOAD_ACTION, RESET_ACTION])
        .order_by("-id")
        .first()
    )


def demo_info() -> dict[str, Any] | None:
    """What the loaded demo is (scale, seed, steps, person id range, loaded_at), or None."""
    event = _latest_event()
    if event is None or event.action != LOAD_ACTION:
        return None
    return dict(event.after or {}, loaded_at=timezone.localtime(event.occurred_at).isoformat())


def demo_loaded() -> bool:
    return demo_info() is not None


def demo_foreign_persons(info: dict[str, Any] | None = None) -> int:
    """How many persons are NOT demo data (registered outside the demo's id range)."""
    info = info if info is not None else demo_info()
    qs = Person.objects.all()
    if info:
        qs = qs.exclude(id__gte=info["person_id_min"], id__lte=info["person_id_max"])
    return qs.count()


def _as_progress(progress: bool | Progress) -> Progress:
    if isinstance(progress, Progress):
        return progress
    return CliProgress() if progress else NullProgress()


def _reset(info: dict[str, Any] | None) -> None:
    foreign = demo_foreign_persons(info)
    if foreign:
        raise DemoError(
            f"数据库中有 {foreign:,} 名人员不是演示数据（在演示数据之外登记），不能重置。"
            "重置只用于纯演示数据库。"
        )
    for step in reversed(demo_steps()):
        if step.reset is not None:
            step.reset()
    audit_record(user=None, username="demo", action=RESET_ACTION, object_type="demo",
                 summary="清除演示数据", before=info)


def demo_reset() -> None:
    """Remove the demo data (only when every person is demo data)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        info = demo_info()
        if info is None:
            raise DemoError("数据库中没有演示数据，无需重置")
        _reset(info)


def demo_load(
    *, scale: str, progress: bool | Progress = False, seed: int = DEFAULT_SEED, reset: bool = False
) -> dict[str, Any]:
    """Load the demo data at a scale (``small`` ≈ 3,000 persons, ``full`` ≈ 80,000), deterministic
    for a seed, in one transaction. Refused when a demo is already loaded (unless ``reset``) and when
    the registry holds anyone who is not demo data. Returns what ``demo_info()`` will return."""
    if scale not in SCALES:
        raise DemoError(f"未知的演示数据规模 {scale!r}，可选：{'、'.join(SCALES)}")
    prog = _as_progress(progress)
    t0 = time.monotonic()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
            info = demo_info()
            if info is not None and not reset:
                raise DemoError(
                    f"数据库中已有演示数据（规模 {info.get('scale')}，{info['loaded_at'][:16].replace('T', ' ')} 加载，"
                    f"{info.get('persons', 0):,} 人）。如需重新加载请加 --reset（将删除全部演示数据）。"
                )
            if reset and info is not None:
                prog.note("清除原有演示数据")
                _reset(info)
            foreign = Person.objects.count()
            if foreign:
                raise DemoError(f"数据库中已有 {foreign:,} 名人员（不是演示数据），不能加载演示数据")
            if not Region.objects.filter(level=Region.Level.TOWN).exists():
                raise DemoError("行政区划表为空：请先执行 migrate")

            lines: list[str] = []
            names: list[str] = []
            for step in demo_steps():
                prog.note(f"[{step.name}]")
                line = step.func(scale, random.Random(f"{seed}:{step.name}"), prog)
                names.append(step.name)
                if line:
                    lines.append(line)
            with connection.cursor() as cursor:
                cursor.execute("SELECT min(id), max(id), count(*) FROM registry_person")
                pmin, pmax, pcount = cursor.fetchone()
            after = {
                "scale": scale, "seed": seed, "steps": names, "persons": pcount,
                "person_id_min": pmin or 0, "person_id_max": pmax or 0,
                "seconds": round(time.monotonic() - t0, 1),
            }
            summary = f"加载演示数据（{scale}，种子 {seed}）：" + "；".join(lines)
            audit_record(user=None, username="demo", action=LOAD_ACTION, object_type="demo",
                         object_id=scale, summary=summary, after=after)
        prog.note("更新统计信息")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        prog.finish("演示数据已加载")
    finally:
        prog.close()
    after["seconds"] = round(time.monotonic() - t0, 1)
    return dict(after, loaded_at=timezone.localtime().isoformat(), summary=summary)


def demo_users_ensure() -> list[tuple[str, str, str]]:
    """One demo login per role (and a town clerk, and a clerk without the right to see sensitive
    data). Existing users are left as they are. Returns (username, password, label)."""
    from shebao.accounts.models import User
    from shebao.accounts.services import user_create

    logins = []
    with transaction.atomic():
        for username, label, full_name, roles, towns, sensitive in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                region_ids = list(
                    Region.objects.filter(level=Region.Level.TOWN, name__in=towns).values_list("id", flat=True)
                )
                user_create(
                    actor=None, username=username, full_name=full_name, password=DEMO_PASSWORD, roles=roles,
                    region_ids=region_ids, all_regions=not towns, must_change_password=False,
                    sensitive=sensitive,
                )
            logins.append((username, DEMO_PASSWORD, label))
    return logins
