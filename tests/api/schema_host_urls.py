"""A host site's URLconf: the API (and its OpenAI-compatible routes) under a prefix of its own, the API's docs
in one line, and the host's
own DRF views, among them drf-spectacular's stock schema and Swagger UI views named as usual."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.decorators import api_view
from rest_framework.response import Response


@api_view(["GET"])
def host_status(request):
    """The host's own API: no part of the vector store API's document, even under the same prefix."""
    return Response({"status": "ok"})


urlpatterns = [
    path("ai/", include("vectorstores.urls")),
    path("ai/", include("vectorstores.api.schema.urls")),
    path("ai/openai/", include("vectorstores.openai_api.urls")),
    path("ai/status/", host_status, name="host-status"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
