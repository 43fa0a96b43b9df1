"""Caps on the long calls running at once: uploads, and attaches that wait for their batch.

Such a call holds a server thread while its files stream in and go to OpenAI, and then while OpenAI
processes them (up to POLL_TIMEOUT). Uncapped, one user's 16 waiting uploads would hold every thread of a
server of 2 workers × 8 threads, and four users' four each would too. So a process runs at most
MAX_LONG_CALLS_PER_PROCESS of them (leaving threads for the other calls and the health check), and each
running long call holds one of its user's MAX_LONG_CALLS_PER_USER slots, which are keys in the default
cache. So the cap holds across processes as the throttles' counts do
(Redis, with REDIS_URL). While the cache does not answer, long calls run uncounted, as an upload's claims
on its Files then do: an upload does not need the cache (the throttles, where a site has them, refuse calls
they cannot count).
"""

import logging
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache
from rest_framework import exceptions, status

from ..conf import app_settings

logger = logging.getLogger("vectorstores.api.long_calls")

# A slot is leased for this long and renewed while its call runs, however long that is (a slow client's
# body, a slow upload to OpenAI): the slot of a call whose process was killed frees itself this long after.
LEASE_SECONDS = 60


class TooManyLongCalls(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_long_calls"


class ServerBusy(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "This server is running as many uploads and waiting attaches as it takes: try again shortly."
    default_code = "server_busy"


class ProcessPlaces:
    """The long calls this process runs: at most MAX_LONG_CALLS_PER_PROCESS at once (None: no cap)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0

    @contextmanager
    def place(self):
        limit = app_settings.MAX_LONG_CALLS_PER_PROCESS
        with self.lock:
            if limit is not None and self.running >= limit:
                raise ServerBusy()
            self.running += 1
        try:
            yield
        finally:
            with self.lock:
                self.running -= 1


process_places = ProcessPlaces()


@dataclass
class _Slot:
    key: str
    lease: str  # the holder's mark: a slot is renewed and given back only by the call that holds it


@contextmanager
def long_call_slot(user):
    """Run the block as a long call: in one of this process's places (503 `server_busy` when they are all
    taken) and one of `user`'s slots (429 `too_many_long_calls`)."""
    with process_places.place(), _user_slot(user):
        yield


@contextmanager
def _user_slot(user):
    limit = app_settings.MAX_LONG_CALLS_PER_USER
    slot = None if limit is None else _take_slot(user, limit)
    if slot is None:  # no cap, or the cache is down: uncounted
        yield
        return
    ended = threading.Event()
    threading.Thread(target=_renew_until, args=(slot, ended), name=f"lease {slot.key}", daemon=True).start()
    try:
        yield
    finally:
        ended.set()
        _give_back(slot)


def _take_slot(user, limit):
    lease = uuid.uuid4().hex
    try:
        for number in range(limit):
            key = f"vectorstores:long-call:{user.pk}:{number}"
            if cache.add(key, lease, LEASE_SECONDS):  # atomic: of the calls that try a free slot, one takes it
                return _Slot(key, lease)
    except Exception as error:  # Django's cache backends share no error class
        logger.error("A long call of user %s runs uncounted: the cache failed: %r", user.pk, error)
        return None
    raise TooManyLongCalls(
        f"You have {limit} uploads or waiting attaches running, the most one user may: "
        "send this one when one of them has ended."
    )


def _renew_until(slot, ended):
    """Renew the slot's lease three times a lease, until its call has ended."""
    while not ended.wait(LEASE_SECONDS / 3):
        try:
            if cache.get(slot.key) == slot.lease:
                cache.touch(slot.key, LEASE_SECONDS)
        except Exception as error:  # tried again at the next renewal
            logger.warning("A long call's slot %s could not be renewed: the cache failed: %r", slot.key, error)


def _give_back(slot):
    try:
        # Read, then delete: a slot whose lease ran out (its renewals failed) and that another call has taken
        # since is left alone, but for the instant between the two.
        if cache.get(slot.key) == slot.lease:
            cache.delete(slot.key)
    except Exception as error:  # the slot frees itself when its lease ends
        logger.warning("A long call's slot %s could not be given back: the cache failed: %r", slot.key, error)
