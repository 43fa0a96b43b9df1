import codecs
import json
import os

from django.core.wsgi import get_wsgi_application
from django.utils.http import parse_header_parameters

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


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
            body = json.dumps({"detail": f"Unsupported charset {charset!r}.", "code": "unsupported_media_type"})
            start_response("415 Unsupported Media Type", [("Content-Type", "application/json")])
            return [body.encode()]
        return self.app(environ, start_response)


def _is_text_encoding(name):
    try:
        return codecs.lookup(name)._is_text_encoding
    except LookupError:
        return True  # unknown charsets Django ignores by itself


application = RejectNonTextCharsets(get_wsgi_application())
