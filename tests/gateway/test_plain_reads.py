"""Single-object GETs go to OpenAI as plain requests on the SDK client's own pool (gateway.client.PlainReads):
what OpenAI receives is what the SDK sends, on the same connections, and the faults are the SDK's."""

import pytest

from tests.conftest import TEST_API_KEY
from vectorstores import gateway
from vectorstores.testing import create_credential

pytestmark = pytest.mark.django_db

SENT_BY_BOTH = ("authorization", "openai-organization", "openai-project", "openai-beta", "user-agent", "accept")


@pytest.fixture
def team_credential(fake_openai, user):
    return create_credential(fake_openai, api_key=TEST_API_KEY, users=[user], organization="org-a", project="proj_b")


def test_a_plain_read_sends_what_the_sdk_sends(team_credential, fake_openai, store):
    gateway.list_vector_stores(team_credential, paged=True, limit=1)  # through the SDK
    gateway.get_vector_store(team_credential, store["id"])  # a plain read

    [by_sdk] = fake_openai.requests_to("GET", "/vector_stores")[:1]
    [plain] = fake_openai.requests_to("GET", f"/vector_stores/{store['id']}")
    assert {name: plain.headers.get(name) for name in SENT_BY_BOTH} == {
        name: by_sdk.headers.get(name) for name in SENT_BY_BOTH
    }
    assert plain.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert (plain.headers["openai-organization"], plain.headers["openai-project"]) == ("org-a", "proj_b")


def test_a_plain_read_uses_the_sdk_clients_pool(team_credential, store, monkeypatch):
    sdk = gateway.clients.get(team_credential)
    used = []
    real_send = sdk._client.send  # the SDK's own httpx2 client (its pool)
    monkeypatch.setattr(
        sdk._client, "send", lambda request, **kwargs: used.append(request) or real_send(request, **kwargs)
    )

    gateway.get_vector_store(team_credential, store["id"])

    assert [request.url.path for request in used] == [f"/v1/vector_stores/{store['id']}"]


def test_an_id_is_one_path_segment(team_credential, fake_openai):
    with pytest.raises(gateway.OpenAINotFound):
        gateway.get_file(team_credential, "../vector_stores")
    assert [request.path for request in fake_openai.requests_to("GET", "/files")] == ["/files/..%2Fvector_stores"]
