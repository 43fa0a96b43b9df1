"""JSON as it can travel on: to OpenAI, into the database, out in the API's answers.

Python's `json.loads` takes `NaN` and `Infinity`, reads a number too large for a float (`1e999`) as
infinity, and keeps `"\\ud800"` escapes as lone surrogates; none of them can be written back as JSON
or UTF-8, so each would fail later, once something was already sent. Deep nesting fails with a
RecursionError rather than a ValueError. A caller's JSON (`unique_keys`) may also not give one key twice in an
object: Python keeps the last value, and the other would be lost without a word.
"""

import json
import math


class Unsendable(ValueError):
    """JSON that Python reads but that could not be sent on."""


def loads(text, *, unique_keys=False):
    """`json.loads(text)` of text, or of bytes in UTF-8; raises ValueError for what is not JSON, and Unsendable (a
    ValueError) for JSON that could not be sent on (see the module)."""
    if isinstance(text, (bytes, bytearray)):
        try:
            # Decoded here, strictly: json.loads would decode UTF-8's encoded surrogates (b"\xed\xa0\x80") too.
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise Unsendable("bytes that are not UTF-8") from None
        may_hold_surrogates = "\\ud" in text or "\\uD" in text  # only an escape makes one in UTF-8
    else:
        # Text decoded from another charset (a multipart field's, say) may hold one itself: then it is not ASCII.
        may_hold_surrogates = "\\ud" in text or "\\uD" in text or not text.isascii()
    try:
        data = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            object_pairs_hook=_object_of_unique_keys if unique_keys else None,
        )
    except RecursionError:
        raise Unsendable("nesting too deep") from None
    if may_hold_surrogates:
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise Unsendable("text that is not valid Unicode") from None
    return data


def _refuse_constant(name):
    raise Unsendable(f"{name}, which is not a JSON number")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise Unsendable(f"a number out of range ({text[:20]})")
    return value


def _object_of_unique_keys(pairs):
    data = dict(pairs)
    if len(data) < len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                break
            seen.add(key)
        raise Unsendable(f"the key {key[:64]!r} twice in one object")
    return data
