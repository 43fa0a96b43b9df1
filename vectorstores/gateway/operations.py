"""Vector stores, their files, and search: one OpenAI call each, or a few run concurrently."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..conf import app_settings
from .client import VECTOR_STORE, VECTOR_STORE_FILE_DELETED, OpenAIObject, Retry, call, clients, only_given
from .exceptions import GatewayError

if TYPE_CHECKING:
    from credentials.models import Credential

UPSTREAM_PAGE_SIZE = 100  # OpenAI's largest page for vector store lists


@dataclass
class Page:
    """One page of a list, or (unpaged) every object up to LIST_MAX_ITEMS; has_more: more exist past it."""

    items: list[OpenAIObject]
    has_more: bool
    first_id: str | None
    last_id: str | None


def unpaged_list_pages():
    """The most pages an unpaged list follows: as many as LIST_MAX_ITEMS takes in full pages. Past them (an
    upstream that answers short pages, however honest or hostile), the list ends with a link to the rest."""
    return -(-app_settings.LIST_MAX_ITEMS // UPSTREAM_PAGE_SIZE)


def next_pages(each_page: Callable[[], None] | None) -> Iterable[int]:
    """The upstream pages of one unpaged read, up to `unpaged_list_pages()`. Before each page after the first,
    `each_page()` is called: the API counts it against the caller's rate (an exception it raises ends the read)."""
    for number in range(unpaged_list_pages()):
        if number and each_page is not None:
            each_page()
        yield number


def list_pages(
    method, *args, paged, in_store=None, each_page=None, limit=None, order=None, after=None, before=None, **filters
):
    """One page as asked for, or (unpaged) every object, bounded by LIST_MAX_ITEMS. With `in_store`, the objects
    of that vector store (a list of another's is a bad response). Unpaged, `each_page()` is called before each
    upstream page after the first (see `next_pages`)."""
    checks = {"expect": "list", "in_store": in_store}
    if paged:
        data = call(
            method, *args, **checks, **only_given(limit=limit, order=order, after=after, before=before, **filters)
        )
        return Page(data["data"], bool(data.get("has_more")), data.get("first_id"), data.get("last_id"))
    items, cursor, bound = [], None, app_settings.LIST_MAX_ITEMS
    for _ in next_pages(each_page):
        data = call(
            method, *args, **checks, **only_given(limit=UPSTREAM_PAGE_SIZE, order=order, after=cursor, **filters)
        )
        items.extend(data["data"])
        more = bool(data.get("has_more")) and bool(data["data"])
        if not more or len(items) >= bound:
            break
        cursor = data["data"][-1]["id"]
    truncated = more or len(items) > bound
    items = items[:bound]
    return Page(items, truncated, items[0]["id"] if items else None, items[-1]["id"] if items else None)


def list_vector_stores(credential: Credential, *, paged: bool, **params: Any) -> Page:
    return list_pages(clients.get(credential).vector_stores.with_raw_response.list, paged=paged, **params)


def list_store_files(credential: Credential, store_id: str, *, paged: bool, **params: Any) -> Page:
    return list_pages(
        clients.get(credential).vector_stores.files.with_raw_response.list,
        store_id,
        paged=paged,
        in_store=store_id,
        **params,
    )


def get_vector_store(credential: Credential, store_id: str) -> OpenAIObject:
    return call(clients.plain(credential).get, "vector_stores", store_id, expect=VECTOR_STORE, about=store_id)


def create_vector_store(credential: Credential, fields: dict[str, Any]) -> OpenAIObject:
    return call(
        clients.get(credential).vector_stores.with_raw_response.create,
        retry=Retry.CREATE,
        expect=VECTOR_STORE,
        **fields,
    )


def update_vector_store(credential: Credential, store_id: str, fields: dict[str, Any]) -> OpenAIObject:
    return call(
        clients.get(credential).vector_stores.with_raw_response.update,
        store_id,
        expect=VECTOR_STORE,
        about=store_id,
        **fields,
    )


