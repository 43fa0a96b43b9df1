"""Receiving uploads: limits and file names are enforced while the multipart body streams in,
before it is all read or stored, and a file name is never used as a local path.

File names come from Django's own multipart parser, with this API's policy (`checked_file_name`)
in place of Django's cleaning, which would unescape HTML entities, strip characters and silently
drop a part whose name it empties: every part named `files` keeps the name its client sent, except
that a path is reduced to its last component. A name that is empty or invisible, holds control
characters or is longer than MAX_FILE_NAME_LENGTH is refused (400). Alongside the parser,
`PartHeaderScanner` reads the raw part headers as the body streams past, to refuse what the parser
would drop or guess at (a name that is not UTF-8, two Content-Disposition headers, a part after the
closing boundary, a body cut short); if the two ever count a different number of files, the
request is refused (400) rather than guessed at.
"""

import codecs
import re
import unicodedata

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import QueryDict
from django.http.multipartparser import MAX_TOTAL_HEADER_SIZE, MultiPartParserError
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.template.defaultfilters import filesizeformat
from django.utils.http import parse_header_parameters
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.request import Request

from ..conf import app_settings
from .exceptions import LengthRequired, PayloadTooLarge
from .parsers import charset_other_than_utf8
from .serializers import UploadSerializer

FILES_FIELD = "files"
MAX_FILE_NAME_LENGTH = 255  # what file systems, and Django's UploadedFile, allow
# Invisible characters that reorder or hide text, used to disguise a name ("doc<U+202E>fdp.exe").
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
# What Django's temporary file is named after, instead of the caller's name (whose extension it would take).
TEMPORARY_NAME = "upload"


# UTF-8 that refuses invalid bytes whatever error handling it is asked for: Django's multipart parser decodes
# each text part with errors="replace", which would lose what a caller sent without a word.
STRICT_UTF8 = "vectorstores-strict-utf-8"


def _find_strict_utf8(name):
    if name.replace("_", "-") == STRICT_UTF8:
        return codecs.CodecInfo(
            name=STRICT_UTF8,
            encode=codecs.utf_8_encode,
            decode=lambda data, errors="strict": codecs.utf_8_decode(data, "strict", True),
        )
    return None


codecs.register(_find_strict_utf8)


class InvalidUpload(serializers.ValidationError):
    def __init__(self, message, field=FILES_FIELD):
        super().__init__({field: [message]})


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
        self.received = []  # the field name of each file part, in the order Django's parser found them

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > app_settings.MAX_UPLOAD_SIZE:
            raise PayloadTooLarge(
                f"The request is larger than the {filesizeformat(app_settings.MAX_UPLOAD_SIZE)} this server accepts."
            )

    def new_file(self, field_name, file_name, *args, **kwargs):
        self.file_count += 1
        if self.file_count > app_settings.MAX_FILES_PER_UPLOAD:
            raise PayloadTooLarge(f"At most {app_settings.MAX_FILES_PER_UPLOAD} files per request.")
        # Django names the temporary file after the upload's extension: the caller's name stays off the disk.
        super().new_file(field_name, TEMPORARY_NAME, *args, **kwargs)
        self.file.name = self.file_name = file_name
        self.received.append(field_name)

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
    """DRF's multipart parser: Django's parser with this API's file names, and the raw part headers checked.

    `file_field`: the name of the parts that hold files ("files" for this API; OpenAI's `POST /files` has "file").
    """

    def __init__(self, file_field=FILES_FIELD):
        self.file_field = file_field

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        try:
            return self._parse(request, stream, media_type, parser_context)
        except (RequestDataTooBig, TooManyFilesSent) as exc:  # Django's own global limits
            raise PayloadTooLarge(str(exc)) from None
        except TooManyFieldsSent as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from None
        finally:
            # Whatever stopped the parse (a limit, a bad part, a client gone), no partial file stays.
            for handler in request.upload_handlers:
                if isinstance(handler, LimitedTemporaryFileUploadHandler):
                    handler.discard_partial_file()

    def _parse(self, request, stream, media_type, parser_context):
        # A media type's name is case-insensitive (RFC 9110); Django's parser takes "multipart/" in lower case only.
        name, semicolon, parameters = media_type.partition(";")
        media_type = name.strip().lower() + semicolon + parameters
        scanner = PartHeaderScanner(stream, _boundary_of(media_type), self.file_field)
        meta = {**request.META, "CONTENT_TYPE": media_type}
        if charset := charset_other_than_utf8(media_type):  # names and text in another would change meaning
            raise ParseError(f"Multipart form parse error - a multipart body is UTF-8, not {charset!r}.")
        try:
            # Strictly: Django's parser would put U+FFFD for each byte that is not UTF-8.
            django_parser = FileNamePolicyParser(
                meta, scanner, request.upload_handlers, STRICT_UTF8, file_field=self.file_field
            )
            data, files = django_parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        except UnicodeDecodeError:
            raise ParseError("Multipart form parse error - a text part is not valid UTF-8.") from None
        received = sum(
            field == self.file_field
            for handler in request.upload_handlers
            if isinstance(handler, LimitedTemporaryFileUploadHandler)
            for field in handler.received
        )
        problem = None
        if not scanner.finished:
            # Django takes a body cut short (a client gone mid-upload) for a whole one: refuse it.
            problem = "the body ended before its closing boundary."
        elif received != scanner.file_parts or len(files.getlist(self.file_field)) != received:
            problem = "its parts cannot be read unambiguously."
        if problem:
            for _, uploads in files.lists():
                for upload in uploads:
                    upload.close()
            raise ParseError(f"Multipart form parse error - {problem}")
        return parsers.DataAndFiles(data, files)


