"""One SDK client per credential, reused across requests and rebuilt when the credential changes."""

import openai
import pytest

from vectorstores import gateway

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
