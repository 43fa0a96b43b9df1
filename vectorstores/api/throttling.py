"""Rate throttles whose counts hold across processes: each request is one atomic increment in the cache.

DRF's own `UserRateThrottle` reads a caller's history from the cache, then writes it back: requests that
arrive together (on two threads, or on two instances sharing Redis) can all read the same history and
all pass. These count with the cache's atomic `add` and `incr` instead, so a rate of N lets exactly N
requests through per window, however many processes serve them. Use them like DRF's, e.g.
`"DEFAULT_THROTTLE_CLASSES": ["vectorstores.api.throttling.UserRateThrottle"]` with the same rates.
"""

from rest_framework import throttling


class AtomicWindowMixin:
    """A window opens at a caller's first request and lasts the rate's period; each request in it adds one
    to the window's count, and those past the rate are refused until the window ends."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        count_key, self.start_key = f"{self.key}:count", f"{self.key}:start"
        for _attempt in range(2):
            self.cache.add(self.start_key, self.now, self.duration)
            self.cache.add(count_key, 0, self.duration)
            try:
                count = self.cache.incr(count_key)
                break
            except ValueError:  # the window ended between add and incr: this request opens the next one
                continue
        else:
            return True  # the cache keeps losing the key (evictions): never refuse a caller for that
        return count <= self.num_requests

    def wait(self):
        """Seconds until the window ends (Retry-After). The window may have been opened by a request that took
        its time a moment after this one, on another thread or instance: never more than a whole window.
        Read only for a refused request (DRF asks no other), so allowed ones cost no extra cache call."""
        window_start = self.cache.get(self.start_key, self.now)
        return min(self.duration, max(0.0, window_start + self.duration - self.now))


class UserRateThrottle(AtomicWindowMixin, throttling.UserRateThrottle):
    """DRF's `UserRateThrottle` (scope "user"), counted atomically."""


class AnonRateThrottle(AtomicWindowMixin, throttling.AnonRateThrottle):
    """DRF's `AnonRateThrottle` (scope "anon"), counted atomically."""
