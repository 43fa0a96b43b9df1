"""Multipart bodies made by hand, byte for byte: what no client library would send.

Used by the upload tests that send raw bodies (test_upload_input.py, test_refused_uploads.py,
test_properties.py).
"""

BOUNDARY = "test-boundary-7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def part(disposition, content=b"some text", content_type=b"text/plain", boundary=BOUNDARY):
    """One part: `Content-Disposition: form-data; <disposition>`, a Content-Type unless None, the content."""
    headers = b"Content-Disposition: form-data; " + disposition
    if content_type is not None:
        headers += b"\r\nContent-Type: " + content_type
    return b"--" + boundary.encode() + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"


def file_part(raw_name, content=b"some text", content_type=b"text/plain", boundary=BOUNDARY):
    """A file part of the field `files`, named `raw_name` (bytes, as sent)."""
    return part(b'name="files"; filename="' + raw_name + b'"', content, content_type, boundary)


def closing(boundary=BOUNDARY):
    """The delimiter that ends a body."""
    return b"--" + boundary.encode() + b"--\r\n"


def body(*parts, closed=True, boundary=BOUNDARY):
    """The parts, then the closing delimiter unless not `closed`."""
    return b"".join(parts) + (closing(boundary) if closed else b"")
