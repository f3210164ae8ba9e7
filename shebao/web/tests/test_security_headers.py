"""The response headers every page, export and API answer carries: a Content-Security-Policy without
inline script or style (and templates that need none), Cache-Control: no-store for anyone signed in,
and HSTS with secure cookies behind TLS (SHEBAO_HTTPS=1)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from shebao.accounts.services import api_token_create
from shebao.accounts.tests.factories import logged_in, make_person, make_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def clerk(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_user("hdr_clerk", all_regions=True)


def _csp(response) -> dict[str, str]:
    parts = [p.strip() for p in response["Content-Security-Policy"].split(";") if p.strip()]
    return {p.split(" ", 1)[0]: p.split(" ", 1)[1] for p in parts}


def test_content_security_policy_forbids_inline_script_and_style(clerk):
    for response in (Client().get(reverse("accounts:login")), logged_in(clerk).get(reverse("web:home"))):
        csp = _csp(response)
        assert csp["default-src"] == "'self'"
        assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
        assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert "unsafe-eval" not in response["Content-Security-Policy"]


def test_no_store_on_every_signed_in_response(clerk):
    person = make_person(name="缓存甲")
    client = logged_in(clerk)
    urls = [reverse("web:home"), reverse("registry:person_list"), reverse("registry:person_list") + "?export=xlsx",
            reverse("registry:person_detail", args=[person.pk]), reverse("registry:person_suggest") + "?q=缓存",
            "/api/v1/persons", f"/api/v1/persons/{person.pk}", reverse("accounts:user_list")]  # the last: 403
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 403), url
        assert response["Cache-Control"] == "no-store", url
    # a script with a token
    key = api_token_create(user=clerk, name="hdr", days=1)
    response = Client().get("/api/v1/persons", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"


def test_static_files_stay_cacheable(clerk):
    response = logged_in(clerk).get("/static/web/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_hsts_only_behind_tls(settings, clerk):
    assert "Strict-Transport-Security" not in Client().get(reverse("accounts:login"))
    settings.SHEBAO_HTTPS = True
    for response in (Client().get(reverse("accounts:login")), logged_in(clerk).get(reverse("web:home"))):
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def _settings_with(env: dict) -> dict:
    code = ("import json; from config import settings as s; print(json.dumps({k: getattr(s, k) for k in "
            "['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'LANGUAGE_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
            "'SHEBAO_HTTPS', 'SHEBAO_TRUSTED_PROXIES']}))")
    full = {**os.environ, "DATABASE_URL": "postgres://u:p@127.0.0.1:1/none", "SHEBAO_ALLOW_DEV_KEY": "1", **env}
    for name in ("SHEBAO_HTTPS", "SHEBAO_TRUSTED_PROXIES"):
        if name not in env:
            full.pop(name, None)
    out = subprocess.run([sys.executable, "-c", code], env=full, cwd=ROOT, capture_output=True, text=True, check=True)
    import json

    return json.loads(out.stdout)


def test_secure_cookies_and_proxies_from_the_environment():
    on = _settings_with({"SHEBAO_HTTPS": "1", "SHEBAO_TRUSTED_PROXIES": "10.0.0.5, 10.0.0.6"})
    assert on == {"SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "LANGUAGE_COOKIE_SECURE": True,
                  "SECURE_HSTS_SECONDS": 31536000, "SHEBAO_HTTPS": True,
                  "SHEBAO_TRUSTED_PROXIES": ["10.0.0.5", "10.0.0.6"]}
    off = _settings_with({})
    assert off == {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False, "LANGUAGE_COOKIE_SECURE": False,
                   "SECURE_HSTS_SECONDS": 0, "SHEBAO_HTTPS": False, "SHEBAO_TRUSTED_PROXIES": []}


def test_session_cookie_is_secure_with_https(settings, clerk):
    settings.SESSION_COOKIE_SECURE = True
    client = Client()
    client.post(reverse("accounts:login"), {"username": "hdr_clerk", "password": "Passw0rd!x"})
    assert client.cookies[django_settings.SESSION_COOKIE_NAME]["secure"] is True


# what the policy forbids, as it appears in template source
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on…= handler"),
    (re.compile(r"\shx-on[:-]", re.I), "hx-on (evaluated script)"),
    (re.compile(r"hx-trigger=\"[^\"]*\[", re.I), "hx-trigger filter (evaluated script)"),
    (re.compile(r"(hx-vals|hx-vars)=['\"]\s*(js|javascript):", re.I), "hx-vals js: (evaluated script)"),
    (re.compile(r"href=['\"]\s*javascript:", re.I), "javascript: link"),
]


def test_no_template_needs_inline_script_or_style():
    problems = []
    for path in sorted((ROOT / "shebao").rglob("templates/**/*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not problems, "\n".join(problems)


def test_rendered_pages_hold_no_inline_script_or_style(clerk):
    person = make_person(name="页面甲")
    client = logged_in(clerk)
    for url in (reverse("web:home"), reverse("registry:person_list"), reverse("registry:person_detail", args=[person.pk]),
                reverse("web:wip", kwargs={"key": "ops.links"})):
        html = client.get(url).content.decode()
        for pattern, what in INLINE:
            assert not pattern.search(html), (url, what)
