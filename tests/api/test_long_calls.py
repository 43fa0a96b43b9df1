"""One user cannot hold every server thread: the calls that may run for minutes (an upload, an attach that
waits for its batch) are capped per user, MAX_LONG_CALLS_PER_USER at once, counted in the shared cache.

A test holds a user's slots itself (`long_calls_running`), as that many calls still running would.
"""

import contextlib
import types

import pytest
from django.core.cache import cache
from django.core.cache.backends import base, locmem

from tests.conftest import admin_url, client_for, logged_in, text_file
from tests.console.conftest import staff
from vectorstores.api import long_calls
from vectorstores.api.long_calls import TRANSFER_SECONDS, long_call_slot
from vectorstores.api.multipart import LimitedTemporaryFileUploadHandler
from vectorstores.conf import app_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_calls_running():
    """running(user, count=MAX_LONG_CALLS_PER_USER): that many long calls of `user` running until the test
    ends (or `stop()`)."""
    cache.clear()
    with contextlib.ExitStack() as calls:

        def running(user, count=None):
            for _ in range(count or app_settings.MAX_LONG_CALLS_PER_USER):
                calls.enter_context(long_call_slot(user))

        running.stop = calls.close
        yield running
    cache.clear()


@pytest.fixture
def one_long_call(settings, long_calls_running):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_LONG_CALLS_PER_USER": 1}
    return long_calls_running


@pytest.fixture
def later(monkeypatch):
    """later(seconds): the local-memory cache's clock moved on by `seconds` (its keys expire by it)."""

    def move_on(seconds):
        now = locmem.time.time() + seconds
        for module in (base, locmem):  # where keys are given their expiry, and where it is checked
            monkeypatch.setattr(module, "time", types.SimpleNamespace(time=lambda: now))

    return move_on


@pytest.fixture
def file_ids(fake_openai):
    return [fake_openai.create_file(f"doc{n}.txt", b"some text")["id"] for n in range(2)]


@pytest.fixture
def console_uploader(django_user_model, credential):
    return staff(django_user_model, "editor", "view_credential", "change_credential", credential=credential)


def api_upload(user, url, credential, store, file_ids):
    return client_for(user).post(url(f"/{store['id']}"), {"files": [text_file("a.txt")]}, format="multipart")


def api_attach(user, url, credential, store, file_ids):
    return client_for(user).post(url(f"/{store['id']}/files"), {"file_ids": file_ids}, format="json")


def openai_upload(user, url, credential, store, file_ids):
    return client_for(user, "Bearer").post(
        f"/api/openai/{credential.pk}/v1/files", {"file": text_file("a.txt"), "purpose": "assistants"}
    )


def console_upload(user, url, credential, store, file_ids):
    path = admin_url("vector_store_upload", credential.pk, store["id"])
    return logged_in(user).post(path, {"files": [text_file("a.txt")]})


LONG_CALLS = {"upload": api_upload, "attach": api_attach, "OpenAI's upload": openai_upload, "console": console_upload}


@pytest.fixture(params=LONG_CALLS)
def long_call(request, user, console_uploader, url, credential, store, file_ids):
    """call(): one long call into `store`, of its user (`call.caller`)."""
    send = LONG_CALLS[request.param]
    caller = console_uploader if request.param == "console" else user

    def call():
        return send(caller, url, credential, store, file_ids)

    call.caller, call.kind = caller, request.param
    return call


def test_a_long_call_past_the_users_cap_is_429_before_anything_is_read_or_sent(
    long_call, long_calls_running, fake_openai, upload_dir
):
    long_calls_running(long_call.caller)
    fake_openai.requests.clear()

    response = long_call()

    assert response.status_code == 429
    body = response.json()
    code = body["error"]["code"] if long_call.kind == "OpenAI's upload" else body["code"]
    assert code == "too_many_long_calls"
    assert "Retry-After" not in response
    assert fake_openai.requests == []
    assert list(upload_dir.iterdir()) == []


