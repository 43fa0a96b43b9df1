"""Request body parsers of the API."""

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also refusing bodies nested too deeply and text that cannot travel on as UTF-8
    (lone surrogates like "\\ud800")."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # nested deeper than Python's recursion limit
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - the body holds text that is not valid Unicode.") from None
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        return data
