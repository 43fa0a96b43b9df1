"""File batches: files (new or existing) attached to a store in one go, waited for or not."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..conf import app_settings
from ..redaction import redact
from .client import FILE_BATCH, Answer, OpenAIObject, Retry, call, clients, only_given, poll_after_ms, request
from .exceptions import BatchEnded, BatchTimeout, GatewayError
from .operations import Page, list_pages

if TYPE_CHECKING:
    from credentials.models import Credential

logger = logging.getLogger("vectorstores.gateway")

MIN_POLL_SECONDS = 0.05  # the shortest wait between two polls of a batch, whatever OpenAI suggests


def create_file_batch(
    credential: Credential,
    store_id: str,
    *,
    file_ids: list[str] | None = None,
    files: list[dict[str, Any]] | None = None,
    attributes: dict[str, Any] | None = None,
    chunking_strategy: dict[str, Any] | None = None,
) -> Answer:
    """Create a batch from `file_ids` (with the batch's `attributes` and `chunking_strategy`) or from `files`
    (each with its own). The answer's headers carry OpenAI's suggested poll interval."""
    return request(
        clients.get(credential).vector_stores.file_batches.with_raw_response.create,
        store_id,
        **only_given(file_ids=file_ids, files=files, attributes=attributes, chunking_strategy=chunking_strategy),
        retry=Retry.CREATE,
        expect=FILE_BATCH,
        in_store=store_id,
    )


def get_file_batch(credential: Credential, store_id: str, batch_id: str) -> OpenAIObject:
    return file_batch_answer(credential, store_id, batch_id).data


def file_batch_answer(credential: Credential, store_id: str, batch_id: str) -> Answer:
    """The file batch with the headers of OpenAI's answer (its poll interval, openai-poll-after-ms)."""
    return request(
        clients.plain(credential).get,
        "vector_stores",
        store_id,
        "file_batches",
        batch_id,
        expect=FILE_BATCH,
        about=batch_id,
        in_store=store_id,
    )


def cancel_file_batch(credential: Credential, store_id: str, batch_id: str) -> OpenAIObject:
    return call(
        clients.get(credential).vector_stores.file_batches.with_raw_response.cancel,
        batch_id,
        vector_store_id=store_id,
        expect=FILE_BATCH,
        about=batch_id,
        in_store=store_id,
    )


def list_batch_files(credential: Credential, store_id: str, batch_id: str, *, paged: bool, **params: Any) -> Page:
    return list_pages(
        clients.get(credential).vector_stores.file_batches.with_raw_response.list_files,
        batch_id,
        vector_store_id=store_id,
        paged=paged,
        in_store=store_id,
        **params,
    )


def attach_files_to_store(
    credential: Credential, store_id: str, files: list[dict[str, Any]], *, wait: bool = True
) -> OpenAIObject:
    """Attach existing Files (`[{"file_id", "attributes"?, "chunking_strategy"?}]`) in one batch.

    With `wait`, returns the batch once every file is processed; raises BatchEnded or BatchTimeout (the
    batch cancelled) reporting each file's state otherwise. The Files stay as they were: they are the
    caller's. Without `wait`, returns the batch as created.
    """
    created = create_file_batch(credential, store_id, files=files)
    if not wait:
        return created.data
    batch, timed_out = wait_for_batch(credential, store_id, created.data, created.headers)
    if batch_succeeded(batch):
        return batch
    states = batch_file_states(credential, store_id, batch)
    report = [
        {"id": entry["file_id"], **states.get(entry["file_id"], FileState(batch.get("status"))).report()}
        for entry in files
    ]
    error = BatchTimeout(app_settings.POLL_TIMEOUT) if timed_out else BatchEnded(batch.get("status"))
    unfinished = sum(item["status"] != "completed" for item in report)
    raise error.with_report(f"{unfinished} of {len(files)} files were not added: {error}", files=report)


def batch_succeeded(batch: OpenAIObject) -> bool:
    counts = batch.get("file_counts") if isinstance(batch.get("file_counts"), dict) else {}
    return batch.get("status") == "completed" and not counts.get("failed") and not counts.get("cancelled")


def wait_for_batch(
    credential: Credential, store_id: str, batch: OpenAIObject, headers: dict[str, str]
) -> tuple[OpenAIObject, bool]:
    """Poll the batch until it is final; on POLL_TIMEOUT cancel it. Returns (batch, timed_out).

    Each wait is the one OpenAI's last answer suggests (openai-poll-after-ms), else POLL_INTERVAL.
    Until OpenAI has suggested one, the first poll goes at once (as the SDK's does): its answer
    carries the suggestion, and a batch done in a moment is not held for a whole POLL_INTERVAL.
    """
    deadline = time.monotonic() + app_settings.POLL_TIMEOUT
    otherwise = 0.0  # the wait before the first poll when the create answer suggests none
    while batch.get("status") == "in_progress":
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            with contextlib.suppress(GatewayError):
                batch = cancel_file_batch(credential, store_id, batch["id"])
            return batch, True
        time.sleep(min(_poll_interval(headers, otherwise), remaining))
        answer = file_batch_answer(credential, store_id, batch["id"])
        batch, headers, otherwise = answer.data, answer.headers, app_settings.POLL_INTERVAL
    return batch, False


def _poll_interval(headers, otherwise):
    """OpenAI's suggested wait (openai-poll-after-ms) when it sends one, else `otherwise` seconds."""
    suggested = poll_after_ms(headers)
    if suggested is None:
        return otherwise
    # Not less than MIN_POLL_SECONDS: an upstream suggesting 0 would have each worker poll it without a pause.
    return max(suggested / 1000, MIN_POLL_SECONDS)


@dataclass
class FileState:
    """A file's state in a batch, as OpenAI reported it."""

    status: Any
    error: str | None = None

    def report(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error}


def batch_file_states(credential: Credential, store_id: str, batch: OpenAIObject) -> dict[str, FileState]:
    """{file_id: its state} for the files of a batch; empty (and logged) when they cannot be read."""
    try:
        page = list_batch_files(credential, store_id, batch["id"], paged=False)
    except GatewayError as error:
        logger.warning("Could not read the files of batch %s: %s", batch.get("id"), error)
        return {}
    return {
        vs_file["id"]: FileState(vs_file.get("status", "unknown"), last_error_message(vs_file, credential))
        for vs_file in page.items
    }


def last_error_message(vs_file: OpenAIObject, credential: Credential) -> str | None:
    """A vector store file's last_error message, redacted; None when OpenAI's answer has no such text."""
    last_error = vs_file.get("last_error")
    message = last_error.get("message") if isinstance(last_error, dict) else None
    return redact(message, [credential.api_key]) if isinstance(message, str) else None
