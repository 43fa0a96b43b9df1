"""What the gateway raises when it cannot do what it was asked: plain exceptions, whoever shows them.

Every one is a `GatewayError` that says what went wrong in words (`message`) and in a machine-readable
`code` (the API's codes: "openai_not_found", "batch_failed", ...), and carries what OpenAI said:
its HTTP status (`upstream_status`), its `x-request-id` (`request_id`), its Retry-After (`retry_after`)
and the raw `response`, when it answered. Which HTTP status the API answers with is the API's decision
(`vectorstores.api.exceptions`); the console shows the message.

    GatewayError
    ├── CredentialNotUsable          the key must not be sent: nothing was asked of OpenAI
    │   ├── KeyUnreadable            credential_unreadable
    │   └── EndpointRefused          credential_endpoint_refused
    ├── OpenAIError                  OpenAI could not be asked, or did not answer as it should
    │   ├── OpenAIStatusError        it answered an error status: openai_bad_request, ..., openai_server_error
    │   │   └── OpenAINotFound       it answered 404: openai_not_found
    │   ├── OpenAIUnreachable        openai_unreachable
    │   ├── OpenAITimeout            openai_timeout
    │   └── OpenAIBadResponse        openai_bad_response
    └── BatchError                   a file batch did not process all its files
        ├── BatchEnded               batch_failed, batch_cancelled, batch_completed
        └── BatchTimeout             batch_timeout
"""

from ..redaction import redact


class GatewayError(Exception):
    """Something the gateway could not do. `report` holds more fields for the error's body (e.g. "files")."""

    code = "gateway_error"
    default_message = "The request to OpenAI failed."
    # A failed upload's OpenAI Files: the ids of all it made (deleted again or not), those that remain (their
    # cleanup failed, or they were already in the store), and the ids of those in the store.
    files_made = ()
    files_left = ()
    files_in_store = ()

    def __init__(self, message=None, *, response=None):
        self.message = message or self.default_message
        self.response = response  # OpenAI's raw (httpx2) response, when it answered
        self.upstream_status = response.status_code if response is not None else None
        self.request_id = None
        if response is not None:
            self.request_id = upstream_text(response, response.headers.get("x-request-id"))
        self.retry_after = None  # seconds, as the Retry-After header says them
        self.report = {}
        super().__init__(self.message)

    def __str__(self):
        return self.message

    def with_report(self, message=None, **report):
        """This error with another message and more fields for its body (e.g. the per-file report)."""
        changed = type(self).__new__(type(self))  # a copy, not a new error: every attribute stays as it is
        changed.__dict__.update(self.__dict__, message=message or self.message, report={**self.report, **report})
        changed.args = (changed.message,)
        return changed

    def body(self):
        """The error as the API's answers and the per-file reports show it."""
        body = {"detail": self.message, "message": self.message, "code": self.code}  # the API's error shape
        if self.request_id:
            body["openai_request_id"] = self.request_id
        return {**body, **self.report}


def upstream_text(response, text):
    """Text of an answer from OpenAI, as this server may show it: with no echo of the key the request carried
    (an answer may be hostile, and a header or field hold anything)."""
    if not isinstance(text, str):
        return text
    try:
        request = response.request
    except RuntimeError:  # httpx2's answer to a response built without its request
        request = None
    return redact(text, [key_sent_with(request)])


def key_sent_with(request):
    """The API key `request` carried, whatever its shape ("" for none), so that an echo of it can be redacted."""
    authorization = request.headers.get("authorization", "") if request is not None else ""
    return authorization.removeprefix("Bearer ").strip()


class CredentialNotUsable(GatewayError):
    """The credential's key must not be sent to OpenAI, so nothing was asked (see `check_usable`)."""


class KeyUnreadable(CredentialNotUsable):
    # An undecryptable key loads as "": never hand that placeholder to OpenAI as a key.
    code = "credential_unreadable"
    default_message = "The credential cannot be decrypted; the server's encryption key changed."


class EndpointRefused(CredentialNotUsable):
    # The base URL was saved before the allow-list refused its host: the key is not sent there.
    code = "credential_endpoint_refused"
    default_message = "The credential's base URL names a host this site does not send API keys to."


class OpenAIError(GatewayError):
    """OpenAI could not be asked, or did not answer as it should."""


class OpenAIStatusError(OpenAIError):
    """OpenAI answered with an error status (`upstream_status`); its code names that status."""

    CODES = {
        400: "openai_bad_request",
        401: "openai_invalid_api_key",
        403: "openai_permission_denied",
        404: "openai_not_found",
        409: "openai_conflict",
        429: "openai_rate_limited",
    }

    def __init__(self, message, *, response, retry_after=None):
        super().__init__(message, response=response)
        self.retry_after = retry_after
        self.code = self.CODES.get(self.upstream_status) or (
            "openai_client_error" if self.upstream_status < 500 else "openai_server_error"
        )


class OpenAINotFound(OpenAIStatusError):
    """OpenAI answered 404: no such vector store or file (one already gone, for a cleanup)."""


class OpenAIUnreachable(OpenAIError):
    # Refused, reset, or cut off mid-answer: the connection failed either way.
    code = "openai_unreachable"
    default_message = "The connection to OpenAI failed."


class OpenAITimeout(OpenAIError):
    code = "openai_timeout"
    default_message = "OpenAI did not answer in time."


class OpenAIBadResponse(OpenAIError):
    """OpenAI's answer was not the JSON object expected (an error body not in OpenAI's shape included)."""

    code = "openai_bad_response"
    default_message = "OpenAI sent an answer this server cannot read."


class BatchError(GatewayError):
    """A file batch did not process all its files."""


class BatchEnded(BatchError):
    """The batch ended ('failed', 'cancelled', or 'completed' with files failed): the code is batch_<its status>."""

    def __init__(self, batch_status):
        super().__init__(f"OpenAI's file batch ended '{batch_status}'")
        self.code = f"batch_{batch_status}"


class BatchTimeout(BatchError):
    """The batch was not done within POLL_TIMEOUT seconds, and was cancelled."""

    code = "batch_timeout"

    def __init__(self, seconds):
        super().__init__(f"OpenAI did not process the files within {seconds:g} seconds; the batch was cancelled.")
