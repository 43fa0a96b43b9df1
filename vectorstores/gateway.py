"""The one module that talks to OpenAI.

It owns the SDK client cache, timeouts and retries, and the mapping of upstream
faults to the API's errors (`UpstreamError`). Objects pass through exactly as
OpenAI sends them: every call reads the raw JSON answer instead of the SDK's
parsed models, so no field is dropped, renamed or added on the way.
"""
import contextlib
import hashlib
import itertools
import logging
import math
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import httpx2
import openai
from rest_framework import status

from .conf import app_settings
from .exceptions import UpstreamError

logger = logging.getLogger(__name__)

UPSTREAM_PAGE_SIZE = 100  # OpenAI's largest page for vector store lists
# The "object" of each kind of answer; anything else is an answer we cannot trust (502).
VECTOR_STORE = "vector_store"
VECTOR_STORE_FILE_DELETED = "vector_store.file.deleted"
FILE_BATCH = ("vector_store.files_batch", "vector_store.file_batch")  # the spec uses both spellings
API_KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_*.\-]{3,}")


def redact(text):
    """`text` with anything shaped like an OpenAI API key (even a masked one) removed."""
    return API_KEY_PATTERN.sub("sk-***", str(text))


# --- clients -----------------------------------------------------------------


class ClientCache:
    """One SDK client per credential, shared by all requests so connections are pooled.

    A client is rebuilt when the credential's key, base URL, organization or project
    changes. Timeouts and retries are applied per call by `_request`, not by the SDK.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._clients = {}  # credential pk -> (fingerprint, client)

    def get(self, credential):
        fingerprint = self._fingerprint(credential)
        with self._lock:
            cached = self._clients.get(credential.pk)
            if cached is None or cached[0] != fingerprint:
                client = openai.OpenAI(
                    api_key=credential.api_key,
                    # None lets the SDK fall back to OPENAI_BASE_URL, then to api.openai.com.
                    base_url=credential.base_url or None,
                    organization=credential.organization or None,
                    project=credential.project or None,
                    max_retries=0,
                )
                cached = (fingerprint, client)
                self._clients[credential.pk] = cached
        return cached[1]

    def clear(self):
        with self._lock:
            self._clients.clear()

    @staticmethod
    def _fingerprint(credential):
        parts = (credential.api_key, credential.base_url, credential.organization, credential.project)
        # A digest, so the cache's keys never hold the API key in clear text.
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


clients = ClientCache()


# --- calls and error mapping ---------------------------------------------------

# OpenAI status -> (our status, our code). Other 4xx keep their status; 5xx become 502.
STATUS_MAP = {
    400: (status.HTTP_400_BAD_REQUEST, "openai_bad_request"),
    401: (status.HTTP_401_UNAUTHORIZED, "openai_invalid_api_key"),
    403: (status.HTTP_403_FORBIDDEN, "openai_permission_denied"),
    404: (status.HTTP_404_NOT_FOUND, "openai_not_found"),
    409: (status.HTTP_409_CONFLICT, "openai_conflict"),
    429: (status.HTTP_429_TOO_MANY_REQUESTS, "openai_rate_limited"),
}


def map_openai_error(exc):
    """The UpstreamError that answers the caller for an exception raised by the SDK."""
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamError("OpenAI did not answer in time.", status_code=504, code="openai_timeout")
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError("Could not connect to OpenAI.", status_code=502, code="openai_unreachable")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code in STATUS_MAP:
            status_code, code = STATUS_MAP[exc.status_code]
        elif exc.status_code < 500:
            status_code, code = exc.status_code, "openai_client_error"
        else:
            status_code, code = status.HTTP_502_BAD_GATEWAY, "openai_server_error"
        message = redact(_upstream_message(exc.body) or "")
        if exc.status_code == 401:
            detail = "OpenAI rejected the credential's API key."  # its message echoes part of the key
        elif exc.status_code >= 500:
            detail = f"OpenAI failed ({exc.status_code})" + (f": {message}" if message else ".")
        else:
            detail = message or f"OpenAI answered {exc.status_code}."
        return UpstreamError(
            detail, status_code=status_code, code=code,
            openai_request_id=exc.request_id, retry_after=_retry_after_header(exc.response.headers),
        )
    return UpstreamError("OpenAI sent an answer this server cannot read.", status_code=502, code="openai_bad_response")


def _retry_after_header(headers):
    wait = _suggested_wait(headers)
    return None if wait is None else str(max(1, math.ceil(wait)))


def _upstream_message(body):
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if isinstance(message, str):
            return message
    return None


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
BACKOFF_BASE, BACKOFF_MAX = 0.5, 8.0


@dataclass
class Answer:
    data: dict
    headers: dict


def _request(method, *args, retry=Retry.IDEMPOTENT, expect=None, **kwargs):
    """Call one SDK `with_raw_response` method, retrying as `retry` allows within TIMEOUT.

    Returns the JSON object and headers of the answer; raises UpstreamError otherwise.
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
            if wait is None or attempt >= retries or time.monotonic() + wait >= deadline:
                raise map_openai_error(exc) from exc
            logger.info("Retrying %s in %.2fs after: %s", _operation_name(method), wait, redact(exc))
            time.sleep(wait)
            continue
        return Answer(_answer_json(raw, expect), raw.headers)


