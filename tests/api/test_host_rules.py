"""The API inside a host's rules: its default permissions, URL prefixes that capture parameters, its limits."""

import pytest

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_the_hosts_default_permissions_apply_on_top_of_signing_in(api, url, user, settings, fake_openai):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    }
    assert api.get(url()).status_code == 403  # a grant on the credential is not enough: the host wants staff
    user.is_staff = True
    user.save()
    assert api.get(url()).status_code == 200


def test_a_setting_replaces_the_hosts_defaults_explicitly(api, url, settings, fake_openai):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    }
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "PERMISSION_CLASSES": []}
    assert api.get(url()).status_code == 200


def test_signing_in_is_required_whatever_the_hosts_defaults(url, settings, fake_openai):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    }
    assert client_for(None).get(url()).status_code == 401
    assert fake_openai.requests == []


@pytest.mark.urls("tests.api.versioned_urls")
def test_a_prefix_that_captures_a_parameter_reaches_every_route(api, credential, fake_openai):
    store = fake_openai.create_vector_store(name="versioned")
    base = "/api/v2/openai-assistants-vector-store"
    assert api.get(f"{base}?credential={credential.pk}").status_code == 200
    assert api.get(f"{base}/{store['id']}?credential={credential.pk}").json()["id"] == store["id"]
    assert api.get(f"{base}/{store['id']}/files?credential={credential.pk}").status_code == 200


def test_a_django_file_limit_below_the_apps_is_reported(settings):
    from vectorstores.checks import check_django_file_limit

    settings.OPENAI_VECTOR_STORES = {"MAX_FILES_PER_UPLOAD": 500}
    assert [message.id for message in check_django_file_limit(None)] == ["vectorstores.W001"]
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 500
    assert check_django_file_limit(None) == []
