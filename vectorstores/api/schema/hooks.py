"""drf-spectacular's pre- and postprocessing hooks of the API's document (named in settings.SCHEMA_SETTINGS)."""

from django.utils.module_loading import import_string

from .settings import OPENAI_TAG, TAG

# The views whose endpoints the document describes (a subclass counts too). Import paths: the API's
# views import this package, so their classes are looked up only when a document is generated.
API_VIEWS = [
    "vectorstores.api.views.VectorStoreViewSet",  # and the OpenAI-compatible routes' subclass of it
]


def only_this_api(endpoints, **kwargs):
    """Preprocessing hook: only the API's endpoints, wherever the host mounts them; none of the host's own."""
    api_views = tuple(import_string(path) for path in API_VIEWS)
    return [endpoint for endpoint in endpoints if issubclass(endpoint[3].cls, api_views)]


def strip_optional_trailing_slash(endpoints, **kwargs):
    """Preprocessing hook: a route that takes an optional trailing slash (`/?$`) is documented without it."""
    return [
        (path[:-1] if path_regex.endswith("/?$") and path.endswith("/") else path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
    ]


def allow_empty_optional_query_values(result, generator, request, public, **kwargs):
    """Postprocessing hook: like any DRF form input, an optional query parameter given empty
    (`?limit=`) counts as not given; OpenAPI says so with allowEmptyValue."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not {TAG, OPENAI_TAG} & set(operation.get("tags", ())):
                continue
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result