def _answer_json(raw, expect):
    """The answer's JSON object, checked to be the kind of object `expect` names."""
    try:
        data = raw.http_response.json()
    except ValueError:
        data = None
    kinds = (expect,) if isinstance(expect, str) else expect or ()
    if not isinstance(data, dict) or (kinds and data.get("object") not in kinds) or (
        data.get("object") == "list" and not isinstance(data.get("data"), list)
    ):
        raise UpstreamError(
            "OpenAI sent an answer this server cannot read.",
            status_code=502, code="openai_bad_response", openai_request_id=raw.headers.get("x-request-id"),
        )
    return data


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


def _call(method, *args, **kwargs):
    return _request(method, *args, **kwargs).data


def _given(**params):
    """Only the parameters the caller gave, so the SDK omits the rest."""
    return {name: value for name, value in params.items() if value is not None}


# --- lists ---------------------------------------------------------------------


@dataclass
class Page:
    items: list
    has_more: bool
    first_id: str | None
    last_id: str | None


def _list(method, *args, paged, limit=None, order=None, after=None, before=None, **filters):
    """One page as asked for, or (unpaged) every object, bounded by LIST_MAX_ITEMS."""
    if paged:
        data = _call(method, *args, expect="list", **_given(limit=limit, order=order, after=after, before=before, **filters))
        return Page(data["data"], bool(data.get("has_more")), data.get("first_id"), data.get("last_id"))
    items, cursor, bound = [], None, app_settings.LIST_MAX_ITEMS
    while True:
        data = _call(method, *args, expect="list", **_given(limit=UPSTREAM_PAGE_SIZE, order=order, after=cursor, **filters))
        items.extend(data["data"])
        more = bool(data.get("has_more")) and bool(data["data"])
        if not more or len(items) >= bound:
            break
        cursor = data["data"][-1]["id"]
    truncated = len(items) > bound or (more and len(items) == bound)
    items = items[:bound]
    return Page(items, truncated, items[0]["id"] if items else None, items[-1]["id"] if items else None)


def list_vector_stores(credential, *, paged, **params):
    return _list(clients.get(credential).vector_stores.with_raw_response.list, paged=paged, **params)


def list_store_files(credential, store_id, *, paged, **params):
    return _list(clients.get(credential).vector_stores.files.with_raw_response.list, store_id, paged=paged, **params)


# --- vector stores -------------------------------------------------------------


def get_vector_store(credential, store_id):
    return _call(clients.get(credential).vector_stores.with_raw_response.retrieve, store_id, expect=VECTOR_STORE)


def create_vector_store(credential, fields):
    return _call(clients.get(credential).vector_stores.with_raw_response.create,
                 retry=Retry.CREATE, expect=VECTOR_STORE, **fields)


def update_vector_store(credential, store_id, fields):
    return _call(clients.get(credential).vector_stores.with_raw_response.update, store_id, expect=VECTOR_STORE, **fields)


def delete_vector_store(credential, store_id):
    return _call(clients.get(credential).vector_stores.with_raw_response.delete, store_id, expect="vector_store.deleted")


def search_store(credential, store_id, params):
    return _call(clients.get(credential).vector_stores.with_raw_response.search, store_id,
                 expect="vector_store.search_results.page", **params)


def check_connection(credential):
    """Raise UpstreamError unless OpenAI accepts the credential (the cheapest authenticated call)."""
    _call(clients.get(credential).vector_stores.with_raw_response.list, limit=1, expect="list")


# --- uploads -------------------------------------------------------------------


