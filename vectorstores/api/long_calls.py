"""A cap on the long calls one user has running at once: uploads, and attaches that wait for their batch.

Such a call holds a server thread while its files stream in and go to OpenAI, and then while OpenAI
processes them (up to POLL_TIMEOUT). Uncapped, one user's 16 waiting uploads would hold every thread of a
server of 2 workers × 8 threads. Each running long call holds one of its user's MAX_LONG_CALLS_PER_USER
slots, which are keys in the default cache. So the cap holds across processes as the throttles' counts do
(Redis, with REDIS_URL). While the cache does not answer, long calls run uncounted, as an upload's claims
on its Files then do: an upload does not need the cache (the throttles, where a site has them, refuse calls
they cannot count).
"""

import logging
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.core.cache import cache
from rest_framework import exceptions, status

from ..conf import app_settings

logger = logging.getLogger("vectorstores.api.long_calls")

# A slot's lease lasts the longest wait for a batch and this much more, for the files to go to OpenAI first.
# While the body streams in, which takes as long as the client takes, each RENEW_SECONDS renew the lease.
# A slot whose call never gave it back (its process was killed) frees itself when its lease ends.
TRANSFER_SECONDS = 600
RENEW_SECONDS = 30


class TooManyLongCalls(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_long_calls"


@dataclass
class _Slot:
    key: str
    lease: str  # the holder's mark: a slot is renewed and given back only by the call that holds it
    renewed: float  # time.monotonic() of the last renewal


_held = ContextVar("vectorstores_long_call", default=None)  # the slot of the long call this thread runs


@contextmanager
def long_call_slot(user):
    """Hold one of `user`'s slots for the call run in the block: 429 `too_many_long_calls` when they
    are all taken."""
    limit = app_settings.MAX_LONG_CALLS_PER_USER
    slot = None if limit is None else _take_slot(user, limit)
    held = _held.set(slot)
    try:
        yield
    finally:
        _held.reset(held)
        if slot is not None:
            _give_back(slot)


def keep_long_call():
    """Renew the lease of the long call this thread runs (nothing outside one), at most every RENEW_SECONDS."""
    slot = _held.get()
    if slot is None or time.monotonic() - slot.renewed < RENEW_SECONDS:
        return
    slot.renewed = time.monotonic()
    try:
        if cache.get(slot.key) == slot.lease:
            cache.touch(slot.key, _lease_seconds())
    except Exception as error:  # the lease runs on: the cap may let one more call in when it ends
        logger.warning("A long call's slot %s could not be renewed: the cache failed: %r", slot.key, error)


def _lease_seconds():
    return app_settings.POLL_TIMEOUT + TRANSFER_SECONDS


def _take_slot(user, limit):
    lease = uuid.uuid4().hex
    try:
        for number in range(limit):
            key = f"vectorstores:long-call:{user.pk}:{number}"
            if cache.add(key, lease, _lease_seconds()):  # atomic: of the calls that try a free slot, one takes it
                return _Slot(key, lease, time.monotonic())
    except Exception as error:  # Django's cache backends share no error class
        logger.error("A long call of user %s runs uncounted: the cache failed: %r", user.pk, error)
        return None
    raise TooManyLongCalls(
        f"You have {limit} uploads or waiting attaches running, the most one user may: "
        "send this one when one of them has ended."
    )


def _give_back(slot):
    try:
        # A slot whose lease ran out may hold another call's lease by now: that one is left alone.
        if cache.get(slot.key) == slot.lease:
            cache.delete(slot.key)
    except Exception as error:  # the slot frees itself when its lease ends
        logger.warning("A long call's slot %s could not be given back: the cache failed: %r", slot.key, error)
