"""The API's routes, for `path("api/v1/", include("vectorstores.urls"))` (see vectorstores/api/urls.py)."""

from .api.urls import app_name, urlpatterns

__all__ = ["app_name", "urlpatterns"]
