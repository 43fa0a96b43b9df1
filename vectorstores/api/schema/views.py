"""The API's OpenAPI document, Swagger UI and ReDoc, with the API's settings whatever the host's.

drf-spectacular's views read its global settings, i.e. the host's SPECTACULAR_SETTINGS. Here:

- the document is generated with drf-spectacular's defaults overlaid with settings.SCHEMA_SETTINGS
  (`custom_settings`, its public per-view settings), so it is docs/openapi.yaml under the host's URL
  prefix, whatever the host's own options (an OAS 3.1 or split-request setting would change it);
- the pages get their assets and Swagger UI settings from the same settings: the API's choice,
  drf-spectacular-sidecar's copies, served by the site itself (no CDN). They take the context of
  drf-spectacular's pages (`get()`) and replace those entries, the only public way: the views read
  them from the global settings, with no per-view override;
- ReDoc's page is drf-spectacular's without the web fonts it loads from Google.

Who may read them stays the host's decision (its SERVE_PERMISSIONS, SERVE_AUTHENTICATION and
SERVE_PUBLIC apply). None of the three appears in any document, the host's own included.
"""

import json
import threading

from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.templatetags.static import static
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import SPECTACULAR_DEFAULTS
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.renderers import TemplateHTMLRenderer

from .settings import SCHEMA_SETTINGS

APP_NAME = "vectorstores_schema"  # the namespace of urls.py

# drf-spectacular's defaults, then the API's settings. (SERVE_* and the generator class cannot be
# given per view: SchemaView sets the generator and the URLconf itself.)
DOCUMENT_SETTINGS = {
    **{
        name: value
        for name, value in SPECTACULAR_DEFAULTS.items()
        if not name.startswith("SERVE_") and name != "DEFAULT_GENERATOR_CLASS"
    },
    **SCHEMA_SETTINGS,
}

# custom_settings patch drf-spectacular's global settings for the time of a request, and restore them
# after; two overlapping patches would restore the wrong values for good. One document at a time.
_one_document_at_a_time = threading.Lock()


class SchemaView(SpectacularAPIView):
    """The OpenAPI document of the API's operations (only them: the only_this_api hook)."""

    custom_settings = DOCUMENT_SETTINGS
    generator_class = SchemaGenerator
    urlconf = None  # the site's whole URLconf, wherever the host mounts the API (not its SERVE_URLCONF)
    schema = None  # in no document; DRF's way, which any schema generator honours (extend_schema needs the host's)

    def get(self, request, *args, **kwargs):
        with _one_document_at_a_time:
            return super().get(request, *args, **kwargs)


def _sidecar_or_dist(setting, path, sidecar_folder):
    """`path` of Swagger UI's or ReDoc's distribution, by drf-spectacular's rule for its DIST settings."""
    dist = DOCUMENT_SETTINGS[setting]
    return static(f"drf_spectacular_sidecar/{sidecar_folder}/{path}") if dist == "SIDECAR" else f"{dist}/{path}"


def _script_value(value):
    """A setting as the pages' scripts take it: JSON, or a string of JavaScript as given."""
    return value if isinstance(value, str) else json.dumps(value, indent=2)


class SwaggerView(SpectacularSwaggerView):
    url_name = f"{APP_NAME}:schema"
    title = SCHEMA_SETTINGS["TITLE"]
    schema = None  # in no document (see SchemaView)

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        favicon = DOCUMENT_SETTINGS["SWAGGER_UI_FAVICON_HREF"]
        response.data.update(
            {
                "swagger_ui_css": _sidecar_or_dist("SWAGGER_UI_DIST", "swagger-ui.css", "swagger-ui-dist"),
                "swagger_ui_bundle": _sidecar_or_dist("SWAGGER_UI_DIST", "swagger-ui-bundle.js", "swagger-ui-dist"),
                "swagger_ui_standalone": _sidecar_or_dist(
                    "SWAGGER_UI_DIST", "swagger-ui-standalone-preset.js", "swagger-ui-dist"
                ),
                "favicon_href": (
                    static("drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png")
                    if favicon == "SIDECAR"
                    else favicon
                ),
                "settings": _script_value(DOCUMENT_SETTINGS["SWAGGER_UI_SETTINGS"]),
                "oauth2_config": _script_value(DOCUMENT_SETTINGS["SWAGGER_UI_OAUTH2_CONFIG"]),
            }
        )
        return response


# drf-spectacular's ReDoc page loads web fonts from Google in its head; this one uses the browser's fonts.
OFFLINE_REDOC_TEMPLATE = (
    '{% extends "drf_spectacular/redoc.html" %}\n'
    '{% block head %}<title>{{ title|default:"Redoc" }}</title><meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<style>body { margin: 0; padding: 0; }</style>{% endblock head %}\n"
)


class OfflineRedocRenderer(TemplateHTMLRenderer):
    """Renders OFFLINE_REDOC_TEMPLATE with the site's Django template engine (the one that has drf-spectacular's)."""

    def resolve_template(self, template_names):
        engine = next(engine for engine in engines.all() if isinstance(engine, DjangoTemplates))
        return engine.from_string(OFFLINE_REDOC_TEMPLATE)


class RedocView(SpectacularRedocView):
    url_name = f"{APP_NAME}:schema"
    title = SCHEMA_SETTINGS["TITLE"]
    schema = None  # in no document (see SchemaView)
    renderer_classes = [OfflineRedocRenderer]

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        redoc_settings = DOCUMENT_SETTINGS["REDOC_UI_SETTINGS"]
        response.data.update(
            {
                "redoc_standalone": _sidecar_or_dist("REDOC_DIST", "bundles/redoc.standalone.js", "redoc"),
                "settings": _script_value(redoc_settings) if redoc_settings else None,
            }
        )
        return response
