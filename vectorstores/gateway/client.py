"""The SDK clients, and every call to OpenAI: timeouts, retries, and the mapping of faults to the gateway's errors.

Objects pass through exactly as OpenAI sends them: every call reads the raw JSON
answer instead of the SDK's parsed models, so no field is dropped, renamed or
added on the way.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import itertools
import logging
import math
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx2
import openai

from .. import strict_json
from ..conf import app_settings
from ..redaction import redact
from .exceptions import (
    EndpointRefused,
    KeyUnreadable,
    OpenAIBadResponse,
    OpenAINotFound,
    OpenAIStatusError,
    OpenAITimeout,
    OpenAIUnreachable,
    key_sent_with,
    upstream_text,
)
from .plain_reads import AnswerTooLong, PlainReads, json_or_none, refuse_long_answers, tls_context

if TYPE_CHECKING:
    from credentials.models import Credential

logger = logging.getLogger("vectorstores.gateway")

# An object as OpenAI sent it: its JSON, never the SDK's model of it.
OpenAIObject = dict[str, Any]

# The "object" of each kind of answer; anything else is an answer we cannot trust (502).
VECTOR_STORE = "vector_store"
VECTOR_STORE_FILE = "vector_store.file"
VECTOR_STORE_FILE_DELETED = "vector_store.file.deleted"
FILE_CONTENT_PAGE = "vector_store.file_content.page"
FILE_BATCH = ("vector_store.files_batch", "vector_store.file_batch")  # the spec uses both spellings
# Kinds of answers that carry no id of their own; every other object must have a string id.
# A vector store's, file's or batch's id, as OpenAI makes them: what the API takes in paths and believes in answers.
OBJECT_ID = r"[A-Za-z0-9_-]{1,128}"
OBJECT_ID_PATTERN = re.compile(OBJECT_ID)
UNNAMED_KINDS = ("list", "vector_store.search_results.page", FILE_CONTENT_PAGE)


class ClientCache:
    """One SDK client per credential, shared by all requests so connections are pooled, and its
    `PlainReads` (keep-alive connections of their own, or the SDK client's pool behind a proxy).

    A client is rebuilt when the credential's key, base URL, organization or project
    changes. Timeouts and retries are applied per call by `request`, not by the SDK.
    At most CLIENT_CACHE_SIZE clients are kept, the least recently used dropped first, and a deleted
    credential's at once: a dropped client's connections close when the last call using it ends.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._clients = collections.OrderedDict()  # credential pk -> (fingerprint, client, plain reads)

    def get(self, credential: Credential) -> openai.OpenAI:
        return self._cached(credential)[1]

    def plain(self, credential: Credential) -> PlainReads:
        return self._cached(credential)[2]

    def _cached(self, credential):
        check_usable(credential)  # the backstop: whoever calls, an unusable key is never sent
        fingerprint = self._fingerprint(credential)
        with self._lock:
            cached = self._clients.get(credential.pk)
            if cached is not None and cached[0] == fingerprint:
                self._clients.move_to_end(credential.pk)
                return cached
            self._clients.pop(credential.pk, None)
            while self._clients and len(self._clients) >= app_settings.CLIENT_CACHE_SIZE:
                self._clients.popitem(last=False)
            http = PooledHttpClient()  # held here for PlainReads behind a proxy
            client = openai.OpenAI(
                api_key=credential.api_key,
                # Never None, which would let the SDK take OPENAI_BASE_URL from the environment.
                base_url=credential.endpoint,
                organization=credential.organization or None,
                project=credential.project or None,
                max_retries=0,
                http_client=http,
            )
            cached = self._clients[credential.pk] = (fingerprint, client, PlainReads(client, http))
        return cached

    def forget(self, credential_pk) -> None:
        """Drop the client of a credential that is gone (its key with it)."""
        with self._lock:
            self._clients.pop(credential_pk, None)

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()

    @staticmethod
    def _fingerprint(credential):
        parts = (credential.api_key, credential.base_url, credential.organization, credential.project)
        # A digest, so the cache's keys never hold the API key in clear text.
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class PooledHttpClient(openai.DefaultHttpxClient):
    """The SDK's default HTTP client, set for answers that may be hostile:

    - verified with the one TLS context of every call to OpenAI (`tls_context`);
    - following no redirect, which could take a request (its body, if not its key) to a host the allow-list
      never admitted;
    - asking for answers as they are, and refusing one that is encoded anyway or longer than
      MAX_SDK_ANSWER_BYTES (plain_reads), so that no answer can make a worker hold gigabytes.

    Its pool closes when a replaced client is collected (as the SDK's own wrapper does; given as `http_client`,
    the SDK leaves closing it to us)."""

    def __init__(self):
        super().__init__(
            verify=tls_context(),
            follow_redirects=False,
            headers={"Accept-Encoding": "identity"},
            event_hooks={"response": [refuse_long_answers]},
        )

    def __del__(self):
        with contextlib.suppress(Exception):
            if not self.is_closed:
                self.close()


clients = ClientCache()


def forget_deleted_credential(sender, instance, **kwargs):
    """post_delete of a Credential: this process drops its client at once. Other processes keep theirs until
    it is the least recently used (never using it: every call reads its credential first)."""
    clients.forget(instance.pk)


def check_usable(credential: Credential) -> None:
    """Refuse a credential whose key must not be sent: undecryptable (it loads as ""), or bound for a
    host the allow-list no longer admits. Callers ask first (the API before it reads a body, the console
    before it shows a page); `ClientCache` asks again before it hands out a client, so no call can skip it."""
    if not credential.api_key_readable:
        raise KeyUnreadable()
    if not credential.endpoint_allowed:
        raise EndpointRefused()


def map_openai_error(exc):
    """The gateway's error for an exception raised by the SDK."""
    if isinstance(exc, openai.APITimeoutError):
        return OpenAITimeout()
    if isinstance(exc, openai.APIConnectionError):
        return OpenAIUnreachable()
    if isinstance(exc, AnswerTooLong):
        return OpenAIBadResponse(str(exc))
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code < 400:  # a redirect, which is not followed, or a status no call expects
            return OpenAIBadResponse(
                f"OpenAI answered {exc.status_code}, which this server does not follow.", response=exc.response
            )
        body = json_or_none(exc.response)
        if exc.status_code < 500 and isinstance(body, dict) and _upstream_message(body) is _MALFORMED:
            return OpenAIBadResponse("OpenAI sent an error this server cannot read.", response=exc.response)
        message = _upstream_message(body)
        message = upstream_text(exc.response, message) if isinstance(message, str) else ""
        if exc.status_code == 401:
            message = "OpenAI rejected the credential's API key."  # its message echoes part of the key
        elif exc.status_code >= 500:
            message = f"OpenAI failed ({exc.status_code})" + (f": {message}" if message else ".")
        else:
            message = message or f"OpenAI answered {exc.status_code}."
        kind = OpenAINotFound if exc.status_code == 404 else OpenAIStatusError
        return kind(message, response=exc.response, retry_after=_retry_after_header(exc.response.headers))
    return OpenAIBadResponse()


def sent_key(exc):
    """The API key the failed request carried (whatever its shape), so that an echo of it can be redacted."""
    request = getattr(getattr(exc, "response", None), "request", None) or getattr(exc, "request", None)
    return key_sent_with(request)


def _retry_after_header(headers):
    wait = _suggested_wait(headers)
    return None if wait is None else str(max(1, math.ceil(wait)))


_MALFORMED = object()


def _upstream_message(body):
    """OpenAI's error message from an error body ({"error": {"message": ...}}): the text, None when the
    body has none, or _MALFORMED when it claims to be an error but not in OpenAI's shape."""
    if not isinstance(body, dict) or "error" not in body:
        return None
    error = body["error"]
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return _MALFORMED
    return error["message"]


def _suggested_wait(headers):
    """Seconds OpenAI asks us to wait (retry-after-ms, else retry-after), or None."""
    for name, scale in (("retry-after-ms", 1000), ("retry-after", 1)):
        with contextlib.suppress(TypeError, ValueError):
            seconds = float(headers.get(name)) / scale
            if 0 <= seconds < math.inf:
                return seconds
    return None


class Retry:
    """Which failures a call may be retried after."""

    # Reads, modify, delete, search, polling, cancel: repeating them changes nothing.
    IDEMPOTENT = "idempotent"
    # Creates: only when OpenAI certainly did not act (no connection made, or a 429
    # rejection). Never after a lost answer, which would create a duplicate.
    CREATE = "create"


RETRYABLE_STATUSES = {408, 409, 429, 500, 502, 503, 504}
POLL_AFTER_MS_PATTERN = re.compile(r"[0-9]{1,8}")  # up to a day (86,400,000 ms) and a little more
MIN_ATTEMPT_SECONDS = 1.0
BACKOFF_BASE, BACKOFF_MAX = 0.5, 8.0


@dataclass
class Answer:
    data: dict
    raw: Any  # the answer as read (an SDK raw response, or a plain read's)

    @property
    def headers(self):
        return self.raw.headers

    @property
    def poll_after_ms(self):
        return poll_after_ms(self.headers)


def poll_after_ms(headers):
    """OpenAI's suggested wait before the next poll (`openai-poll-after-ms`), in milliseconds; None when it
    suggests none, or none to believe: a header of another form (negative, a line break, past a day) is
    neither slept on nor passed on."""
    value = headers.get("openai-poll-after-ms")
    if isinstance(value, str) and POLL_AFTER_MS_PATTERN.fullmatch(value):
        return int(value)
    return None


def request(method, *args, expect, about=None, in_store=None, retry=Retry.IDEMPOTENT, **kwargs):
    """Call one SDK `with_raw_response` method, retrying as `retry` allows within TIMEOUT.

    Returns the JSON object and headers of the answer; raises an OpenAIError otherwise, OpenAIBadResponse
    for an answer that is not an object of the kind `expect` names (nor, with `about`, the object of that id;
    nor, with `in_store`, of that vector store or a list of its objects).
    TIMEOUT bounds the whole call, retries and their waits included, so a caller
    never waits much longer than TIMEOUT for an answer.
    """
    deadline = time.monotonic() + app_settings.TIMEOUT
    retries = app_settings.MAX_RETRIES if retry == Retry.IDEMPOTENT else app_settings.CREATE_MAX_RETRIES
    for attempt in itertools.count():
        try:
            raw = method(*args, timeout=max(deadline - time.monotonic(), 0.001), **kwargs)
        except openai.OpenAIError as exc:
            wait = _retry_wait(exc, attempt, retry)
            # A retry needs time for a fair attempt after its wait; one starved of time would only
            # time out and hide the real fault behind a 504.
            fair_attempt = min(MIN_ATTEMPT_SECONDS, app_settings.TIMEOUT / 2)
            if wait is None or attempt >= retries or time.monotonic() + wait + fair_attempt >= deadline:
                raise map_openai_error(exc) from exc
            logger.info("Retrying %s in %.2fs after: %s", _operation_name(method), wait, redact(exc, [sent_key(exc)]))
            time.sleep(wait)
            continue
        return Answer(_answer_json(raw, expect, about, in_store), raw)


def _answer_json(raw, expect, about, in_store):
    """The answer's JSON object, checked to be the kind of object `expect` names (and the one `about` names,
    of the store `in_store` names)."""
    try:
        data = strict_json.loads(raw.content)
    except ValueError:  # not JSON, not text, or not to be sent on (NaN, a lone surrogate)
        data = None
    kinds = (expect,) if isinstance(expect, str) else expect
    if (
        not isinstance(data, dict)
        or data.get("object") not in kinds
        or (data.get("object") == "list" and not _is_list_of_objects(data.get("data")))
        or (data.get("object") not in UNNAMED_KINDS and not is_object_id(data.get("id")))
        or (about is not None and data.get("id") != about)
        or (in_store is not None and not _of_store(data, in_store))
    ):
        raise OpenAIBadResponse(response=raw.http_response)
    return data


def _of_store(data, store_id):
    """Whether the object (or each object of a list) is of the vector store `store_id` (`vector_store_id`, which
    OpenAI's vector store files and file batches always carry)."""
    objects = data["data"] if data.get("object") == "list" else [data]
    return all(item.get("vector_store_id") == store_id for item in objects)


def _is_list_of_objects(items):
    return isinstance(items, list) and all(isinstance(item, dict) and is_object_id(item.get("id")) for item in items)


def is_object_id(value):
    # An id goes into URLs (the API's Location and Link headers, the console's links, OpenAI's own paths).
    return isinstance(value, str) and OBJECT_ID_PATTERN.fullmatch(value) is not None


def _retry_wait(exc, attempt, retry):
    """Seconds to wait before retrying after `exc`, or None when it must not be retried."""
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code not in RETRYABLE_STATUSES or (retry == Retry.CREATE and exc.status_code != 429):
            return None
        suggested = _suggested_wait(exc.response.headers)
        if suggested is not None:
            return suggested
    elif isinstance(exc, openai.APIConnectionError):
        # A create is retried only if the connection was never made, so OpenAI never saw it.
        if retry == Retry.CREATE and not isinstance(exc.__cause__, httpx2.ConnectError):
            return None
    else:
        return None
    return min(BACKOFF_BASE * 2**attempt, BACKOFF_MAX) * random.uniform(0.75, 1.0)


def _operation_name(method):
    return getattr(method, "__qualname__", repr(method))


def call(method, *args, **kwargs):
    return request(method, *args, **kwargs).data


def only_given(**params):
    """Only the parameters the caller gave, so the SDK omits the rest."""
    return {name: value for name, value in params.items() if value is not None}
