from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from rest_framework.authtoken.models import TokenProxy

from vectorstores.api.urls import not_found
from vectorstores.token_admin import SuperuserTokenAdmin

from .views import health

# API tokens in admin for superusers only (see vectorstores/token_admin.py).
admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, SuperuserTokenAdmin)

urlpatterns = [
    # The site has no page of its own: its root (and admin's "View site") leads to the API's docs.
    path("", RedirectView.as_view(pattern_name="vectorstores_schema:swagger-ui")),
    path("admin/", admin.site.urls),
    re_path(r"^api/v1/health/?$", health, name="health"),
    path("api/v1/", include("vectorstores.urls")),
    # The same in OpenAI's wire format, for OpenAI's SDKs: base_url api/openai/<credential-uuid>/v1.
    path("api/openai/", include("vectorstores.openai_api.urls")),
    # The OpenAPI document and its pages: api/schema/, api/docs/ (Swagger UI) and api/redoc/ (ReDoc).
    path("api/", include("vectorstores.api.schema.urls")),
    # Anything else under api/: the API's JSON 404 (not Django's HTML page, nor an APPEND_SLASH redirect).
    re_path(r"^api(/|$)", not_found),
]

# Errors no view answers (a 500, a request Django refuses to read): JSON under the API's routes.
handler400 = "vectorstores.error_pages.bad_request"
handler500 = "vectorstores.error_pages.server_error"
