"""Errors in OpenAI's envelope, which OpenAI's SDKs read into their exception classes:

    {"error": {"message": "<what went wrong>", "type": "<kind>", "param": "<field>" | null, "code": "<code>"}}

The status and headers (Retry-After, WWW-Authenticate) are the API's (`vectorstores.api.exceptions`), and so
is `code` (e.g. `vector_store_not_found`, `throttled`, `openai_rate_limited`); `param` names the first field
that failed validation, or what OpenAI named when the error is OpenAI's own.
"""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions

from ..api.exceptions import api_exception_handler, flatten_errors
from ..gateway import GatewayError
from ..gateway.exceptions import upstream_text

TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}


def error_type(status):
    """The envelope's `type` for an HTTP status."""
    if status >= 500:
        return "server_error"
    return TYPES.get(status, "invalid_request_error")


def envelope(message, code, status, param=None):
    return {"error": {"message": message, "type": error_type(status), "param": param, "code": code}}


def openai_exception_handler(exc, context):
    """The API's handler (its statuses, codes and headers), with each body in OpenAI's envelope."""
    response = api_exception_handler(exc, context)
    if response is None:
        return None
    param = None
    if isinstance(exc, exceptions.ValidationError):
        path, _ = next(flatten_errors(exc.detail), ((), ""))
        param = ".".join(path) or None
    elif isinstance(exc, GatewayError):
        param = _upstream_param(exc.response)
    response.data = envelope(response.data["detail"], response.data["code"], response.status_code, param)
    return response


def _upstream_param(upstream_response):
    """The `param` OpenAI's own error named, if it answered with one."""
    try:
        error = upstream_response.json()["error"]
        return upstream_text(upstream_response, error["param"]) if isinstance(error["param"], str) else None
    except (AttributeError, ValueError, TypeError, KeyError):
        return None


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any other path under the routes: OpenAI's 404, in its envelope."""
    return JsonResponse(
        envelope(f"Unknown request URL: {request.method} {request.path}.", "not_found", 404), status=404
    )