class FileNamePolicyParser(DjangoMultiPartParser):
    """Django's multipart parser, naming each file by this API's policy instead of Django's cleaning."""

    def __init__(self, *args, file_field=FILES_FIELD, **kwargs):
        super().__init__(*args, **kwargs)
        self._file_number = 0
        self._file_field = file_field

    def sanitize_file_name(self, file_name):
        self._file_number += 1
        # WHATWG clients (browsers, curl) send a " in a name as %22.
        return checked_file_name(file_name.replace("%22", '"'), self._file_number, self._file_field)


def _boundary_of(media_type):
    boundary = parse_header_parameters(media_type or "")[1].get("boundary")
    if not boundary:
        raise ParseError("Multipart form parse error - the Content-Type has no boundary.")
    return boundary.encode("latin-1", "replace")


class PartHeaderScanner:
    """A read-through wrapper of the request body that checks each part's headers as they pass.

    It finds parts exactly where Django's parser does (after each `--boundary`), and refuses what
    that parser would drop silently or resolve by guessing. A file's content cannot contain the
    boundary, so what is found there is a part's header and never a file's bytes.
    """

    def __init__(self, stream, boundary, file_field=FILES_FIELD):
        self._stream = stream
        self._file_field = file_field
        self._delimiter = b"--" + boundary
        self._buffer = b""
        self.finished = False  # whether the closing boundary went past
        self.file_parts = 0  # parts named `file_field` that are files, as Django's parser tells them apart
        self._part_number = 0

    def read(self, size=-1):
        chunk = self._stream.read(size)
        self._scan(chunk)
        return chunk

    def _scan(self, chunk):
        buffer = self._buffer + chunk
        position = 0
        while (start := buffer.find(self._delimiter, position)) != -1:
            after = start + len(self._delimiter)
            if len(buffer) - after < 2:
                break  # whether this is the closing boundary comes with the next chunk
            if buffer[after : after + 2] == b"--":
                self.finished = True
                position = after + 2
                continue
            end = buffer.find(b"\r\n\r\n", after)
            if (end if end != -1 else len(buffer)) + 4 - after > MAX_TOTAL_HEADER_SIZE:  # Django's own limit
                raise ParseError(
                    f"Multipart form parse error - the headers of part {self._part_number + 1} "
                    f"are longer than the {MAX_TOTAL_HEADER_SIZE} bytes this server reads."
                )
            if end == -1:
                break  # the rest of these headers comes with the next chunk
            if self.finished:
                raise ParseError("Multipart form parse error - a part follows the closing boundary.")
            self._check_part(buffer[after:end])
            position = end + 4
        else:
            start = max(position, len(buffer) - len(self._delimiter) - 2)
        self._buffer = buffer[start:]

    def _check_part(self, headers):
        """Read a part's headers line by line, as Django's parse_boundary_stream() does."""
        self._part_number += 1
        dispositions = []
        for line in headers.split(b"\r\n"):
            try:
                text = line.decode()
            except UnicodeDecodeError:
                if line.lower().lstrip().startswith(b"content-disposition"):
                    raise InvalidUpload(
                        f"The headers of part {self._part_number} are not valid UTF-8.", self._file_field
                    ) from None
                continue  # a header Django skips, and so does this check
            try:
                main_value, params = parse_header_parameters(text)
            except (ValueError, LookupError):  # an RFC 2231 parameter in an unknown encoding (a LookupError in
                # early Django 5.2 releases): Django's parser would raise too
                raise InvalidUpload(f"A header of part {self._part_number} cannot be read.", self._file_field) from None
            if main_value.partition(":")[0] == "content-disposition":
                dispositions.append(params)
        if len(dispositions) > 1:
            raise InvalidUpload(
                f"Part {self._part_number} has more than one Content-Disposition header.", self._file_field
            )
        params = dispositions[0] if dispositions else {}
        if params.get("name", "").strip() != self._file_field:
            return
        if "filename" not in params:
            raise InvalidUpload(
                f"Part {self._part_number} is named {self._file_field!r} but is not a file (it has no filename).",
                self._file_field,
            )
        if not params["filename"]:
            raise InvalidUpload(f"Part {self._part_number} has no file name.", self._file_field)
        self.file_parts += 1


