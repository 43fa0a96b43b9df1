"""OpenAPI documentation of the vector store API (drf-spectacular), kept apart from the views.

Response schemas mirror OpenAI's objects; they document, they never filter: the
API passes OpenAI's objects through unchanged, fields added later included.
"""
from types import SimpleNamespace

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

from .serializers import (
    FileListQuerySerializer,
    ListQuerySerializer,
    RemoveFilesSerializer,
    SearchSerializer,
    VectorStoreCreateSerializer,
    VectorStoreUpdateSerializer,
)

TAG = "Vector stores"

CREDENTIAL = OpenApiParameter(
    "credential", OpenApiTypes.UUID, OpenApiParameter.QUERY, required=True,
    description="The id of the credential whose OpenAI API key the call uses.",
)
STORE_ID = OpenApiParameter(
    "store_id", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=r"^[A-Za-z0-9_-]{1,128}$",
    description="The vector store id, e.g. vs_abc123.",
)
LINK = OpenApiParameter(
    "Link", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
    description='When more objects exist: `<url>; rel="next"`, the URL of the next page.',
)


class FileCountsSerializer(serializers.Serializer):
    in_progress = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    total = serializers.IntegerField()


class VectorStoreObjectSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text="Always vector_store.")
    created_at = serializers.IntegerField()
    name = serializers.CharField(allow_null=True)
    usage_bytes = serializers.IntegerField()
    file_counts = FileCountsSerializer()
    status = serializers.ChoiceField(choices=["expired", "in_progress", "completed"])
    expires_after = serializers.DictField(allow_null=True, required=False)
    expires_at = serializers.IntegerField(allow_null=True, required=False)
    last_active_at = serializers.IntegerField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField(), allow_null=True)


class DeletedObjectSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    deleted = serializers.BooleanField()


class FileObjectSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text="Always file.")
    bytes = serializers.IntegerField()
    created_at = serializers.IntegerField()
    filename = serializers.CharField()
    purpose = serializers.CharField(help_text="Always assistants here.")
    status = serializers.CharField()
    status_details = serializers.CharField(allow_null=True, required=False)
    expires_at = serializers.IntegerField(allow_null=True, required=False)


class VectorStoreFileObjectSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(help_text="Always vector_store.file.")
    usage_bytes = serializers.IntegerField()
    created_at = serializers.IntegerField()
    vector_store_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["in_progress", "completed", "cancelled", "failed"])
    last_error = serializers.DictField(allow_null=True)
    chunking_strategy = serializers.DictField(required=False)
    attributes = serializers.DictField(allow_null=True, required=False)


class RemovalReportSerializer(DeletedObjectSerializer):
    file_deleted = serializers.BooleanField(required=False, help_text="Present when delete_files was true.")
    error = serializers.DictField(required=False, help_text="Why this file was not removed.")


class SearchPageSerializer(serializers.Serializer):
    object = serializers.CharField(help_text="Always vector_store.search_results.page.")
    search_query = serializers.JSONField()
    data = serializers.ListField(child=serializers.DictField())
    has_more = serializers.BooleanField()
    next_page = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False, help_text="Field errors, for code 'invalid'.")
    openai_request_id = serializers.CharField(required=False, help_text="OpenAI's x-request-id, when it sent one.")
    files = serializers.ListField(child=serializers.DictField(), required=False,
                                  help_text="Upload and removal failures: what happened to each file.")


def _errors(*statuses):
    descriptions = {
        400: "Invalid input (field errors in `errors`), or OpenAI rejected the request.",
        401: "Not authenticated, or OpenAI rejected the credential's API key.",
        403: "OpenAI refused the credential access.",
        404: "Credential not found (or not usable by you), or OpenAI has no such object.",
        409: "OpenAI reported a conflict.",
        413: "The upload breaks a size or count limit.",
        429: "OpenAI's rate limit; Retry-After is passed on.",
        500: "The file batch failed or was cancelled; `files` reports each file.",
        502: "OpenAI failed or could not be reached.",
        504: "OpenAI did not answer (or finish a file batch) in time.",
    }
    return {status: OpenApiResponse(ErrorSerializer, description=descriptions[status]) for status in statuses}


COMMON_ERRORS = (400, 401, 404, 429, 502, 504)


def _operation(operation_id, summary, *, responses, parameters=(), request=None, errors=COMMON_ERRORS, **kwargs):
    return extend_schema(
        operation_id=operation_id, summary=summary, tags=[TAG], request=request,
        parameters=[CREDENTIAL, *parameters], responses={**responses, **_errors(*errors)}, **kwargs,
    )


document = SimpleNamespace(
    list_vector_stores=_operation(
        "list_vector_stores", "List vector stores",
        parameters=[ListQuerySerializer, LINK],
        responses={200: OpenApiResponse(VectorStoreObjectSerializer(many=True),
                                        description="Every vector store, or one page when limit, after or before is given.")},
    ),
    create_vector_store=_operation(
        "create_vector_store", "Create a vector store",
        request=VectorStoreCreateSerializer, responses={200: VectorStoreObjectSerializer},
    ),
    get_vector_store=_operation(
        "get_vector_store", "Get a vector store", parameters=[STORE_ID],
        responses={200: VectorStoreObjectSerializer},
    ),
    update_vector_store=_operation(
        "update_vector_store", "Update a vector store", parameters=[STORE_ID],
        request=VectorStoreUpdateSerializer, responses={200: VectorStoreObjectSerializer},
    ),
    delete_vector_store=_operation(
        "delete_vector_store", "Delete a vector store", parameters=[STORE_ID],
        responses={200: DeletedObjectSerializer},
    ),
    upload_files=_operation(
        "upload_files_to_vector_store", "Upload files into a vector store", parameters=[STORE_ID],
        request={"multipart/form-data": inline_serializer("UploadFilesRequest", {
            "files": serializers.ListField(child=serializers.FileField(), help_text="One or more parts named files."),
            "chunking_strategy": serializers.CharField(required=False, help_text='JSON text, e.g. {"type": "auto"}.'),
        })},
        responses={200: FileObjectSerializer(many=True)}, errors=(*COMMON_ERRORS, 413, 500),
        description="Uploads the files to OpenAI concurrently, attaches them in one file batch and waits "
                    "until the batch is done.",
    ),
    remove_files=_operation(
        "remove_files_from_vector_store", "Remove files from a vector store", parameters=[STORE_ID],
        request=RemoveFilesSerializer, responses={200: RemovalReportSerializer(many=True)},
    ),
    list_files=_operation(
        "list_vector_store_files", "List the files of a vector store",
        parameters=[STORE_ID, FileListQuerySerializer, LINK],
        responses={200: OpenApiResponse(VectorStoreFileObjectSerializer(many=True),
                                        description="Every file, or one page when limit, after or before is given.")},
    ),
    search=_operation(
        "search_vector_store", "Search a vector store", parameters=[STORE_ID],
        request=SearchSerializer, responses={200: SearchPageSerializer},
    ),
)
