"""OpenAI's routes, for its SDKs: path("api/openai/", include("vectorstores.openai_api.urls")) gives the base URL
`/api/openai/<credential-uuid>/v1`. Every route answers with and without a trailing slash, without a redirect."""

from django.urls import re_path

from .errors import not_found
from .views import OpenAICompatibleViewSet as Wire

app_name = "vectorstores_openai"

V1 = r"^(?P<credential>[^/]+)/v1"
STORE = r"/vector_stores/(?P<store_id>[^/]+)"
FILE = r"/files/(?P<file_id>[^/]+)"
BATCH = r"/file_batches/(?P<batch_id>[^/]+)"

urlpatterns = [
    re_path(
        rf"{V1}/vector_stores/?$", Wire.as_view({"get": "list_vector_stores", "post": "create"}), name="vector-stores"
    ),
    re_path(
        rf"{V1}{STORE}/?$",
        Wire.as_view({"get": "retrieve", "post": "update", "delete": "destroy"}),
        name="vector-store",
    ),
    re_path(
        rf"{V1}{STORE}/files/?$",
        Wire.as_view({"get": "list_files", "post": "create_store_file"}),
        name="vector-store-files",
    ),
    re_path(
        rf"{V1}{STORE}{FILE}/?$",
        Wire.as_view({"get": "retrieve_file", "post": "update_file", "delete": "detach_file"}),
        name="vector-store-file",
    ),
    re_path(rf"{V1}{STORE}{FILE}/content/?$", Wire.as_view({"get": "file_content"}), name="vector-store-file-content"),
    re_path(rf"{V1}{STORE}/file_batches/?$", Wire.as_view({"post": "create_file_batch"}), name="file-batches"),
    re_path(rf"{V1}{STORE}{BATCH}/?$", Wire.as_view({"get": "retrieve_file_batch"}), name="file-batch"),
    re_path(rf"{V1}{STORE}{BATCH}/cancel/?$", Wire.as_view({"post": "cancel_file_batch"}), name="file-batch-cancel"),
    re_path(rf"{V1}{STORE}{BATCH}/files/?$", Wire.as_view({"get": "list_batch_files"}), name="file-batch-files"),
    re_path(rf"{V1}{STORE}/search/?$", Wire.as_view({"post": "search"}), name="vector-store-search"),
    re_path(rf"{V1}/files/?$", Wire.as_view({"get": "list_uploaded_files", "post": "create_file"}), name="files"),
    re_path(
        rf"{V1}{FILE}/?$",
        Wire.as_view({"get": "retrieve_uploaded_file", "delete": "delete_uploaded_file"}),
        name="file",
    ),
    # Anything else: OpenAI's 404 in its envelope, not the site's HTML page.
    re_path(r"^", not_found),
]
