"""Route table and handlers. Each handler validates one request and answers in OpenAI's shapes.

Handlers run with the state lock held and return the response object (bytes are sent as they are, not as JSON),
or (object, extra headers).
"""

from __future__ import annotations

import base64
import binascii
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .multipart import FilePart
from .state import VS_FILE_STATUSES, FakeState
from .validation import (
    check_array,
    check_attributes,
    check_expires_after,
    check_file_ids,
    check_int_range,
    check_known_fields,
    check_metadata,
    check_type,
    invalid,
    normalize_chunking_strategy,
    not_found,
    query_choice,
)

UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
BATCH_PURPOSE_EXPIRY = 30 * 86400  # the API expires `batch` files after 30 days by default


@dataclass
class Call:
    """What a handler gets to see of a request."""

    params: dict[str, str]  # path parameters captured by the route pattern
    query: dict[str, str]
    body: dict = field(default_factory=dict)  # JSON object body ({} when none was sent)
    form: dict[str, str] = field(default_factory=dict)
    files: list[FilePart] = field(default_factory=list)


Handler = Callable[[FakeState, Call], Any]


def _require_files(state: FakeState, file_ids: list[str], param: str) -> None:
    # Files referenced from a request body are a bad parameter (400), unlike ids in the path (404).
    for file_id in file_ids:
        if file_id not in state.files:
            raise invalid(f"File '{file_id}' not found.", param)


# --- vector stores ---


def list_vector_stores(state: FakeState, call: Call) -> dict:
    return state.list_page(list(state.vector_stores.items()), call.query)


def create_vector_store(state: FakeState, call: Call) -> dict:
    body = call.body
    check_known_fields(body, {"name", "description", "file_ids", "metadata", "expires_after", "chunking_strategy"})
    check_type(body.get("name"), "name", str, "a string", nullable=True)
    check_type(body.get("description"), "description", str, "a string", nullable=True)
    _require_files(state, check_file_ids(body.get("file_ids", []), "file_ids", 0, 500), "file_ids")
    check_metadata(body.get("metadata"))
    if "expires_after" in body:
        check_expires_after(body["expires_after"])
    normalize_chunking_strategy(body.get("chunking_strategy"))
    return state.create_vector_store(**body)


def retrieve_vector_store(state: FakeState, call: Call) -> dict:
    return state.get_store(call.params["vs_id"])


def modify_vector_store(state: FakeState, call: Call) -> dict:
    store, body = state.get_store(call.params["vs_id"]), call.body
    check_known_fields(body, {"name", "metadata", "expires_after"})
    check_type(body.get("name"), "name", str, "a string", nullable=True)
    check_metadata(body.get("metadata"))
    if "expires_after" in body:
        check_expires_after(body["expires_after"], nullable=True)
        store["expires_after"] = body["expires_after"]  # null removes the expiration policy
    # A null name or metadata means "leave unchanged".
    for name in ("name", "metadata"):
        if body.get(name) is not None:
            store[name] = body[name]
    state.refresh_store(store["id"])
    return store


def delete_vector_store(state: FakeState, call: Call) -> dict:
    vs_id = state.get_store(call.params["vs_id"])["id"]
    state.delete_vector_store(vs_id)
    return {"id": vs_id, "object": "vector_store.deleted", "deleted": True}


# --- files ---


