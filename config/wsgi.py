import codecs
import json
import os

from django.core.wsgi import get_wsgi_application
from django.utils.http import parse_header_parameters

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# What a WSGI server puts in a request's environ itself (PEP 3333, CGI); anything else that is a
# variable of the process (SECRET_KEY, DATABASE_URL...) has no business in request.META.
REQUEST_VARIABLES = {
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_PORT",
    "GATEWAY_INTERFACE",
    "HTTPS",
    "RAW_URI",
}


class DropProcessEnvironment:
    """Keeps the process's environment variables out of each request's environ (granian copies them in)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        for name in [
            name
            for name in environ
            if name in os.environ and name not in REQUEST_VARIABLES and not name.startswith(("HTTP_", "wsgi."))
        ]:
            del environ[name]
        return self.app(environ, start_response)


class RejectNonTextCharsets:
    """Answers 415 to a request whose Content-Type names a codec that is not a text encoding.

    Django decodes the query string with the declared charset while it builds the request,
    before any middleware runs; "charset=rot13" or "charset=bz2_codec" make that raise (a 500).
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        _, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
        charset = params.get("charset")
        if charset and not _is_text_encoding(charset):
            from vectorstores.api.exceptions import error_body  # once Django is set up: DRF reads its settings

            body = json.dumps(error_body(f"Unsupported charset {charset!r}.", "unsupported_media_type"))
            start_response("415 Unsupported Media Type", [("Content-Type", "application/json")])
            return [body.encode()]
        return self.app(environ, start_response)


def _is_text_encoding(name):
    try:
        codecs.lookup(name)
    except LookupError:
        return True  # unknown charsets Django ignores by itself
    try:
        "".encode(name)  # str.encode() takes text encodings only
    except LookupError:
        return False
    return True


application = DropProcessEnvironment(RejectNonTextCharsets(get_wsgi_application()))
