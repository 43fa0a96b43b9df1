"""The API's OpenAPI document, Swagger UI and ReDoc, for a host's URLconf in one line:

    path("api/", include("vectorstores.api.schema.urls")),  # api/schema/, api/docs/, api/redoc/

The document describes the API's operations only, under whatever prefix the host gave the API's
routes (`include("vectorstores.urls")`). The pages load Swagger UI and ReDoc from the site's static
files: the host needs "drf_spectacular" and "drf_spectacular_sidecar" in INSTALLED_APPS.
"""

from django.urls import path

from .views import APP_NAME, RedocView, SchemaView, SwaggerView

app_name = APP_NAME

PAGES = [("schema", SchemaView, "schema"), ("docs", SwaggerView, "swagger-ui"), ("redoc", RedocView, "redoc")]

urlpatterns = [
    *(path(f"{route}/", view.as_view(), name=name) for route, view, name in PAGES),
    # The same without the trailing slash, as the API's routes answer (links name the one with it).
    *(path(route, view.as_view()) for route, view, _name in PAGES),
]
