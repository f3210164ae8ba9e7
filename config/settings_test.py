"""Test settings: the same as production but a fast (insecure) password hasher is NOT used —
the Argon2 rule itself is under test; only the secret key is fixed."""

import os

os.environ.setdefault("SHEBAO_ALLOW_DEV_KEY", "1")
if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("SHEBAO_PG_THROWAWAY", "1")

from config.settings import *  # noqa: E402,F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