def upload_file(state: FakeState, call: Call) -> dict:
    # A plain "file" field (no filename) is not an upload; it is reported as the missing file below.
    check_known_fields(call.form, {"file", "purpose", "expires_after[anchor]", "expires_after[seconds]"})
    for part in call.files:
        if part.field != "file":
            raise invalid(f"Unknown parameter: '{part.field}'.", part.field, "unknown_parameter")
    if not call.files:
        raise invalid("Missing required parameter: 'file'.", "file", "missing_required_parameter")
    purpose = call.form.get("purpose")
    if purpose is None:
        raise invalid("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
    if purpose not in UPLOAD_PURPOSES:
        raise invalid(
            f"Invalid value for 'purpose': expected one of {', '.join(UPLOAD_PURPOSES)}.", "purpose", "invalid_value"
        )
    upload = call.files[-1]  # like most form parsers, the last repeated field wins
    return state.create_file(upload.filename, upload.content, purpose, expires_in=_upload_expiry(call.form, purpose))


def _upload_expiry(form: dict[str, str], purpose: str) -> int | None:
    if "expires_after[anchor]" not in form and "expires_after[seconds]" not in form:
        return BATCH_PURPOSE_EXPIRY if purpose == "batch" else None
    if form.get("expires_after[anchor]") != "created_at":
        raise invalid("Invalid 'expires_after.anchor': expected 'created_at'.", "expires_after.anchor", "invalid_value")
    seconds = form.get("expires_after[seconds]", "")
    if not seconds.isdigit():
        raise invalid("Invalid 'expires_after.seconds': expected an integer.", "expires_after.seconds", "invalid_type")
    return check_int_range(int(seconds), "expires_after.seconds", 3600, 2_592_000)


def list_files(state: FakeState, call: Call) -> dict:
    purpose = call.query.get("purpose")
    entries = [(file_id, file) for file_id, file in state.files.items() if purpose in (None, file["purpose"])]
    # Per the spec, /files pages differently: up to 10,000 per page by default and no `before`.
    return state.list_page(entries, call.query, default_limit=10_000, max_limit=10_000, with_before=False)


def retrieve_file(state: FakeState, call: Call) -> dict:
    return state.get_file(call.params["file_id"])


def download_file(state: FakeState, call: Call) -> tuple[bytes, dict[str, str]]:
    """The File's bytes, as uploaded (not JSON)."""
    file_id = state.get_file(call.params["file_id"])["id"]
    return state.file_contents[file_id], {"Content-Type": "application/octet-stream"}


def delete_file(state: FakeState, call: Call) -> dict:
    file_id = state.get_file(call.params["file_id"])["id"]
    state.delete_file(file_id)
    return {"id": file_id, "object": "file", "deleted": True}


# --- vector store files ---


def _list_vs_files(state: FakeState, call: Call, vs_id: str, file_ids: list[str]) -> dict:
    status = query_choice(call.query, "filter", VS_FILE_STATUSES, None)
    keys = [(vs_id, file_id) for file_id in file_ids]
    entries = [
        (key, state.vector_store_files[key])
        for key in keys
        if key in state.vector_store_files and status in (None, state.vector_store_files[key]["status"])
    ]
    return state.list_page(entries, call.query, cursor_key=lambda file_id: (vs_id, file_id))


def list_vector_store_files(state: FakeState, call: Call) -> dict:
    vs_id = state.get_store(call.params["vs_id"])["id"]
    file_ids = [file_id for owner, file_id in state.vector_store_files if owner == vs_id]
    return _list_vs_files(state, call, vs_id, file_ids)


def create_vector_store_file(state: FakeState, call: Call) -> dict:
    vs_id, body = state.get_store(call.params["vs_id"])["id"], call.body
    check_known_fields(body, {"file_id", "chunking_strategy", "attributes"}, required=("file_id",))
    check_type(body["file_id"], "file_id", str, "a string")
    _require_files(state, [body["file_id"]], "file_id")
    check_attributes(body.get("attributes"))
    strategy = normalize_chunking_strategy(body.get("chunking_strategy"))
    return state.process_file(vs_id, body["file_id"], strategy, body.get("attributes"))


def retrieve_vector_store_file(state: FakeState, call: Call) -> dict:
    return state.get_vs_file(call.params["vs_id"], call.params["file_id"])


def update_vector_store_file(state: FakeState, call: Call) -> dict:
    vs_file = state.get_vs_file(call.params["vs_id"], call.params["file_id"])
    check_known_fields(call.body, {"attributes"})
    if "attributes" not in call.body:
        raise invalid("Missing required parameter: 'attributes'.", "attributes", "missing_required_parameter")
    check_attributes(call.body["attributes"])
    vs_file["attributes"] = call.body["attributes"] or {}
    return vs_file


def _page_token(file_id: str, index: int) -> str:
    """An opaque next_page token: which page of which file."""
    return base64.urlsafe_b64encode(f"{file_id}:{index}".encode()).decode().rstrip("=")


def _page_index(token: str, file_id: str, pages: int) -> int:
    """The page a token names; 400 for a token of another file, past the end, or not a token at all."""
    try:
        owner, _, index = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().rpartition(":")
        if owner == file_id and index.isdigit() and 0 < int(index) < pages:
            return int(index)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise invalid(f"Invalid 'page': '{token[:80]}' is not a page of this file's content.", "page", "invalid_value")


def retrieve_vector_store_file_content(state: FakeState, call: Call) -> dict:
    """The parsed content of a vector store file, one page at a time (see `content_page_chars`); the next
    page is asked for with the query parameter `page=<next_page>`."""
    vs_file = state.get_vs_file(call.params["vs_id"], call.params["file_id"])
    pages = state.content_pages(vs_file["id"])
    index = _page_index(call.query["page"], vs_file["id"], len(pages)) if "page" in call.query else 0
    has_more = index + 1 < len(pages)
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": pages[index]}] if pages else [],
        "has_more": has_more,
        "next_page": _page_token(vs_file["id"], index + 1) if has_more else None,
    }


