"""The OpenAPI documentation of the OpenAI-compatible routes: their own tag, OpenAI's operation ids and
objects, OpenAI's page objects and error envelope. Every operation is documented here, also those whose
code is the API's (the viewset documents a copy of the method, never the API's own)."""

import functools

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, OpenApiResponse, extend_schema
from rest_framework import serializers

from ..api.schema.components import (
    FileBatchObjectSerializer,
    FileContentPageSerializer,
    OpenAIFileSerializer,
    SearchResultsPageSerializer,
    VectorStoreDeletionSerializer,
    VectorStoreFileSerializer,
    VectorStoreSerializer,
    const,
)
from ..api.schema.operations import BATCH_ID, FILE_ID, RETRY_AFTER, STORE_ID
from ..api.schema.settings import OPENAI_TAG
from ..api.serializers import (
    AttachedFileSerializer,
    ContentQuerySerializer,
    CreateQuerySerializer,
    FileBatchSerializer,
    FileListQuerySerializer,
    ListQuerySerializer,
    SearchSerializer,
    UpdateFileSerializer,
    VectorStoreCreateSerializer,
    VectorStoreUpdateSerializer,
)
from .serializers import FileListQuerySerializer as UploadedFileListQuerySerializer

CREDENTIAL = OpenApiParameter(
    "credential",
    OpenApiTypes.UUID,
    OpenApiParameter.PATH,
    description="The id of the credential whose OpenAI API key the call uses: part of the SDK's base_url.",
)
WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[401],
    description="`Bearer` when the request carried no valid token.",
)
POLL_AFTER = OpenApiParameter(
    "openai-poll-after-ms",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[200],
    description="OpenAI's hint of how long to wait before polling again, passed on when OpenAI gave one.",
)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "vectorstores.openai_api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"  # not DRF's tokenAuth: another header keyword

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "The caller's token on this site."}


class OpenAIErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField(
        help_text="invalid_request_error, authentication_error, permission_error, not_found_error, "
        "rate_limit_error or server_error."
    )
    param = serializers.CharField(allow_null=True, help_text="The field at fault, when one is.")
    code = serializers.CharField(help_text="The API's error code, e.g. vector_store_not_found, throttled.")


class OpenAIErrorSerializer(serializers.Serializer):
    error = OpenAIErrorDetailSerializer()


class StoreFileDeletionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The OpenAI File id.")
    object = const("vector_store.file.deleted")
    deleted = serializers.BooleanField()


class FileDeletionSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = const("file")
    deleted = serializers.BooleanField()


@functools.cache
def page_of(item_serializer):
    """OpenAI's list object holding `item_serializer`'s objects."""
    name = item_serializer.__name__.removesuffix("Serializer") + "ListPage"
    fields = {
        "object": const("list"),
        "data": item_serializer(many=True),
        "first_id": serializers.CharField(allow_null=True),
        "last_id": serializers.CharField(allow_null=True),
        "has_more": serializers.BooleanField(),
    }
    return type(name, (serializers.Serializer,), {**fields, "__module__": __name__})


ERRORS = {
    400: "Invalid input: `param` names the field.",
    401: "No valid token (`Authorization: Bearer <token>`), or OpenAI refused the credential's key.",
    403: "OpenAI refused the credential access.",
    404: "No such credential (or not one you may use), vector store or File (or not yours).",
    409: "A conflict (OpenAI's, or a File another user's vector store holds).",
    413: "The upload is larger than this site accepts.",
    415: "The body is not of the media type this operation takes.",
    429: "Too many requests: the site's throttle or OpenAI's rate limit (see Retry-After).",
    502: "OpenAI failed, answered 5xx or could not be read.",
    503: "The credential cannot be used (its key unreadable, or its endpoint no longer allowed), or the "
    "site's throttle cannot count the call (try again shortly).",
    504: "OpenAI did not answer in time.",
}


def _operation(operation_id, summary, response, *, parameters=(), request=None, description="", errors=None):
    """`errors`: what an operation adds to a status's description in ERRORS."""
    errors = {status: " ".join(filter(None, [text, (errors or {}).get(status)])) for status, text in ERRORS.items()}
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description or summary + ", as OpenAI's API does.",
        tags=[OPENAI_TAG],
        request=request,
        parameters=[CREDENTIAL, *parameters, RETRY_AFTER, WWW_AUTHENTICATE],
        responses={
            200: OpenApiResponse(response),
            **{status: OpenApiResponse(OpenAIErrorSerializer, description=text) for status, text in errors.items()},
        },
    )


