"""Uploading files into a vector store: concurrent uploads, one file batch, and cleanup on failure.

The promise: when the request fails, every OpenAI File it created that did not end
up in the store is deleted (or, if even that fails, named in the error and the log).
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..conf import app_settings
from ..redaction import redact
from .client import FILE_BATCH, OpenAIObject, Retry, call, clients, only_given, request
from .exceptions import BatchEnded, BatchTimeout, GatewayError, OpenAINotFound
from .operations import get_vector_store, list_pages, run_concurrently

if TYPE_CHECKING:
    from django.core.files.uploadedfile import TemporaryUploadedFile

    from credentials.models import Credential

logger = logging.getLogger("vectorstores.gateway")

# Codes of failures after which OpenAI may have stored the file although we never got its answer.
ANSWER_MAY_BE_LOST = {"openai_unreachable", "openai_timeout", "openai_bad_response", "openai_server_error"}
# How far back a lost upload's File object is looked for, in seconds before the upload began
# (OpenAI's created_at has a resolution of one second).
LOST_UPLOAD_CLOCK_SLACK = 2


@dataclass
class FileOutcome:
    """What happened to one file of an upload request, for the answer and the cleanup."""

    filename: str
    size: int
    file: dict | None = None  # the OpenAI File object, once uploaded
    status: str = "not_uploaded"
    error: GatewayError | str | None = None
    file_deleted: bool = False

    @property
    def file_id(self):
        return self.file["id"] if self.file else None

    def report(self):
        error = self.error.body() if isinstance(self.error, GatewayError) else self.error
        return {"filename": self.filename, "id": self.file_id, "status": self.status,
                "error": error, "file_deleted": self.file_deleted}


class InFlightFiles:
    """File ids that upload requests of this process created and still own.

    Finding the File of an upload whose answer was lost means looking at recent Files
    by name and size; this keeps another request's identical file from being taken.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._ids = set()

    def claim(self, file_id):
        with self._lock:
            if file_id in self._ids:
                return False
            self._ids.add(file_id)
            return True

    def release(self, file_ids):
        with self._lock:
            self._ids.difference_update(file_ids)


in_flight = InFlightFiles()


def upload_files_to_store(credential: Credential, store_id: str, uploads: Sequence[TemporaryUploadedFile],
                          chunking_strategy: dict[str, Any] | None = None) -> list[OpenAIObject]:
    """Upload `uploads` (Django TemporaryUploadedFiles, on disk) concurrently, attach them in one
    file batch and wait for it. Returns the OpenAI File objects.

    On any failure raises a GatewayError whose body reports every file, after deleting
    the File objects this request created that did not end up in the store.
    """
    get_vector_store(credential, store_id)  # a missing store is a 404 before anything is uploaded
    started = time.time()
    outcomes = [FileOutcome(upload.name, upload.size) for upload in uploads]
    try:
        return _upload_and_attach(credential, store_id, uploads, outcomes, chunking_strategy, started)
    finally:
        in_flight.release([outcome.file_id for outcome in outcomes if outcome.file])


def _upload_and_attach(credential, store_id, uploads, outcomes, chunking_strategy, started):
    _upload_files(clients.get(credential), uploads, outcomes)
    failed = [outcome for outcome in outcomes if outcome.status == "upload_failed"]
    if failed:
        _find_lost_uploads(credential, outcomes, started)
        _delete_files(credential, outcomes)
        raise _upload_error(failed[0].error, f"{len(failed)} of {len(outcomes)} files could not be uploaded", outcomes)

    try:
        created = request(
            clients.get(credential).vector_stores.file_batches.with_raw_response.create,
            store_id, file_ids=[outcome.file_id for outcome in outcomes],
            **only_given(chunking_strategy=chunking_strategy), retry=Retry.CREATE, expect=FILE_BATCH,
        )
        batch, timed_out = _wait_for_batch(credential, store_id, created.data, created.headers)
    except GatewayError as error:
        # The batch may exist (its answer lost) or still run: deleting the Files detaches them too.
        _delete_files(credential, outcomes)
        raise _upload_error(error, "The files could not be added to the vector store", outcomes) from error

    counts = batch.get("file_counts") if isinstance(batch.get("file_counts"), dict) else {}
    if batch.get("status") == "completed" and not counts.get("failed") and not counts.get("cancelled"):
        for outcome in outcomes:
            outcome.status = "completed"
        return [outcome.file for outcome in outcomes]

    _settle_unfinished_batch(credential, store_id, batch, outcomes)
    unattached = sum(outcome.status != "completed" for outcome in outcomes)
    error = BatchTimeout(app_settings.POLL_TIMEOUT) if timed_out else BatchEnded(batch.get("status"))
    raise _upload_error(error, f"{unattached} of {len(outcomes)} files were not added", outcomes)


def _upload_error(error, summary, outcomes):
    leftovers = [o.file_id for o in outcomes if o.file and o.status != "completed" and not o.file_deleted]
    message = f"{summary}: {error}"
    if leftovers:
        message += f" Cleanup failed; these OpenAI files may remain: {', '.join(leftovers)}."
    return error.with_report(message, files=[outcome.report() for outcome in outcomes])


