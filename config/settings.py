"""Settings of the standalone site.

Everything deployment-specific comes from the environment. With nothing set, the
site runs for local use: SQLite in the project folder, DEBUG on, and secret keys
generated once into a git-ignored file (never committed).
"""

import json
import logging
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.environment import (
    env_bool,
    env_choice,
    env_count,
    env_database,
    env_list,
    env_rate,
    env_url,
    server_threads,
)
from vectorstores.api.schema.settings import SCHEMA_SETTINGS

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRETS_FILE = BASE_DIR / ".dev-secrets.json"


def dev_secret(name):
    """A per-checkout secret for local use, generated on first need and kept in DEV_SECRETS_FILE."""
    stored = json.loads(DEV_SECRETS_FILE.read_text()) if DEV_SECRETS_FILE.exists() else {}
    if name not in stored:
        stored[name] = secrets.token_urlsafe(50)
        # Readable by its owner only from the first byte: created with the mode, never chmodded later.
        descriptor = os.open(DEV_SECRETS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(stored, file, indent=2)
    return stored[name]


def cryptography_keys():
    """The keys that encrypt stored API keys, newest first (see the README, "The encryption keys").

    Outside local mode they must be given: a key made up here would differ on every instance and
    every fresh filesystem, and the keys stored under it would be lost with it.
    """
    keys = env_list("CRYPTOGRAPHY_KEYS", None) or env_list("CRYPTOGRAPHY_KEY", None)
    if keys:
        return keys
    if not LOCAL_DEV:
        raise ImproperlyConfigured(
            "Set the CRYPTOGRAPHY_KEYS environment variable (comma-separated, newest first; or CRYPTOGRAPHY_KEY for "
            "one key): the keys that encrypt stored OpenAI API keys. Keep them secret and the same on every instance."
        )
    return [dev_secret("CRYPTOGRAPHY_KEY")]


# Local development mode is "no SECRET_KEY in the environment": production must set one.
LOCAL_DEV = "SECRET_KEY" not in os.environ
if not LOCAL_DEV and not os.environ["SECRET_KEY"].strip():
    # Set but empty: not local mode, yet nothing to sign with (a key made up here would differ per instance).
    raise ImproperlyConfigured("SECRET_KEY is set but empty: give it a long random value, or unset it for local use.")
SECRET_KEY = os.environ["SECRET_KEY"] if not LOCAL_DEV else dev_secret("SECRET_KEY")
# Stored API keys are encrypted with keys derived from these alone, never from SECRET_KEY, so rotating
# SECRET_KEY (sessions, tokens) never makes stored keys unreadable.
CRYPTOGRAPHY_KEYS = cryptography_keys()
DEBUG = env_bool("DEBUG", LOCAL_DEV)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if LOCAL_DEV else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "credentials",
    "vectorstores",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (admin, API docs) in production without a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}", env_count("CONN_MAX_AGE", 60))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Every API call writes its audit entry. In SQLite's default rollback-journal mode each of those
    # commits waits for a disk flush (about 20 ms on the benchmark machine, one at a time for the whole
    # site); in WAL mode with synchronous=NORMAL a commit only appends to the log, and readers never
    # wait for the writer. (A power cut may lose the last commits, never the database's consistency.)
    # IMMEDIATE: a transaction takes the write lock when it begins, so it waits for another writer
    # (up to the 5 s timeout) instead of failing with "database is locked" when it first writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )

# Counters every instance must share (the API's throttles, uploads' claims on their Files) live in the
# default cache: Redis when REDIS_URL names one (Django's own backend), else this process's memory,
# which is right for one instance only (see docs/performance.md, "Running more than one instance").
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_url("REDIS_URL", ["redis", "rediss", "unix"]),
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "vectorstores"),
            # Every API call counts its throttle there: a Redis that hangs holds a call 2 s at most, then
            # 503 (redis-py 5.0 waits for ever by default).
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # Django's default keeps 300 keys, then drops a third of them: throttle counts and upload claims (kept
    # 6 hours) would go with them.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 100_000}}
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles"
# WhiteNoise also serves static files straight from the apps' folders, so `make run` (runserver) has
# admin's styles, the console's script and the API docs' assets whatever DEBUG is.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# HTTPS hardening: on by default outside local development, each switchable by the environment.
# Behind a proxy or load balancer that terminates TLS, set SECURE_PROXY_SSL_HEADER=1.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not LOCAL_DEV)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/?$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not LOCAL_DEV)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not LOCAL_DEV)
SECURE_HSTS_SECONDS = env_count("SECURE_HSTS_SECONDS", 0 if LOCAL_DEV else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not LOCAL_DEV)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not LOCAL_DEV)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes unauthenticated calls 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "vectorstores.api.authentication.TokenAuthentication",  # DRF's, its query written once as SQL
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # One caller cannot spend a shared credential's OpenAI quota: requests per user (and per IP
    # for anonymous callers), counted atomically in the default cache (shared with REDIS_URL).
    "DEFAULT_THROTTLE_CLASSES": [
        "vectorstores.api.throttling.UserRateThrottle",
        "vectorstores.api.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_rate("API_THROTTLE_USER", "600/minute"),
        "anon": env_rate("API_THROTTLE_ANON", "60/minute"),
    },
    # Anonymous callers are counted per IP: the connection's, or with NUM_PROXIES=N behind N proxies that
    # append to X-Forwarded-For, the one they saw. (DRF's default trusts the whole header, which any
    # caller can vary to be counted afresh.)
    "NUM_PROXIES": env_count("NUM_PROXIES", 0),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The API's OpenAPI document and its pages: the settings its own views apply (vectorstores/api/schema/
# settings.py), so that `manage.py spectacular` (make schema) writes the document /api/schema/ serves.
SPECTACULAR_SETTINGS = {**SCHEMA_SETTINGS}

# The vector store API's own settings (see vectorstores/conf.py for every key and default).
# The production server (config/serve.py) runs SERVER_THREADS threads a process: long calls (uploads,
# waiting attaches) may take all but two, which stay for other calls and the health check.
OPENAI_VECTOR_STORES = {
    "MAX_LONG_CALLS_PER_PROCESS": max(server_threads() - 2, 1),
}
# The credentials app's settings (credentials/conf.py): this site's credential admin has the vector store console.
OPENAI_CREDENTIALS = {"CREDENTIAL_ADMIN_CLASS": "vectorstores.console.admin.CredentialConsoleAdmin"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_api_keys": {"()": "vectorstores.redaction.RedactAPIKeysFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_api_keys"]},
        "mail_admins": {
            "class": "vectorstores.redaction.RedactingAdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", list(logging.getLevelNamesMapping())),  # WARN, FATAL too
    },
    "loggers": {
        # In place of the handlers Django gives its own loggers (a console and error mails, neither redacted).
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        # The SDK and its HTTP client log each request (and more at DEBUG); keep them quiet.
        "openai": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}
