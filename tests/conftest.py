"""Fixtures and small helpers shared by the whole suite: the fake OpenAI, users, credentials, an API
client, a store and uploads; the credential admin's URLs and messages; and a sweep of every test's
responses and log lines for stored API keys. Test modules import the helpers from here
(`from tests.conftest import client_for, messages_of`), never from each other.

The fake OpenAI's fixtures (`fake_openai_server`, `fake_openai`, `openai_credential`) come from the
package's own pytest plugin, vectorstores.testing.pytest_plugin, as a host site would use them.

Markers (registered in pyproject.toml): `e2e` (browser tests: given here to everything under
tests/console/e2e/), `slow` (more than about 3 s) and `subprocess` (starts processes or servers, a live
server included). A quick run: `pytest -m "not slow and not subprocess"`.
"""

import ast
import contextlib
import logging
import socket
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.db.models.signals import pre_save
from django.test import Client, override_settings
from django.test.client import ClientHandler
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from credentials.models import Credential
from vectorstores import gateway
from vectorstores.models import AuditEntry
from vectorstores.testing import create_credential

pytest_plugins = ["vectorstores.testing.pytest_plugin"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout: manage.py, config/
TEST_API_KEY = "sk-test-" + "k3y" * 8 + "a1b2"  # the one key the suite's fake OpenAI accepts
API_ROOT = "/api/v1/openai-assistants-vector-store"

# Every API key any test stores in a credential: none of them may show up anywhere.
STORED_KEYS = {TEST_API_KEY}
E2E_TESTS = Path(__file__).resolve().parent / "console" / "e2e"


def pytest_collection_modifyitems(items):
    """The browser tests are `e2e`, and `subprocess` too: each starts Chromium and uses a live server."""
    for item in items:
        if item.path.is_relative_to(E2E_TESTS):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.subprocess)


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
def shared_live_server(django_db_setup):
    """pytest-django's live server on 127.0.0.1, started after the test database exists.

    Started earlier, its request threads would each open a connection of their own to the shared-cache
    in-memory SQLite database, whose table locks fail at once ("database table is locked") instead of
    waiting. Started now, they share the test run's connection, whose calls must not overlap from
    Python 3.12 on (see serialize_sqlite_calls).
    """
    from django.db import connection
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("127.0.0.1")
    shared = connection.vendor == "sqlite" and connection.is_in_memory_db()
    if shared:
        assert server.thread.connections_override, "the live server must share the in-memory test database"
        serialize_sqlite_calls(connection)
    widen_listen_backlog(server.thread.httpd.socket)
    server.in_flight = InFlightRequests(server.thread.httpd)
    try:
        yield server
    finally:
        server.stop()
        if shared:
            del connection.create_cursor  # the class's method again


@pytest.fixture
def live_server(shared_live_server, transactional_db):
    """The shared live server, for one test. At its end it waits for the server's requests to finish,
    the audit entries written as each response closes included, before the database is emptied: a late
    INSERT would otherwise land among the next test's rows (or fail on the users just deleted)."""
    yield shared_live_server
    shared_live_server.in_flight.wait_until_idle(timeout=10)


class InFlightRequests:
    """Counts the requests a WSGI server is handling: from the call of its app to the close() of the answer."""

    def __init__(self, httpd):
        self.app = httpd.get_app()
        self.count = 0
        self.idle = threading.Condition()
        httpd.set_app(self)

    def __call__(self, environ, start_response):
        with self.idle:
            self.count += 1
        try:
            return ClosingAnswer(self.app(environ, start_response), self.finished)
        except BaseException:
            self.finished()
            raise

    def finished(self):
        with self.idle:
            self.count -= 1
            self.idle.notify_all()

    def wait_until_idle(self, timeout):
        with self.idle:
            assert self.idle.wait_for(lambda: self.count == 0, timeout), f"{self.count} requests still running"


class ClosingAnswer:
    """A WSGI answer that calls `then` once the server has closed it."""

    def __init__(self, answer, then):
        self.answer, self.then = answer, then

    def __iter__(self):
        return iter(self.answer)

    def close(self):
        try:
            if hasattr(self.answer, "close"):
                self.answer.close()
        finally:
            self.then()


