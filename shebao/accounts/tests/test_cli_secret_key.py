"""Issue 17: a ``shebao`` command outside development without ``SHEBAO_SECRET_KEY`` stops with a clear
Chinese message and exit status 2 (``shebao token create`` showed the settings module's traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shebao.cli import MISSING_KEY, secret_key_missing

ROOT = Path(__file__).resolve().parents[3]


def test_the_condition_is_the_settings_modules():
    assert secret_key_missing({})
    assert secret_key_missing({"SHEBAO_DEBUG": "0"})
    assert not secret_key_missing({"SHEBAO_SECRET_KEY": "k"})
    assert not secret_key_missing({"SHEBAO_DEBUG": "1"})
    assert not secret_key_missing({"SHEBAO_ALLOW_DEV_KEY": "1"})
    assert not secret_key_missing({"DJANGO_SETTINGS_MODULE": "config.settings_test"})


def test_token_create_without_the_key_says_so_in_chinese():
    env = {k: v for k, v in os.environ.items()
           if k not in ("SHEBAO_SECRET_KEY", "SHEBAO_DEBUG", "SHEBAO_ALLOW_DEV_KEY", "DJANGO_SETTINGS_MODULE")}
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "token", "create", "--user", "nobody", "--name", "x"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == MISSING_KEY.strip()
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert "未设置环境变量 SHEBAO_SECRET_KEY" in MISSING_KEY
