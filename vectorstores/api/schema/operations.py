"""Each operation's documentation: the `document.<operation>` decorators of the API's views (api/views.py).

Parameters, request bodies, responses, and what each error status means for it.
"""

from types import SimpleNamespace

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiRequest,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)

from ...filetypes import FILE_TYPES
from ..serializers import (
    OBJECT_ID_PATTERN,
    AttachFilesSerializer,
    ContentQuerySerializer,
    CreateQuerySerializer,
    DetachQuerySerializer,
    FileBatchSerializer,
    FileListQuerySerializer,
    ListQuerySerializer,
    RemoveFilesSerializer,
    SearchSerializer,
    UpdateFileSerializer,
    VectorStoreCreateSerializer,
    VectorStoreUpdateSerializer,
    WaitQuerySerializer,
)
from .components import (
    ErrorSerializer,
    FileBatchObjectSerializer,
    FileContentPageSerializer,
    FileDetachmentSerializer,
    OpenAIFileSerializer,
    SearchResultsPageSerializer,
    UploadFilesRequestSerializer,
    VectorStoreDeletionSerializer,
    VectorStoreFileRemovalSerializer,
    VectorStoreFileSerializer,
    VectorStoreSerializer,
)
from .settings import TAG

CREDENTIAL = OpenApiParameter(
    "credential",
    OpenApiTypes.UUID,
    OpenApiParameter.QUERY,
    required=True,
    description="The id of the credential whose OpenAI API key the call uses.",
)


def path_id(name, description):
    """An id in the path, which the API checks by the object id rule."""
    return OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.PATH, pattern=OBJECT_ID_PATTERN.pattern, description=description
    )


STORE_ID = path_id("store_id", "The vector store id, e.g. vs_abc123.")
FILE_ID = path_id("file_id", "The OpenAI File id, e.g. file-abc123.")
BATCH_ID = path_id("batch_id", "The file batch id, e.g. vsfb_abc123.")
LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    response=[202],
    description="The URL of the file batch (GET it to follow its processing).",
)
LINK = OpenApiParameter(
    "Link",
    {"type": "string", "pattern": r'^<[^>]+>; rel="next"$'},
    OpenApiParameter.HEADER,
    response=[200],
    description='Present when more objects exist: `<url>; rel="next"`, the URL of the rest of the list '
    "(`after=<last id of this page>`, the other parameters kept).",
)
CONTENT_LINK = OpenApiParameter(
    "Link",
    {"type": "string", "pattern": r'^<[^>]+>; rel="next"$'},
    OpenApiParameter.HEADER,
    response=[200],
    description='Present when more content remains: `<url>; rel="next"`, the URL of the next page '
    "(`page=<OpenAI's next_page token>`, the other parameters kept).",
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 0},
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before retrying: the throttle's wait, or OpenAI's when it sent one.",
)
WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[401],
    description="`Token` when the request carried no valid credentials.",
)

ERROR_DESCRIPTIONS = {
    400: "`invalid`: a query parameter, the path id or a body field is invalid (field errors in `errors`); "
    "`parse_error`: the body is not valid JSON; `openai_bad_request`: OpenAI rejected the request.",
    401: "`not_authenticated` / `authentication_failed`: no or a bad token or session; "
    "`openai_invalid_api_key`: OpenAI rejected the credential's API key.",
    403: "`openai_permission_denied`: OpenAI refused the credential access; `permission_denied`: with session "
    "authentication, an unsafe method without the CSRF token.",
    404: "`credential_not_found`: no such credential, or not one you may use; "
    "`vector_store_not_found`: under a credential in owned mode, no vector store of yours has this id (another "
    "user's answers the same); `file_not_found`: a File in a vector store of another user; "
    "`openai_not_found`: OpenAI has no such vector store or file.",
    406: "`not_acceptable`: the Accept header admits no JSON.",
    409: "`openai_conflict`: OpenAI reported a conflict.",
    413: "`payload_too_large`: too many files, a file too large, or a request too large.",
    415: "`unsupported_media_type`: the body is not of the media type this operation takes.",
    429: "`throttled`: too many requests from you (the site's throttle rates; an upload or a removal counts "
    "once per file); "
    "`openai_rate_limited`: OpenAI's rate limit.",
    "4XX": "`openai_client_error`: another 4xx answer from OpenAI, passed on with its status.",
    500: "`batch_failed` / `batch_cancelled` / `batch_completed`: the file batch ended without every file "
    "processed; `files` reports each file.",
    502: "`openai_server_error`: OpenAI answered 5xx; `openai_unreachable`: no connection to OpenAI; "
    "`openai_bad_response`: OpenAI's answer was not the JSON expected.",
    503: "`credential_unreadable`: the credential's stored key cannot be decrypted with the server's keys "
    "(the server's encryption key changed); `credential_endpoint_refused`: the credential's base URL names "
    "a host this site no longer sends keys to; `throttle_unavailable`: the cache the throttles count in does "
    "not answer (try again shortly).",
    504: "`openai_timeout`: OpenAI did not answer in time.",
}
TOO_MANY_LONG_CALLS = (
    "`too_many_long_calls`: you have MAX_LONG_CALLS_PER_USER uploads and attaches that wait for their batch "
    "running already (no Retry-After: send it when one of them has ended)."
)
SERVER_BUSY = (
    "`server_busy`: this server process runs MAX_LONG_CALLS_PER_PROCESS uploads and attaches that wait for "
    "their batch already, all users' (try again shortly)."
)
ERRORS = (400, 401, 403, 404, 406, 409, 429, "4XX", 502, 503, 504)
BODY_ERRORS = (*ERRORS, 415)


