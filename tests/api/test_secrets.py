"""The API key stays on the server: not in logs (even the SDK's debug logs), answers, admin pages or the schema.

Every test of the suite is also swept for stored keys in its answers and log lines (conftest.no_api_key_leaks).
"""
import io
import logging
import time
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import TEST_API_KEY, client_for
from vectorstores.redaction import RedactAPIKeysFilter, redact

pytestmark = pytest.mark.django_db

KEY_SHAPES = [TEST_API_KEY, "sk-proj-" + "A1b2" * 12, "sk-svcacct-" + "z" * 40]


@pytest.fixture
def site_log():
    """What the site's log handler writes, with its redaction filter, at DEBUG for everything."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactAPIKeysFilter())
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "openai", "httpx2", "httpcore")}
    root.addHandler(handler)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("key", KEY_SHAPES)
def test_a_logged_key_is_redacted(site_log, key):
    logging.getLogger("anything").warning("calling with %s now", key)
    assert key not in site_log.getvalue()
    assert "calling with sk-*** now" in site_log.getvalue()


def test_a_key_in_a_traceback_is_redacted(site_log):
    try:
        raise RuntimeError(f"bad key {TEST_API_KEY}")
    except RuntimeError:
        logging.getLogger("anything").exception("it failed")
    output = site_log.getvalue()
    assert "RuntimeError: bad key sk-***" in output
    assert TEST_API_KEY not in output


def test_the_sdk_debug_logs_of_a_full_scenario_hold_no_key(site_log, api, url, fake_openai, upload_dir):
    store = api.post(url(), {"name": "logged"}, format="json").json()
    api.post(url(f"/{store['id']}"), {"files": [SimpleUploadedFile("a.txt", b"text", "text/plain")]},
             format="multipart")
    api.post(url(f"/{store['id']}/search"), {"query": "text"}, format="json")
    fake_openai.api_keys.clear()
    api.get(url())
    output = site_log.getvalue()
    assert "vector_stores" in output  # the SDK did log its requests
    assert TEST_API_KEY not in output


def test_redact_leaves_ordinary_text_alone():
    assert redact("vs_abc file-123 task-list") == "vs_abc file-123 task-list"


def test_the_openapi_document_holds_no_key_and_no_credential_id(client, credential):
    schema = client.get("/api/schema/").content.decode()
    assert TEST_API_KEY not in schema
    assert str(credential.pk) not in schema


def test_error_answers_name_no_credential_of_someone_else(other_user, url, credential, fake_openai):
    response = client_for(other_user).get(url(), HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 404
    assert credential.name not in response.content.decode()
    assert response["Content-Type"] == "application/json"


def test_someone_elses_credential_and_a_missing_one_take_the_same_time(other_user, url, credential, fake_openai,
                                                                       django_assert_num_queries):
    """Same status, same body, the same database work, and no timing difference beyond noise."""
    caller = client_for(other_user)
    caller.get(url())  # warm up
    for credential_id in (credential.pk, uuid.uuid4()):
        with django_assert_num_queries(3):  # token, credential lookup, audit entry
            caller.get(url(credential_id=credential_id))

    timings = {"not allowed": [], "missing": []}
    for _ in range(25):  # interleaved, so load on the machine falls on both alike
        for name, credential_id in (("not allowed", credential.pk), ("missing", uuid.uuid4())):
            started = time.perf_counter()
            caller.get(url(credential_id=credential_id))
            timings[name].append((time.perf_counter() - started) * 1000)
    # The fastest runs are the least disturbed by other work on the machine.
    not_allowed, missing = min(timings["not allowed"]), min(timings["missing"])
    assert abs(not_allowed - missing) < max(5.0, 0.5 * min(not_allowed, missing))
