"""Fixtures shared by the whole suite: the fake OpenAI, users, credentials and an API client,
and a sweep of every test's responses and log lines for stored API keys.

The fake OpenAI's fixtures (`fake_openai_server`, `fake_openai`, `openai_credential`) come from the
package's own pytest plugin, vectorstores.testing.pytest_plugin, as a host site would use them.
"""
import logging
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db.models.signals import pre_save
from django.test.client import ClientHandler
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from credentials.models import Credential
from vectorstores import gateway
from vectorstores.testing import create_credential

pytest_plugins = ["vectorstores.testing.pytest_plugin"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout: manage.py, config/
TEST_API_KEY = "sk-test-" + "k3y" * 8 + "a1b2"  # the one key the suite's fake OpenAI accepts
API_ROOT = "/api/v1/openai-assistants-vector-store"

# Every API key any test stores in a credential: none of them may show up anywhere.
STORED_KEYS = {TEST_API_KEY}


def remember_stored_key(sender, instance, **kwargs):
    if isinstance(instance.api_key, str) and len(instance.api_key) >= 12:
        STORED_KEYS.add(instance.api_key)


pre_save.connect(remember_stored_key, sender=Credential, dispatch_uid="tests.remember_stored_key")


def leaked_keys(text):
    """The stored keys `text` shows: whole, or by a middle part that no masked key ever shows."""
    return [key for key in STORED_KEYS if key in text or (len(key[8:-4]) >= 8 and key[8:-4] in text)]


class LogLines(logging.Handler):
    """Collects log lines as the site's own handlers would write them, filters included."""

    def __init__(self, filters):
        super().__init__(logging.DEBUG)
        self.filters = list(filters)
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_api_key_leaks(monkeypatch):
    """Fails the test if a stored API key appears in a response of the test client or in a log line."""
    responses = []
    real_call = ClientHandler.__call__

    def recording_call(self, environ):
        response = real_call(self, environ)
        if not response.streaming:
            responses.append((environ.get("PATH_INFO"), response.content.decode("utf-8", "replace")))
        return response

    monkeypatch.setattr(ClientHandler, "__call__", recording_call)
    root = logging.getLogger()
    site_filters = [f for handler in root.handlers for f in handler.filters]
    log = LogLines(site_filters)
    log.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root.addHandler(log)
    try:
        yield
    finally:
        root.removeHandler(log)
    leaks = [f"response of {path}" for path, content in responses if leaked_keys(content)]
    leaks += [f"log line {line[:120]!r}" for line in log.lines if leaked_keys(line)]
    assert not leaks, f"a stored API key leaked into: {', '.join(leaks)}"


@pytest.fixture(scope="session")
def live_server(django_db_setup):
    """pytest-django's live server on 127.0.0.1, started after the test database exists.

    Started earlier, its threads would open their own connections to an in-memory SQLite
    database instead of sharing the test's, and concurrent requests would find tables locked.
    """
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("127.0.0.1")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_openai_api_key():
    """The plugin's fake OpenAI accepts TEST_API_KEY, and only it."""
    return TEST_API_KEY


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
    return create_credential(fake_openai, name="Test credential", api_key=TEST_API_KEY, users=[user])


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