def checked_file_name(name, file_number, field=FILES_FIELD):
    """The name to send OpenAI for a file part's name, or InvalidUpload saying why there is none."""
    name = re.split(r"[/\\]", name)[-1]  # a path is not part of a file's name
    shown = repr(name[:80])
    where = f"file part {file_number}"
    if any(unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS for char in name):
        raise InvalidUpload(f"The file name {shown} of {where} contains control characters.", field)
    if name in {".", ".."} or not any(char.isprintable() and not char.isspace() for char in name):
        raise InvalidUpload(f"The file name {shown} of {where} has no visible characters: it has no file name.", field)
    if len(name) > MAX_FILE_NAME_LENGTH:
        raise InvalidUpload(
            f"The file name {shown}… of {where} is longer than {MAX_FILE_NAME_LENGTH} characters.", field
        )
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
        try:
            return super().data
        except RequestDataTooBig as exc:  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, for a JSON body
            raise PayloadTooLarge(f"The request body is larger than this server accepts ({exc}).") from None

    @property
    def FILES(self):
        self._refuse_early_read()
        return super().FILES

    def _refuse_early_read(self):
        if not self.body_allowed:
            raise RuntimeError(
                "The request body is read only after authentication, permissions, the credential "
                "check and throttling have passed (an authentication class that reads the body "
                "cannot be used with this API)."
            )


class StreamedUploadMixin:
    """For a DRF view that receives uploads (the API's and the console's): nothing of the body is read
    until `check_access()` has passed, after DRF's authentication, permissions and throttles; then the
    body streams to disk under the limits, and `validated_upload()` checks it."""

    def initialize_request(self, request, *args, **kwargs):
        request.upload_handlers = [LimitedTemporaryFileUploadHandler(request)]  # before anything reads the body
        return BodyAfterAccessRequest(
            request,
            parsers=self.get_parsers(),
            authenticators=self.get_authenticators(),
            negotiator=self.get_content_negotiator(),
            parser_context=self.get_parser_context(request),
        )

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication (CSRF from the header), permissions, throttles
        self.check_access(request, *args, **kwargs)
        if "HTTP_TRANSFER_ENCODING" in request.META:
            raise LengthRequired()  # rather than a call made as if its body were empty
        request.allow_body()

    def check_access(self, request, *args, **kwargs):
        """The view's own access checks (e.g. the credential), which raise to refuse the call."""
        raise NotImplementedError

    def validated_upload(self, request, serializer_class=UploadSerializer):
        """The upload's parts, checked by `serializer_class` (415, 413 or 400 otherwise)."""
        if not request.content_type.lower().startswith("multipart/form-data"):
            raise UnsupportedMediaType(request.content_type)  # also when the body is empty
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
