"""Settings of a minimal host site that adopts `credentials` and `vectorstores`.

Written the way a third-party site would write them, and sharing nothing with
config/: the only setting the apps ask for is CRYPTOGRAPHY_KEY. There is no
OPENAI_VECTOR_STORES (defaults apply), no drf_spectacular in INSTALLED_APPS, no
REST_FRAMEWORK permission default (DRF's AllowAny) and HTTP Basic as the only
authentication.

Environment (set by tests/site/test_host_site.py):
- HOST_PROJECT_DB: the SQLite file (":memory:" when unset).
- HOST_PROJECT_CRYPTOGRAPHY_KEY: unset for a real key; `omitted` leaves CRYPTOGRAPHY_KEY out, and
  `none` or `empty` set it to None or "" (a variable the site reads but nobody set), to see the
  apps' warning.
"""

import os

SECRET_KEY = "host-project-secret-key-for-tests-only"
_cryptography_key = os.environ.get("HOST_PROJECT_CRYPTOGRAPHY_KEY")
if _cryptography_key != "omitted":
    CRYPTOGRAPHY_KEY = {"none": None, "empty": ""}.get(
        _cryptography_key, "host-project-cryptography-key-for-tests-only"
    )

DEBUG = False
ALLOWED_HOSTS = ["testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "tests.site.host_project.accounts",
    "credentials",
    "vectorstores",
]

AUTH_USER_MODEL = "accounts.Member"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tests.site.host_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("HOST_PROJECT_DB", ":memory:"),
    }
}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
USE_TZ = True
STATIC_URL = "static/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
}
