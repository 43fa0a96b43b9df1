"""Routes of the vector store API. Include them anywhere: path("api/v1/", include("vectorstores.urls")).

Every route answers with and without a trailing slash, without a redirect (a
redirected POST would lose its body).
"""
from django.http import JsonResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt

from .views import VectorStoreViewSet

app_name = "vectorstores"

PREFIX = r"^openai-assistants-vector-store"
STORE = r"/(?P<store_id>[^/]+)"

urlpatterns = [
    re_path(rf"{PREFIX}/?$", VectorStoreViewSet.as_view({"get": "list", "post": "create"}), name="vector-store-list"),
    re_path(
        rf"{PREFIX}{STORE}/?$",
        VectorStoreViewSet.as_view({
            "get": "retrieve", "put": "update", "delete": "destroy",
            "post": "upload_files", "patch": "remove_files",
        }),
        name="vector-store-detail",
    ),
    re_path(rf"{PREFIX}{STORE}/files/?$", VectorStoreViewSet.as_view({"get": "list_files"}), name="vector-store-files"),
    re_path(rf"{PREFIX}{STORE}/search/?$", VectorStoreViewSet.as_view({"post": "search"}), name="vector-store-search"),
    # Anything else under the prefix: the API's JSON 404, not the site's HTML page (nor its CSRF page).
    re_path(rf"{PREFIX}/", csrf_exempt(lambda request, *args, **kwargs: JsonResponse(
        {"detail": "Not found.", "code": "not_found"}, status=404))),
]