@dataclass
class FileOutcome:
    """What happened to one file of an upload request, for the answer and the cleanup."""

    filename: str
    file: dict | None = None  # the OpenAI File object, once uploaded
    status: str = "not_uploaded"
    error: UpstreamError | str | None = None
    file_deleted: bool = False

    @property
    def file_id(self):
        return self.file["id"] if self.file else None

    def report(self):
        error = self.error.body() if isinstance(self.error, UpstreamError) else self.error
        return {"filename": self.filename, "id": self.file_id, "status": self.status,
                "error": error, "file_deleted": self.file_deleted}


def upload_files_to_store(credential, store_id, uploads, chunking_strategy=None):
    """Upload `uploads` (Django TemporaryUploadedFiles, on disk) concurrently, attach them in one file batch and
    wait for it. Returns the OpenAI File objects. On any failure raises an UpstreamError whose
    body reports every file, after deleting the File objects that did not end up in the store.
    """
    get_vector_store(credential, store_id)  # a missing store is a 404 before anything is uploaded
    outcomes = _upload_files(clients.get(credential), uploads)
    failed = [outcome for outcome in outcomes if outcome.status == "upload_failed"]
    if failed:
        _delete_files(credential, [o for o in outcomes if o.file])
        raise _upload_error(failed[0].error, f"{len(failed)} of {len(outcomes)} files could not be uploaded", outcomes)

    try:
        batch = _call(
            clients.get(credential).vector_stores.file_batches.with_raw_response.create,
            store_id, file_ids=[o.file_id for o in outcomes], **_given(chunking_strategy=chunking_strategy),
            retry=Retry.CREATE, expect=FILE_BATCH,
        )
    except UpstreamError as error:
        _delete_files(credential, outcomes)
        raise _upload_error(error, "The files could not be attached to the vector store", outcomes) from error

    batch, timed_out = _wait_for_batch(credential, store_id, batch)
    counts = batch.get("file_counts") or {}
    if batch.get("status") == "completed" and not counts.get("failed") and not counts.get("cancelled"):
        for outcome in outcomes:
            outcome.status = "completed"
        return [outcome.file for outcome in outcomes]

    _settle_unfinished_batch(credential, store_id, batch, outcomes)
    unattached = sum(outcome.status != "completed" for outcome in outcomes)
    if timed_out:
        error = UpstreamError(
            f"OpenAI did not process the files within {app_settings.POLL_TIMEOUT:g} seconds; the batch was cancelled.",
            status_code=status.HTTP_504_GATEWAY_TIMEOUT, code="batch_timeout",
        )
    else:
        error = UpstreamError(
            f"OpenAI's file batch ended '{batch.get('status')}'",
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR, code=f"batch_{batch.get('status')}",
        )
    raise _upload_error(error, f"{unattached} of {len(outcomes)} files were not added", outcomes)


def _upload_error(error, summary, outcomes):
    leftovers = [o.file_id for o in outcomes if o.file and o.status != "completed" and not o.file_deleted]
    detail = f"{summary}: {error.detail}"
    if leftovers:
        detail += f" Cleanup failed; these OpenAI files may remain: {', '.join(leftovers)}."
    return error.with_extra(detail=detail, files=[outcome.report() for outcome in outcomes])


