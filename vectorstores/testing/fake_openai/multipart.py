"""A small multipart/form-data parser that keeps filenames byte-exact.

The stdlib `cgi`/`email` parsers normalise or re-decode filenames, which would hide
exactly what a client put on the wire, so parts are split by hand here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

# httpx2 escapes form parameters the HTML5 way (`"` -> %22, `\` -> `\\`, control
# characters except ESC -> %XX); this mirrors its table so decoding is its exact inverse.
_HTML5_ESCAPES = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_HTML5_UNESCAPES = {escaped: char for char, escaped in _HTML5_ESCAPES.items()}
_HTML5_ESCAPED_RE = re.compile("|".join(re.escape(escaped) for escaped in _HTML5_UNESCAPES))

# One `; key=value` parameter of a header; quoted values may contain backslash escapes.
_PARAM_RE = re.compile(rb';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_BOUNDARY_RE = re.compile(r'boundary=("[^"]+"|[^;\s]+)', re.IGNORECASE)


class MultipartError(ValueError):
    """The body is not well-formed multipart/form-data."""


@dataclass
class FilePart:
    field: str
    raw_filename: bytes  # exactly the bytes between the quotes (or the `filename*` value)
    filename: str  # decoded, as the client meant it
    content: bytes


def decode_filename(raw: bytes) -> str:
    """Decode a quoted `filename` parameter: UTF-8, then undo the HTML5 form escaping."""
    text = raw.decode("utf-8", errors="replace")
    return _HTML5_ESCAPED_RE.sub(lambda match: _HTML5_UNESCAPES[match.group(0)], text)


def decode_extended_filename(value: bytes) -> str:
    """Decode an RFC 5987 `filename*` value such as `utf-8''r%C3%A9sum%C3%A9.pdf`."""
    charset, _language, encoded = value.decode("ascii", errors="replace").split("'", 2)
    return unquote_to_bytes(encoded).decode(charset or "utf-8", errors="replace")


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[FilePart]]:
    """Split `body` into plain fields (name -> text) and file parts, in wire order."""
    boundary_match = _BOUNDARY_RE.search(content_type)
    if not boundary_match:
        raise MultipartError("multipart body without a boundary")
    boundary = boundary_match.group(1).strip('"').encode("latin-1")

    # Every delimiter is CRLF + "--" + boundary; prefixing a CRLF lets the first one match too,
    # and a part's content then ends exactly where the next delimiter starts.
    chunks = (b"\r\n" + body).split(b"\r\n--" + boundary)
    if len(chunks) < 2:
        raise MultipartError("boundary not found in body")
    fields: dict[str, str] = {}
    files: list[FilePart] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # closing delimiter
            break
        _boundary_line, _, part = chunk.partition(b"\r\n")
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            raise MultipartError("multipart part without a header block")
        params = _content_disposition_params(head)
        if b"name" not in params:
            raise MultipartError("multipart part without a name")
        name = decode_filename(params[b"name"])
        if b"filename*" in params:
            raw = params[b"filename*"]
            files.append(FilePart(name, params.get(b"filename", raw), decode_extended_filename(raw), content))
        elif b"filename" in params:
            raw = params[b"filename"]
            files.append(FilePart(name, raw, decode_filename(raw), content))
        else:
            fields[name] = content.decode("utf-8", errors="replace")
    return fields, files


def _content_disposition_params(head: bytes) -> dict[bytes, bytes]:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-disposition":
            params = {}
            for key, raw_value in _PARAM_RE.findall(value):
                is_quoted = raw_value.startswith(b'"') and raw_value.endswith(b'"') and len(raw_value) >= 2
                params[key.lower()] = raw_value[1:-1] if is_quoted else raw_value
            return params
    raise MultipartError("multipart part without Content-Disposition")