def _errors(statuses, extra_descriptions):
    return {
        status: OpenApiResponse(
            ErrorSerializer,
            description=" ".join(filter(None, [ERROR_DESCRIPTIONS[status], extra_descriptions.get(status)])),
        )
        for status in statuses
    }


def _operation(
    operation_id,
    summary,
    description,
    *,
    responses,
    parameters=(),
    request=None,
    errors=ERRORS,
    error_descriptions=None,
):
    extend = extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        tags=[TAG],
        request=request,
        parameters=[CREDENTIAL, *parameters, RETRY_AFTER, WWW_AUTHENTICATE],
        responses={**responses, **_errors(errors, error_descriptions or {})},
    )

    def document_operation(view_method):
        # extend_schema builds on the method's own schema, else on the host's DEFAULT_SCHEMA_CLASS (maybe
        # DRF's, which drf-spectacular cannot read): set drf-spectacular's, as the view itself does.
        view_method.schema = AutoSchema()
        return extend(view_method)

    return document_operation


PAGING = (
    "Without limit, after or before the answer holds every object: the server follows OpenAI's pages "
    "(up to its LIST_MAX_ITEMS setting). With any of them it holds one page. Whenever more objects exist, "
    'a `Link: <url>; rel="next"` header gives the URL of the rest.'
)

