"""Routes of the vector store API. Include them anywhere: path("api/v1/", include("vectorstores.urls")).

Every route answers with and without a trailing slash, without a redirect (a
redirected POST would lose its body).
"""

from django.http import JsonResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from .exceptions import error_body
from .views import VectorStoreViewSet

app_name = "vectorstores"

PREFIX = r"^openai-assistants-vector-store"
STORE = r"/(?P<store_id>[^/]+)"
FILE = r"/files/(?P<file_id>[^/]+)"
BATCH = r"/file_batches/(?P<batch_id>[^/]+)"


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Anything else under the prefix: the API's JSON 404, not the site's HTML page (nor its CSRF page)."""
    return JsonResponse(error_body("Not found.", "not_found"), status=404)


urlpatterns = [
    re_path(rf"{PREFIX}/?$", VectorStoreViewSet.as_view({"get": "list", "post": "create"}), name="vector-store-list"),
    re_path(
        rf"{PREFIX}{STORE}/?$",
        VectorStoreViewSet.as_view(
            {
                "get": "retrieve",
                "put": "update",
                "delete": "destroy",
                "post": "upload_files",
                "patch": "remove_files",
            }
        ),
        name="vector-store-detail",
    ),
    re_path(
        rf"{PREFIX}{STORE}/files/?$",
        VectorStoreViewSet.as_view({"get": "list_files", "post": "attach_files"}),
        name="vector-store-files",
    ),
    re_path(
        rf"{PREFIX}{STORE}{FILE}/?$",
        VectorStoreViewSet.as_view(
            {
                "get": "retrieve_file",
                "post": "update_file",
                "delete": "detach_file",
            }
        ),
        name="vector-store-file",
    ),
    re_path(
        rf"{PREFIX}{STORE}{FILE}/content/?$",
        VectorStoreViewSet.as_view({"get": "file_content"}),
        name="vector-store-file-content",
    ),
    re_path(
        rf"{PREFIX}{STORE}/file_batches/?$",
        VectorStoreViewSet.as_view({"post": "create_file_batch"}),
        name="vector-store-file-batches",
    ),
    re_path(
        rf"{PREFIX}{STORE}{BATCH}/?$",
        VectorStoreViewSet.as_view({"get": "retrieve_file_batch"}),
        name="vector-store-file-batch",
    ),
    re_path(
        rf"{PREFIX}{STORE}{BATCH}/cancel/?$",
        VectorStoreViewSet.as_view({"post": "cancel_file_batch"}),
        name="vector-store-file-batch-cancel",
    ),
    re_path(
        rf"{PREFIX}{STORE}{BATCH}/files/?$",
        VectorStoreViewSet.as_view({"get": "list_batch_files"}),
        name="vector-store-file-batch-files",
    ),
    re_path(rf"{PREFIX}{STORE}/search/?$", VectorStoreViewSet.as_view({"post": "search"}), name="vector-store-search"),
    re_path(rf"{PREFIX}/", not_found),
]
