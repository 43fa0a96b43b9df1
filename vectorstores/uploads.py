"""Upload limits, enforced while the multipart body streams in, before it is all read or stored."""
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.template.defaultfilters import filesizeformat

from .conf import app_settings
from .exceptions import PayloadTooLarge


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Streams every file to a temporary file on disk, and stops at the first limit it breaks.

    Raising aborts the parse; Django then closes (and so deletes) the files already
    complete, and this handler closes the one being written.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.file_count = 0
        self.total_bytes = 0

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
            self.file.close()
            raise PayloadTooLarge(
                f"File {self.file_name!r} is larger than the {filesizeformat(app_settings.MAX_FILE_SIZE)} "
                "this server accepts per file."
            )
        if self.total_bytes > app_settings.MAX_UPLOAD_SIZE:
            self.file.close()
            raise PayloadTooLarge(
                f"The files are larger than the {filesizeformat(app_settings.MAX_UPLOAD_SIZE)} this server accepts."
            )
        return super().receive_data_chunk(raw_data, start)