def delete_vector_store_file(state: FakeState, call: Call) -> dict:
    vs_file = state.get_vs_file(call.params["vs_id"], call.params["file_id"])
    state.detach(vs_file["vector_store_id"], vs_file["id"])
    return {"id": vs_file["id"], "object": "vector_store.file.deleted", "deleted": True}


# --- file batches ---


def create_file_batch(state: FakeState, call: Call) -> dict:
    vs_id, body = state.get_store(call.params["vs_id"])["id"], call.body
    check_known_fields(body, {"file_ids", "files", "chunking_strategy", "attributes"})
    if ("file_ids" in body) == ("files" in body):
        raise invalid("Exactly one of 'file_ids' or 'files' must be provided.", "file_ids")
    if "file_ids" in body:
        check_attributes(body.get("attributes"))
        strategy = normalize_chunking_strategy(body.get("chunking_strategy"))
        file_ids = check_file_ids(body["file_ids"], "file_ids", 1, 2000)
        entries = [(file_id, strategy, body.get("attributes")) for file_id in file_ids]
    else:
        # Per-file settings; the spec says the global attributes/chunking_strategy are then ignored.
        entries = []
        for index, item in enumerate(check_array(body["files"], "files", 1, 2000)):
            param = f"files[{index}]"
            check_type(item, param, dict, "an object")
            check_known_fields(item, {"file_id", "chunking_strategy", "attributes"}, required=("file_id",))
            check_type(item["file_id"], f"{param}.file_id", str, "a string")
            check_attributes(item.get("attributes"), f"{param}.attributes")
            strategy = normalize_chunking_strategy(item.get("chunking_strategy"), f"{param}.chunking_strategy")
            entries.append((item["file_id"], strategy, item.get("attributes")))
    _require_files(state, [file_id for file_id, _, _ in entries], "file_ids" if "file_ids" in body else "files")
    return state.create_batch(vs_id, entries)


def retrieve_file_batch(state: FakeState, call: Call) -> tuple[dict, dict[str, str]]:
    batch = state.get_batch(call.params["vs_id"], call.params["batch_id"])
    headers = {} if state.poll_after_ms is None else {"openai-poll-after-ms": str(state.poll_after_ms)}
    return batch, headers


def cancel_file_batch(state: FakeState, call: Call) -> dict:
    batch = state.get_batch(call.params["vs_id"], call.params["batch_id"])
    state.cancel_batch(batch["id"])
    return batch


def list_file_batch_files(state: FakeState, call: Call) -> dict:
    batch = state.get_batch(call.params["vs_id"], call.params["batch_id"])
    return _list_vs_files(state, call, batch["vector_store_id"], state.batch_file_ids[batch["id"]])


# --- search ---

_WORD_RE = re.compile(r"\w+")
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda value, target: value in target,
    "nin": lambda value, target: value not in target,
}


def _filter_matches(search_filter: Any, attributes: dict) -> bool:
    """Evaluate a ComparisonFilter or (recursive) CompoundFilter against a file's attributes."""
    if not isinstance(search_filter, dict):
        raise invalid("Invalid 'filters': expected an object.", "filters", "invalid_type")
    kind = search_filter.get("type")
    if kind in ("and", "or"):
        # Evaluate every branch (no short-circuit) so malformed sub-filters are always reported.
        results = [_filter_matches(sub_filter, attributes) for sub_filter in search_filter.get("filters", [])]
        return all(results) if kind == "and" else any(results)
    if kind not in _COMPARISONS or "key" not in search_filter or "value" not in search_filter:
        raise invalid(
            "Invalid 'filters': expected a comparison (type, key, value) or an and/or compound filter.",
            "filters",
            "invalid_value",
        )
    if search_filter["key"] not in attributes:
        return False
    try:
        return _COMPARISONS[kind](attributes[search_filter["key"]], search_filter["value"])
    except TypeError:  # e.g. ordering a string against a number
        return False


