"""The console's pages count against the API's throttles, as API calls of the signed-in user.

A console page makes OpenAI calls with the credential's key as the API does, so the console must not be
a way around the rate that keeps one user from spending a shared key's quota. A page counts as the API's
calls do: once for the page, once more for each call it makes per file (looking up the names of the files
it shows, removing files), and once more for each upstream page after the first of an unpaged read (a list
of every store, of every file of a store to delete, a file's whole content) and for each store an import
records (its list of files).
"""

import functools
import math

from django.http import JsonResponse
from django.template.response import TemplateResponse
from rest_framework.exceptions import APIException, Throttled
from rest_framework.request import ForcedAuthentication, Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from ..api import throttling

TEMPLATE = "admin/vectorstores/console/refused.html"


class PageThrottles:
    """The API's throttles (DRF's `DEFAULT_THROTTLE_CLASSES`, with their rates) for one console page."""

    def __init__(self, request, kwargs):
        # DRF's throttles read a DRF request and view; admin has already signed the user in.
        drf_request = Request(request, authenticators=[ForcedAuthentication(request.user, None)])
        self.request, self.view = drf_request, APIView(request=drf_request, args=(), kwargs=kwargs)
        self.throttles = [throttle() for throttle in api_settings.DEFAULT_THROTTLE_CLASSES]

    def waits(self):
        """Count the page: the seconds each throttle that refuses it asks to wait (none: let through)."""
        # Every throttle counts the page, as DRF's own check does, not only up to the first that refuses.
        refused = [throttle for throttle in self.throttles if not throttle.allow_request(self.request, self.view)]
        return [throttle.wait() or 0 for throttle in refused]

    def charge(self, calls):
        return not throttling.charge(self.throttles, calls)

    def charge_next_page(self):
        """The gateway's `each_page` for an unpaged read the page makes: each upstream page after the first
        counts as one more OpenAI call. Past the rate it raises Throttled, which stops the read and which
        `throttled` answers as a page past the rate."""
        throttling.charge_or_refuse(self.throttles, 1)


def charge(request, calls):
    """Count `calls` more OpenAI calls of the page `request` is for (one per file) against the user's rate:
    False, and nothing counted, when that would take them past it. For the pages of `throttled` views."""
    return calls < 1 or request.console_throttles.charge(calls)


def throttled(view, admin_site):
    """`view`, counted against the API's throttles first. Past the rate a page answers 429 with Retry-After
    (with the throttles' cache unreachable, 503) before anything is asked of OpenAI: JSON for the page
    scripts that poll, an admin page otherwise."""

    @functools.wraps(view)
    def counted_view(request, *args, **kwargs):
        request.console_throttles = PageThrottles(request, kwargs)
        try:
            waits = request.console_throttles.waits()
            if waits:
                return past_the_rate(request, admin_site, max(waits))
            return view(request, *args, **kwargs)
        except Throttled as throttled_read:  # an unpaged read went past the rate (charge_next_page)
            return past_the_rate(request, admin_site, throttled_read.wait)
        except APIException as error:  # a throttle failed (the cache is down), at the page's count or a later one
            return refused(request, admin_site, error.status_code, "Service unavailable", str(error.detail))

    return counted_view


def past_the_rate(request, admin_site, wait):
    """429 with Retry-After: `wait` seconds, rounded up (at least one)."""
    wait = max(math.ceil(wait or 0), 1)
    answer = refused(request, admin_site, 429, "Too many requests", str(Throttled(wait).detail))
    answer["Retry-After"] = str(wait)
    return answer


def refused(request, admin_site, status, title, message):
    if request.GET.get("format") == "json" or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"error": message}, status=status)
    context = {**admin_site.each_context(request), "title": title, "message": message}
    return TemplateResponse(request, TEMPLATE, context, status=status)
