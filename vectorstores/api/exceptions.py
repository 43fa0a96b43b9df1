"""The API's errors and the handler that renders every one of them in one JSON shape:

    {"detail": "<what went wrong>", "code": "<machine-readable code>", ...extras}

Validation errors add "errors" (DRF's field errors); upstream errors add
"openai_request_id" when OpenAI sent one; upload and removal failures add "files".
"""
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler


class CredentialNotFound(exceptions.NotFound):
    # The same answer for "does not exist" and "not yours": never reveal which.
    default_detail = "Credential not found."
    default_code = "credential_not_found"


class CredentialUnreadable(exceptions.APIException):
    # The stored key does not decrypt with the server's keys: a server-side state, not the caller's fault.
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The credential cannot be decrypted; the server's encryption key changed."
    default_code = "credential_unreadable"


class CredentialEndpointRefused(exceptions.APIException):
    # The base URL was saved before the allow-list refused its host: the key is not sent there.
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The credential's base URL names a host this site does not send API keys to."
    default_code = "credential_endpoint_refused"


def check_usable(credential):
    """Raise the API's answer when the credential's key must not be used: unreadable, or bound for a refused host."""
    if not credential.api_key_readable:  # never hand the placeholder to OpenAI as a key
        raise CredentialUnreadable()
    if not credential.endpoint_allowed:
        raise CredentialEndpointRefused()


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is larger than this server accepts."
    default_code = "payload_too_large"


class UpstreamError(exceptions.APIException):
    """OpenAI answered with an error, or could not be reached: mapped to our status and code."""

    def __init__(self, detail, *, status_code, code, openai_request_id=None, retry_after=None, extra=None):
        super().__init__(detail, code)
        self.status_code = status_code
        self.openai_request_id = openai_request_id
        self.retry_after = retry_after
        self.extra = extra or {}

    def with_extra(self, detail=None, **extra):
        """The same error with another detail and more fields for the body (e.g. a per-file report)."""
        return UpstreamError(
            detail or self.detail, status_code=self.status_code, code=self.detail.code,
            openai_request_id=self.openai_request_id, retry_after=self.retry_after,
            extra={**self.extra, **extra},
        )

    def body(self):
        body = {"detail": str(self.detail), "code": self.detail.code}
        if self.openai_request_id:
            body["openai_request_id"] = self.openai_request_id
        return {**body, **self.extra}


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
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's own 500 handling applies
    if isinstance(exc, UpstreamError):
        response.data = exc.body()
        if exc.retry_after:
            response["Retry-After"] = exc.retry_after
    elif isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": summarise(exc.detail), "code": "invalid", "errors": exc.detail}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = {"detail": str(detail), "code": getattr(detail, "code", None) or "error"}
    return response