def delete_vector_store(credential: Credential, store_id: str) -> OpenAIObject:
    return call(
        clients.get(credential).vector_stores.with_raw_response.delete,
        store_id,
        expect="vector_store.deleted",
        about=store_id,
    )


def search_store(credential: Credential, store_id: str, params: dict[str, Any]) -> OpenAIObject:
    return call(
        clients.get(credential).vector_stores.with_raw_response.search,
        store_id,
        expect="vector_store.search_results.page",
        **params,
    )


def check_connection(credential: Credential) -> None:
    """Raise a GatewayError unless OpenAI accepts the credential (the cheapest authenticated call)."""
    call(clients.get(credential).vector_stores.with_raw_response.list, limit=1, expect="list")


# Why a File asked to be deleted was only detached (see `keep_files`).
FILE_KEPT = "The File is also in a vector store of another user: it was detached from this store and kept."


@dataclass
class Removal:
    file_id: str
    deleted: bool = False
    file_deleted: bool | None = None
    file_kept: str | None = None
    error: GatewayError | None = field(default=None)

    def report(self):
        report = {"id": self.file_id, "object": "vector_store.file.deleted", "deleted": self.deleted}
        if self.file_deleted is not None:
            report["file_deleted"] = self.file_deleted
        if self.file_kept:
            report["file_kept"] = self.file_kept
        if self.error:
            report["error"] = self.error.body()
        return report


def remove_files_from_store(
    credential: Credential,
    store_id: str,
    file_ids: list[str],
    *,
    delete_files: bool = False,
    keep_files: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Detach `file_ids` from the store concurrently, and with `delete_files` delete the Files too, except
    those of `keep_files` (whose reports say why in `file_kept`).

    Returns the per-file reports; raises a GatewayError carrying them if any removal failed.
    """
    client = clients.get(credential)

    def remove(file_id):
        removal = Removal(file_id, file_deleted=False if delete_files else None)
        try:
            answer = call(
                client.vector_stores.files.with_raw_response.delete,
                file_id,
                vector_store_id=store_id,
                expect=VECTOR_STORE_FILE_DELETED,
                about=file_id,
            )
            removal.deleted = bool(answer.get("deleted"))
            # Only a file this store held is deleted, so a typo can't delete another store's file.
            if delete_files and removal.deleted and file_id in keep_files:
                removal.file_kept = FILE_KEPT
            elif delete_files and removal.deleted:
                removal.file_deleted = bool(delete_file(credential, file_id)["deleted"])
        except GatewayError as error:
            removal.error = error
        return removal

    removals = run_concurrently(remove, file_ids, app_settings.DELETE_CONCURRENCY)
    failed = [removal for removal in removals if removal.error]
    if failed:
        summary = f"{len(failed)} of {len(removals)} files could not be removed: {failed[0].error}"
        raise failed[0].error.with_report(summary, files=[removal.report() for removal in removals])
    return [removal.report() for removal in removals]


def run_concurrently(function, items, concurrency):
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(items)))) as pool:
        return list(pool.map(function, items))


def get_file(credential: Credential, file_id: str) -> OpenAIObject:
    return call(clients.plain(credential).get, "files", file_id, expect="file", about=file_id)


def delete_file(credential: Credential, file_id: str) -> OpenAIObject:
    """Delete the OpenAI File (which also takes it out of every vector store)."""
    return call(clients.get(credential).files.with_raw_response.delete, file_id, expect="file", about=file_id)


def retrieve_files(credential: Credential, file_ids: Iterable[str]) -> dict[str, OpenAIObject | GatewayError]:
    """The OpenAI File object of each id (`GET /files/{id}`), retrieved concurrently.

    Returns {file_id: File object, or the GatewayError that retrieving it raised}, in the
    order of `file_ids` (duplicates once): a file that is gone (404) or could not be read
    does not hide the others. At most DELETE_CONCURRENCY calls at once.
    """

    def retrieve(file_id):
        try:
            return get_file(credential, file_id)
        except GatewayError as error:
            return error

    ids = list(dict.fromkeys(file_ids))
    found = run_concurrently(retrieve, ids, app_settings.DELETE_CONCURRENCY)
    return dict(zip(ids, found, strict=True))
