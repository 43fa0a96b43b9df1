from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.urls import get_resolver

from .conf import app_settings


@checks.register()
def check_app_settings(app_configs, **kwargs):
    return app_settings.unknown_keys_check("vectorstores.E001")


@checks.register()
def check_setting_values(app_configs, **kwargs):
    return app_settings.invalid_values_check("vectorstores.E003")


@checks.register()
def check_allowed_extensions(app_configs, **kwargs):
    """ALLOWED_EXTENSIONS can only narrow the types OpenAI's file_search takes."""
    from .filetypes import FILE_TYPES

    if not app_settings.is_valid("ALLOWED_EXTENSIONS"):
        return []  # vectorstores.E003 says so
    unknown = sorted(set(app_settings.ALLOWED_EXTENSIONS or ()) - set(FILE_TYPES))
    if not unknown:
        return []
    return [
        checks.Error(
            f"OPENAI_VECTOR_STORES['ALLOWED_EXTENSIONS'] has extensions OpenAI's file_search does not take: "
            f"{', '.join(unknown)}.",
            hint=f"Choose among: {', '.join(FILE_TYPES)}.",
            id="vectorstores.E002",
        )
    ]


@checks.register()
def check_django_file_limit(app_configs, **kwargs):
    """Django's own DATA_UPLOAD_MAX_NUMBER_FILES caps an upload before MAX_FILES_PER_UPLOAD can."""
    django_limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    if django_limit is None or not app_settings.is_valid("MAX_FILES_PER_UPLOAD"):
        return []
    if django_limit >= app_settings.MAX_FILES_PER_UPLOAD:
        return []
    return [
        checks.Warning(
            f"DATA_UPLOAD_MAX_NUMBER_FILES ({django_limit}) is below OPENAI_VECTOR_STORES['MAX_FILES_PER_UPLOAD'] "
            f"({app_settings.MAX_FILES_PER_UPLOAD}): uploads of more than {django_limit} files are refused.",
            hint="Raise DATA_UPLOAD_MAX_NUMBER_FILES to at least MAX_FILES_PER_UPLOAD.",
            id="vectorstores.W001",
        )
    ]


@checks.register(deploy=True)
def check_shared_cache(app_configs, **kwargs):
    """The throttles and the uploads' claims on their Files count in the default cache: in production, where
    a server runs several processes, it must be one they share."""
    cache = caches["default"]
    if isinstance(cache, DummyCache):
        problem = "keeps nothing: the API's throttles never refuse a call, and uploads' claims protect no File"
    elif isinstance(cache, LocMemCache):
        problem = (
            "is this process's memory: each process of the server counts the API's throttles alone (with two, "
            "a user gets twice the rate), and uploads' claims on their Files hold in their own process only"
        )
    else:
        return []
    return [
        checks.Warning(
            f"The default cache ({type(cache).__name__}) {problem}.",
            hint="Give every process one cache, e.g. Django's RedisCache (the standalone site: REDIS_URL). "
            "A server of one process alone may silence this warning.",
            id="vectorstores.W002",
        )
    ]


@checks.register(checks.Tags.security)
def check_token_admin(app_configs, **kwargs):
    """DRF's own admin of its API tokens, which the API's callers sign in with, is a way to every user's key."""
    if not (apps.is_installed("rest_framework.authtoken") and apps.is_installed("django.contrib.admin")):
        return []
    from django.contrib import admin
    from rest_framework.authtoken.admin import TokenAdmin
    from rest_framework.authtoken.models import TokenProxy

    try:
        get_resolver().url_patterns  # noqa: B018  (the URLconf, where sites register admins, imported first)
    except Exception:  # Django's own URL check reports it
        return []
    if not admin.site.is_registered(TokenProxy) or type(admin.site.get_model_admin(TokenProxy)) is not TokenAdmin:
        return []
    return [
        checks.Warning(
            "DRF's token admin shows every API token's key to a staff user with its view permission, and lets one "
            "with its change permission give a token to another user: either can call the API as a superuser.",
            hint="Register vectorstores.token_admin.SuperuserTokenAdmin for TokenProxy in its place (see the README).",
            id="vectorstores.W003",
        )
    ]
