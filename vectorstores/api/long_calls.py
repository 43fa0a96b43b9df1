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
import uuid
from contextlib import contextmanager

from django.core.cache import cache
from rest_framework import exceptions, status

from ..conf import app_settings

logger = logging.getLogger("vectorstores.api.long_calls")

# A slot whose call never gave it back (its process was killed) frees itself this long after the
# longest wait for a batch: time for the files to stream in and go to OpenAI first.
TRANSFER_SECONDS = 600


class TooManyLongCalls(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_long_calls"


@contextmanager
def long_call_slot(user):
    """Hold one of `user`'s slots for the call run in the block: 429 `too_many_long_calls` when they
    are all taken."""
    limit = app_settings.MAX_LONG_CALLS_PER_USER
    if limit is None:
        yield
        return
    lease = uuid.uuid4().hex  # the holder's mark: a slot is given back only by the call that holds it
    key = _take_slot(user, limit, lease)
    try:
        yield
    finally:
        _give_back(key, lease)


def _take_slot(user, limit, lease):
    lease_seconds = app_settings.POLL_TIMEOUT + TRANSFER_SECONDS
    try:
        for slot in range(limit):
            key = f"vectorstores:long-call:{user.pk}:{slot}"
            if cache.add(key, lease, lease_seconds):  # atomic: of the calls that try a free slot, one takes it
                return key
    except Exception as error:  # Django's cache backends share no error class
        logger.error("A long call of user %s runs uncounted: the cache failed: %r", user.pk, error)
        return None
    raise TooManyLongCalls(
        f"You have {limit} uploads or waiting attaches running, the most one user may: "
        "send this one when one of them has ended."
    )


def _give_back(key, lease):
    if key is None:  # taken uncounted
        return
    try:
        # A slot whose lease ran out may hold another call's lease by now: that one is left alone.
        if cache.get(key) == lease:
            cache.delete(key)
    except Exception as error:  # the slot frees itself when its lease ends
        logger.warning("A long call's slot %s could not be given back: the cache failed: %r", key, error)