OPERATIONS = {
    "list_vector_stores": _operation(
        "listVectorStores",
        "List vector stores",
        page_of(VectorStoreSerializer),
        parameters=[ListQuerySerializer],
        description="One page (`limit` 1-100, default 20). Under a credential in owned mode: the caller's own "
        "stores and those of their groups.",
    ),
    "create": _operation(
        "createVectorStore",
        "Create a vector store",
        VectorStoreSerializer,
        parameters=[CreateQuerySerializer],
        request=VectorStoreCreateSerializer,
        description="The new store is the caller's; with `?group=` the members of that group of theirs reach it "
        "too (pass it with the SDK's `extra_query`).",
    ),
    "retrieve": _operation("getVectorStore", "Retrieve a vector store", VectorStoreSerializer, parameters=[STORE_ID]),
    "update": _operation(
        "modifyVectorStore",
        "Modify a vector store",
        VectorStoreSerializer,
        parameters=[STORE_ID],
        request=VectorStoreUpdateSerializer,
    ),
    "destroy": _operation(
        "deleteVectorStore", "Delete a vector store", VectorStoreDeletionSerializer, parameters=[STORE_ID]
    ),
    "search": _operation(
        "searchVectorStore",
        "Search a vector store",
        SearchResultsPageSerializer,
        parameters=[STORE_ID],
        request=SearchSerializer,
    ),
    "list_files": _operation(
        "listVectorStoreFiles",
        "List the files of a vector store",
        page_of(VectorStoreFileSerializer),
        parameters=[STORE_ID, FileListQuerySerializer],
    ),
    "create_store_file": _operation(
        "createVectorStoreFile",
        "Attach a File to a vector store",
        VectorStoreFileSerializer,
        parameters=[STORE_ID],
        request=AttachedFileSerializer,
        description="Attaches the File and answers at once with the vector store file (poll it until its status "
        "is final). A File in a vector store of another user answers 404.",
    ),
    "retrieve_file": _operation(
        "getVectorStoreFile",
        "Retrieve a file of a vector store",
        VectorStoreFileSerializer,
        parameters=[STORE_ID, FILE_ID, POLL_AFTER],
    ),
    "update_file": _operation(
        "updateVectorStoreFileAttributes",
        "Update the attributes of a file of a vector store",
        VectorStoreFileSerializer,
        parameters=[STORE_ID, FILE_ID],
        request=UpdateFileSerializer,
    ),
    "detach_file": _operation(
        "deleteVectorStoreFile",
        "Remove a file from a vector store",
        StoreFileDeletionSerializer,
        parameters=[STORE_ID, FILE_ID],
        description="Detaches the file; the File itself stays (delete it with `DELETE /files/{file_id}`).",
    ),
    "file_content": _operation(
        "retrieveVectorStoreFileContent",
        "Read what OpenAI indexed of a file",
        FileContentPageSerializer,
        parameters=[STORE_ID, FILE_ID, ContentQuerySerializer],
    ),
    "create_file_batch": _operation(
        "createVectorStoreFileBatch",
        "Create a file batch",
        FileBatchObjectSerializer,
        parameters=[STORE_ID],
        request=FileBatchSerializer,
    ),
    "retrieve_file_batch": _operation(
        "getVectorStoreFileBatch",
        "Retrieve a file batch",
        FileBatchObjectSerializer,
        parameters=[STORE_ID, BATCH_ID, POLL_AFTER],
    ),
    "cancel_file_batch": _operation(
        "cancelVectorStoreFileBatch", "Cancel a file batch", FileBatchObjectSerializer, parameters=[STORE_ID, BATCH_ID]
    ),
    "list_batch_files": _operation(
        "listFilesInVectorStoreBatch",
        "List the files of a file batch",
        page_of(VectorStoreFileSerializer),
        parameters=[STORE_ID, BATCH_ID, FileListQuerySerializer],
    ),
    "create_file": _operation(
        "createFile",
        "Upload a File",
        OpenAIFileSerializer,
        request={
            "multipart/form-data": OpenApiRequest(
                {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "purpose": {"type": "string", "enum": ["assistants"]},
                        "expires_after[anchor]": {"type": "string", "enum": ["created_at"]},
                        "expires_after[seconds]": {"type": "integer", "minimum": 3600, "maximum": 2592000},
                    },
                }
            )
        },
        description="Uploads one file (purpose `assistants`), streamed to disk under the site's upload limits "
        "and file type checks before anything reaches OpenAI. The File is the caller's.",
        errors={
            429: "Or (`too_many_long_calls`) MAX_LONG_CALLS_PER_USER uploads of yours are running already.",
            503: "Or (`server_busy`) this server process runs MAX_LONG_CALLS_PER_PROCESS uploads already.",
        },
    ),
    "list_uploaded_files": _operation(
        "listFiles",
        "List your Files",
        page_of(OpenAIFileSerializer),
        parameters=[UploadedFileListQuerySerializer],
        description="The Files the caller uploaded with POST /files under this credential (as last seen), newest "
        "first; never the organisation's others.",
    ),
    "retrieve_uploaded_file": _operation(
        "retrieveFile",
        "Retrieve a File",
        OpenAIFileSerializer,
        parameters=[FILE_ID],
        description="A File of the caller's, or one in a vector store they reach; only Files for vector stores "
        "(purpose assistants): the key's others answer 404.",
    ),
    "delete_uploaded_file": _operation(
        "deleteFile",
        "Delete a File",
        FileDeletionSerializer,
        parameters=[FILE_ID],
        description="Deletes the File, which also takes it out of every vector store; 409 if a vector store of "
        "another user holds it. Only Files for vector stores (purpose assistants): the key's others answer 404.",
    ),
}


def wire_documented(viewset):
    """Document each of the viewset's OPERATIONS on a method of its own (an inherited one is wrapped, so that
    the API's documentation of it stays as it is)."""
    for action, document in OPERATIONS.items():
        method = getattr(viewset, action)

        @functools.wraps(method, assigned=("__name__", "__qualname__", "__doc__"), updated=())
        def documented(self, *args, _action_method=method, **kwargs):
            return _action_method(self, *args, **kwargs)

        # extend_schema builds on the method's schema class, else on the host's DEFAULT_SCHEMA_CLASS.
        documented.schema = AutoSchema()
        setattr(viewset, action, document(documented))
    return viewset
