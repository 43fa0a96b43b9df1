"""In-memory objects of the fake, kept in exactly the shapes the API returns.

Derived fields (file counts, usage, statuses) are recomputed whenever a vector store file
changes, so the plain dicts that tests read stay consistent with what the API would answer.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import string
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .validation import DEFAULT_CHUNKING, invalid, normalize_chunking_strategy, not_found, query_choice, query_int

VS_FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")
_ID_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


def count_statuses(vs_files: Iterable[dict]) -> dict[str, int]:
    counts = dict.fromkeys(VS_FILE_STATUSES, 0)
    for vs_file in vs_files:
        counts[vs_file["status"]] += 1
    counts["total"] = sum(counts.values())
    return counts


@dataclass(frozen=True)
class _PendingBatch:
    """How an in-progress batch will end; fixed when the batch is created."""

    settle_at: float  # time.monotonic() deadline
    outcome: str
    failing_filenames: frozenset[str]


class FakeState:
    """All objects plus the knobs that steer processing. Callers hold `lock` while touching state."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.vector_stores: dict[str, dict] = {}
        self.files: dict[str, dict] = {}
        self.file_contents: dict[str, bytes] = {}
        self.vector_store_files: dict[tuple[str, str], dict] = {}
        self.file_batches: dict[str, dict] = {}
        self.batch_file_ids: dict[str, list[str]] = {}
        # (created_at, sequence) per object key; the sequence keeps ordering stable within one
        # second. Entries outlive deletion so a page cursor naming a deleted object still works.
        self._sort_keys: dict[Hashable, tuple[int, int]] = {}
        self._sequence = itertools.count()
        self._pending_batches: dict[str, _PendingBatch] = {}
        self._restore_knobs()

    def _restore_knobs(self) -> None:
        self.upload_delay = 0.0
        self.batch_processing_time = 0.0
        self.batch_outcome = "completed"
        self.failing_filenames: set[str] = set()
        self.poll_after_ms: int | None = None
        # Characters per page of a vector store file's parsed content (GET .../files/{id}/content);
        # None: the whole text on one page.
        self.content_page_chars: int | None = None

    def reset(self) -> None:
        with self.lock:
            for table in (
                self.vector_stores,
                self.files,
                self.file_contents,
                self.vector_store_files,
                self.file_batches,
                self.batch_file_ids,
                self._sort_keys,
                self._pending_batches,
            ):
                table.clear()
            self._restore_knobs()

    # --- seeding helpers (public; also used by the HTTP handlers) ---

    def create_vector_store(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        file_ids: Iterable[str] = (),
        metadata: dict | None = None,
        expires_after: dict | None = None,
        chunking_strategy: dict | None = None,
    ) -> dict:
        """Create a store; `file_ids` are processed at once (honouring `failing_filenames`).

        `description` is accepted like the API does but, as there, not part of the object.
        """
        strategy = normalize_chunking_strategy(chunking_strategy)
        with self.lock:
            created_at = now()
            store: dict[str, Any] = {
                "id": new_id("vs_", 24),
                "object": "vector_store",
                "created_at": created_at,
                "name": name or "",
                "usage_bytes": 0,
                "file_counts": count_statuses([]),
                "status": "completed",
                "last_active_at": created_at,
                "metadata": metadata or {},
                "expires_after": expires_after,
                "expires_at": None,
            }
            self.vector_stores[store["id"]] = store
            self._sort_keys[store["id"]] = self._next_sort_key(created_at)
            for file_id in dict.fromkeys(file_ids):
                self.process_file(store["id"], file_id, strategy, None)
            self.refresh_store(store["id"])
            return copy.deepcopy(store)

    def create_file(
        self,
        filename: str,
        content: bytes = b"fake file content",
        purpose: str = "assistants",
        *,
        expires_in: int | None = None,
    ) -> dict:
        with self.lock:
            created_at = now()
            file: dict[str, Any] = {
                "id": new_id("file-", 22),
                "object": "file",
                "bytes": len(content),
                "created_at": created_at,
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
                "status_details": None,
                "expires_at": created_at + expires_in if expires_in is not None else None,
            }
            self.files[file["id"]] = file
            self.file_contents[file["id"]] = content
            self._sort_keys[file["id"]] = self._next_sort_key(created_at)
            return copy.deepcopy(file)

    def attach_file(self, vs_id: str, file_id: str, status: str = "completed") -> dict:
        """Attach a file to a store with a fixed status, bypassing processing knobs."""
        if status not in VS_FILE_STATUSES:
            raise ValueError(f"status must be one of {VS_FILE_STATUSES}")
        with self.lock:
            error = {"code": "server_error", "message": "Seeded failure."} if status == "failed" else None
            vs_file = self._attach(vs_id, file_id, DEFAULT_CHUNKING, None)
            self._finish(vs_file, status, error)
            self.refresh_store(vs_id)
            return copy.deepcopy(vs_file)

    # --- lookups that answer 404 like the API ---

    def get_store(self, vs_id: str) -> dict:
        if vs_id not in self.vector_stores:
            raise not_found(f"No vector store found with id '{vs_id}'.")
        return self.vector_stores[vs_id]

    def get_file(self, file_id: str) -> dict:
        if file_id not in self.files:
            raise not_found(f"No such File object: {file_id}")
        return self.files[file_id]

    def get_vs_file(self, vs_id: str, file_id: str) -> dict:
        self.get_store(vs_id)
        if (vs_id, file_id) not in self.vector_store_files:
            raise not_found(f"No file found with id '{file_id}' in vector store '{vs_id}'.")
        return self.vector_store_files[(vs_id, file_id)]

    def get_batch(self, vs_id: str, batch_id: str) -> dict:
        self.get_store(vs_id)
        batch = self.file_batches.get(batch_id)
        if batch is None or batch["vector_store_id"] != vs_id:
            raise not_found(f"No file batch found with id '{batch_id}' in vector store '{vs_id}'.")
        return batch

    # --- mutations used by the handlers (caller holds the lock) ---

    def process_file(self, vs_id: str, file_id: str, strategy: dict, attributes: dict | None) -> dict:
        """Attach a file outside any batch: it finishes immediately."""
        vs_file = self._attach(vs_id, file_id, strategy, attributes)
        self._finish(vs_file, *self._result_for(file_id, frozenset(self.failing_filenames)))
        self.refresh_store(vs_id)
        return vs_file

    def create_batch(self, vs_id: str, entries: list[tuple[str, dict, dict | None]]) -> dict:
        """`entries` are (file_id, chunking strategy, attributes); files stay in progress until settled."""
        created_at = now()
        batch: dict[str, Any] = {
            "id": new_id("vsfb_", 24),
            "object": "vector_store.files_batch",
            "created_at": created_at,
            "vector_store_id": vs_id,
            "status": "in_progress",
            "file_counts": count_statuses([]),
        }
        self.file_batches[batch["id"]] = batch
        self.batch_file_ids[batch["id"]] = list(dict.fromkeys(file_id for file_id, _, _ in entries))
        self._sort_keys[batch["id"]] = self._next_sort_key(created_at)
        for file_id, strategy, attributes in entries:
            self._attach(vs_id, file_id, strategy, attributes)
        self._pending_batches[batch["id"]] = _PendingBatch(
            time.monotonic() + self.batch_processing_time, self.batch_outcome, frozenset(self.failing_filenames)
        )
        self.refresh_batch(batch["id"])
        self.refresh_store(vs_id)
        self.settle_due_batches()  # with no processing time the batch is final right away
        return batch

    def settle_due_batches(self) -> None:
        """Give every batch whose processing time has elapsed its final state (called on each request)."""
        clock = time.monotonic()
        for batch_id, pending in list(self._pending_batches.items()):
            if clock >= pending.settle_at:
                del self._pending_batches[batch_id]
                for vs_file in self._batch_vs_files(batch_id, status="in_progress"):
                    if pending.outcome == "failed":
                        self._finish(vs_file, "failed", {"code": "server_error", "message": "Processing failed."})
                    else:
                        self._finish(vs_file, *self._result_for(vs_file["id"], pending.failing_filenames))
                self._close_batch(batch_id, pending.outcome)

    def cancel_batch(self, batch_id: str) -> None:
        """Cancel a batch still in progress; a final batch is left as it is."""
        if self._pending_batches.pop(batch_id, None) is None:
            return
        for vs_file in self._batch_vs_files(batch_id, status="in_progress"):
            self._finish(vs_file, "cancelled", None)
        self._close_batch(batch_id, "cancelled")

    def touch_store(self, vs_id: str) -> None:
        self.vector_stores[vs_id]["last_active_at"] = now()
        self.refresh_store(vs_id)

    def detach(self, vs_id: str, file_id: str) -> None:
        del self.vector_store_files[(vs_id, file_id)]
        self.refresh_store(vs_id)
        for batch_id, batch in self.file_batches.items():
            if batch["vector_store_id"] == vs_id and file_id in self.batch_file_ids[batch_id]:
                self.refresh_batch(batch_id)

    def delete_file(self, file_id: str) -> None:
        """Delete a File and, like the API, remove it from every vector store."""
        del self.files[file_id]
        del self.file_contents[file_id]
        for vs_id, attached_id in [key for key in self.vector_store_files if key[1] == file_id]:
            self.detach(vs_id, attached_id)

    def delete_vector_store(self, vs_id: str) -> None:
        """Drop the store with its vector store files and batches; File objects stay."""
        del self.vector_stores[vs_id]
        for key in [key for key in self.vector_store_files if key[0] == vs_id]:
            del self.vector_store_files[key]
        for batch_id in [
            batch_id for batch_id, batch in self.file_batches.items() if batch["vector_store_id"] == vs_id
        ]:
            del self.file_batches[batch_id], self.batch_file_ids[batch_id]
            self._pending_batches.pop(batch_id, None)

    def refresh_store(self, vs_id: str) -> None:
        store = self.vector_stores[vs_id]
        vs_files = [vs_file for (owner, _), vs_file in self.vector_store_files.items() if owner == vs_id]
        store["file_counts"] = count_statuses(vs_files)
        store["usage_bytes"] = sum(vs_file["usage_bytes"] for vs_file in vs_files)
        store["status"] = "in_progress" if store["file_counts"]["in_progress"] else "completed"
        expires_after = store["expires_after"]
        store["expires_at"] = store["last_active_at"] + expires_after["days"] * 86400 if expires_after else None

    def refresh_batch(self, batch_id: str) -> None:
        self.file_batches[batch_id]["file_counts"] = count_statuses(self._batch_vs_files(batch_id))

    def content_pages(self, file_id: str) -> list[str]:
        """The parsed text of a File as its content pages: its bytes as UTF-8 text, cut every
        `content_page_chars` characters (one page when None; no page for an empty file)."""
        text = self.file_contents[file_id].decode("utf-8", errors="replace")
        size = self.content_page_chars or len(text) or 1
        return [text[start : start + size] for start in range(0, len(text), size)]

    # --- listing ---

    def list_page(
        self,
        entries: Sequence[tuple[Hashable, dict]],
        query: Mapping[str, str],
        *,
        cursor_key: Callable[[str], Hashable] = lambda object_id: object_id,
        default_limit: int = 20,
        max_limit: int = 100,
        with_before: bool = True,
    ) -> dict:
        """Build a list envelope from (state key, object) pairs using limit/order/after/before."""
        limit = query_int(query, "limit", default_limit, 1, max_limit)
        descending = query_choice(query, "order", ("asc", "desc"), "desc") == "desc"
        entries = sorted(entries, key=lambda entry: self._sort_keys[entry[0]], reverse=descending)
        for cursor_name in ("after", "before") if with_before else ("after",):
            if cursor_name not in query:
                continue
            cursor = self._sort_keys.get(cursor_key(query[cursor_name]))
            if cursor is None:
                raise invalid(f"Invalid '{cursor_name}': no object with id '{query[cursor_name]}'.", cursor_name)
            # "after" walks on in the requested order, "before" walks back against it.
            wants_greater = (cursor_name == "after") != descending
            entries = [
                entry
                for entry in entries
                if (self._sort_keys[entry[0]] > cursor if wants_greater else self._sort_keys[entry[0]] < cursor)
            ]
        # A lone `before` asks for the page just ahead of the cursor, so take the tail.
        page = entries[-limit:] if with_before and "before" in query and "after" not in query else entries[:limit]
        data = [item for _, item in page]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(entries) > limit,
        }

    # --- internals ---

    def _next_sort_key(self, created_at: int) -> tuple[int, int]:
        return created_at, next(self._sequence)

    def _attach(self, vs_id: str, file_id: str, strategy: dict, attributes: dict | None) -> dict:
        """Create (or replace) the in-progress vector store file joining a store and a file."""
        created_at = now()
        vs_file = {
            "id": file_id,
            "object": "vector_store.file",
            "usage_bytes": 0,
            "created_at": created_at,
            "vector_store_id": vs_id,
            "status": "in_progress",
            "last_error": None,
            "chunking_strategy": copy.deepcopy(strategy),
            "attributes": attributes or {},
        }
        self.vector_store_files[(vs_id, file_id)] = vs_file
        self._sort_keys[(vs_id, file_id)] = self._next_sort_key(created_at)
        return vs_file

    def _finish(self, vs_file: dict, status: str, last_error: dict | None) -> None:
        vs_file["status"] = status
        vs_file["last_error"] = last_error
        # Only indexed content counts towards a store's usage.
        vs_file["usage_bytes"] = self.files[vs_file["id"]]["bytes"] if status == "completed" else 0

    def _result_for(self, file_id: str, failing_filenames: frozenset[str]) -> tuple[str, dict | None]:
        filename = self.files[file_id]["filename"]
        if filename in failing_filenames:
            return "failed", {"code": "unsupported_file", "message": f"The file type of '{filename}' is not supported."}
        return "completed", None

    def _batch_vs_files(self, batch_id: str, status: str | None = None) -> list[dict]:
        vs_id = self.file_batches[batch_id]["vector_store_id"]
        keys = [(vs_id, file_id) for file_id in self.batch_file_ids[batch_id]]
        return [
            self.vector_store_files[key]
            for key in keys
            if key in self.vector_store_files and status in (None, self.vector_store_files[key]["status"])
        ]

    def _close_batch(self, batch_id: str, status: str) -> None:
        self.file_batches[batch_id]["status"] = status
        self.refresh_batch(batch_id)
        self.refresh_store(self.file_batches[batch_id]["vector_store_id"])
