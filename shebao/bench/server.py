"""The application under test, started over HTTP (gunicorn) on the benchmark's database, and a small
client that logs in like a browser (session cookie, CSRF token)."""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH_RATE_API = "100000000/60"


class BenchError(RuntimeError):
    pass


@dataclass
class Response:
    status: int
    url: str
    body: bytes
    seconds: float


class Client:
    """One browser session: keeps cookies, follows redirects, never raises on 4xx/5xx."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.headers: dict[str, str] = {}

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def request(self, path: str, *, data: dict | None = None, headers: dict | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base_url + path, data=body, headers={**self.headers, **(headers or {})})
        t0 = time.perf_counter()
        try:
            with self.opener.open(req, timeout=60) as resp:
                content = resp.read()
                status, url = resp.status, resp.url
        except urllib.error.HTTPError as exc:
            content, status, url = exc.read(), exc.code, exc.url
        return Response(status, url, content, time.perf_counter() - t0)

    def get(self, path: str, **params) -> Response:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        return self.request(path + query)

    def login(self, username: str, password: str) -> None:
        page = self.get("/accounts/login/")
        token = self.cookie("csrftoken")
        if not token:
            m = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
            token = m.group(1).decode() if m else ""
        resp = self.request(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
            headers={"Referer": self.base_url + "/accounts/login/"},
        )
        if resp.status != 200 or "/accounts/login" in resp.url or not self.cookie("sessionid"):
            raise BenchError(f"无法以 {username} 登录（HTTP {resp.status}，{resp.url}）")


class Server:
    """gunicorn serving config.wsgi on 127.0.0.1:<port>, same environment as this process."""

    def __init__(self, *, port: int, workers: int, base_dir: Path, threads: int = 1) -> None:
        self.port = port
        self.workers = workers
        self.threads = threads  # >1: gunicorn's gthread worker with this many threads per process
        self.base_dir = base_dir
        self.proc: subprocess.Popen | None = None
        self.log = base_dir / "var" / "bench-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        probe = Client(self.url)
        try:
            probe.get("/accounts/login/")
            raise BenchError(f"端口 {self.port} 已被占用（已有服务在运行），请用 --port 换一个端口")
        except urllib.error.URLError:
            pass
        self.log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers), "--timeout", "120", "--log-level", "warning",
        ]
        if self.threads > 1:
            cmd += ["--worker-class", "gthread", "--threads", str(self.threads)]
        env = os.environ.copy()
        # the API's rate limit (600 a minute per address) would refuse the bench's API requests, all from
        # 127.0.0.1: raised here, the limiter still counts every request (its write is measured)
        env.setdefault("SHEBAO_RATE_API", BENCH_RATE_API)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.base_dir, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn 启动失败，见 {self.log}")
            try:
                if probe.get("/accounts/login/").status == 200:
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        raise BenchError(f"gunicorn 90 秒内未就绪，见 {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class InProcessClient:
    """Requests through Django's WSGI handler in THIS process — no HTTP, no gunicorn: what one request
    costs Django in CPU (``time.process_time``), comparable between runs on a loaded machine where the
    wall-clock figures of the HTTP client follow the load. Signed in as ``username`` (a session made by
    ``django.test.Client.force_login``, read back on each request like a browser's)."""

    def __init__(self, username: str) -> None:
        from django.core.handlers.wsgi import WSGIHandler
        from django.test import Client as DjangoClient

        from shebao.accounts.models import User

        browser = DjangoClient()
        browser.force_login(User.objects.get(username=username))
        self.cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in browser.cookies.items())
        self.handler = WSGIHandler()

    def get(self, path: str, **params) -> tuple[int, bytes]:
        import io

        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": urllib.parse.urlencode(params),
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_COOKIE": self.cookie, "HTTP_USER_AGENT": "shebao-bench", "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        }
        status: list[str] = []
        body = self.handler(environ, lambda s, headers, exc_info=None: status.append(s))
        try:
            content = b"".join(body)
        finally:
            body.close()
        return int(status[0].split()[0]), content
