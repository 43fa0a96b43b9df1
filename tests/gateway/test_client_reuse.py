"""One SDK client per credential, reused across requests and rebuilt when the credential changes; a bounded
number of them kept, with one TLS context for all."""

import gc
import weakref

import httpcore2
import openai
import pytest

from vectorstores import gateway
from vectorstores.checks import check_setting_values
from vectorstores.testing import create_credential

pytestmark = pytest.mark.django_db


@pytest.fixture
def built_clients(monkeypatch):
    """Every openai.OpenAI the gateway builds."""
    built = []
    real = openai.OpenAI

    def recording(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(openai, "OpenAI", recording)
    return built


def test_two_requests_share_one_client(api, url, fake_openai, built_clients):
    assert api.get(url()).status_code == 200
    assert api.get(url()).status_code == 200
    assert len(built_clients) == 1


def test_a_changed_credential_gets_a_new_client(api, url, credential, fake_openai, built_clients, accept_api_key):
    api.get(url())
    accept_api_key("sk-rotated-key-0000000000")
    credential.api_key = "sk-rotated-key-0000000000"
    credential.save()
    api.get(url())
    assert len(built_clients) == 2
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-rotated-key-0000000000"


def test_the_cache_does_not_hold_the_key_in_its_keys(api, url, credential, fake_openai):
    api.get(url())
    fingerprint, *_ = gateway.clients._clients[credential.pk]
    assert credential.api_key not in fingerprint


def test_a_blank_base_url_is_openais_api_whatever_the_environment_says(credential, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    credential.base_url = ""
    assert str(gateway.clients.get(credential).base_url) == "https://api.openai.com/v1/"


@pytest.fixture
def three_credentials(fake_openai, user):
    return [create_credential(fake_openai, name=f"Credential {n}", users=[user]) for n in range(3)]


def test_clients_of_many_credentials_load_the_ca_certificates_once(three_credentials, monkeypatch):
    """Loading them costs about 40 ms and 0.8 MB; the SDK's client would load them for each credential."""
    loads = []
    real = httpcore2.default_ssl_context
    monkeypatch.setattr(httpcore2, "default_ssl_context", lambda *a, **k: loads.append(1) or real(*a, **k))

    for credential in three_credentials:
        gateway.clients.get(credential)
    assert len(loads) <= 1  # none if an earlier test made the context


def test_past_the_cache_size_the_least_recently_used_client_is_dropped(three_credentials, settings):
    settings.OPENAI_VECTOR_STORES = {"CLIENT_CACHE_SIZE": 2}
    first, second, third = three_credentials
    kept = gateway.clients.get(first)
    dropped = weakref.ref(gateway.clients.get(second))
    assert gateway.clients.get(first) is kept  # now used more recently than `second`

    gateway.clients.get(third)
    gc.collect()
    assert dropped() is None  # nothing holds it: its connections are closed
    assert gateway.clients.get(first) is kept


def test_a_dropped_client_is_rebuilt_and_works(api, url, credential, fake_openai, settings, three_credentials):
    settings.OPENAI_VECTOR_STORES = {"CLIENT_CACHE_SIZE": 1}
    assert api.get(url()).status_code == 200
    first = weakref.ref(gateway.clients.get(credential))
    gateway.clients.get(three_credentials[0])  # takes the only place
    gc.collect()
    assert first() is None  # dropped

    assert api.get(url()).status_code == 200
    assert fake_openai.requests[-1].headers["authorization"] == f"Bearer {credential.api_key}"


def test_a_deleted_credentials_client_is_dropped_at_once(credential):
    client = weakref.ref(gateway.clients.get(credential))
    credential.delete()
    gc.collect()
    assert client() is None


@pytest.mark.parametrize("size", [0, -1, "100", 2.5, True, None])
def test_a_cache_size_that_is_not_a_positive_whole_number_is_a_system_check_error(settings, size):
    settings.OPENAI_VECTOR_STORES = {"CLIENT_CACHE_SIZE": size}
    assert [error.id for error in check_setting_values(None)] == ["vectorstores.E003"]


def test_the_default_cache_size_passes_the_system_check():
    assert check_setting_values(None) == []
