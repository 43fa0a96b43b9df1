"""Fixtures of the OpenAI-compatible routes: OpenAI's own SDK, pointed at a live server of this site whose
credential points at the fake OpenAI."""

import io

import openai
import pytest

from tests.conftest import token_of

WIRE_ROOT = "/api/openai"


def text(name, content=b"Vector stores keep chunks of text for file search."):
    """A text file as the SDK uploads it: (name, stream, content type)."""
    return (name, io.BytesIO(content), "text/plain")


def wire_base_url(server_url, credential_id):
    """The base_url an SDK is given for a credential: <site>/api/openai/<credential-uuid>/v1."""
    return f"{server_url}{WIRE_ROOT}/{credential_id}/v1"


@pytest.fixture
def sdk_for(live_server, credential):
    """sdk_for(user, credential=None, *, api_key=None, **options): OpenAI's Python SDK as `user` (their site
    token as the API key, unless `api_key` is given), on `credential` (anything with a `pk`; the shared one by
    default). No retries unless asked: errors show at once. The
    clients are closed at the end of the test, so that no connection to the live server outlives it."""
    clients = []

    def build(user, chosen=None, *, api_key=None, **options):
        options.setdefault("max_retries", 0)
        api_key = api_key or (token_of(user) if user is not None else "no-such-token")
        base_url = wire_base_url(live_server.url, (chosen or credential).pk)
        clients.append(openai.OpenAI(base_url=base_url, api_key=api_key, **options))
        return clients[-1]

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def sdk(sdk_for, user):
    """OpenAI's Python SDK as `user`, on the shared test credential."""
    return sdk_for(user)
