"""The drop folder (``settings.SHEBAO_WH_DROP``) the sync tool writes into, picked up by the periodic job
``warehouse_drop_pickup``:

    <drop>/<来源>/<表名>/<file>.csv | .tsv | .jsonl

A file whose column names (first line; first object for JSON lines) include ``_op`` is incremental,
otherwise full. Files are taken in name order, only when not modified for ``min_age`` seconds (the sync
tool may still be writing). A landed file moves to ``done/``, a refused or rejected one to ``failed/``
with ``<file>.reason.txt`` beside it; the next file of the same table is still taken (each is its own
atomic load)."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from shebao.warehouse.landing import (
    JSON_SUFFIXES,
    OP,
    LandingError,
    delimiter_of,
    first_line,
    read_header,
    warehouse_load,
)

SUFFIXES = {".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json"}


@dataclass
class DropResult:
    landed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        parts = [f"装载 {len(self.landed)} 个"]
        if self.failed:
            parts.append(f"失败 {len(self.failed)} 个：" + "；".join(self.failed[:10]))
        return "，".join(parts)


def _incremental(path: Path) -> bool:
    """Whether the file's column names include ``_op``: the first line read as landing reads it
    (``landing.first_line`` and ``landing.read_header``: the same encoding, delimiter and quoting rules);
    JSON lines: the first object's keys."""
    try:
        first = first_line(path)
    except (LandingError, OSError):
        return False  # the load itself then says what is wrong with the file
    if path.suffix.lower() in JSON_SUFFIXES:
        try:
            return OP in {str(k).lower() for k in json.loads(first)}
        except (ValueError, TypeError):
            return False
    try:
        return OP in {c.lower() for c in read_header(first, delimiter_of(path.suffix.lower(), first))}
    except LandingError:
        return False


def _move(path: Path, sub: str, reason: str = "") -> None:
    target = path.parent / sub
    target.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
    dest = target / f"{stamp}_{path.name}"
    path.rename(dest)
    if reason:
        (target / f"{dest.name}.reason.txt").write_text(reason, encoding="utf-8")


def warehouse_drop_pick_up(root: Path | None = None, *, min_age: float = 60.0) -> DropResult:
    root = Path(root or settings.SHEBAO_WH_DROP)
    result = DropResult()
    if not root.is_dir():
        return result
    now = time.time()
    for source_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for table_dir in sorted(p for p in source_dir.iterdir() if p.is_dir()):
            files = sorted(p for p in table_dir.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
            for path in files:
                if now - path.stat().st_mtime < min_age:
                    continue
                mode = "incremental" if _incremental(path) else "full"
                name = f"{source_dir.name}/{table_dir.name}/{path.name}"
                try:
                    load = warehouse_load(source_name=source_dir.name, table_name=table_dir.name, path=path, mode=mode,
                                          user=None, username="定时任务").load
                except LandingError as exc:
                    _move(path, "failed", str(exc))
                    result.failed.append(f"{name}：{exc}")
                    continue
                if load.state == load.State.DONE:
                    _move(path, "done")
                    result.landed.append(name)
                else:
                    _move(path, "failed", f"{load.message}（装载批次 {load.pk}）")
                    result.failed.append(f"{name}：{load.message}（批次 {load.pk}）")
    return result
