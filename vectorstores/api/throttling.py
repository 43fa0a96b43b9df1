"""Rate throttles whose counts hold across processes: each request is one atomic increment in the cache.

DRF's own `UserRateThrottle` reads a caller's history from the cache, then writes it back: requests that
arrive together (on two threads, or on two instances sharing Redis) can all read the same history and
all pass. These count with the cache's atomic `add` and `incr` instead, so a rate of N lets exactly N
requests through per window, however many processes serve them. Use them like DRF's, e.g.
`"DEFAULT_THROTTLE_CLASSES": ["vectorstores.api.throttling.UserRateThrottle"]` with the same rates.
"""

import logging
from contextlib import suppress

from rest_framework import exceptions, status, throttling

logger = logging.getLogger("vectorstores.api.throttling")


class ThrottleUnavailable(exceptions.APIException):
    # The throttles count in the shared cache (Redis): without it no call can be counted, so none is let
    # through rather than all of them unmetered.
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Requests cannot be counted against the rate limit right now: try again shortly."
    default_code = "throttle_unavailable"


class AtomicWindowMixin:
    """A window opens at a caller's first request and lasts the rate's period; each request in it adds one
    to the window's count, and those past the rate are refused until the window ends. A request that makes
    one OpenAI call per file adds one per file (`charge`).

    When the cache fails (Redis down), a request is refused with 503 `throttle_unavailable`, never let
    through uncounted. Django's cache backends share no error class, so any error of the cache counts.
    """

    key = None

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.start_key = f"{self.key}:start"
        return self._counted(1)

    def charge(self, units):
        """Add `units` to the count of the request this throttle let through (allow_request): False when that
        takes the caller past the rate. A request refused so is refused whole: its units are taken back."""
        if self.key is None or units < 1:
            return True
        if self._counted(units):
            return True
        self.take_back(units)
        return False

    def take_back(self, units):
        """Take `units` a charge added off the caller's count again (a call refused whole)."""
        if self.key is None or units < 1:
            return
        with suppress(Exception):  # the window has ended, or the cache failed since: nothing to take back
            self.cache.decr(f"{self.key}:count", units)

    def _counted(self, units):
        """Add `units` to the caller's count: whether it is still within the rate."""
        self.now = self.timer()
        try:
            count = self._count(f"{self.key}:count", units)
        except Exception as error:
            logger.error("The throttle cannot count request %s: the cache failed: %r", self.key, error)
            raise ThrottleUnavailable from error
        return count is None or count <= self.num_requests

    def _count(self, count_key, units):
        """The caller's count once `units` are added, or None when the cache will not keep the count (it keeps
        evicting it): a caller is never refused for that."""
        try:
            count = self.cache.incr(count_key, units)  # in an open window, a request's one cache operation
        except ValueError:
            return self._open_window(count_key, units)
        if count == units:
            # The request that opened the window had not counted itself yet, or the count expired just as
            # Redis incremented it, which makes a new count without an expiry: give it the window's.
            self.cache.touch(count_key, self.duration)
            self.cache.add(self.start_key, self.now, self.duration)
        return count

    def _open_window(self, count_key, units):
        for _attempt in range(2):  # add() lets one of the requests that open a window together set it
            self.cache.add(self.start_key, self.now, self.duration)
            self.cache.add(count_key, 0, self.duration)
            with suppress(ValueError):  # the window ended between add and incr: this request opens the next one
                return self.cache.incr(count_key, units)
        return None

    def wait(self):
        """Seconds until the window ends (Retry-After). The window may have been opened by a request that took
        its time a moment after this one, on another thread or instance: never more than a whole window.
        Read only for a refused request (DRF asks no other), so allowed ones cost no extra cache call."""
        try:
            window_start = self.cache.get(self.start_key, self.now)
        except Exception:  # the cache failed since it counted this request: the longest wait there can be
            return self.duration
        return min(self.duration, max(0.0, window_start + self.duration - self.now))


class ChargedThrottlesMixin:
    """For a DRF view whose calls may make one OpenAI call per file (an upload, a removal), `charge_throttles`,
    or one per upstream page (an unpaged list), `charge_next_page`."""

    counted_by = ()  # the throttles that counted this call

    def get_throttles(self):
        self.counted_by = super().get_throttles()
        return self.counted_by

    def charge_throttles(self, files):
        """A call that makes one OpenAI call per file counts once per file against the caller's rate: refused
        with 429 (before anything goes upstream) when that passes it (see `charge`)."""
        charge_or_refuse(self.counted_by, files - 1)  # the call itself counted one already

    def charge_next_page(self):
        """An unpaged list or content reads one more upstream page: one more OpenAI call, counted as such (the
        gateway's `each_page`). Past the rate the call is refused with 429 and reads no more pages."""
        charge_or_refuse(self.counted_by, 1)


def charge(throttles, units):
    """Count `units` more against each of the `throttles` that let a call through (its OpenAI calls beyond
    the one counted). Returns those it would take past their rate: the call is then refused whole, and the
    units are taken back from the others. Throttles without `charge` (DRF's own) count the call once."""
    chargeable = [throttle for throttle in throttles if hasattr(throttle, "charge")]
    refused = [throttle for throttle in chargeable if not throttle.charge(units)]
    if refused:
        for throttle in chargeable:
            if throttle not in refused:
                throttle.take_back(units)
    return refused


def charge_or_refuse(throttles, units):
    """`charge`, refusing a call it would take past the rate: Throttled, with the longest wait of the throttles
    that refuse it."""
    refused = charge(throttles, units)
    if refused:
        raise exceptions.Throttled(max(throttle.wait() or 0 for throttle in refused))


class UserRateThrottle(AtomicWindowMixin, throttling.UserRateThrottle):
    """DRF's `UserRateThrottle` (scope "user"), counted atomically."""


class AnonRateThrottle(AtomicWindowMixin, throttling.AnonRateThrottle):
    """DRF's `AnonRateThrottle` (scope "anon"), counted atomically."""