def _score(words: list[str], text: str) -> tuple[float, str]:
    """Fraction of query words present in `text` (whole words, any case) and a snippet at the first hit."""
    positions = [
        match.start() for word in words if (match := re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE))
    ]
    if not positions:
        return 0.0, ""
    start = max(0, min(positions) - 100)
    return round(len(positions) / len(words), 4), text[start : start + 200]


def search_vector_store(state: FakeState, call: Call) -> dict:
    vs_id, body = state.get_store(call.params["vs_id"])["id"], call.body
    check_known_fields(
        body, {"query", "max_num_results", "filters", "ranking_options", "rewrite_query"}, required=("query",)
    )
    queries = [body["query"]] if isinstance(body["query"], str) else body["query"]
    for query in check_array(queries, "query", 1, 1_000):
        check_type(query, "query", str, "a string or an array of strings")
    max_results = check_int_range(body.get("max_num_results", 10), "max_num_results", 1, 50)
    check_type(body.get("rewrite_query", False), "rewrite_query", bool, "a boolean")
    ranking = body.get("ranking_options") or {}
    check_type(ranking, "ranking_options", dict, "an object")
    check_known_fields(ranking, {"ranker", "score_threshold"})
    threshold = ranking.get("score_threshold", 0)
    check_type(threshold, "ranking_options.score_threshold", (int, float), "a number")
    filters = body.get("filters")
    if filters is not None:
        _filter_matches(filters, {})  # validates the filter even when the store has no files

    words = list(dict.fromkeys(word for query in queries for word in _WORD_RE.findall(query.lower())))
    results = []
    for (owner, file_id), vs_file in state.vector_store_files.items():
        if owner != vs_id or vs_file["status"] != "completed":
            continue
        if filters is not None and not _filter_matches(filters, vs_file["attributes"]):
            continue
        score, snippet = _score(words, state.file_contents[file_id].decode("utf-8", errors="replace"))
        if score > 0 and score >= threshold:
            results.append(
                {
                    "file_id": file_id,
                    "filename": state.files[file_id]["filename"],
                    "score": score,
                    "attributes": vs_file["attributes"],
                    "content": [{"type": "text", "text": snippet}],
                }
            )
    results.sort(key=lambda result: result["score"], reverse=True)
    state.touch_store(vs_id)
    return {
        "object": "vector_store.search_results.page",
        "search_query": queries,
        "data": results[:max_results],
        "has_more": False,
        "next_page": None,
    }


# --- routing ---

_VS = r"/vector_stores/(?P<vs_id>[^/]+)"
_BATCH = _VS + r"/file_batches/(?P<batch_id>[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(pattern), handler)
    for method, pattern, handler in [
        ("GET", r"/vector_stores", list_vector_stores),
        ("POST", r"/vector_stores", create_vector_store),
        ("GET", _VS, retrieve_vector_store),
        ("POST", _VS, modify_vector_store),
        ("DELETE", _VS, delete_vector_store),
        ("GET", _VS + r"/files", list_vector_store_files),
        ("POST", _VS + r"/files", create_vector_store_file),
        ("GET", _VS + r"/files/(?P<file_id>[^/]+)", retrieve_vector_store_file),
        ("POST", _VS + r"/files/(?P<file_id>[^/]+)", update_vector_store_file),
        ("DELETE", _VS + r"/files/(?P<file_id>[^/]+)", delete_vector_store_file),
        ("GET", _VS + r"/files/(?P<file_id>[^/]+)/content", retrieve_vector_store_file_content),
        ("POST", _VS + r"/file_batches", create_file_batch),
        ("GET", _BATCH, retrieve_file_batch),
        ("POST", _BATCH + r"/cancel", cancel_file_batch),
        ("GET", _BATCH + r"/files", list_file_batch_files),
        ("POST", _VS + r"/search", search_vector_store),
        ("GET", r"/files", list_files),
        ("POST", r"/files", upload_file),
        ("GET", r"/files/(?P<file_id>[^/]+)", retrieve_file),
        ("DELETE", r"/files/(?P<file_id>[^/]+)", delete_file),
        ("GET", r"/files/(?P<file_id>[^/]+)/content", download_file),
    ]
]


def match_route(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler, match.groupdict()
    raise not_found(f"Invalid URL ({method} /v1{path})")
