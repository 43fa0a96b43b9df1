"""The vector store API in OpenAI's own wire format, for OpenAI's SDKs pointed at this site.

    OpenAI(base_url="https://site/api/openai/<credential-uuid>/v1", api_key="<the caller's site token>")

The routes are OpenAI's (`vector_stores`, their `files`, `file_batches` and `search`, and the `files` the
SDK's upload helpers use), with OpenAI's request and response bodies, list pages and error envelope. The
credential is part of the base URL and the caller authenticates with their own token; the organisation's
key never leaves the server. Behind the routes is the same viewset as the API's (`vectorstores.api`): the
same validation, access rules, ownership, audit, throttles and streamed uploads.

    urls.py             the routes, for `path("api/openai/", include("vectorstores.openai_api.urls"))`
    views.py            the viewset: the API's, with OpenAI's pages and the files routes
    serializers.py      what the files routes take
    errors.py           OpenAI's error envelope, {"error": {"message", "type", "param", "code"}}
    authentication.py   `Authorization: Bearer <token>`
    schema.py           their OpenAPI documentation (tag "OpenAI-compatible")
"""
