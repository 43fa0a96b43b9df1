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


class RejectUnreadableContentTypes:
    """Answers 415 to a request whose Content-Type Django cannot build a request from.

    Django parses the header and decodes the query string with its charset while it builds the request,
    before any middleware runs: a parameter in an unknown RFC 2231 encoding (`x*=bogus''a`), or a charset
    that is no ASCII-compatible text encoding ("rot13", "bz2_codec", "undefined", "idna"), makes that raise
    (a 500 with no body).
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            _, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
        except (ValueError, LookupError):  # LookupError: early Django 5.2 releases
            return _unsupported(start_response, "The Content-Type header cannot be read.")
        charset = params.get("charset")
        if charset and not _reads_ascii_as_ascii(charset):
            return _unsupported(start_response, f"Unsupported charset {charset!r}.")
        return self.app(environ, start_response)


# Every printable ASCII character, and an escape that some codecs (raw_unicode_escape) turn into a lone surrogate.
ASCII_PROBE = bytes(range(0x20, 0x7F)) + b"\\ud800"


def _reads_ascii_as_ascii(name):
    try:
        codecs.lookup(name)
    except LookupError:
        return True  # unknown charsets Django ignores by itself
    try:
        # str.encode() takes text encodings only; "undefined" and "idna" raise, "utf-16" and "utf-7" differ.
        text = ASCII_PROBE.decode("ascii")
        return ASCII_PROBE.decode(name) == text and text.encode(name) == ASCII_PROBE
    except (LookupError, ValueError):
        return False


def _unsupported(start_response, message):
    from vectorstores.api.exceptions import error_body  # once Django is set up: DRF reads its settings

    start_response("415 Unsupported Media Type", [("Content-Type", "application/json")])
    return [json.dumps(error_body(message, "unsupported_media_type")).encode()]


application = DropProcessEnvironment(RejectUnreadableContentTypes(get_wsgi_application()))
