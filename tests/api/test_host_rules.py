"""The API inside a host's rules: its default permissions, URL prefixes that capture parameters, its limits."""

import pytest

from tests.conftest import API_ROOT, client_for
from vectorstores.models import AuditEntry, StoreRecord

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


@pytest.mark.django_db(transaction=True)  # as a request runs: outside the test's own transaction
@pytest.mark.usefixtures("atomic_requests")
def test_an_error_before_authentication_is_answered_under_atomic_requests(url, user):
    """A 406 comes before DRF authenticates; the audit then authenticates the caller (a query), which a request
    transaction marked for rollback by the error's answer refused: a 500."""
    response = client_for(user).get(url(), HTTP_ACCEPT="text/html")
    assert (response.status_code, response.json()["code"]) == (406, "not_acceptable")
    assert AuditEntry.objects.get().status_code == 406


@pytest.mark.django_db(transaction=True)  # as a request runs: outside the test's own transaction
@pytest.mark.usefixtures("atomic_requests")
def test_records_outlive_an_errors_answer_under_atomic_requests(owned_credential, alice, fake_openai):
    """A store found gone at OpenAI is forgotten though its call answers 404 (and the request transaction, had the
    API run in one, would have been rolled back with it)."""
    api = client_for(alice)
    query = f"?credential={owned_credential.pk}"
    store = api.post(f"{API_ROOT}{query}", {"name": "short-lived"}, format="json").json()
    fake_openai.delete_vector_store(store["id"])

    assert api.get(f"{API_ROOT}/{store['id']}{query}").status_code == 404
    assert not StoreRecord.objects.filter(store_id=store["id"]).exists()
    assert list(AuditEntry.objects.order_by("id").values_list("operation", "status_code")) == [
        ("create", 200),
        ("retrieve", 404),
    ]
