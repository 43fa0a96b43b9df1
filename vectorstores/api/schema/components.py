"""Serializers that only document: the upload's multipart body, and the objects the API answers with.

Response schemas mirror OpenAI's objects; they document, they never filter: the API passes OpenAI's
objects through unchanged, fields added later included.
"""

from rest_framework import serializers

from ..serializers import ChunkingStrategySerializer, StrictSerializer
from .extensions import schema_field


def const(value, **kwargs):
    """A string field that always holds `value`, like OpenAI's `object` fields."""
    return schema_field({"type": "string", "enum": [value]}, **kwargs)


# --- the upload's body ------------------------------------------------------------------


class UploadFilesRequestSerializer(StrictSerializer):
    """The multipart body of an upload (documentation only; UploadSerializer validates it)."""

    files = schema_field(
        {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"}},
        help_text="One part per file, each named files and carrying its file name.",
    )
    chunking_strategy = ChunkingStrategySerializer(
        required=False,
        help_text='A part holding JSON text, e.g. {"type": "auto"}.',
    )
    attributes = schema_field(
        {"type": "object", "additionalProperties": {}},
        required=False,
        help_text='A part holding JSON text: the attributes of every file ({"team": "support"}), '
        'or of each file by its name ({"a.pdf": {"team": "support"}}).',
    )


# --- response objects ------------------------------------------------------------------


class FileCountsSerializer(serializers.Serializer):
    in_progress = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    total = serializers.IntegerField()


ATTRIBUTES = {
    "type": "object",
    "nullable": True,
    "maxProperties": 16,
    "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]},
}


class VectorStoreSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = const("vector_store")
    created_at = serializers.IntegerField(help_text="Unix time, seconds.")
    name = serializers.CharField(allow_null=True)
    usage_bytes = serializers.IntegerField()
    file_counts = FileCountsSerializer()
    status = serializers.ChoiceField(choices=["expired", "in_progress", "completed"])
    expires_after = schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"anchor": {"type": "string", "enum": ["last_active_at"]}, "days": {"type": "integer"}},
        },
        required=False,
    )
    expires_at = serializers.IntegerField(allow_null=True, required=False)
    last_active_at = serializers.IntegerField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField(), allow_null=True)


class VectorStoreDeletionSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = const("vector_store.deleted")
    deleted = serializers.BooleanField()


class OpenAIFileSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = const("file")
    bytes = serializers.IntegerField()
    created_at = serializers.IntegerField(help_text="Unix time, seconds.")
    filename = serializers.CharField()
    purpose = serializers.CharField(help_text="Always assistants here.")
    status = serializers.CharField(help_text="Deprecated by OpenAI: uploaded, processed or error.")
    status_details = serializers.CharField(allow_null=True, required=False)
    expires_at = serializers.IntegerField(allow_null=True, required=False)


class VectorStoreFileSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The OpenAI File id.")
    object = const("vector_store.file")
    usage_bytes = serializers.IntegerField()
    created_at = serializers.IntegerField(help_text="Unix time, seconds.")
    vector_store_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["in_progress", "completed", "cancelled", "failed"])
    last_error = schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    )
    chunking_strategy = schema_field(
        {
            "type": "object",
            "properties": {"type": {"type": "string"}},
            "description": "The strategy used: static (with its sizes) or other.",
        },
        required=False,
    )
    attributes = schema_field(ATTRIBUTES, required=False)


class FileBatchObjectSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = schema_field({"type": "string", "enum": ["vector_store.files_batch", "vector_store.file_batch"]})
    created_at = serializers.IntegerField(help_text="Unix time, seconds.")
    vector_store_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["in_progress", "completed", "cancelled", "failed"])
    file_counts = FileCountsSerializer()


class FileContentPageSerializer(serializers.Serializer):
    object = const("vector_store.file_content.page")
    data = schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
            },
        }
    )
    has_more = serializers.BooleanField()
    next_page = serializers.CharField(allow_null=True)


class FileDetachmentSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The OpenAI File id.")
    object = const("vector_store.file.deleted")
    deleted = serializers.BooleanField(help_text="Whether the file was detached from the store.")
    file_deleted = serializers.BooleanField(
        required=False, help_text="Present with delete_file=true: whether the OpenAI File was deleted."
    )


class AttachFileReportSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The OpenAI File id.")
    status = serializers.CharField(allow_null=True, help_text="The file's status in the batch.")
    error = serializers.CharField(allow_null=True, help_text="OpenAI's message, when the file failed.")


class FileErrorSerializer(serializers.Serializer):
    """Why one file of a request failed, in a per-file report."""

    detail = serializers.CharField(help_text="What went wrong, for people.")
    message = serializers.CharField(help_text="The same text as detail.")
    code = serializers.CharField(help_text="What went wrong, for programs (the codes of the API's errors).")
    openai_request_id = serializers.CharField(required=False, help_text="OpenAI's x-request-id, when it sent one.")


# ErrorSerializer (below) refers to the per-file reports: its schema names them in a function of `ref`,
# called once the module is loaded (see schema_field).


class VectorStoreFileRemovalSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The OpenAI File id.")
    object = const("vector_store.file.deleted")
    deleted = serializers.BooleanField(help_text="Whether the file was detached from the store.")
    file_deleted = serializers.BooleanField(
        required=False, help_text="Present when delete_files was true: whether the OpenAI File was deleted."
    )
    error = FileErrorSerializer(
        required=False, help_text="Only in a failed request's report: why this file was not removed."
    )


class UploadFileReportSerializer(serializers.Serializer):
    filename = serializers.CharField()
    id = serializers.CharField(allow_null=True, help_text="The OpenAI File id, if the file was uploaded.")
    status = serializers.CharField(
        help_text="not_uploaded, upload_failed, uploaded, or the file's status in the "
        "batch: completed, failed, cancelled, in_progress."
    )
    error = schema_field(
        lambda ref: {"nullable": True, "oneOf": [ref(FileErrorSerializer), {"type": "string"}]},
        help_text="Why the file was not added: an error object, or OpenAI's message.",
    )
    file_deleted = serializers.BooleanField(help_text="Whether the OpenAI File was deleted again.")


class SearchResultSerializer(serializers.Serializer):
    file_id = serializers.CharField()
    filename = serializers.CharField()
    score = serializers.FloatField()
    attributes = schema_field(ATTRIBUTES)
    content = schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
                "required": ["type", "text"],
            },
        }
    )


class SearchResultsPageSerializer(serializers.Serializer):
    object = const("vector_store.search_results.page")
    search_query = serializers.ListField(child=serializers.CharField())
    data = SearchResultSerializer(many=True)
    has_more = serializers.BooleanField()
    next_page = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for people.")
    message = serializers.CharField(help_text="The same text as detail (the field Flowise's UI shows).")
    code = serializers.CharField(help_text="What went wrong, for programs (see the responses of each operation).")
    errors = schema_field(
        {"type": "object", "additionalProperties": {}},
        required=False,
        help_text="Field errors (code invalid): a list of messages per field, nested like the input.",
    )
    openai_request_id = serializers.CharField(required=False, help_text="OpenAI's x-request-id, when it sent one.")
    files = schema_field(
        lambda ref: {
            "type": "array",
            "items": {
                "anyOf": [
                    ref(UploadFileReportSerializer),
                    ref(VectorStoreFileRemovalSerializer),
                    ref(AttachFileReportSerializer),
                ]
            },
        },
        required=False,
        help_text="Failed uploads and removals: what happened to each file of the request.",
    )
