"""The OpenAPI documentation of the vector store API (drf-spectacular), kept apart from the views.

    settings.py     the drf-spectacular settings of the document and its pages (plain literals)
    hooks.py        the pre- and postprocessing hooks those settings name
    extensions.py   what drf-spectacular cannot infer from the validating serializers
    components.py   serializers that only document: the upload's body, the objects answered
    operations.py   each operation's documentation: `document.<operation>`, used by api/views.py
    views.py        the document, Swagger UI and ReDoc, with these settings whatever the host's
    urls.py         those three pages, for `path("api/", include("vectorstores.api.schema.urls"))`

Importing the package imports nothing else: settings modules import `.settings` before Django is
configured, and drf-spectacular, once imported, keeps the SPECTACULAR_SETTINGS it found then. So
`document` is imported on first use (`from vectorstores.api.schema import document`).
"""

__all__ = ["document"]


def __getattr__(name):
    if name == "document":
        from .operations import document  # its components register the extensions too

        return document
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