def _upload_files(client, uploads, outcomes):
    workers = max(1, min(app_settings.UPLOAD_CONCURRENCY, len(uploads)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-upload") as pool:
        futures = [pool.submit(_upload_one, client, upload, outcome) for upload, outcome in zip(uploads, outcomes)]
        for future in as_completed(futures):
            if not future.cancelled() and future.result().status == "upload_failed":
                # The request fails anyway: don't start uploads that would only be deleted again.
                for pending in futures:
                    pending.cancel()


def _upload_one(client, upload, outcome):
    """Upload one file, streamed from its temporary file on disk (never copied into memory)."""

    def create_file(**options):
        stream.seek(0)  # a retried attempt sends the file from its start again
        return client.files.with_raw_response.create(file=(upload.name, stream), purpose="assistants", **options)

    try:
        with open(upload.temporary_file_path(), "rb") as stream:
            file = call(create_file, retry=Retry.CREATE, expect="file")
        in_flight.claim(file["id"])
        outcome.file, outcome.status = file, "uploaded"
    except GatewayError as error:
        outcome.status, outcome.error = "upload_failed", error
    return outcome


def _find_lost_uploads(credential, outcomes, started):
    """Find the Files of uploads whose answer was lost, so that the cleanup deletes them too.

    A match is a File created since the request began, with the same name, size and
    purpose, that no request of this process owns.
    """
    lost = [o for o in outcomes if o.status == "upload_failed" and o.error.code in ANSWER_MAY_BE_LOST]
    if not lost:
        return
    try:
        recent = call(clients.get(credential).files.with_raw_response.list,
                      purpose="assistants", order="desc", limit=100, expect="list")["data"]
    except GatewayError as error:
        logger.error("Could not look for the files of lost upload answers (%s): %s",
                     ", ".join(o.filename for o in lost), error)
        return
    for outcome in lost:
        for file in recent:
            if (file.get("filename") == outcome.filename and file.get("bytes") == outcome.size
                    and (file.get("created_at") or 0) >= started - LOST_UPLOAD_CLOCK_SLACK
                    and in_flight.claim(file["id"])):
                outcome.file = file
                break


def _wait_for_batch(credential, store_id, batch, headers):
    """Poll the batch until it is final; on POLL_TIMEOUT cancel it. Returns (batch, timed_out).

    Each wait is the one OpenAI's last answer suggests (openai-poll-after-ms), else POLL_INTERVAL.
    Until OpenAI has suggested one, the first poll goes at once (as the SDK's does): its answer
    carries the suggestion, and a batch done in a moment is not held for a whole POLL_INTERVAL.
    """
    client = clients.get(credential)
    deadline = time.monotonic() + app_settings.POLL_TIMEOUT
    otherwise = 0.0  # the wait before the first poll when the create answer suggests none
    while batch.get("status") == "in_progress":
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            with contextlib.suppress(GatewayError):
                batch = call(client.vector_stores.file_batches.with_raw_response.cancel, batch["id"],
                             vector_store_id=store_id, expect=FILE_BATCH)
            return batch, True
        time.sleep(min(_poll_interval(headers, otherwise), remaining))
        answer = request(client.vector_stores.file_batches.with_raw_response.retrieve, batch["id"],
                         vector_store_id=store_id, expect=FILE_BATCH)
        batch, headers, otherwise = answer.data, answer.headers, app_settings.POLL_INTERVAL
    return batch, False


def _poll_interval(headers, otherwise):
    """OpenAI's suggested wait (openai-poll-after-ms) when it sends one, else `otherwise` seconds."""
    with contextlib.suppress(ValueError, TypeError):
        return int(headers.get("openai-poll-after-ms")) / 1000
    return otherwise


def _settle_unfinished_batch(credential, store_id, batch, outcomes):
    """Record each file's final state; delete the files that did not complete."""
    client = clients.get(credential)
    by_id = {outcome.file_id: outcome for outcome in outcomes}
    try:
        page = list_pages(client.vector_stores.file_batches.with_raw_response.list_files, batch["id"],
                          vector_store_id=store_id, paged=False)
        for vs_file in page.items:
            if vs_file["id"] in by_id:
                outcome = by_id[vs_file["id"]]
                outcome.status = vs_file.get("status", "unknown")
                outcome.error = _last_error_message(vs_file, credential)
    except GatewayError as error:
        logger.warning("Could not read the files of batch %s: %s", batch.get("id"), error)
    unfinished = [outcome for outcome in outcomes if outcome.status != "completed"]
    for outcome in unfinished:
        if outcome.status == "uploaded":
            outcome.status = batch.get("status", "unknown")
    _delete_files(credential, unfinished)


def _last_error_message(vs_file, credential):
    """A vector store file's last_error message, redacted; None when OpenAI's answer has no such text."""
    last_error = vs_file.get("last_error")
    message = last_error.get("message") if isinstance(last_error, dict) else None
    return redact(message, [credential.api_key]) if isinstance(message, str) else None


def _delete_files(credential, outcomes):
    """Delete the OpenAI Files of `outcomes`, concurrently; deleting a File also detaches it from every store."""
    client = clients.get(credential)

    def delete(outcome):
        try:
            call(client.files.with_raw_response.delete, outcome.file_id, expect="file")
            outcome.file_deleted = True
        except OpenAINotFound:
            outcome.file_deleted = True  # already gone
        except GatewayError as error:
            logger.error("Could not delete OpenAI file %s left by a failed upload: %s", outcome.file_id, error)

    run_concurrently(delete, [outcome for outcome in outcomes if outcome.file], app_settings.DELETE_CONCURRENCY)
