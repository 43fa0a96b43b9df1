"""The one package that talks to OpenAI (nothing else in this project imports `openai`).

Plain Python: it knows nothing of the API (nor of Django REST Framework) that calls it.

- `client`: the per-credential SDK clients, every call's timeout and retries, and
  the mapping of upstream faults to the gateway's errors.
- `exceptions`: those errors (`GatewayError` and its kinds); the API and the console
  decide how to answer them.
- `operations`: vector stores, their files, search.
- `store_uploads`: files into a store, with cleanup when anything fails.
- `store_files`: one file of a store (read, attributes, indexed content).
- `file_batches`: batches of files attached to a store, waited for or not.
"""

from .client import OBJECT_ID, check_usable, clients, is_object_id
from .exceptions import (
    BatchEnded,
    BatchError,
    BatchTimeout,
    CredentialNotUsable,
    EndpointRefused,
    GatewayError,
    KeyUnreadable,
    OpenAIBadResponse,
    OpenAIError,
    OpenAINotFound,
    OpenAIStatusError,
    OpenAITimeout,
    OpenAIUnreachable,
)
from .file_batches import (
    attach_files_to_store,
    cancel_file_batch,
    create_file_batch,
    file_batch_answer,
    get_file_batch,
    list_batch_files,
)
from .operations import (
    Page,
    check_connection,
    create_vector_store,
    delete_file,
    delete_vector_store,
    get_file,
    get_vector_store,
    list_store_files,
    list_vector_stores,
    remove_files_from_store,
    retrieve_files,
    search_store,
    update_vector_store,
)
from .store_files import (
    ContentPage,
    attach_file_to_store,
    get_store_file,
    get_store_file_content,
    store_file_answer,
    update_store_file,
)
from .store_uploads import StoreUpload, upload_file, upload_files_to_store

__all__ = [
    "OBJECT_ID",
    "BatchEnded",
    "BatchError",
    "BatchTimeout",
    "ContentPage",
    "CredentialNotUsable",
    "EndpointRefused",
    "GatewayError",
    "KeyUnreadable",
    "OpenAIBadResponse",
    "OpenAIError",
    "OpenAINotFound",
    "OpenAIStatusError",
    "OpenAITimeout",
    "OpenAIUnreachable",
    "Page",
    "StoreUpload",
    "attach_file_to_store",
    "attach_files_to_store",
    "cancel_file_batch",
    "check_connection",
    "check_usable",
    "clients",
    "create_file_batch",
    "create_vector_store",
    "delete_file",
    "delete_vector_store",
    "file_batch_answer",
    "get_file",
    "get_file_batch",
    "get_store_file",
    "get_store_file_content",
    "get_vector_store",
    "is_object_id",
    "list_batch_files",
    "list_store_files",
    "list_vector_stores",
    "remove_files_from_store",
    "retrieve_files",
    "search_store",
    "store_file_answer",
    "update_store_file",
    "update_vector_store",
    "upload_file",
    "upload_files_to_store",
]
