"""The API's errors and the handler that renders every one of them in one JSON shape:

    {"detail": "<what went wrong>", "code": "<machine-readable code>", ...extras}

Validation errors add "errors" (DRF's field errors); the gateway's errors (`GatewayError`) bring their
own body, with "openai_request_id" when OpenAI sent one and "files" for upload and removal failures:
here they get the API's status (`answer_status`) and OpenAI's Retry-After.
"""

from django.core.exceptions import TooManyFieldsSent
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from ..gateway import (
    BatchError,
    BatchTimeout,
    CredentialNotUsable,
    GatewayError,
    OpenAIError,
    OpenAIStatusError,
    OpenAITimeout,
)


class CredentialNotFound(exceptions.NotFound):
    # The same answer for "does not exist" and "not yours": never reveal which.
    default_detail = "Credential not found."
    default_code = "credential_not_found"


class StoreNotFound(exceptions.NotFound):
    # A store of someone else answers like one that does not exist (see vectorstores.ownership).
    default_detail = "Vector store not found."
    default_code = "vector_store_not_found"


class FileNotFound(exceptions.NotFound):
    # A File in a store of someone else is not the caller's to attach.
    default_detail = "File not found."
    default_code = "file_not_found"


class FileInUse(exceptions.APIException):
    # Deleting a File takes it out of every store: not while a store of another user holds it.
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The File is also in a vector store of another user: it cannot be deleted."
    default_code = "file_in_use"


class LengthRequired(exceptions.APIException):
    # Django reads a body by its Content-Length: one sent in chunks would be read as empty.
    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_detail = "Send the request body with a Content-Length (not Transfer-Encoding: chunked)."
    default_code = "length_required"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is larger than this server accepts."
    default_code = "payload_too_large"


# The API's status for each kind of gateway error, the most specific first. OpenAI's own error
# statuses are decided by `answer_status`: its 4xx are kept, its 5xx become 502.
STATUSES = [
    (CredentialNotUsable, status.HTTP_503_SERVICE_UNAVAILABLE),  # a server-side state, not the caller's fault
    (OpenAITimeout, status.HTTP_504_GATEWAY_TIMEOUT),
    (OpenAIError, status.HTTP_502_BAD_GATEWAY),  # unreachable, bad response, 5xx
    (BatchTimeout, status.HTTP_504_GATEWAY_TIMEOUT),
    (BatchError, status.HTTP_500_INTERNAL_SERVER_ERROR),
]


def answer_status(error):
    """The status the API answers a gateway error with."""
    if isinstance(error, OpenAIStatusError) and error.upstream_status < 500:
        return error.upstream_status  # OpenAI refused the request: the caller's to fix, as OpenAI said
    return next(answer for kind, answer in STATUSES if isinstance(error, kind))


class GatewayFailure(exceptions.APIException):
    """A gateway error as the API answers it: the status `answer_status` gives, the error's own body."""

    def __init__(self, error):
        super().__init__(error.message, error.code)
        self.status_code = answer_status(error)
        self.error = error


def flatten_errors(errors, path=()):
    """(path, message) for each message of a nested DRF error structure."""
    if isinstance(errors, dict):
        for key, nested in errors.items():
            yield from flatten_errors(nested, path if key == "non_field_errors" else (*path, str(key)))
    elif isinstance(errors, list):
        for nested in errors:
            yield from flatten_errors(nested, path)
    else:
        yield path, str(errors)


def summarise(errors):
    """The first message of a nested DRF error structure, prefixed with its field path."""
    path, message = next(flatten_errors(errors), ((), ""))
    return f"{'.'.join(path)}: {message}" if path else message


def api_exception_handler(exc, context):
    """DRF's handler, with every body rewritten into the API's one error shape."""
    if isinstance(exc, GatewayError):
        exc = GatewayFailure(exc)  # DRF's handler answers only its own exceptions
    elif isinstance(exc, TooManyFieldsSent):  # a query string over DATA_UPLOAD_MAX_NUMBER_FIELDS
        exc = exceptions.ParseError(f"The query string cannot be read: {exc}")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's own 500 handling applies
    if isinstance(exc, GatewayFailure):
        response.data = exc.error.body()  # already in the error shape
        if exc.error.retry_after:
            response["Retry-After"] = exc.error.retry_after
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": summarise(exc.detail), "code": "invalid", "errors": exc.detail}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = {"detail": str(detail), "code": getattr(detail, "code", None) or "error"}
    response.data = error_body(**response.data)
    return response


def error_body(detail, code, **extras):
    """The API's error shape: `detail` (also as `message`, which clients such as Flowise's UI show),
    `code`, and any extras (errors, openai_request_id, files)."""
    return {"detail": str(detail), "message": str(detail), "code": code, **extras}
