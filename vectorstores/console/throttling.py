"""The console's pages count against the API's throttles, as API calls of the signed-in user.

A console page makes OpenAI calls with the credential's key as the API does (a search or a sorted list
reads up to LIST_MAX_ITEMS stores), so the console must not be a way around the rate that keeps one user
from spending a shared key's quota. Each page counts once, a removal once per file, as the API's calls do.
"""

from django.http import JsonResponse
from django.template.response import TemplateResponse
from rest_framework.exceptions import APIException
from rest_framework.request import ForcedAuthentication, Request
from rest_framework.settings import api_settings

from ..api.throttling import charge

TEMPLATE = "admin/vectorstores/console/refused.html"


class PageThrottles:
    """The API's throttles (DRF's `DEFAULT_THROTTLE_CLASSES`, with their rates) for one console page."""

    def __init__(self, request, view):
        # DRF's throttles read a DRF request; admin has already signed its user in.
        self.request = Request(request, authenticators=[ForcedAuthentication(request.user, None)])
        self.view = view
        self.throttles = [throttle() for throttle in api_settings.DEFAULT_THROTTLE_CLASSES]

    def waits(self):
        """Count the page: the seconds each throttle that refuses it asks to wait (none: let through)."""
        # Every throttle counts the page, as DRF's own check does, not only up to the first that refuses.
        refused = [throttle for throttle in self.throttles if not throttle.allow_request(self.request, self.view)]
        return [throttle.wait() or 0 for throttle in refused]

    def charge(self, files):
        """Count a change that makes one OpenAI call per file once per file: False when that passes the rate."""
        return not charge(self.throttles, files)


def throttled(view, console):
    """`view`, counted against the API's throttles first. A page past the rate answers 429 with Retry-After
    (the throttles' cache unreachable: 503), in JSON for the page scripts that poll; nothing is asked of OpenAI."""

    def counted_view(request, *args, **kwargs):
        request.console_throttles = PageThrottles(request, console)
        try:
            waits = request.console_throttles.waits()
        except APIException as error:  # the cache is down (vectorstores.api.throttling.ThrottleUnavailable)
            return refused(request, console, error.status_code, str(error.detail))
        if not waits:
            return view(request, *args, **kwargs)
        wait = max(round(max(waits)), 1)
        answer = refused(request, console, 429, f"Too many requests: try again in {wait} seconds.")
        answer["Retry-After"] = str(wait)
        return answer

    counted_view.__name__ = view.__name__
    return counted_view


def refused(request, console, status, message):
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"error": message}, status=status)
    context = {**console.admin_site.each_context(request), "title": "Too many requests", "message": message}
    return TemplateResponse(request, TEMPLATE, context, status=status)