def test_each_long_call_of_the_cap_goes_through(long_call, long_calls_running):
    long_calls_running(long_call.caller, app_settings.MAX_LONG_CALLS_PER_USER - 1)

    assert long_call().status_code == 200


def test_a_long_call_gives_its_slot_back_when_it_ends(long_call, one_long_call):
    assert long_call().status_code == 200
    assert long_call().status_code == 200


def test_a_failed_long_call_gives_its_slot_back(long_call, one_long_call, fake_openai):
    fake_openai.fail("POST", r"/(files|vector_stores/.*/file_batches)$", 400, times=1)
    assert long_call().status_code == 400

    assert long_call().status_code == 200


def test_an_attach_that_does_not_wait_is_not_a_long_call(user, long_calls_running, url, store, file_ids):
    long_calls_running(user)

    response = client_for(user).post(url(f"/{store['id']}/files", wait="false"), {"file_ids": file_ids}, format="json")

    assert response.status_code == 202


def test_another_users_long_calls_are_theirs(other_user, credential, long_calls_running, upload):
    credential.users.add(other_user)
    long_calls_running(other_user)

    assert upload(text_file("a.txt")).status_code == 200


def test_a_slot_its_call_never_gave_back_frees_itself_when_its_lease_ends(user, one_long_call, later, upload):
    killed = long_call_slot(user)
    killed.__enter__()  # a call whose process was killed: never given back
    assert upload(text_file("a.txt")).status_code == 429

    later(app_settings.POLL_TIMEOUT + TRANSFER_SECONDS + 1)

    assert upload(text_file("a.txt")).status_code == 200


@pytest.mark.parametrize("renewed", [True, False], ids=["renewed", "never renewed (the control)"])
def test_an_upload_keeps_its_slot_while_its_body_streams_in(user, one_long_call, later, upload, monkeypatch, renewed):
    """A body that takes longer than a lease to arrive (a slow client) renews its call's lease as it comes:
    here each part of it arrives just before the lease would have ended, and the slot is still held."""
    monkeypatch.setattr(long_calls, "RENEW_SECONDS", 0 if renewed else 10**9)
    receive = LimitedTemporaryFileUploadHandler.receive_data_chunk
    held = []

    def slowly(handler, raw_data, start):
        later(app_settings.POLL_TIMEOUT + TRANSFER_SECONDS - 1)
        held.append(cache.get(f"vectorstores:long-call:{user.pk}:0") is not None)
        return receive(handler, raw_data, start)

    monkeypatch.setattr(LimitedTemporaryFileUploadHandler, "receive_data_chunk", slowly)
    response = upload(text_file("big.txt", b"x" * (3 * 64 * 1024)))  # Django reads it in parts of 64 KiB or less

    assert response.status_code == 200
    assert len(held) >= 3
    assert all(held) if renewed else held[1:] == [False] * (len(held) - 1)


def test_a_call_that_outlived_its_lease_leaves_the_next_holders_slot_alone(user, one_long_call, later, upload):
    outlived = long_call_slot(user)
    outlived.__enter__()
    later(app_settings.POLL_TIMEOUT + TRANSFER_SECONDS + 1)
    one_long_call(user)  # the next call has taken the expired slot, and is running
    outlived.__exit__(None, None, None)  # the first one ends at last

    assert upload(text_file("a.txt")).status_code == 429


@pytest.mark.usefixtures("cache_down")
def test_with_the_cache_down_a_long_call_runs_uncounted_and_the_log_says_so(user, caplog):
    """As an upload's claims on its Files do: an upload does not need the cache (tests/api/test_faults.py)."""
    ran = False
    with long_call_slot(user):
        ran = True
    assert ran
    assert "runs uncounted: the cache failed" in caplog.text


def test_without_a_cap_long_calls_take_no_slot(user, settings, long_calls_running, upload):
    settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_LONG_CALLS_PER_USER": None}
    long_calls_running(user, 50)

    assert upload(text_file("a.txt")).status_code == 200
    assert cache.get(f"vectorstores:long-call:{user.pk}:0") is None