def _upload_files(client, uploads):
    outcomes = [FileOutcome(upload.name) for upload in uploads]
    workers = max(1, min(app_settings.UPLOAD_CONCURRENCY, len(uploads)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-upload") as pool:
        futures = [pool.submit(_upload_one, client, upload, outcome) for upload, outcome in zip(uploads, outcomes)]
        for future in as_completed(futures):
            if future.result().status == "upload_failed":
                # The request fails anyway: don't start uploads that would only be deleted again.
                for pending in futures:
                    pending.cancel()
    return outcomes


def _upload_one(client, upload, outcome):
    """Upload one file, streamed from its temporary file on disk (never copied into memory)."""

    def create_file(**options):
        stream.seek(0)  # a retried attempt sends the file from its start again
        return client.files.with_raw_response.create(file=(upload.name, stream), purpose="assistants", **options)

    try:
        with open(upload.temporary_file_path(), "rb") as stream:
            outcome.file = _call(create_file, retry=Retry.CREATE, expect="file")
        outcome.status = "uploaded"
    except UpstreamError as error:
        outcome.status, outcome.error = "upload_failed", error
    return outcome


def _wait_for_batch(credential, store_id, batch):
    """Poll the batch until it is final; on POLL_TIMEOUT cancel it. Returns (batch, timed_out)."""
    client = clients.get(credential)
    deadline = time.monotonic() + app_settings.POLL_TIMEOUT
    headers = {}
    while batch.get("status") == "in_progress":
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            with contextlib.suppress(UpstreamError):
                batch = _call(client.vector_stores.file_batches.with_raw_response.cancel, batch["id"],
                              vector_store_id=store_id, expect=FILE_BATCH)
            return batch, True
        time.sleep(min(_poll_interval(headers), remaining))
        answer = _request(client.vector_stores.file_batches.with_raw_response.retrieve, batch["id"],
                          vector_store_id=store_id, expect=FILE_BATCH)
        batch, headers = answer.data, answer.headers
    return batch, False


def _poll_interval(headers):
    """OpenAI's suggested wait (openai-poll-after-ms) when it sends one, else POLL_INTERVAL."""
    with contextlib.suppress(ValueError, TypeError):
        return int(headers.get("openai-poll-after-ms")) / 1000
    return app_settings.POLL_INTERVAL


def _settle_unfinished_batch(credential, store_id, batch, outcomes):
    """Record each file's final state; detach and delete the files that did not complete."""
    client = clients.get(credential)
    by_id = {outcome.file_id: outcome for outcome in outcomes}
    try:
        page = _list(client.vector_stores.file_batches.with_raw_response.list_files, batch["id"],
                     vector_store_id=store_id, paged=False)
        for vs_file in page.items:
            if vs_file.get("id") in by_id:
                outcome = by_id[vs_file["id"]]
                outcome.status = vs_file.get("status", "unknown")
                outcome.error = (vs_file.get("last_error") or {}).get("message")
    except UpstreamError as error:
        logger.warning("Could not read the files of batch %s: %s", batch.get("id"), error.detail)
    unfinished = [outcome for outcome in outcomes if outcome.status != "completed"]
    for outcome in unfinished:
        if outcome.status == "uploaded":
            outcome.status = batch.get("status", "unknown")
    _delete_files(credential, unfinished, store_id=store_id)


def _delete_files(credential, outcomes, store_id=None):
    """Delete the OpenAI Files of `outcomes` (detaching them from `store_id` first), concurrently."""
    client = clients.get(credential)

    def delete(outcome):
        try:
            if store_id:
                with contextlib.suppress(UpstreamError):  # not attached is fine: deleting the File detaches too
                    _call(client.vector_stores.files.with_raw_response.delete, outcome.file_id,
                          vector_store_id=store_id, expect=VECTOR_STORE_FILE_DELETED)
            _call(client.files.with_raw_response.delete, outcome.file_id, expect="file")
            outcome.file_deleted = True
        except UpstreamError as error:
            logger.error("Could not delete OpenAI file %s left by a failed upload: %s", outcome.file_id, error.detail)

    _run_concurrently(delete, [outcome for outcome in outcomes if outcome.file], app_settings.DELETE_CONCURRENCY)


def _run_concurrently(function, items, concurrency):
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items)))) as pool:
        return list(pool.map(function, items))


# --- removing files ------------------------------------------------------------


@dataclass
class Removal:
    file_id: str
    deleted: bool = False
    file_deleted: bool | None = None
    error: UpstreamError | None = field(default=None)

    def report(self):
        report = {"id": self.file_id, "object": "vector_store.file.deleted", "deleted": self.deleted}
        if self.file_deleted is not None:
            report["file_deleted"] = self.file_deleted
        if self.error:
            report["error"] = self.error.body()
        return report


def remove_files_from_store(credential, store_id, file_ids, *, delete_files=False):
    """Detach `file_ids` from the store concurrently, and with `delete_files` delete the Files too.

    Returns the per-file reports; raises an UpstreamError carrying them if any removal failed.
    """
    client = clients.get(credential)

    def remove(file_id):
        removal = Removal(file_id, file_deleted=False if delete_files else None)
        try:
            answer = _call(client.vector_stores.files.with_raw_response.delete, file_id,
                           vector_store_id=store_id, expect=VECTOR_STORE_FILE_DELETED)
            removal.deleted = bool(answer.get("deleted"))
            # Only a file this store held is deleted, so a typo can't delete another store's file.
            if delete_files and removal.deleted:
                removal.file_deleted = bool(_call(client.files.with_raw_response.delete, file_id, expect="file")["deleted"])
        except UpstreamError as error:
            removal.error = error
        return removal

    removals = _run_concurrently(remove, file_ids, app_settings.DELETE_CONCURRENCY)
    failed = [removal for removal in removals if removal.error]
    if failed:
        summary = f"{len(failed)} of {len(removals)} files could not be removed: {failed[0].error.detail}"
        raise failed[0].error.with_extra(detail=summary, files=[removal.report() for removal in removals])
    return [removal.report() for removal in removals]
