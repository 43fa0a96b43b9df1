"""A host's URLconf whose prefix captures a parameter, as URL-path versioning does."""

from django.urls import include, path

urlpatterns = [path("api/<str:version>/", include("vectorstores.urls"))]
