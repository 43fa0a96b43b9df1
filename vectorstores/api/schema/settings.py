"""The drf-spectacular settings of the API's OpenAPI document and of its Swagger UI and ReDoc pages.

Plain literals, nothing imported: a settings module can import them. They are used in two places:

- the views of `vectorstores.api.schema.urls` apply them whatever the host's SPECTACULAR_SETTINGS say;
- the standalone site's SPECTACULAR_SETTINGS are these (config/settings.py), so that `make schema`
  (`manage.py spectacular`) writes the document those views serve.

No SERVE_* key here: drf-spectacular takes those only from the host's settings (they decide who may
read the document), never from a view's custom settings.
"""

TAG = "Vector stores"  # the tag of every operation of the API
OPENAI_TAG = "OpenAI-compatible"  # the tag of the routes in OpenAI's wire format (vectorstores.openai_api)

SCHEMA_SETTINGS = {
    "TITLE": "OpenAI vector stores API",
    "DESCRIPTION": (
        "Manage OpenAI vector stores through credentials kept encrypted on this server.\n\n"
        "Authenticate with `Authorization: Token <key>` (or a Django session). Every operation names the "
        "credential whose OpenAI API key it uses with `?credential=<uuid>`; a credential that does not exist "
        "and one you may not use both answer 404 `credential_not_found`. Every path also works with a "
        "trailing slash.\n\n"
        'Bodies are validated before anything reaches OpenAI: JSON types are strict ("5" is not an integer), '
        "unknown fields are rejected, and strings may not contain NUL characters. Text reaches OpenAI exactly as "
        "sent, and objects from OpenAI pass through unchanged.\n\n"
        'Every error has the shape `{"detail", "message", "code"}` (`message` is the same text as '
        "`detail`), plus `errors` (field errors), "
        "`openai_request_id` (when OpenAI answered) and `files` (per-file reports of uploads and removals)."
    ),
    "VERSION": "1.0.0",
    "LICENSE": {"name": "MIT"},
    "TAGS": [
        {"name": TAG, "description": "OpenAI vector stores, their files, and search."},
        {
            "name": OPENAI_TAG,
            "description": "The same in OpenAI's own wire format, for OpenAI's SDKs: base_url "
            "`/api/openai/<credential>/v1`, `Authorization: Bearer <token>` (the SDK's api_key), OpenAI's list "
            'pages and error envelope `{"error": {"message", "type", "param", "code"}}`.',
        },
    ],
    # The API has no partial updates: PATCH removes files and its body is documented as sent.
    "COMPONENT_SPLIT_PATCH": False,
    # Enums stay inline where they are used (no shared *Enum components, no choice lists in descriptions).
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "PREPROCESSING_HOOKS": [
        # Only the API's operations: not the host site's, nor the schema view's own.
        "vectorstores.api.schema.hooks.only_this_api",
        # Paths are documented without the optional trailing slash.
        "vectorstores.api.schema.hooks.strip_optional_trailing_slash",
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enum_id_removal",
        "vectorstores.api.schema.hooks.allow_empty_optional_query_values",
    ],
    # Served from the site itself (drf-spectacular-sidecar), no CDN; no badge from validator.swagger.io.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
}

# For a host site's SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]: names for the enums the API's objects share
# (drf-spectacular's enum hook, which a host's own document runs, warns drf_spectacular.W001 about the fields
# named "object" and "status" that hold different values in different objects).
ENUM_NAME_OVERRIDES = {
    "FileObjectEnum": ["file"],
    "ListObjectEnum": ["list"],
    "VectorStoreFileDeletedObjectEnum": ["vector_store.file.deleted"],
    "ProcessingStatusEnum": ["in_progress", "completed", "cancelled", "failed"],
}
