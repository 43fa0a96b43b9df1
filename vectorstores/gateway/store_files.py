"""One file of a vector store: read it, change its attributes, detach it, read what OpenAI indexed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..conf import app_settings
from .client import (
    FILE_CONTENT_PAGE,
    VECTOR_STORE_FILE,
    Answer,
    OpenAIObject,
    Retry,
    call,
    clients,
    only_given,
    request,
)
from .operations import next_pages

if TYPE_CHECKING:
    from collections.abc import Callable

    from credentials.models import Credential


def get_store_file(credential: Credential, store_id: str, file_id: str) -> OpenAIObject:
    return store_file_answer(credential, store_id, file_id).data


def store_file_answer(credential: Credential, store_id: str, file_id: str) -> Answer:
    """The vector store file with the headers of OpenAI's answer (its poll interval, openai-poll-after-ms)."""
    return request(
        clients.plain(credential).get,
        "vector_stores",
        store_id,
        "files",
        file_id,
        expect=VECTOR_STORE_FILE,
        about=file_id,
        in_store=store_id,
    )


def attach_file_to_store(
    credential: Credential,
    store_id: str,
    file_id: str,
    *,
    attributes: dict[str, Any] | None = None,
    chunking_strategy: dict[str, Any] | None = None,
) -> OpenAIObject:
    """Attach one existing File with OpenAI's own `POST /vector_stores/{id}/files`: the vector store file,
    as created (usually still in progress)."""
    return call(
        clients.get(credential).vector_stores.files.with_raw_response.create,
        store_id,
        file_id=file_id,
        **only_given(attributes=attributes, chunking_strategy=chunking_strategy),
        retry=Retry.CREATE,
        expect=VECTOR_STORE_FILE,
        about=file_id,
        in_store=store_id,
    )


def update_store_file(
    credential: Credential, store_id: str, file_id: str, attributes: dict[str, Any] | None
) -> OpenAIObject:
    """Replace the file's attributes (None clears them)."""
    return call(
        clients.get(credential).vector_stores.files.with_raw_response.update,
        file_id,
        vector_store_id=store_id,
        attributes=attributes,
        expect=VECTOR_STORE_FILE,
        about=file_id,
        in_store=store_id,
    )


@dataclass
class ContentPage:
    """Parsed content of a file: OpenAI's page object, and the token of the page after it (or None)."""

    page: OpenAIObject
    next_page: str | None


def get_store_file_content(
    credential: Credential,
    store_id: str,
    file_id: str,
    *,
    page: str | None = None,
    one_page: bool = False,
    each_page: Callable[[], None] | None = None,
) -> ContentPage:
    """The content OpenAI indexed: the page `page` names (or with `one_page`, the first), or else every page,
    up to LIST_MAX_ITEMS pieces of text in at most LIST_MAX_ITEMS / 100 pages (`each_page` as `next_pages`
    says). OpenAI pages it with has_more and next_page, asked for with the query parameter `page`."""
    content = clients.get(credential).vector_stores.files.with_raw_response.content
    pieces, token, first = [], page, None
    for _ in next_pages(each_page):  # past them, the answer links to the rest
        answer = call(
            content,
            file_id,
            vector_store_id=store_id,
            expect=FILE_CONTENT_PAGE,
            **({"extra_query": {"page": token}} if token else {}),
        )
        first = first or answer
        data = answer.get("data") if isinstance(answer.get("data"), list) else []
        pieces += data
        token = answer.get("next_page") if answer.get("has_more") and isinstance(answer.get("next_page"), str) else None
        if page is not None or one_page or token is None or not data or len(pieces) >= app_settings.LIST_MAX_ITEMS:
            break
    return ContentPage({**first, "data": pieces, "has_more": token is not None, "next_page": token}, token)
