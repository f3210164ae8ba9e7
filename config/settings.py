"""Settings for shebao, driven by the environment.

DATABASE_URL          PostgreSQL URL; unset → the embedded server under var/pgdata
SHEBAO_SECRET_KEY     required in production (DEBUG off)
SHEBAO_DEBUG          1 for development
SHEBAO_ALLOWED_HOSTS  comma-separated host names
SHEBAO_PASSWORD_MAX_AGE_DAYS   force a password change after this many days (default 90)
SHEBAO_HTTPS          1 behind TLS: secure cookies and Strict-Transport-Security
SHEBAO_TRUSTED_PROXIES  comma-separated addresses of our reverse proxies (X-Forwarded-For believed from them)
"""

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config.dburl import parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = os.environ.get("SHEBAO_DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("SHEBAO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("SHEBAO_ALLOW_DEV_KEY") != "1":
        raise RuntimeError("请设置环境变量 SHEBAO_SECRET_KEY（生产环境必须）")
    SECRET_KEY = "dev-only-not-secret-" + str(BASE_DIR)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("SHEBAO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
# the reverse proxies (nginx) whose X-Forwarded-For is believed; none → the socket's address
SHEBAO_TRUSTED_PROXIES = [p.strip() for p in os.environ.get("SHEBAO_TRUSTED_PROXIES", "").split(",") if p.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("SHEBAO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "ninja",
    "procrastinate.contrib.django",
    "shebao.common",
    "shebao.accounts",
    "shebao.registry",
    "shebao.benefits",
    "shebao.payroll",
    "shebao.bank",
    "shebao.self_managed",
    "shebao.rural_pension",
    "shebao.land_subsidy",
    "shebao.pension_security",
    "shebao.certification",
    "shebao.maintenance",
    "shebao.finance",
    "shebao.ops",
    "shebao.warehouse",
    "shebao.archive",
    "shebao.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # outside every other of ours, so it sees every response but the static files (even a redirect
    # another middleware answers with); it reads request.user on the way out
    "shebao.web.middleware.SecurityHeadersMiddleware",
    "shebao.common.context.ClientIpMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # renews the session's expiry at most once a minute (a write per request was the search's largest cost)
    "shebao.accounts.middleware.SessionRenewMiddleware",
    "shebao.web.middleware.ChineseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "shebao.web.middleware.InputSafetyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # login and API rate limits, counted in PostgreSQL (shebao.ops.ratelimit); 429 past the limit
    "shebao.ops.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # a repeated form submit the view refused before its one-time token's claim is told it was a repeat
    "shebao.web.middleware.OnceRepeatMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "shebao.accounts.middleware.SecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "shebao.web.context.shell",
            ],
        },
    }
]

if os.environ.get("DATABASE_URL"):
    _db = parse_database_url(os.environ["DATABASE_URL"])
else:
    from shebao.common import pgembed

    _db = pgembed.ensure_running(throwaway=os.environ.get("SHEBAO_PG_THROWAWAY") == "1")

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        **_db,
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"application_name": "shebao"},
        "TEST": {"NAME": os.environ.get("SHEBAO_TEST_DB_NAME", "test_shebao")},
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["shebao.accounts.backends.LockoutModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# 等保三级 application controls
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "shebao.accounts.validators.CharacterClassValidator", "OPTIONS": {"min_classes": 3}},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SHEBAO_LOGIN_MAX_FAILURES = 5
SHEBAO_LOCKOUT_MINUTES = 15
SHEBAO_PASSWORD_MAX_AGE_DAYS = int(os.environ.get("SHEBAO_PASSWORD_MAX_AGE_DAYS", "90"))
SESSION_COOKIE_AGE = 30 * 60  # idle timeout: 30 minutes, renewed by the requests (SessionRenewMiddleware:
SESSION_SAVE_EVERY_REQUEST = False  # at most once a minute, not a database write per page)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Django's database sessions; the read every request makes is one prepared statement (issue 17)
SESSION_ENGINE = "shebao.accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
# SHEBAO_HTTPS=1 (served over TLS, behind nginx): cookies only over HTTPS, and HSTS (one year) on every
# response (shebao.web.middleware.SecurityHeadersMiddleware; Django's own for requests it sees as secure)
SHEBAO_HTTPS = os.environ.get("SHEBAO_HTTPS", "0") == "1"
SESSION_COOKIE_SECURE = SHEBAO_HTTPS
CSRF_COOKIE_SECURE = SHEBAO_HTTPS
LANGUAGE_COOKIE_SECURE = SHEBAO_HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if SHEBAO_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SHEBAO_HTTPS
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request if it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = BASE_DIR / "var" / "files"

# 银行专线 channels (shebao.bank.transfer): a folder channel's folders must lie under SHEBAO_BANK_SHARES
# (where the banks' shares are mounted); an SFTP key or password file must lie under SHEBAO_BANK_SECRETS;
# a password environment variable must be named SHEBAO_BANK_… — so a channel can never read or move
# other files of the server, nor send another secret (the database password, the secret key) anywhere.
SHEBAO_BANK_SHARES = Path(os.environ.get("SHEBAO_BANK_SHARES", str(BASE_DIR / "var" / "bank")))
# 回流库 drop folder: <来源>/<表名>/ files picked up by the periodic job warehouse_drop_pickup
SHEBAO_WH_DROP = Path(os.environ.get("SHEBAO_WH_DROP", str(BASE_DIR / "var" / "warehouse" / "drop")))
SHEBAO_BANK_SECRETS = Path(os.environ.get("SHEBAO_BANK_SECRETS", str(BASE_DIR / "var" / "secrets")))
SHEBAO_AGENCY_NAME = os.environ.get("SHEBAO_AGENCY_NAME", "慈溪市社会保险管理服务中心")
SHEBAO_SYSTEM_NAME = _("慈溪社保本地系统")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"},
                 # application errors counted for the inspection (shebao.ops.logs)
                 "app_errors": {"class": "shebao.ops.logs.AppErrorHandler"}},
    "loggers": {"django.request": {"handlers": ["app_errors"], "level": "ERROR"},
                "shebao": {"handlers": ["app_errors"], "level": "ERROR"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SHEBAO_LOG_LEVEL", "WARNING")},
}

# 互联网络和安全 (shebao.ops): backups, rate limits, alert mail
SHEBAO_BACKUP_DIR = Path(os.environ.get("SHEBAO_BACKUP_DIR", str(BASE_DIR / "var" / "backups")))
SHEBAO_BACKUP_KEEP_DAYS = int(os.environ.get("SHEBAO_BACKUP_KEEP_DAYS", "30"))
SHEBAO_BACKUP_KEEP_MIN = int(os.environ.get("SHEBAO_BACKUP_KEEP_MIN", "7"))
SHEBAO_AUDIT_ARCHIVE_DIR = Path(os.environ.get("SHEBAO_AUDIT_ARCHIVE_DIR", str(BASE_DIR / "var" / "audit-archive")))
SHEBAO_RATE_LOGIN = os.environ.get("SHEBAO_RATE_LOGIN", "30/300")  # login POSTs per client address / seconds
SHEBAO_RATE_API = os.environ.get("SHEBAO_RATE_API", "600/60")  # API requests per client address / seconds
EMAIL_HOST = os.environ.get("SHEBAO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("SHEBAO_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("SHEBAO_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("SHEBAO_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("SHEBAO_EMAIL_TLS", "0") == "1"
DEFAULT_FROM_EMAIL = os.environ.get("SHEBAO_EMAIL_FROM", "shebao@localhost")
