"""The file types an upload may have: OpenAI file_search's list, in one place.

A part is accepted when its extension is allowed (the ALLOWED_EXTENSIONS setting,
by default every extension of FILE_TYPES), its declared Content-Type does not contradict
the extension, and, for binary formats, its first bytes are that format's. The
declared type is never trusted on its own.
"""

from dataclasses import dataclass

from .conf import app_settings

# Types that say nothing about the content, so they contradict no extension.
GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream"}


@dataclass(frozen=True)
class FileType:
    content_types: frozenset  # the declared types that agree with the extension
    any_text: bool = False  # a text format: any text/* type agrees too (clients differ on code files)
    magic: tuple = ()  # the content must start with one of these (binary formats)


def _text(*content_types):
    return FileType(frozenset(content_types), any_text=True)


def _binary(magic, *content_types):
    return FileType(frozenset(content_types), magic=magic)


PDF, ZIP, OLE = (b"%PDF-",), (b"PK\x03\x04",), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)

# https://platform.openai.com/docs/assistants/tools/file-search#supported-files
FILE_TYPES = {
    ".c": _text(),
    ".cpp": _text(),
    ".cs": _text(),
    ".css": _text(),
    ".doc": _binary(OLE, "application/msword"),
    ".docx": _binary(ZIP, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ".go": _text(),
    ".html": _text(),
    ".java": _text(),
    ".js": _text("application/javascript", "application/x-javascript"),
    ".json": _text("application/json"),
    ".md": _text(),
    ".pdf": _binary(PDF, "application/pdf", "application/x-pdf"),
    ".php": _text("application/x-php", "application/x-httpd-php"),
    ".pptx": _binary(ZIP, "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ".py": _text("application/x-python", "application/x-python-code"),
    ".rb": _text("application/x-ruby"),
    ".sh": _text("application/x-sh", "application/x-shellscript"),
    ".tex": _text("application/x-tex", "application/x-latex"),
    ".ts": _text("application/typescript", "application/x-typescript"),
    ".txt": _text(),
}


def extension_of(name):
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def file_type_problem(upload):
    """Why OpenAI file_search would not take `upload` (a Django UploadedFile), or None if it would."""
    extension = extension_of(upload.name)
    allowed = app_settings.ALLOWED_EXTENSIONS or tuple(FILE_TYPES)
    if extension not in allowed:
        shown = extension or "(no extension)"
        return f"File {upload.name!r}: type {shown} is not accepted; allowed: {', '.join(allowed)}."
    file_type = FILE_TYPES[extension]
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    agrees = (
        declared in GENERIC_TYPES
        or declared in file_type.content_types
        or (file_type.any_text and declared.startswith("text/"))
    )
    if not agrees:
        return f"File {upload.name!r}: its declared type {declared} contradicts its extension {extension}."
    if file_type.magic:
        upload.seek(0)
        head = upload.read(16)
        upload.seek(0)
        if not head.startswith(file_type.magic):
            return f"File {upload.name!r}: its content is not a {extension} file."
    return None
