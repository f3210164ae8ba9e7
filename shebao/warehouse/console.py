"""The query service's engine: SQL run as a dedicated read-only PostgreSQL role.

The role ``shebao_wh_reader`` (LOGIN, its password derived from the secret key unless
``SHEBAO_WH_READER_PASSWORD`` is set) is granted USAGE and SELECT on the schema ``warehouse`` (and
``archive`` when it exists; a schema created later grants them itself: ``ddl.ensure_schema``) and nothing else: the application's tables (users, sessions, tokens …) are
not readable by it. Queries run on a connection of their own that logs in AS that role — not by
``SET ROLE`` on the application's connection, which a query could undo with ``set_config('role', …)`` —
inside a READ ONLY transaction, with ``statement_timeout`` and a row limit. The role is created at first
use; where the application's database user may not create roles, the message says what IT must run.

Every run is recorded (``ConsoleRun``) and audited."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from django.db import connection, transaction
from psycopg import sql

from shebao.common.audit import audit_record
from shebao.warehouse.ddl import READER_ROLE, SCHEMA
from shebao.warehouse.models import ConsoleRun, SavedQuery

READ_SCHEMAS = (SCHEMA, "archive")
ROW_LIMIT = 1000
TIMEOUT_MS = 30_000
MAX_SQL = 20_000


class ConsoleError(ValueError):
    """A query refused or failed; Chinese."""


@dataclass
class QueryResult:
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    truncated: bool = False
    seconds: float = 0.0
    run: ConsoleRun | None = None


def _password() -> str:
    fixed = os.environ.get("SHEBAO_WH_READER_PASSWORD")
    if fixed:
        return fixed
    return hmac.new(settings.SECRET_KEY.encode(), b"shebao-wh-reader", hashlib.sha256).hexdigest()


def _admin_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"] or None,
                           host=s["HOST"] or None, port=s["PORT"] or None, autocommit=True)


def reader_ensure() -> None:
    """Create (or refresh) the read-only role and its grants, committed on a connection of its own."""
    try:
        with _admin_connection() as conn, conn.cursor() as cur:
            # never wait on another transaction (one creating the schema right now): fail and say so
            cur.execute("SET lock_timeout = '5s'")
            role = sql.Identifier(READER_ROLE)
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER_ROLE])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    role, sql.Literal(_password())))
            else:
                cur.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(_password())))
            cur.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role))
            cur.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(role))
            for schema in READ_SCHEMAS:
                cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
                if cur.fetchone() is None:
                    continue
                ident = sql.Identifier(schema)
                cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident, role))
                cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(ident, role))
                cur.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
                    ident, role))
    except psycopg.errors.LockNotAvailable:
        raise ConsoleError("数据库正忙（回流库正在变更），请稍后再试") from None
    except psycopg.errors.InsufficientPrivilege:
        raise ConsoleError(
            f"数据库用户无权创建只读角色 {READER_ROLE}。请数据库管理员执行：CREATE ROLE {READER_ROLE} LOGIN PASSWORD '…'; "
            f"GRANT USAGE ON SCHEMA {SCHEMA} TO {READER_ROLE}; GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO "
            f"{READER_ROLE}; 并在环境变量 SHEBAO_WH_READER_PASSWORD 中设置该密码") from None


def _reader_connection(timeout_ms: int) -> psycopg.Connection:
    s = connection.settings_dict
    try:
        return psycopg.connect(dbname=s["NAME"], user=READER_ROLE, password=_password(), host=s["HOST"] or None,
                               port=s["PORT"] or None, application_name="shebao-wh-console",
                               options=f"-c statement_timeout={int(timeout_ms)} -c default_transaction_read_only=on")
    except psycopg.OperationalError:
        reader_ensure()
        try:
            return psycopg.connect(dbname=s["NAME"], user=READER_ROLE, password=_password(), host=s["HOST"] or None,
                                   port=s["PORT"] or None, application_name="shebao-wh-console",
                                   options=f"-c statement_timeout={int(timeout_ms)} -c default_transaction_read_only=on")
        except psycopg.OperationalError as exc:
            raise ConsoleError(f"无法以只读角色 {READER_ROLE} 连接数据库：{str(exc).splitlines()[0][:200]}") from None


def _message(exc: Exception) -> str:
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return "查询超时，已被终止（请缩小范围或加条件）"
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return "控制台只能查询，不能修改数据"
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return "无权读取：控制台只能读取回流库（warehouse）的表"
    return f"查询出错：{str(exc).splitlines()[0][:300]}"


def run_sql(*, query: str, user, params: dict | None = None, limit: int = ROW_LIMIT, timeout_ms: int = TIMEOUT_MS,
            saved: SavedQuery | None = None) -> QueryResult:
    """Run one statement as the read-only role; → at most ``limit`` rows (``truncated`` when there were
    more). Refused or failed queries raise ``ConsoleError``; every run is recorded either way."""
    query = (query or "").strip().rstrip(";").strip()
    if not query:
        raise ConsoleError("请输入 SQL")
    if len(query) > MAX_SQL:
        raise ConsoleError(f"SQL 超过 {MAX_SQL} 个字符")
    started = time.monotonic()
    result = QueryResult()
    error = ""
    try:
        conn = _reader_connection(timeout_ms)
        try:
            # never committed: whatever a statement could still do inside a READ ONLY transaction (PostgreSQL
            # 15 lets lo_create() through, 16 refuses it) is rolled back with the connection
            with conn.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                # one statement only: a prepared statement cannot hold a second one
                cur.execute(query, params or None, prepare=True)
                if cur.description is None:
                    raise ConsoleError("控制台只能运行返回结果的查询（SELECT）")
                result.columns = [d.name for d in cur.description]
                rows = cur.fetchmany(limit + 1)
                result.truncated = len(rows) > limit
                result.rows = rows[:limit]
        finally:
            conn.rollback()
            conn.close()
    except ConsoleError as exc:
        error = str(exc)
    except psycopg.Error as exc:
        error = _message(exc)
    result.seconds = round(time.monotonic() - started, 3)
    with transaction.atomic():
        result.run = ConsoleRun.objects.create(sql=query, params=params or {}, saved=saved, rows=len(result.rows),
                                               seconds=result.seconds, error=error[:500], created_by=user)
        audit_record(user=user, action="warehouse.query", obj=result.run,
                     summary=(f"回流库查询{'（' + saved.name + '）' if saved else ''}：{len(result.rows)} 行"
                              + (f"，失败：{error}" if error else ""))[:500])
    if error:
        raise ConsoleError(error)
    return result


PARAM = re.compile(r"%\(([A-Za-z_][A-Za-z0-9_]{0,30})\)s")


def query_params(query: str) -> list[str]:
    """The ``%(name)s`` parameters of a saved query, in order of first use."""
    seen: list[str] = []
    for name in PARAM.findall(query or ""):
        if name not in seen:
            seen.append(name)
    return seen


def explain(query: str) -> None:
    """Check a query before it is saved: ``EXPLAIN`` of it on the read-only role's connection (the
    syntax, the tables and columns, the role's right to read them — never run, rolled back), one
    statement only, a query that returns rows and changes nothing. Raises ``ConsoleError``."""
    query = (query or "").strip().rstrip(";").strip()
    if not query:
        raise ConsoleError("请填写 SQL")
    if len(query) > MAX_SQL:
        raise ConsoleError(f"SQL 超过 {MAX_SQL} 个字符")
    params = {name: None for name in query_params(query)}
    conn = _reader_connection(TIMEOUT_MS)
    try:
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            try:
                cur.execute("EXPLAIN (FORMAT JSON) " + query, params or None, prepare=True)
            except psycopg.errors.SyntaxError as exc:
                raise ConsoleError(f"SQL 语法有误：{str(exc).splitlines()[0][:300]}") from None
            except psycopg.Error as exc:
                raise ConsoleError(_message(exc)) from None
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise ConsoleError(f"SQL 的参数写法有误（参数写作 %(名称)s，百分号写作 %%）：{exc}") from None
            plan = cur.fetchone()[0]
            top = (plan[0] if isinstance(plan, list) else plan).get("Plan", {})
            if top.get("Node Type") == "ModifyTable" or _modifies(top):
                raise ConsoleError("只能保存查询（SELECT），不能保存修改数据的语句")
    finally:
        conn.rollback()
        conn.close()


def _modifies(node: dict) -> bool:
    return node.get("Node Type") == "ModifyTable" or any(_modifies(n) for n in node.get("Plans", []))