class SerializedCursor:
    """A cursor of the shared connection: each of its calls holds the connection's lock."""

    def __init__(self, cursor, lock):
        self._cursor, self._lock = cursor, lock

    def __getattr__(self, name):
        attribute = getattr(self._cursor, name)
        if not callable(attribute):
            return attribute

        def locked(*args, **kwargs):
            with self._lock:
                return attribute(*args, **kwargs)

        return locked

    def __iter__(self):
        while (row := self.fetchone()) is not None:
            yield row


def serialize_sqlite_calls(shared_connection):
    """Let one call at a time reach the SQLite connection that every live-server thread shares.

    From Python 3.12 on, the sqlite3 module fails calls that overlap on one connection from several
    threads (InterfaceError: "bad parameter or other API misuse") even with check_same_thread=False;
    3.11 let them through. A lock around each cursor call (execute, fetch, close) is enough: the
    requests still overlap everywhere else, the calls to OpenAI included.
    """
    lock = threading.RLock()
    create_cursor = shared_connection.create_cursor
    shared_connection.create_cursor = lambda *args, **kwargs: SerializedCursor(create_cursor(*args, **kwargs), lock)


def widen_listen_backlog(sock, backlog=256):
    """Let a listening socket queue `backlog` connections not yet accepted.

    Both test servers listen with small backlogs (socketserver's default 5 for the fake OpenAI,
    Django's 10 for the live server). A burst of concurrent new connections overflows them and the
    kernel resets some ("Connection reset by peer"), which the app rightly reports as 502
    openai_unreachable. Calling listen() again on a listening socket changes its backlog.
    """
    sock.listen(backlog)


@pytest.fixture(scope="session")
def fake_openai_api_key():
    """The plugin's fake OpenAI accepts TEST_API_KEY, and only it."""
    return TEST_API_KEY


@pytest.fixture
def accept_api_key(fake_openai):
    """accept_api_key(key): the fake OpenAI accepts `key` too, for this test only. (Its reset() between
    tests keeps keys added, so a key left behind would change which key create_credential picks later.)"""
    added = []

    def accept(key):
        if key not in fake_openai.api_keys:
            added.append(key)
        fake_openai.api_keys.add(key)

    yield accept
    fake_openai.api_keys.difference_update(added)


@pytest.fixture(autouse=True)
def fresh_clients():
    """Each test builds its own SDK clients, so tests can't leak client state into each other."""
    gateway.clients.clear()
    yield
    gateway.clients.clear()


@pytest.fixture
def atomic_requests(monkeypatch):
    """A host's ATOMIC_REQUESTS, on every database (for tests that run outside their own transaction)."""
    for connection in connections.all():
        monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)


@pytest.fixture
def throttle_rates(monkeypatch):
    """throttle_rates(rate): DRF's user and anon throttles allow `rate` (e.g. "3/minute") in this test,
    counted from zero."""

    def set_rate(rate):
        # DRF reads the rates into the class when it is imported, so set them there.
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": rate, "anon": rate})
        cache.clear()

    yield set_rate
    cache.clear()


@pytest.fixture
def cache_down():
    """Redis is down: the default cache is Django's Redis backend, at a port of 127.0.0.1 nothing listens on.
    Restored when this fixture ends, so that fixtures set up before it (throttle_rates) clear the real one."""
    with closed_port() as port:
        location = f"redis://127.0.0.1:{port}/0"
        with override_settings(
            CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
        ):
            yield


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
    """A credential pointing at the fake OpenAI, usable by `user`, in shared mode: the tests of the surface
    act on stores made in the fake directly (tests/ownership/ covers owned mode)."""
    return create_credential(
        fake_openai, name="Test credential", api_key=TEST_API_KEY, users=[user], access_mode="shared"
    )


@pytest.fixture
def alice(user):
    return user


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-password")


@pytest.fixture
def owned_credential(fake_openai, alice, bob):
    """A credential in owned mode that alice and bob may both use."""
    return create_credential(
        fake_openai, name="Team key", api_key=TEST_API_KEY, users=[alice, bob], access_mode="owned"
    )


@pytest.fixture
def group(db):
    """A group nobody is in yet."""
    return Group.objects.create(name="analysts")


def token_of(user):
    """The key of `user`'s DRF token (made on first use)."""
    return Token.objects.get_or_create(user=user)[0].key


