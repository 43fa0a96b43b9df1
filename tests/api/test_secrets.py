"""The API key stays on the server: not in logs (even the SDK's debug logs), answers, admin pages or the schema.

Every test of the suite is also swept for stored keys in its answers and log lines (conftest.no_api_key_leaks).
"""

import io
import logging
import time
import uuid

import django
import pytest
from django.utils.log import configure_logging

from tests.conftest import TEST_API_KEY, client_for, text_file
from vectorstores.redaction import RedactAPIKeysFilter, redact

pytestmark = pytest.mark.django_db

KEY_SHAPES = [TEST_API_KEY, "sk-proj-" + "A1b2" * 12, "sk-svcacct-" + "z" * 40]
ROUNDS = 3  # of the timing comparison, at most


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


@pytest.fixture
def site_logging(settings):
    """configure_logging(): Django's logging set up again as at start (its defaults, then the site's LOGGING), now
    with the test's settings and output captured; as it was afterwards."""
    yield lambda: configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


def test_djangos_own_loggers_write_no_key_and_each_line_once(site_logging, settings, capfd):
    """Django gives its loggers a console handler of its own (DEBUG on): the site's LOGGING replaces it."""
    settings.DEBUG = True
    site_logging()
    logging.getLogger("django.request").warning("calling with %s now", TEST_API_KEY)
    err = capfd.readouterr().err
    assert TEST_API_KEY not in err
    assert err.count("calling with sk-*** now") == 1


@pytest.mark.filterwarnings("ignore:Django 2028 will not have a default mailer")  # Django 6.1's MAILERS: not ours
def test_djangos_error_mails_hold_no_key(site_logging, settings, mailoutbox):
    """Its mails to ADMINS (DEBUG off) show the traceback with each frame's local variables."""
    # Django 6.0 takes addresses alone, and deprecates the (name, address) pairs that 5.2 needs.
    admin = "admin@example.com" if django.VERSION >= (6, 0) else ("Admin", "admin@example.com")
    settings.DEBUG, settings.ADMINS = False, [admin]
    site_logging()
    api_key = TEST_API_KEY  # a local variable of the failing frame
    try:
        raise RuntimeError(f"bad key {api_key}")
    except RuntimeError:
        logging.getLogger("django.request").error("failed with %s", api_key, exc_info=True)
    [mail] = mailoutbox
    assert "sk-***" in mail.body
    assert TEST_API_KEY not in mail.subject + mail.body + "".join(content for content, _ in mail.alternatives)


def test_without_admins_no_error_mail_is_even_built(site_logging, settings, mailoutbox, monkeypatch):
    """As with Django's own handler: nothing to build a report for (Django 6.1 warns when a mail has no mailer)."""
    settings.DEBUG, settings.ADMINS = False, []
    site_logging()
    monkeypatch.setattr("django.utils.log.AdminEmailHandler.send_mail", lambda *a, **k: pytest.fail("a mail"))
    logging.getLogger("django.request").error("failed")
    assert mailoutbox == []


def test_the_sdk_debug_logs_of_a_full_scenario_hold_no_key(site_log, api, url, upload, fake_openai):
    store = api.post(url(), {"name": "logged"}, format="json").json()
    upload(text_file("a.txt", b"text"), store_id=store["id"])
    api.post(url(f"/{store['id']}/search"), {"query": "text"}, format="json")
    fake_openai.api_keys.clear()
    api.get(url())
    output = site_log.getvalue()
    assert "vector_stores" in output  # the SDK did log its requests
    assert TEST_API_KEY not in output


def test_redact_leaves_ordinary_text_alone():
    assert redact("vs_abc file-123 task-list") == "vs_abc file-123 task-list"


def test_the_openapi_document_holds_no_key_and_no_credential_id(client, credential):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = response.content.decode()
    assert "/api/v1/openai-assistants-vector-store" in schema  # the document itself, not an error page
    assert TEST_API_KEY not in schema
    assert str(credential.pk) not in schema


def test_error_answers_name_no_credential_of_someone_else(other_user, url, credential, fake_openai):
    response = client_for(other_user).get(url(), HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 404
    assert credential.name not in response.content.decode()
    assert response["Content-Type"] == "application/json"


def test_someone_elses_credential_and_a_missing_one_take_the_same_time(
    other_user, url, credential, fake_openai, django_assert_num_queries
):
    """Same status, same body, the same database work, and no timing difference beyond noise.

    Time is the promise, so this measures it, robustly on a loaded machine: the two kinds of call alternate
    (which goes first alternates too), so load falls on both alike; each is judged by its fastest run, the
    least disturbed; and a round whose fastest runs still differ is measured again, up to ROUNDS times. A
    real difference (a lookup, a hash, a sleep that only one kind does) shows in every round; noise does not.
    """
    caller = client_for(other_user)
    caller.get(url())  # warm up
    for credential_id in (credential.pk, uuid.uuid4()):
        with django_assert_num_queries(3):  # token, credential lookup, audit entry
            response = caller.get(url(credential_id=credential_id))
        assert response.status_code == 404

    def milliseconds(credential_id):
        started = time.perf_counter()
        caller.get(url(credential_id=credential_id))
        return (time.perf_counter() - started) * 1000

    def fastest(runs=30):
        timings = {"not allowed": [], "missing": []}
        for run in range(runs):
            kinds = [("not allowed", lambda: credential.pk), ("missing", uuid.uuid4)]
            for name, credential_id in kinds if run % 2 else reversed(kinds):
                timings[name].append(milliseconds(credential_id()))
        return min(timings["not allowed"]), min(timings["missing"])

    measured = []
    for _ in range(ROUNDS):
        not_allowed, missing = fastest()
        measured.append((round(not_allowed, 2), round(missing, 2)))
        if abs(not_allowed - missing) < max(5.0, 0.5 * min(not_allowed, missing)):
            break
    else:
        pytest.fail(f"the fastest (not allowed, missing) calls differ in every round, in ms: {measured}")
