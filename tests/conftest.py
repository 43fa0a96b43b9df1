"""Fixtures shared by the whole suite: the fake OpenAI, users, credentials and an API client."""
from urllib.parse import urlencode

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from credentials.models import Credential
from tests.fake_openai import FakeOpenAI
from vectorstores import gateway

TEST_API_KEY = "sk-test-" + "k3y" * 8 + "a1b2"
API_ROOT = "/api/v1/openai-assistants-vector-store"


@pytest.fixture(scope="session")
def fake_openai_server():
    server = FakeOpenAI(api_keys={TEST_API_KEY})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(fake_openai_server):
    """The fake OpenAI on 127.0.0.1, emptied for this test."""
    fake_openai_server.reset()
    return fake_openai_server


@pytest.fixture(autouse=True)
def fresh_clients():
    """Each test builds its own SDK clients, so tests can't leak client state into each other."""
    gateway.clients.clear()
    yield
    gateway.clients.clear()


@pytest.fixture
def upload_dir(settings, tmp_path):
    """The directory Django streams uploads into, to check that nothing is left behind."""
    path = tmp_path / "uploads"
    path.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(path)
    return path


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-password")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("mallory", password="mallory-password")


@pytest.fixture
def credential(db, fake_openai, user):
    """A credential pointing at the fake OpenAI, usable by `user`."""
    credential = Credential.objects.create(name="Test credential", api_key=TEST_API_KEY, base_url=fake_openai.base_url)
    credential.users.add(user)
    return credential


def client_for(user):
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def api(user):
    """An API client authenticated as `user` with a DRF token."""
    return client_for(user)


@pytest.fixture
def url(credential):
    """url(path="", **query): an API URL naming `credential`."""

    def build(path="", *, credential_id=None, **query):
        query = {"credential": credential_id or credential.pk, **query}
        return f"{API_ROOT}{path}?{urlencode(query)}"

    return build