def token_header(user):
    """The Authorization header of a call as `user`, for clients other than the test client."""
    return {"Authorization": f"Token {token_of(user)}"}


def client_for(user, scheme="Token"):
    """An API client authenticated as `user` with a DRF token (anonymous for None); `scheme="Bearer"` for the
    OpenAI-compatible routes."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token_of(user)}")
    return client


def logged_in(user, **kwargs):
    """A test client with `user` signed in (a session, as in the admin)."""
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def api(user):
    """An API client authenticated as `user` with a DRF token."""
    return client_for(user)


def typed_fields(instance):
    """Every concrete field's value of a model instance, with its type (1 == True, a str == a UUID's text...)."""
    return [(type(value), value) for value in (getattr(instance, f.attname) for f in instance._meta.concrete_fields)]


def api_path(credential_id, path="", **query):
    """The path of an API URL naming the credential `credential_id`: API_ROOT + path + ?credential=...&query."""
    return f"{API_ROOT}{path}?{urlencode({'credential': credential_id, **query})}"


@pytest.fixture
def url(credential):
    """url(path="", **query): an API URL naming `credential`."""

    def build(path="", *, credential_id=None, **query):
        return api_path(credential_id or credential.pk, path, **query)

    return build


# --- a store and uploads into it ---------------------------------------------------------------


@pytest.fixture
def store(fake_openai):
    """An empty vector store in the fake OpenAI."""
    return fake_openai.create_vector_store(name="Test store")


def text_file(name, content=b"some text about vector stores", content_type="text/plain"):
    """A file as the test client uploads it."""
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def upload(api, url, store, upload_dir):
    """upload(*files, store_id=None, **fields): POST the files as multipart parts named `files` into
    `store` (or the store `store_id`) through the API, as `user`."""

    def post(*files, store_id=None, **fields):
        return api.post(url(f"/{store_id or store['id']}"), {"files": list(files), **fields}, format="multipart")

    return post


# --- the credential admin ----------------------------------------------------------------------


def admin_url(name, *args):
    """The URL of the credential admin's page `name` (changelist, change, add, vector_stores, ...)."""
    return reverse(f"admin:credentials_credential_{name}", args=args)


def messages_of(response):
    """The admin messages a page shows: [(level, text)]."""
    return [(message.level, str(message)) for message in response.context["messages"]]


def form_data(credential=None, **changes):
    """Everything the credential's change form posts (the key left blank), with `changes` applied;
    the add form's (all blank) without a credential."""
    data = {
        "name": credential.name if credential else "",
        "api_key": "",
        "base_url": credential.base_url if credential else "",
        "organization": credential.organization if credential else "",
        "project": credential.project if credential else "",
        "users": [user.pk for user in credential.users.all()] if credential else [],
        "groups": [group.pk for group in credential.groups.all()] if credential else [],
        "access_mode": credential.access_mode if credential else "owned",
        "_save": "Save",
    }
    return {**data, **changes}


def run_test_connection(client, *credentials):
    """The changelist's "Test connection" action on `credentials`, as `client`; the page it leads to."""
    return client.post(
        admin_url("changelist"),
        {"action": "test_connection", "_selected_action": [credential.pk for credential in credentials]},
        follow=True,
    )


# --- processes and sources ---------------------------------------------------------------------


@contextlib.contextmanager
def closed_port():
    """A TCP port of 127.0.0.1 that refuses connections until the block ends: bound, never listening, so that
    no other server (a Redis another test starts meanwhile) can take it, as a merely free port could be."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on (free when asked: bind it soon)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def imported_modules(path):
    """Every module name the checkout's file `path` imports: import statements anywhere in it (a function's
    own included), relative ones resolved, and importlib.import_module("...") / __import__("...") calls.
    `from a import b` also names `a.b`, which may be a module."""
    package = path.resolve().relative_to(PROJECT_ROOT).parent.parts
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
    return names


def audited():
    """(operation, method, vector store id, status) of each audit entry, oldest first."""
    return [
        (entry.operation, entry.method, entry.vector_store_id, entry.status_code)
        for entry in AuditEntry.objects.order_by("id")
    ]


def assert_invalid(response, field=None):
    """A 400 in the API's error shape, naming `field` when given."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and body["message"] == body["detail"]
    if field is not None:
        assert field in body["errors"], body
