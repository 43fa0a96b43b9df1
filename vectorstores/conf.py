"""The app's settings: one dict, OPENAI_VECTOR_STORES, over these defaults.

A host site sets only the keys it wants to change. Values are read on every
access, so `override_settings(OPENAI_VECTOR_STORES={...})` works in tests.
"""
from django.conf import settings

MB = 1024 * 1024

DEFAULTS = {
    # Seconds to wait for OpenAI to connect or to send the next bytes of an answer.
    "TIMEOUT": 60.0,
    # Retries, with the SDK's exponential backoff, of calls that are safe to repeat
    # (reads, modify, delete, search, batch polling and cancel).
    "MAX_RETRIES": 2,
    # Retries of calls that create something upstream (vector store, file, file batch).
    # 0 by default: a retry after a lost answer would create a duplicate.
    "CREATE_MAX_RETRIES": 0,
    # How many files of one upload request go to OpenAI at the same time.
    "UPLOAD_CONCURRENCY": 5,
    # How many files of one PATCH request are removed at the same time.
    "DELETE_CONCURRENCY": 5,
    # Seconds between two polls of a file batch when OpenAI suggests none (openai-poll-after-ms).
    "POLL_INTERVAL": 1.0,
    # Seconds an upload waits for its file batch; then the batch is cancelled and the answer is 504.
    "POLL_TIMEOUT": 600.0,
    # The most objects one unpaged list follows pages for; past it the answer has a Link to the rest.
    "LIST_MAX_ITEMS": 10_000,
    # Upload limits (413 when exceeded).
    "MAX_FILES_PER_UPLOAD": 100,
    "MAX_FILE_SIZE": 512 * MB,
    "MAX_UPLOAD_SIZE": 2048 * MB,
}


class AppSettings:
    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"OPENAI_VECTOR_STORES has no setting {name!r}")
        return getattr(settings, "OPENAI_VECTOR_STORES", {}).get(name, DEFAULTS[name])


app_settings = AppSettings()
