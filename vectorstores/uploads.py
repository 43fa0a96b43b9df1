"""Receiving uploads: limits and file names are enforced while the multipart body streams in,
before it is all read or stored, and a file name is never used as a local path.

File names. Django would silently drop a part without a file name, strip characters and
unescape HTML entities; here every part named `files` keeps the name its client sent,
byte for byte, except that a path is reduced to its last component. A name that is empty,
not UTF-8, holds control characters, is longer than MAX_FILE_NAME_LENGTH, or that Django's own
cleaning would empty (and so drop its part, e.g. "&#46;") is refused (400).
"""
import re
import unicodedata

from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import QueryDict
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from django.template.defaultfilters import filesizeformat
from django.utils.http import parse_header_parameters
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.request import Request

from .conf import app_settings
from .exceptions import PayloadTooLarge
from .serializers import UploadSerializer

FILES_FIELD = "files"
MAX_FILE_NAME_LENGTH = 255  # what file systems, and Django's UploadedFile, allow
MAX_PART_HEADER_BYTES = 16 * 1024
# Invisible characters that reorder or hide text, used to disguise a name ("doc‮fdp.exe").
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


class InvalidUpload(serializers.ValidationError):
    def __init__(self, message):
        super().__init__({FILES_FIELD: [message]})


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Streams every file to a temporary file on disk, and stops at the first limit it breaks.

    Raising aborts the parse; Django then closes (and so deletes) the files already
    complete, and `discard_partial_file()` deletes the one being written.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.file_count = 0
        self.total_bytes = 0
        self.file = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > app_settings.MAX_UPLOAD_SIZE:
            raise PayloadTooLarge(
                f"The request is larger than the {filesizeformat(app_settings.MAX_UPLOAD_SIZE)} this server accepts."
            )

    def new_file(self, field_name, file_name, *args, **kwargs):
        self.file_count += 1
        if self.file_count > app_settings.MAX_FILES_PER_UPLOAD:
            raise PayloadTooLarge(f"At most {app_settings.MAX_FILES_PER_UPLOAD} files per request.")
        super().new_file(field_name, file_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.total_bytes += len(raw_data)
        if start + len(raw_data) > app_settings.MAX_FILE_SIZE:
            raise PayloadTooLarge(
                f"File {self.file_name!r} is larger than the {filesizeformat(app_settings.MAX_FILE_SIZE)} "
                "this server accepts per file."
            )
        if self.total_bytes > app_settings.MAX_UPLOAD_SIZE:
            raise PayloadTooLarge(
                f"The files are larger than the {filesizeformat(app_settings.MAX_UPLOAD_SIZE)} this server accepts."
            )
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        completed = super().file_complete(file_size)
        self.file = None  # handed over: Django closes it when the request ends
        return completed

    def discard_partial_file(self):
        """Delete the file being written when the parse stopped (a limit, a bad part, a lost client)."""
        if self.file is not None:
            self.file.close()  # a NamedTemporaryFile: closing deletes it
            self.file = None


class UploadParser(parsers.MultiPartParser):
    """DRF's multipart parser, reading each part's raw headers as the body streams past."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        try:
            return self._parse(request, stream, media_type, parser_context)
        except (RequestDataTooBig, TooManyFilesSent) as exc:  # Django's own global limits
            raise PayloadTooLarge(str(exc)) from None
        finally:
            # Whatever stopped the parse (a limit, a bad part, a client gone), no partial file stays.
            for handler in request.upload_handlers:
                if isinstance(handler, LimitedTemporaryFileUploadHandler):
                    handler.discard_partial_file()

    def _parse(self, request, stream, media_type, parser_context):
        boundary = _boundary_of(media_type)
        scanner = PartHeaderScanner(stream, boundary)
        meta = {**request.META, "CONTENT_TYPE": media_type}
        try:
            django_parser = DjangoMultiPartParser(meta, scanner, request.upload_handlers,
                                                  parsers.get_encoding(parser_context))
            scanner.cleaned_by_django = django_parser.sanitize_file_name
            data, files = django_parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        if not scanner.finished:
            # Django takes a body cut short (a client gone mid-upload) for a whole one: refuse it.
            for _, uploads in files.lists():
                for upload in uploads:
                    upload.close()
            raise ParseError("Multipart form parse error - the body ended before its closing boundary.")
        # Django's cleaned names may differ from what was sent: put back the names we checked.
        for upload, name in zip(files.getlist(FILES_FIELD), scanner.file_names):
            upload.name = name
        return parsers.DataAndFiles(data, files)


def _boundary_of(media_type):
    boundary = parse_header_parameters(media_type or "")[1].get("boundary")
    if not boundary:
        raise ParseError("Multipart form parse error - the Content-Type has no boundary.")
    return boundary.encode("latin-1", "replace")


class PartHeaderScanner:
    """A read-through wrapper of the request body that checks each part's headers as they pass.

    Parts can only begin after a boundary line, and a file's content cannot contain the
    boundary, so what is found there is a part's header and never a file's bytes.
    """

    def __init__(self, stream, boundary):
        self._stream = stream
        self._delimiter = b"\r\n--" + boundary + b"\r\n"
        self._closing_delimiter = b"\r\n--" + boundary + b"--"
        self._buffer = b"\r\n"  # the body's first boundary has no CRLF before it
        self.finished = False  # whether the closing boundary went past
        self.file_names = []  # checked names of the parts named "files", in order
        # Django's cleaning of a file name (set by UploadParser): Django drops a part whose name it empties,
        # so such a name is refused here, and the names below stay in step with Django's files.
        self.cleaned_by_django = str
        self._part_number = 0

    def read(self, size=-1):
        chunk = self._stream.read(size)
        self._scan(chunk)
        return chunk

    def _scan(self, chunk):
        buffer = self._buffer + chunk
        self.finished = self.finished or self._closing_delimiter in buffer
        position = 0
        while (start := buffer.find(self._delimiter, position)) != -1:
            headers_start = start + len(self._delimiter)
            end = buffer.find(b"\r\n\r\n", headers_start)
            if end == -1:
                if len(buffer) - headers_start > MAX_PART_HEADER_BYTES:
                    raise ParseError("Multipart form parse error - a part's headers are too long.")
                break  # the rest of these headers comes with the next chunk
            self._check_part(buffer[headers_start:end])
            position = end + 4
        else:
            start = max(position, len(buffer) - len(self._delimiter))
        self._buffer = buffer[start:]

    def _check_part(self, headers):
        self._part_number += 1
        line = next((line for line in headers.split(b"\r\n") if line.lower().startswith(b"content-disposition:")), b"")
        # Parsed exactly as Django parses it; latin-1 maps each byte to one character and back.
        _, params = parse_header_parameters(line.decode("latin-1").partition(":")[2])
        if params.get("name") != FILES_FIELD:
            return
        if "filename" not in params:
            raise InvalidUpload(f"Part {self._part_number} is named 'files' but is not a file (it has no filename).")
        if b"filename*" in line.lower():  # RFC 5987: already decoded by its declared charset
            name = params["filename"]
        else:
            raw = params["filename"].encode("latin-1").replace(b"%22", b'"')  # WHATWG clients send " as %22
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidUpload(f"The file name of part {self._part_number} is not valid UTF-8.") from None
        name = checked_file_name(name, self._part_number)
        if not self.cleaned_by_django(name):
            raise InvalidUpload(f"The file name {name[:80]!r} of part {self._part_number} is empty once HTML "
                                "character references are decoded and invisible characters removed.")
        self.file_names.append(name)


def checked_file_name(name, part_number):
    """The name to send OpenAI for a part's file name, or InvalidUpload saying why there is none."""
    name = re.split(r"[/\\]", name)[-1]  # a path is not part of a file's name
    shown = repr(name[:80])
    if any(unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS for char in name):
        raise InvalidUpload(f"The file name {shown} of part {part_number} contains control characters.")
    if name.strip() in {"", ".", ".."}:
        raise InvalidUpload(f"Part {part_number} has no file name.")
    if len(name) > MAX_FILE_NAME_LENGTH:
        raise InvalidUpload(f"The file name {shown}… of part {part_number} is longer than "
                            f"{MAX_FILE_NAME_LENGTH} characters.")
    return name


class BodyAfterAccessRequest(Request):
    """A DRF request whose body is parsed only once the view has let the caller in (`allow_body()`).

    Until then `POST` is empty, so that SessionAuthentication's CSRF check (Django's CsrfViewMiddleware)
    never parses a multipart body to look for `csrfmiddlewaretoken` there: it takes the token from the
    X-CSRFToken header (CSRF_HEADER_NAME) only, and nothing a refused caller sends is ever stored.
    """

    body_allowed = False

    def allow_body(self):
        self.body_allowed = True

    @property
    def POST(self):
        if not self.body_allowed:
            return QueryDict(encoding=self._request.encoding)
        return super().POST

    @property
    def data(self):
        self._refuse_early_read()
        return super().data

    @property
    def FILES(self):
        self._refuse_early_read()
        return super().FILES

    def _refuse_early_read(self):
        if not self.body_allowed:
            raise RuntimeError("The request body is read only after authentication, permissions, the credential "
                               "check and throttling have passed (an authentication class that reads the body "
                               "cannot be used with this API).")


class StreamedUploadMixin:
    """For a DRF view that receives uploads (the API's and the console's): nothing of the body is read
    until `check_access()` has passed, after DRF's authentication, permissions and throttles; then the
    body streams to disk under the limits, and `validated_upload()` checks it."""

    def initialize_request(self, request, *args, **kwargs):
        request.upload_handlers = [LimitedTemporaryFileUploadHandler(request)]  # before anything reads the body
        return BodyAfterAccessRequest(
            request, parsers=self.get_parsers(), authenticators=self.get_authenticators(),
            negotiator=self.get_content_negotiator(), parser_context=self.get_parser_context(request),
        )

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication (CSRF from the header), permissions, throttles
        self.check_access(request, *args, **kwargs)
        request.allow_body()

    def check_access(self, request, *args, **kwargs):
        """The view's own access checks (e.g. the credential), which raise to refuse the call."""
        raise NotImplementedError

    def validated_upload(self, request):
        """The upload's `files` and `chunking_strategy`, checked by UploadSerializer (415, 413 or 400 otherwise)."""
        if not request.content_type.lower().startswith("multipart/form-data"):
            raise UnsupportedMediaType(request.content_type)  # also when the body is empty
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
