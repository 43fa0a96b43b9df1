"""A setting of the wrong kind is a system check error naming it, never a failure of each request."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from credentials.checks import check_credential_settings, check_stored_base_urls
from vectorstores.checks import (
    check_allowed_extensions,
    check_django_file_limit,
    check_setting_values,
    check_shared_cache,
)

WRONG_VALUES = [
    ("TIMEOUT", "abc"),
    ("TIMEOUT", None),
    ("TIMEOUT", -1),
    ("TIMEOUT", float("inf")),
    ("MAX_RETRIES", -1),
    ("MAX_RETRIES", "2"),
    ("CREATE_MAX_RETRIES", 1.5),
    ("CLIENT_CACHE_SIZE", 0),
    ("UPLOAD_CONCURRENCY", 0),
    ("DELETE_CONCURRENCY", True),
    ("POLL_INTERVAL", 0),
    ("POLL_TIMEOUT", "600"),
    ("LIST_MAX_ITEMS", "x"),
    ("MAX_FILES_PER_UPLOAD", 0),
    ("MAX_FILE_SIZE", -5),
    ("MAX_UPLOAD_SIZE", "big"),
    ("ALLOWED_EXTENSIONS", ".pdf"),
    ("ALLOWED_EXTENSIONS", [".pdf", 3]),
    ("PERMISSION_CLASSES", "rest_framework.permissions.IsAdminUser"),
    ("PERMISSION_CLASSES", ["no.such.Class"]),
    ("OPENAI_API_AUTHENTICATION_CLASSES", ["no.such.Auth"]),
    ("OPENAI_API_AUTHENTICATION_CLASSES", None),
]


@pytest.mark.parametrize(("key", "value"), WRONG_VALUES)
def test_a_vector_store_setting_of_the_wrong_kind_is_a_check_error(settings, key, value):
    settings.OPENAI_VECTOR_STORES = {key: value}
    [error] = check_setting_values(None)
    assert error.id == "vectorstores.E003" and f"OPENAI_VECTOR_STORES[{key!r}] must be" in error.msg
    # the checks that read the same value leave it to this one
    assert check_allowed_extensions(None) == [] and check_django_file_limit(None) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TIMEOUT", 2),
        ("POLL_INTERVAL", 0.2),
        ("MAX_RETRIES", 0),
        ("ALLOWED_EXTENSIONS", (".pdf", ".md")),
        ("PERMISSION_CLASSES", ["rest_framework.permissions.IsAdminUser"]),
        ("PERMISSION_CLASSES", None),
    ],
)
def test_a_vector_store_setting_of_its_kind_passes(settings, key, value):
    settings.OPENAI_VECTOR_STORES = {key: value}
    assert check_setting_values(None) == []


def test_the_defaults_pass():
    assert check_setting_values(None) == [] and check_credential_settings(None) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ALLOWED_BASE_URL_HOSTS", None),
        ("ALLOWED_BASE_URL_HOSTS", "api.openai.com"),
        ("CREDENTIAL_ADMIN_CLASS", "no.such.Admin"),
        ("CREDENTIAL_ADMIN_CLASS", 5),
    ],
)
def test_a_credential_setting_of_the_wrong_kind_is_a_check_error(settings, key, value):
    settings.OPENAI_CREDENTIALS = {key: value}
    [error] = check_credential_settings(None)
    assert error.id == "credentials.E004" and f"OPENAI_CREDENTIALS[{key!r}] must be" in error.msg


@pytest.mark.django_db
def test_a_wrong_allow_list_stops_check_with_its_error_not_a_traceback(settings):
    settings.OPENAI_CREDENTIALS = {"ALLOWED_BASE_URL_HOSTS": None}
    assert check_stored_base_urls(None, databases=["default"]) == []
    with pytest.raises(SystemCheckError, match=r"credentials\.E004"):
        call_command("check", databases=["default"])


SHARED_CACHES = {
    "Redis": ("django.core.cache.backends.redis.RedisCache", []),
    "local memory": ("django.core.cache.backends.locmem.LocMemCache", ["vectorstores.W002"]),
    "dummy": ("django.core.cache.backends.dummy.DummyCache", ["vectorstores.W002"]),
}


@pytest.mark.parametrize(("backend", "expected"), SHARED_CACHES.values(), ids=SHARED_CACHES.keys())
def test_check_deploy_warns_when_the_default_cache_is_not_shared(settings, backend, expected):
    """The throttles and upload claims count there: a server's processes must share it."""
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:1/0"}}
    assert [warning.id for warning in check_shared_cache(None)] == expected
