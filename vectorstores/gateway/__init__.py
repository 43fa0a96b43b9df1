"""The one package that talks to OpenAI (nothing else in this project imports `openai`).

- `client`: the per-credential SDK clients, every call's timeout and retries, and
  the mapping of upstream faults to the API's errors (`UpstreamError`).
- `operations`: vector stores, their files, search.
- `uploads`: files into a store, with cleanup when anything fails.
"""
from .client import clients
from .operations import (
    Page,
    check_connection,
    create_vector_store,
    delete_vector_store,
    get_vector_store,
    list_store_files,
    list_vector_stores,
    remove_files_from_store,
    retrieve_files,
    search_store,
    update_vector_store,
)
from .store_uploads import upload_files_to_store

__all__ = [
    "Page", "check_connection", "clients", "create_vector_store", "delete_vector_store", "get_vector_store",
    "list_store_files", "list_vector_stores", "remove_files_from_store", "retrieve_files",
    "search_store", "update_vector_store", "upload_files_to_store",
]
