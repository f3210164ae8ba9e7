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

# Argon2id at the smallest cost (see config/test_hashers.py); production's cost is checked by a test
PASSWORD_HASHERS = ["config.test_hashers.QuickArgon2PasswordHasher"]

# a test's commits need not wait for the disk (a crash loses a throw-away test database anyway); the
# production settings keep synchronous_commit on
DATABASES["default"]["OPTIONS"] = {**DATABASES["default"]["OPTIONS"], "options": "-c synchronous_commit=off"}  # noqa: F405
