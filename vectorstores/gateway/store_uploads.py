"""Uploading files into a vector store: concurrent uploads, one file batch, and cleanup on failure.

The promise: when the request fails, every OpenAI File it created that did not end
up in the store is deleted (or, if even that fails, named in the error and the log).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.core.cache import cache

from ..conf import app_settings
from .client import OpenAIObject, Retry, call, clients, only_given
from .exceptions import BatchEnded, BatchTimeout, GatewayError, OpenAIBadResponse, OpenAINotFound
from .file_batches import batch_file_states, batch_succeeded, create_file_batch, wait_for_batch
from .operations import delete_file, get_vector_store, run_concurrently

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
        return {
            "filename": self.filename,
            "id": self.file_id,
            "status": self.status,
            "error": error,
            "file_deleted": self.file_deleted,
        }


class InFlightFiles:
    """File ids that upload requests have created, across every process that shares the default cache (Redis,
    for a site of several instances; this process alone with Django's local cache).

    Finding the File of an upload whose answer was lost means looking at recent Files by name and size;
    a claim keeps another request's identical file from being taken. A claim is one atomic `cache.add`,
    kept for CLAIM_SECONDS, past the end of its request: a request that began before another one's File
    was made may still be looking for its own until it ends.

    A cache that fails (Redis down; Django's backends share no error class, so any error of the cache
    counts) never fails an upload: a File this request created stays its own, unclaimed, and a File found
    by name and size is not taken.
    """

    CLAIM_SECONDS = 6 * 3600
    PREFIX = "vectorstores:upload-claim:"

    def claim_created(self, file_id):
        """Claim a File this request created."""
        try:
            cache.add(self.PREFIX + file_id, True, self.CLAIM_SECONDS)
        except Exception as error:
            logger.warning("Could not claim OpenAI file %s in the cache: %r", file_id, error)

    def claim_found(self, file_id):
        """Claim a File found by name and size: False when another request holds it, or the cache fails."""
        try:
            return cache.add(self.PREFIX + file_id, True, self.CLAIM_SECONDS)
        except Exception as error:
            logger.warning("Could not claim OpenAI file %s in the cache, so it is not taken: %r", file_id, error)
            return False


in_flight = InFlightFiles()


class FileRecords(Protocol):
    """The caller's records of whose each File is (vectorstores.ownership.UploadRecords), kept as an upload goes."""

    def knows(self, file_id: str) -> bool:
        """Whether the File is recorded as someone's: never taken for an upload whose answer was lost."""

    def made(self, file: OpenAIObject) -> bool:
        """Record a File this upload made, as soon as OpenAI has answered with it: from then on every process
        knows it is someone's. False when the records already hold its id: OpenAI's answer named a File that
        is not new, and is not believed. Called in the request's thread."""


@dataclass
class LostUploadSearch:
    """How the File of an upload whose answer was lost is looked for: made since `started` (a time.time()), and
    not one `records` knows."""

    started: float
    records: FileRecords


@dataclass
class StoreUpload:
    """What an upload made: the OpenAI File objects, and the batch that attaches them (final, or as created)."""

    files: list[OpenAIObject]
    batch: OpenAIObject


def upload_files_to_store(
    credential: Credential,
    store_id: str,
    uploads: Sequence[TemporaryUploadedFile],
    *,
    chunking_strategy: dict[str, Any] | None = None,
    attributes: Sequence[dict[str, Any] | None] | None = None,
    wait: bool = True,
    records: FileRecords,
) -> StoreUpload:
    """Upload `uploads` (Django TemporaryUploadedFiles, on disk) concurrently and attach them in one file
    batch, each with its `attributes` (in the order of `uploads`), then (with `wait`) wait for it.

    On any failure raises a GatewayError whose body reports every file, after deleting the File
    objects this request created that did not end up in the store. Without `wait`, what happens once
    the batch exists is OpenAI's: the caller follows the batch. `records`: the caller's records of Files,
    told of each File as soon as it is made, and asked before a File is taken for a lost upload.
    """
    get_vector_store(credential, store_id)  # a missing store is a 404 before anything is uploaded
    started = time.time()
    outcomes = [FileOutcome(upload.name, upload.size) for upload in uploads]
    return _upload_and_attach(
        credential,
        store_id,
        uploads,
        outcomes,
        LostUploadSearch(started, records),
        chunking_strategy,
        attributes or [None] * len(uploads),
        wait,
    )


def upload_file(
    credential: Credential,
    upload: TemporaryUploadedFile,
    *,
    expires_after: dict[str, Any] | None = None,
    records: FileRecords,
) -> OpenAIObject:
    """Upload one file as an OpenAI File (purpose `assistants`), as OpenAI's `POST /files` does.

    When the upload fails after OpenAI may have stored the file (its answer lost), that File is looked for
    and deleted before the GatewayError is raised: a failed upload leaves nothing behind. So is a File that
    cannot be recorded (`records`, as for upload_files_to_store).
    """
    search = LostUploadSearch(time.time(), records)
    outcome = FileOutcome(upload.name, upload.size)
    _upload_one(clients.get(credential), upload, outcome, **only_given(expires_after=expires_after))
    if outcome.file:
        try:
            _record_made_file(outcome, records)
        except Exception:
            _delete_files(credential, [outcome])  # a fault of this server's: no File is left that nobody owns
            raise
    if outcome.status == "upload_failed":
        _find_lost_uploads(credential, [outcome], search)
        _delete_files(credential, [outcome])
        failed = outcome.error.with_report()
        failed.files_made = [outcome.file_id] if outcome.file else []  # its lost File, found (and deleted)
        raise failed
    return outcome.file


def _batch_fields(outcomes, chunking_strategy, attributes):
    """The batch's body: plain file_ids, or (when some file has attributes) one entry per file, since
    OpenAI ignores the batch-wide chunking_strategy and attributes of a batch given per-file entries."""
    if not any(attributes):
        return {"file_ids": [outcome.file_id for outcome in outcomes], "chunking_strategy": chunking_strategy}
    return {
        "files": [
            {"file_id": outcome.file_id, **only_given(attributes=file_attributes, chunking_strategy=chunking_strategy)}
            for outcome, file_attributes in zip(outcomes, attributes, strict=True)
        ]
    }


def _upload_and_attach(credential, store_id, uploads, outcomes, search, chunking_strategy, attributes, wait):
    _upload_files(clients.get(credential), uploads, outcomes, search.records, credential)
    failed = [outcome for outcome in outcomes if outcome.status == "upload_failed"]
    if failed:
        _find_lost_uploads(credential, outcomes, search)
        _delete_files(credential, outcomes)
        raise _upload_error(failed[0].error, f"{len(failed)} of {len(outcomes)} files could not be uploaded", outcomes)

    try:
        created = create_file_batch(credential, store_id, **_batch_fields(outcomes, chunking_strategy, attributes))
        if not wait:
            return StoreUpload([outcome.file for outcome in outcomes], created.data)
        batch, timed_out = wait_for_batch(credential, store_id, created.data, created.headers)
    except GatewayError as error:
        # The batch may exist (its answer lost) or still run: deleting the Files detaches them too.
        _delete_files(credential, outcomes)
        raise _upload_error(error, "The files could not be added to the vector store", outcomes) from error
    except Exception:
        _delete_files(credential, outcomes)  # a fault of this server's: no File is left behind for it either
        raise

    if batch_succeeded(batch):
        for outcome in outcomes:
            outcome.status = "completed"
        return StoreUpload([outcome.file for outcome in outcomes], batch)

    _settle_unfinished_batch(credential, store_id, batch, outcomes)
    unattached = sum(outcome.status != "completed" for outcome in outcomes)
    error = BatchTimeout(app_settings.POLL_TIMEOUT) if timed_out else BatchEnded(batch.get("status"))
    raise _upload_error(error, f"{unattached} of {len(outcomes)} files were not added", outcomes)


def _upload_error(error, summary, outcomes):
    leftovers = [o.file_id for o in outcomes if o.file and o.status != "completed" and not o.file_deleted]
    message = f"{summary}: {error}"
    if leftovers:
        message += f" Cleanup failed; these OpenAI files may remain: {', '.join(leftovers)}."
    failed = error.with_report(message, files=[outcome.report() for outcome in outcomes])
    failed.files_made = [outcome.file_id for outcome in outcomes if outcome.file]
    failed.files_left = [outcome.file for outcome in outcomes if outcome.file and not outcome.file_deleted]
    failed.files_in_store = [outcome.file_id for outcome in outcomes if outcome.status == "completed"]
    return failed


def _upload_files(client, uploads, outcomes, records, credential):
    """Upload concurrently, telling `records` of each File as soon as it is made (in this thread)."""
    workers = max(1, min(app_settings.UPLOAD_CONCURRENCY, len(uploads)))
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-upload") as pool:
            futures = [
                pool.submit(_upload_one, client, upload, outcome)
                for upload, outcome in zip(uploads, outcomes, strict=True)
            ]
            try:
                for future in as_completed(futures):
                    if future.cancelled():
                        continue
                    outcome = future.result()
                    if outcome.file:
                        _record_made_file(outcome, records)  # which may find it is no new File: then it failed
                    if outcome.status == "upload_failed":
                        _cancel(futures)  # the request fails anyway: start no upload only to delete it again
            except Exception:
                _cancel(futures)  # leaving the pool waits for the uploads already running
                raise
    except Exception:
        _delete_files(credential, outcomes)  # a fault of this server's: no File is left that nobody owns
        raise


def _record_made_file(outcome, records):
    """Tell `records` of the File an upload made: from now on every process knows whose File it is. An answer
    naming a File they already hold is not believed: that File is someone's, never this upload's to attach,
    report or delete, and the upload failed."""
    if not records.made(outcome.file):
        outcome.file = None
        outcome.status = "upload_failed"
        outcome.error = OpenAIBadResponse("OpenAI answered an upload with the id of a File that is not new.")


def _cancel(futures):
    for future in futures:
        future.cancel()


def _upload_one(client, upload, outcome, **fields):
    """Upload one file, streamed from its temporary file on disk (never copied into memory); `fields`: more
    of OpenAI's upload fields (expires_after)."""

    def create_file(**options):
        stream.seek(0)  # a retried attempt sends the file from its start again
        return client.files.with_raw_response.create(
            file=(upload.name, stream), purpose="assistants", **fields, **options
        )

    try:
        with open(upload.temporary_file_path(), "rb") as stream:
            file = call(create_file, retry=Retry.CREATE, expect="file")
        in_flight.claim_created(file["id"])
        outcome.file, outcome.status = file, "uploaded"
    except GatewayError as error:
        outcome.status, outcome.error = "upload_failed", error
    return outcome


def _find_lost_uploads(credential, outcomes, search):
    """Find the Files of uploads whose answer was lost, so that the cleanup deletes them too.

    A match is a File created since the request began, with the same name, size and purpose, that is
    neither known (`search.records`) nor claimed by another request.
    """
    lost = [o for o in outcomes if o.status == "upload_failed" and o.error.code in ANSWER_MAY_BE_LOST]
    if not lost:
        return
    try:
        recent = call(
            clients.get(credential).files.with_raw_response.list,
            purpose="assistants",
            order="desc",
            limit=100,
            expect="list",
        )["data"]
    except GatewayError as error:
        logger.error(
            "Could not look for the files of lost upload answers (%s): %s", ", ".join(o.filename for o in lost), error
        )
        return
    for outcome in lost:
        for file in recent:
            if (
                file.get("filename") == outcome.filename
                and file.get("bytes") == outcome.size
                and (file.get("created_at") or 0) >= search.started - LOST_UPLOAD_CLOCK_SLACK
                and not search.records.knows(file["id"])
                and in_flight.claim_found(file["id"])
            ):
                outcome.file = file
                break


def _settle_unfinished_batch(credential, store_id, batch, outcomes):
    """Record each file's final state; delete the files that did not complete."""
    states = batch_file_states(credential, store_id, batch)
    for outcome in outcomes:
        if outcome.file_id in states:
            outcome.status, outcome.error = states[outcome.file_id].status, states[outcome.file_id].error
    unfinished = [outcome for outcome in outcomes if outcome.status != "completed"]
    for outcome in unfinished:
        if outcome.status == "uploaded":
            outcome.status = batch.get("status", "unknown")
    _delete_files(credential, unfinished)


def _delete_files(credential, outcomes):
    """Delete the OpenAI Files of `outcomes`, concurrently; deleting a File also detaches it from every store."""

    def delete(outcome):
        try:
            delete_file(credential, outcome.file_id)
            outcome.file_deleted = True
        except OpenAINotFound:
            outcome.file_deleted = True  # already gone
        except GatewayError as error:
            logger.error("Could not delete OpenAI file %s left by a failed upload: %s", outcome.file_id, error)

    run_concurrently(delete, [outcome for outcome in outcomes if outcome.file], app_settings.DELETE_CONCURRENCY)
