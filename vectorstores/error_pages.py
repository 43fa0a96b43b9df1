"""Django's error views for a site that mounts the API (`handler400` and `handler500` of its root URLconf).

A request to the API's routes gets the API's JSON error (in OpenAI's envelope on the OpenAI-compatible routes),
as its other answers are; any other request gets Django's own page. Django has logged the error (and mailed
ADMINS) before it calls these.
"""

from contextlib import suppress

from django.http import JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults

from .api.exceptions import error_body
from .api.urls import app_name as API_APP_NAME
from .openai_api.errors import envelope
from .openai_api.urls import app_name as OPENAI_APP_NAME


def bad_request(request, exception, *args, **kwargs):
    answer = _json_error(request, 400, "bad_request", "The request cannot be read.")
    return answer or defaults.bad_request(request, exception, *args, **kwargs)


def server_error(request, *args, **kwargs):
    answer = _json_error(request, 500, "server_error", "The server failed to answer this call.")
    return answer or defaults.server_error(request, *args, **kwargs)


def _json_error(request, status, code, message):
    match = request.resolver_match
    if match is None:  # the error came before the URL was resolved (a Host the site does not serve, say)
        with suppress(Resolver404):
            match = resolve(request.path_info, getattr(request, "urlconf", None))
    app_names = set(match.app_names) if match is not None else set()
    if OPENAI_APP_NAME in app_names:
        return JsonResponse(envelope(message, code, status), status=status)
    if API_APP_NAME in app_names:
        return JsonResponse(error_body(message, code), status=status)
    return None