document = SimpleNamespace(
    list_vector_stores=_operation(
        "list_vector_stores",
        "List vector stores",
        PAGING + " Under a credential in owned mode: the caller's own stores and those of their groups.",
        parameters=[ListQuerySerializer, LINK],
        responses={
            200: OpenApiResponse(
                VectorStoreSerializer(many=True), description="The vector stores, or one page of them."
            )
        },
    ),
    create_vector_store=_operation(
        "create_vector_store",
        "Create a vector store",
        "Every field is optional. Unknown fields are rejected. The new store is the caller's; with `group`, the "
        "members of that group of theirs reach it too (under a credential in owned mode).",
        parameters=[CreateQuerySerializer],
        request=VectorStoreCreateSerializer,
        errors=BODY_ERRORS,
        responses={200: OpenApiResponse(VectorStoreSerializer, description="The new vector store.")},
    ),
    get_vector_store=_operation(
        "get_vector_store",
        "Get a vector store",
        "The vector store as OpenAI returns it.",
        parameters=[STORE_ID],
        responses={200: OpenApiResponse(VectorStoreSerializer, description="The vector store.")},
    ),
    update_vector_store=_operation(
        "update_vector_store",
        "Update a vector store",
        "Changes the fields given; every field is optional and nullable. Unknown fields are rejected.",
        parameters=[STORE_ID],
        request=VectorStoreUpdateSerializer,
        errors=BODY_ERRORS,
        responses={200: OpenApiResponse(VectorStoreSerializer, description="The updated vector store.")},
    ),
    delete_vector_store=_operation(
        "delete_vector_store",
        "Delete a vector store",
        "Deletes the store; its files stay in OpenAI's file storage.",
        parameters=[STORE_ID],
        responses={200: OpenApiResponse(VectorStoreDeletionSerializer, description="The deletion object.")},
    ),
    upload_files=_operation(
        "upload_files_to_vector_store",
        "Upload files into a vector store",
        "Uploads the files to OpenAI concurrently (purpose `assistants`), attaches them in one file batch and "
        "waits until the batch is done (with wait=false: answers 202 once the batch exists). The body is "
        "multipart: one part named `files` per file, an optional `chunking_strategy` part holding JSON text, and "
        "an optional `attributes` part holding JSON text: one object of attributes for every file, or an object "
        "mapping each file name to its attributes (checked, like every part, before anything reaches OpenAI); no "
        "other part is allowed.\n\n"
        "Each `files` part needs a file name: UTF-8, without control characters, at most 255 characters; a path "
        "is reduced to its last component, and the name otherwise reaches OpenAI unchanged. Each file must be "
        "of a type OpenAI's file search takes, by its extension (by default "
        f"{', '.join(FILE_TYPES)}; the server's ALLOWED_EXTENSIONS setting may narrow it); a declared "
        "Content-Type must not contradict the extension, binary formats must start with their format's "
        "signature, and no file may be empty. Otherwise the answer is 400.\n\n"
        "Limits: the server's MAX_FILES_PER_UPLOAD (default 100) files, MAX_FILE_SIZE (default 512 MiB) per "
        "file, MAX_UPLOAD_SIZE (default 2 GiB) per request; beyond them the answer is 413.\n\n"
        "If an upload or the batch fails, the error's `files` lists every file of the request, and the "
        "OpenAI Files of this request that did not end up in the store are deleted.",
        parameters=[STORE_ID, WaitQuerySerializer, LOCATION],
        request={
            "multipart/form-data": OpenApiRequest(
                UploadFilesRequestSerializer,
                encoding={
                    "chunking_strategy": {"contentType": "application/json"},
                    "attributes": {"contentType": "application/json"},
                },
            )
        },
        errors=(*BODY_ERRORS, 413, 500),
        error_descriptions={
            429: TOO_MANY_LONG_CALLS,
            503: SERVER_BUSY,
            500: "The OpenAI Files of this request that were not added were deleted.",
            504: "`batch_timeout`: the file batch was not done within the POLL_TIMEOUT setting; it was cancelled.",
        },
        responses={
            200: OpenApiResponse(
                OpenAIFileSerializer(many=True), description="The OpenAI File objects, in the order of the parts."
            ),
            202: OpenApiResponse(
                FileBatchObjectSerializer,
                description="With wait=false: the file batch, just created; follow it at Location.",
            ),
        },
    ),
    attach_files=_operation(
        "attach_files_to_vector_store",
        "Attach existing files to a vector store",
        "Attaches OpenAI Files that already exist: one (`file_id`, with optional `attributes` and "
        "`chunking_strategy`), or a batch of up to 2,000 (`file_ids`, with the batch's `attributes` and "
        "`chunking_strategy`, or `files`, each entry with its own). It waits until OpenAI has processed them, "
        "unless wait=false. The Files are never deleted, whatever happens.",
        parameters=[STORE_ID, WaitQuerySerializer, LOCATION],
        request=AttachFilesSerializer,
        errors=(*BODY_ERRORS, 500),
        error_descriptions={
            429: "(With wait=true) " + TOO_MANY_LONG_CALLS,
            503: "(With wait=true) " + SERVER_BUSY,
            504: "`batch_timeout`: the files were not processed within the POLL_TIMEOUT "
            "setting; the batch was cancelled.",
        },
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="AttachedFiles",
                    resource_type_field_name=None,
                    serializers=[VectorStoreFileSerializer, FileBatchObjectSerializer],
                ),
                description="One file (`file_id`): its vector store file, processed. A batch (`file_ids` or "
                "`files`): the file batch, completed.",
            ),
            202: OpenApiResponse(
                FileBatchObjectSerializer,
                description="With wait=false: the file batch, just created; follow it at Location.",
            ),
        },
    ),
    get_file=_operation(
        "get_vector_store_file",
        "Get a file of a vector store",
        "The vector store file as OpenAI returns it: its status, last error, attributes and chunking strategy.",
        parameters=[STORE_ID, FILE_ID],
        responses={200: OpenApiResponse(VectorStoreFileSerializer, description="The vector store file.")},
    ),
    update_file=_operation(
        "update_vector_store_file",
        "Change the attributes of a file of a vector store",
        "Replaces the file's attributes (null clears them): at most 16 keys of up to 64 characters, each value "
        "a string of up to 512 characters, a number or a boolean.",
        parameters=[STORE_ID, FILE_ID],
        request=UpdateFileSerializer,
        errors=BODY_ERRORS,
        responses={200: OpenApiResponse(VectorStoreFileSerializer, description="The vector store file.")},
    ),
    detach_file=_operation(
        "detach_vector_store_file",
        "Remove a file from a vector store",
        "Detaches the file; with delete_file=true also deletes the OpenAI File, once it was detached from this "
        "store. If a step fails, the error's `files` reports it.",
        parameters=[STORE_ID, FILE_ID, DetachQuerySerializer],
        responses={200: OpenApiResponse(FileDetachmentSerializer, description="What was done.")},
    ),
    file_content=_operation(
        "get_vector_store_file_content",
        "Read what OpenAI indexed of a file",
        "The parsed content of the file. Without page, every page (up to the LIST_MAX_ITEMS setting's number "
        "of pieces, in as many pages as full pages of 100 take); with page (OpenAI's next_page token), that "
        'page. Whenever more remains, a `Link: <url>; rel="next"` header gives the URL of the rest.',
        parameters=[STORE_ID, FILE_ID, ContentQuerySerializer, CONTENT_LINK],
        responses={200: OpenApiResponse(FileContentPageSerializer, description="The content page.")},
    ),
    create_file_batch=_operation(
        "create_vector_store_file_batch",
        "Create a file batch",
        "Attaches up to 2,000 existing Files in one batch and answers at once, with the batch as created: "
        "`file_ids` (with the batch's `attributes` and `chunking_strategy`) or `files` (each with its own).",
        parameters=[STORE_ID],
        request=FileBatchSerializer,
        errors=BODY_ERRORS,
        responses={200: OpenApiResponse(FileBatchObjectSerializer, description="The file batch.")},
    ),
    get_file_batch=_operation(
        "get_vector_store_file_batch",
        "Get a file batch",
        "The file batch as OpenAI returns it.",
        parameters=[STORE_ID, BATCH_ID],
        responses={200: OpenApiResponse(FileBatchObjectSerializer, description="The file batch.")},
    ),
    cancel_file_batch=_operation(
        "cancel_vector_store_file_batch",
        "Cancel a file batch",
        "Cancels the batch: OpenAI stops processing its files as soon as it can.",
        parameters=[STORE_ID, BATCH_ID],
        responses={200: OpenApiResponse(FileBatchObjectSerializer, description="The file batch.")},
    ),
    list_batch_files=_operation(
        "list_vector_store_file_batch_files",
        "List the files of a file batch",
        PAGING,
        parameters=[STORE_ID, BATCH_ID, FileListQuerySerializer, LINK],
        responses={
            200: OpenApiResponse(
                VectorStoreFileSerializer(many=True), description="The batch's files, or one page of them."
            )
        },
    ),
    remove_files=_operation(
        "remove_files_from_vector_store",
        "Remove files from a vector store",
        "Detaches the files from the store concurrently; with `delete_files: true` also deletes the OpenAI File "
        "objects of those that were in this store. If any removal fails, the answer has the status of the "
        "first failure (as listed below) and the error's `files` reports each id: `deleted`, `file_deleted` "
        "and `error`.",
        parameters=[STORE_ID],
        request=RemoveFilesSerializer,
        errors=BODY_ERRORS,
        responses={
            200: OpenApiResponse(
                VectorStoreFileRemovalSerializer(many=True), description="One report per file id, in the order given."
            )
        },
    ),
    list_files=_operation(
        "list_vector_store_files",
        "List the files of a vector store",
        PAGING,
        parameters=[STORE_ID, FileListQuerySerializer, LINK],
        responses={
            200: OpenApiResponse(
                VectorStoreFileSerializer(many=True), description="The store's files, or one page of them."
            )
        },
    ),
    search=_operation(
        "search_vector_store",
        "Search a vector store",
        "Searches the store's processed files. Unknown fields are rejected.",
        parameters=[STORE_ID],
        request=SearchSerializer,
        errors=BODY_ERRORS,
        responses={200: OpenApiResponse(SearchResultsPageSerializer, description="OpenAI's search results page.")},
    ),
)
