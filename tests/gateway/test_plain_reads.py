"""Single-object GETs go to OpenAI as plain requests on the SDK client's own pool (gateway.client.PlainReads):
what OpenAI receives is what the SDK sends, on the same connections, without the SDK's request machinery."""

import pytest

from tests.conftest import TEST_API_KEY
from vectorstores import gateway
from vectorstores.testing import create_credential

pytestmark = pytest.mark.django_db

SENT_BY_BOTH = ("authorization", "openai-organization", "openai-project", "openai-beta", "user-agent", "accept")
# Headers the SDK's request machinery adds per request, which a plain read has no use for.
SDK_MACHINERY = {"x-stainless-retry-count", "x-stainless-read-timeout"}


@pytest.fixture
def team_credential(fake_openai, user):
    return create_credential(fake_openai, api_key=TEST_API_KEY, users=[user], organization="org-a", project="proj_b")


def test_a_plain_read_sends_what_the_sdk_sends(team_credential, fake_openai, store):
    gateway.list_vector_stores(team_credential, paged=True, limit=1)  # through the SDK
    gateway.get_vector_store(team_credential, store["id"])  # a plain read

    [by_sdk] = [request for request in fake_openai.requests if request.path == "/vector_stores"]
    [plain] = [request for request in fake_openai.requests if request.path == f"/vector_stores/{store['id']}"]
    assert all(by_sdk.headers.get(name) for name in SENT_BY_BOTH)
    assert {name: plain.headers.get(name) for name in SENT_BY_BOTH} == {
        name: by_sdk.headers[name] for name in SENT_BY_BOTH
    }
    assert plain.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert (plain.headers["openai-organization"], plain.headers["openai-project"]) == ("org-a", "proj_b")
    # The SDK's machinery was not used for the plain read, and its GETs carry no Content-Type; nor does it.
    assert SDK_MACHINERY <= set(by_sdk.headers) and not SDK_MACHINERY & set(plain.headers)
    assert "content-type" not in by_sdk.headers and "content-type" not in plain.headers


def test_a_plain_read_uses_the_sdk_clients_pool(team_credential, store, monkeypatch):
    sdk = gateway.clients.get(team_credential)
    used = []
    real_send = sdk._client.send  # the SDK's own httpx2 client (its pool)

    def recording_send(request, **kwargs):
        used.append(request)
        return real_send(request, **kwargs)

    monkeypatch.setattr(sdk._client, "send", recording_send)

    gateway.get_vector_store(team_credential, store["id"])

    [request] = used
    assert request.url.path == f"/v1/vector_stores/{store['id']}"
    assert not SDK_MACHINERY & set(request.headers)  # sent by PlainReads, not by the SDK


def test_an_id_is_one_path_segment(team_credential, fake_openai):
    with pytest.raises(gateway.OpenAINotFound):
        gateway.get_file(team_credential, "../vector_stores")
    assert [request.path for request in fake_openai.requests_to("GET", "/files")] == ["/files/..%2Fvector_stores"]


def test_an_undecodable_answer_is_a_connection_fault_as_with_the_sdk(team_credential, fake_openai, store):
    """httpx2 raises DecodingError for a body its Content-Encoding cannot undo: the SDK calls that a connection
    error, and so does a plain read (never an exception the gateway does not know, a 500)."""
    fake_openai.fail(
        "GET", rf"/vector_stores/{store['id']}$", 200, body="not gzip", headers={"content-encoding": "gzip"}, times=3
    )
    with pytest.raises(gateway.OpenAIUnreachable):
        gateway.get_vector_store(team_credential, store["id"])
