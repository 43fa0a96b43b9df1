"""Request body parsers of the API."""

import codecs

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .. import strict_json


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also refusing what could not be sent on to OpenAI (see `strict_json`): numbers out of
    a float's range, text that is not valid Unicode (lone surrogates like "\\ud800"), nesting too deep."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})  # DRF's: text encodings only
        try:
            return strict_json.loads(codecs.getreader(encoding)(stream).read())
        except strict_json.Unsendable as exc:
            raise ParseError(f"JSON parse error - the body holds {exc}.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
