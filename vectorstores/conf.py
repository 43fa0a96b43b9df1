"""The app's settings: one dict, OPENAI_VECTOR_STORES, over these defaults.

A host site sets only the keys it wants to change. Values are read on every
access, so `override_settings(OPENAI_VECTOR_STORES={...})` works in tests.
"""

from credentials.conf import AppSettings, dotted_paths, list_of_text, or_none, positive_number, whole_number

MB = 1024 * 1024

DEFAULTS = {
    # Seconds one call to OpenAI may take in all, retries and their waits included.
    # (A long upload is not cut: the limit applies to each wait for OpenAI, not to the transfer.)
    "TIMEOUT": 60.0,
    # Retries, with exponential backoff or OpenAI's Retry-After, of calls that are safe to
    # repeat (reads, modify, delete, search, batch polling and cancel) after a 408, 409, 429,
    # 5xx, timeout or connection failure.
    "MAX_RETRIES": 2,
    # Retries of calls that create something (vector store, file, file batch): only after a
    # 429 or a connection that was never made, when OpenAI certainly did not act. Never after
    # a lost answer or a 5xx, which could leave a duplicate behind.
    "CREATE_MAX_RETRIES": 2,
    # Credentials whose OpenAI client (and its pooled connections) each process keeps; past it the least
    # recently used is dropped, to be rebuilt (about 0.5 ms) on its next call.
    "CLIENT_CACHE_SIZE": 100,
    # How many files of one upload request go to OpenAI at the same time.
    "UPLOAD_CONCURRENCY": 5,
    # How many files of one PATCH request are removed at the same time.
    "DELETE_CONCURRENCY": 5,
    # Seconds between two polls of a file batch when OpenAI suggests none (openai-poll-after-ms).
    "POLL_INTERVAL": 1.0,
    # Seconds an upload waits for its file batch; then the batch is cancelled and the answer is 504.
    "POLL_TIMEOUT": 600.0,
    # Uploads and attaches that wait for their batch one user may have running at once (each holds a server
    # thread meanwhile); past it, 429 too_many_long_calls. None: no cap.
    "MAX_LONG_CALLS_PER_USER": 4,
    # The same, for all users together, in one server process: set it below the process's threads, so that
    # other calls and the health check always find one; past it, 503 server_busy. None: no cap.
    "MAX_LONG_CALLS_PER_PROCESS": None,
    # The most objects one unpaged list follows pages for; past it the answer has a Link to the rest.
    "LIST_MAX_ITEMS": 10_000,
    # Upload limits (413 when exceeded).
    "MAX_FILES_PER_UPLOAD": 100,
    "MAX_FILE_SIZE": 512 * MB,
    "MAX_UPLOAD_SIZE": 2048 * MB,
    # Extensions an upload may have, e.g. [".pdf", ".md"]. None: every type OpenAI's
    # file_search supports (FILE_TYPES in vectorstores/filetypes.py). A host can only narrow it.
    "ALLOWED_EXTENSIONS": None,
    # The API's permission classes (dotted paths) besides IsAuthenticated, which always applies.
    # None: the host's REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"].
    "PERMISSION_CLASSES": None,
    # How callers of the OpenAI-compatible routes (vectorstores.openai_api) authenticate (dotted paths):
    # by default `Authorization: Bearer <DRF token>`, which is what OpenAI's SDKs send as their API key.
    # A host with its own token model lists its own authentication classes here.
    "OPENAI_API_AUTHENTICATION_CLASSES": ["vectorstores.openai_api.authentication.BearerTokenAuthentication"],
}


KINDS = {
    "TIMEOUT": positive_number,
    "MAX_RETRIES": whole_number(0),
    "CREATE_MAX_RETRIES": whole_number(0),
    "CLIENT_CACHE_SIZE": whole_number(1),
    "UPLOAD_CONCURRENCY": whole_number(1),
    "DELETE_CONCURRENCY": whole_number(1),
    "POLL_INTERVAL": positive_number,
    "POLL_TIMEOUT": positive_number,
    "MAX_LONG_CALLS_PER_USER": or_none(whole_number(1)),
    "MAX_LONG_CALLS_PER_PROCESS": or_none(whole_number(1)),
    "LIST_MAX_ITEMS": whole_number(1),
    "MAX_FILES_PER_UPLOAD": whole_number(1),
    "MAX_FILE_SIZE": whole_number(1),
    "MAX_UPLOAD_SIZE": whole_number(1),
    "ALLOWED_EXTENSIONS": or_none(list_of_text),
    "PERMISSION_CLASSES": or_none(dotted_paths),
    "OPENAI_API_AUTHENTICATION_CLASSES": dotted_paths,
}

app_settings = AppSettings("OPENAI_VECTOR_STORES", DEFAULTS, KINDS)
