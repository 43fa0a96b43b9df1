"""One user cannot hold every server thread: the calls that may run for minutes (an upload, an attach that
waits for its batch) are capped per user, MAX_LONG_CALLS_PER_USER at once, counted in the shared cache.

A test holds a user's slots itself (`long_calls_running`), as that many calls still running would.
"""

import contextlib
import threading
import types

import pytest
from django.core.cache import cache
from django.core.cache.backends import base, locmem
from django.core.cache.backends.locmem import LocMemCache

from tests.conftest import admin_url, client_for, logged_in, text_file
from tests.console.conftest import staff
from vectorstores.api import long_calls
from vectorstores.api.long_calls import LEASE_SECONDS, long_call_slot
from vectorstores.conf import app_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def long_calls_running():
    """running(user, count=MAX_LONG_CALLS_PER_USER): that many long calls of `user` running until the test
    ends."""
    cache.clear()
    with contextlib.ExitStack() as calls:

        def running(user, count=None):
            for _ in range(count or app_settings.MAX_LONG_CALLS_PER_USER):
                calls.enter_context(long_call_slot(user))

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


def api_upload(user, url, credential, store, file_ids, *, unreadable=False):
    path = url(f"/{store['id']}")
    if unreadable:  # JSON where multipart is expected: 415 once read
        return client_for(user).post(path, {"files": []}, format="json")
    return client_for(user).post(path, {"files": [text_file("a.txt")]}, format="multipart")


def api_attach(user, url, credential, store, file_ids, *, unreadable=False):
    body = {"file_ids": "not a list"} if unreadable else {"file_ids": file_ids}  # 400 once read
    return client_for(user).post(url(f"/{store['id']}/files"), body, format="json")


def openai_upload(user, url, credential, store, file_ids, *, unreadable=False):
    path = f"/api/openai/{credential.pk}/v1/files"
    if unreadable:
        return client_for(user, "Bearer").post(path, {"file": "a.txt"}, format="json")
    return client_for(user, "Bearer").post(path, {"file": text_file("a.txt"), "purpose": "assistants"})


def console_upload(user, url, credential, store, file_ids, *, unreadable=False):
    path = admin_url("vector_store_upload", credential.pk, store["id"])
    if unreadable:
        return logged_in(user).post(path, {"files": []}, content_type="application/json")
    return logged_in(user).post(path, {"files": [text_file("a.txt")]})


LONG_CALLS = {"upload": api_upload, "attach": api_attach, "OpenAI's upload": openai_upload, "console": console_upload}


@pytest.fixture(params=LONG_CALLS)
def long_call(request, user, console_uploader, url, credential, store, file_ids):
    """call(unreadable=False): one long call into `store`, of its user (`call.caller`); with `unreadable`,
    with a body its route refuses (400 or 415) once it reads it."""
    send = LONG_CALLS[request.param]
    caller = console_uploader if request.param == "console" else user

    def call(unreadable=False):
        return send(caller, url, credential, store, file_ids, unreadable=unreadable)

    call.caller, call.kind = caller, request.param
    return call


def error_code(response):
    body = response.json()
    return body["error"]["code"] if "error" in body else body["code"]


@pytest.mark.parametrize("running", ["all", "all but one"])
def test_a_long_call_past_the_users_cap_is_429_before_its_body_is_read(
    long_call, long_calls_running, fake_openai, running
):
    """A body the route would refuse once read (a 400 or 415) is not read: the answer is the cap's."""
    long_calls_running(long_call.caller, app_settings.MAX_LONG_CALLS_PER_USER - (running == "all but one"))
    fake_openai.requests.clear()

    response = long_call(unreadable=True)

    if running == "all":
        assert (response.status_code, error_code(response)) == (429, "too_many_long_calls")
        assert "Retry-After" not in response
    else:  # the control: with a slot free, the body is read and refused
        assert response.status_code in (400, 415)
    assert fake_openai.requests == []


@pytest.fixture
def places_in_this_process(settings):
    """places(count): MAX_LONG_CALLS_PER_PROCESS set to `count`."""

    def places(count):
        settings.OPENAI_VECTOR_STORES = {**settings.OPENAI_VECTOR_STORES, "MAX_LONG_CALLS_PER_PROCESS": count}

    return places


@pytest.mark.parametrize("running", ["all", "all but one"])
def test_a_long_call_past_the_process_cap_is_503_before_its_body_is_read(
    long_call, long_calls_running, places_in_this_process, django_user_model, fake_openai, running
):
    """Other users' long calls fill this process's places: the next long call, whoever's, waits for one."""
    places_in_this_process(2)
    others = [django_user_model.objects.create_user(f"other{n}") for n in range(2 if running == "all" else 1)]
    for other in others:
        long_calls_running(other, 1)
    fake_openai.requests.clear()

    response = long_call(unreadable=True)

    if running == "all":
        assert (response.status_code, error_code(response)) == (503, "server_busy")
    else:  # the control: with a place free, the body is read and refused
        assert response.status_code in (400, 415)
    assert fake_openai.requests == []


def test_a_long_call_gives_its_process_place_back_however_it_ends(long_call, places_in_this_process, fake_openai):
    places_in_this_process(1)
    fake_openai.fail("POST", r"/(files|vector_stores/.*/file_batches)$", 400, times=1)

    assert long_call().status_code == 400
    assert long_call().status_code == 200
    assert long_call().status_code == 200


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


def test_the_slot_of_a_call_whose_process_was_killed_frees_itself_when_its_lease_ends(
    user, one_long_call, later, upload
):
    cache.add(f"vectorstores:long-call:{user.pk}:0", "a killed process's lease", LEASE_SECONDS)  # never renewed
    assert upload(text_file("a.txt")).status_code == 429

    later(LEASE_SECONDS - 1)
    assert upload(text_file("a.txt")).status_code == 429

    later(2)
    assert upload(text_file("a.txt")).status_code == 200


@pytest.mark.parametrize("renewed", [True, False], ids=["renewed", "never renewed (the control)"])
def test_a_running_call_keeps_its_slot_past_its_first_lease(user, one_long_call, upload, later, monkeypatch, renewed):
    """However long the call takes (a slow client's body, a slow upload to OpenAI), its lease is renewed. The
    cache's clock moves on by most of a lease three times, and stands still meanwhile; each time, the test
    waits for a renewal."""
    monkeypatch.setattr(long_calls, "LEASE_SECONDS", 0.3)  # a renewal every 0.1 s
    if not renewed:
        monkeypatch.setattr(long_calls, "_renew_until", lambda slot, ended: None)
    renewal_seen = threading.Event()
    touch = LocMemCache.touch

    def seen_touch(backend, *args, **kwargs):
        renewal_seen.set()
        return touch(backend, *args, **kwargs)

    monkeypatch.setattr(LocMemCache, "touch", seen_touch)

    with long_call_slot(user):
        for _ in range(3):
            later(0.25)
            if renewed:
                renewal_seen.clear()
                assert renewal_seen.wait(timeout=30)

        assert upload(text_file("a.txt")).status_code == (429 if renewed else 200)


def test_a_call_that_outlived_its_lease_leaves_the_next_holders_slot_alone(user, one_long_call, later, upload):
    outlived = long_call_slot(user)
    outlived.__enter__()
    later(LEASE_SECONDS + 1)
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
