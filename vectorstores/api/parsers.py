"""Request body parsers of the API."""

import codecs

from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .. import strict_json


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also refusing what could not be sent on to OpenAI (see `strict_json`): numbers out of
    a float's range, text that is not valid Unicode (lone surrogates like "\\ud800"), nesting too deep, a key
    given twice in one object."""

    def parse(self, stream, media_type=None, parser_context=None):
        # JSON is UTF-8 (RFC 8259): another charset would read some bytes as what no JSON text holds
        # (utf-7 and raw_unicode_escape make lone surrogates of plain ASCII).
        if charset := charset_other_than_utf8(media_type):
            raise ParseError(f"JSON parse error - a JSON body is UTF-8, not {charset!r}.")
        try:
            return strict_json.loads(stream.read(), unique_keys=True)
        except strict_json.Unsendable as exc:
            raise ParseError(f"JSON parse error - the body holds {exc}.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def charset_other_than_utf8(media_type):
    """The charset `media_type` declares, when it is neither UTF-8 nor ASCII (which UTF-8 reads alike), under any of
    their names; else None. The API's bodies are UTF-8 whatever the site's DEFAULT_CHARSET."""
    charset = parse_header_parameters(media_type or "")[1].get("charset", "utf-8")
    try:
        read_as_utf8 = codecs.lookup(charset).name in ("utf-8", "ascii")
    except LookupError:
        read_as_utf8 = False
    return None if read_as_utf8 else charset
