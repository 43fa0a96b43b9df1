"""OpenAPI documentation of the vector store API (drf-spectacular), kept apart from the views.

Request bodies are derived from the validating serializers (serializers.py), with the
extensions below adding what drf-spectacular cannot infer: unknown fields are rejected
(additionalProperties: false), metadata limits, unique file ids, the two chunking
strategies, search filters. Response schemas mirror OpenAI's objects; they document,
they never filter: the API passes OpenAI's objects through unchanged, fields added later
included.

The standalone site's SPECTACULAR_SETTINGS use two hooks from here: `strip_optional_trailing_slash`
(paths appear without the trailing slash they may also take) and `allow_empty_optional_query_values`.
"""
import copy
from types import SimpleNamespace

from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import ResolvedComponent, safe_ref
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiRequest,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers

from ...filetypes import FILE_TYPES
from ..serializers import (
    FILTER_MAX_DEPTH,
    MAX_CHUNK_SIZE_TOKENS,
    METADATA_KEY_MAX_LENGTH,
    METADATA_MAX_PAIRS,
    METADATA_VALUE_MAX_LENGTH,
    OBJECT_ID_PATTERN,
    ChunkingStrategySerializer,
    FileListQuerySerializer,
    ListQuerySerializer,
    RemoveFilesSerializer,
    SearchSerializer,
    StaticChunkingSerializer,
    StrictSerializer,
    VectorStoreCreateSerializer,
    VectorStoreUpdateSerializer,
)

TAG = "Vector stores"
NON_BLANK = r"\S"  # at least one character that is not whitespace


# --- hooks and helpers -----------------------------------------------------------


def strip_optional_trailing_slash(endpoints, **kwargs):
    """Preprocessing hook: a route that takes an optional trailing slash (`/?$`) is documented without it."""
    return [
        (path[:-1] if path_regex.endswith("/?$") and path.endswith("/") else path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
    ]


def allow_empty_optional_query_values(result, generator, request, public, **kwargs):
    """Postprocessing hook: like any DRF form input, an optional query parameter given empty
    (`?limit=`) counts as not given; OpenAPI says so with allowEmptyValue."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if TAG not in operation.get("tags", ()):
                continue
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result


def _component(auto_schema, name, schema):
    """Register `schema` as the named component (once) and return a reference to it."""
    component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name)
    auto_schema.registry.register_on_missing(component)
    return component.ref


class SchemaField(serializers.JSONField):
    """A field documented by `build(auto_schema, direction)`; see `schema_field`."""

    @staticmethod
    def build(auto_schema, direction):  # pragma: no cover - always replaced
        raise NotImplementedError


class SchemaFieldExtension(OpenApiSerializerFieldExtension):
    target_class = SchemaField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        return type(self.target).build(auto_schema, direction)


def schema_field(schema, **kwargs):
    """A serializer field documented by the JSON schema `schema`, or by `schema(auto_schema, direction)`."""
    build = schema if callable(schema) else (lambda auto_schema, direction: copy.deepcopy(schema))
    return type("SchemaField", (SchemaField,), {"build": staticmethod(build)})(**kwargs)


def const(value, **kwargs):
    """A string field that always holds `value`, like OpenAI's `object` fields."""
    return schema_field({"type": "string", "enum": [value]}, **kwargs)


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def component(serializer_name):
    """A reference to the component of the serializer class named `serializer_name` (defined later)."""
    return lambda auto_schema, direction: auto_schema.resolve_serializer(globals()[serializer_name], direction).ref


# --- request bodies: what drf-spectacular can't infer from the serializers ---------------


class StrictSerializerExtension(OpenApiSerializerExtension):
    """StrictSerializer rejects unknown fields: additionalProperties is false."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        schema.pop("description", None)  # StrictSerializer's docstring, not the body's
        properties = schema["properties"]
        for name, details in FIELD_DETAILS.get(type(self.target), {}).items():
            if callable(details):  # replaces the generated schema
                properties[name] = details(auto_schema)
            else:  # amends it; a $ref gets no siblings
                properties[name] = safe_ref({**properties[name], **details})
        return schema


class ChunkingStrategyExtension(OpenApiSerializerExtension):
    """`{"type": "auto"}` or `{"type": "static", "static": {...}}`, nothing else."""

    target_class = ChunkingStrategySerializer
    priority = 1  # over StrictSerializerExtension

    def get_name(self, auto_schema, direction):
        return "ChunkingStrategy"

    def map_serializer(self, auto_schema, direction):
        auto = _component(auto_schema, "AutoChunkingStrategy", {
            "type": "object",
            "description": "OpenAI chooses: currently 800-token chunks overlapping by 400 tokens.",
            "properties": {"type": {"type": "string", "enum": ["auto"]}},
            "required": ["type"],
            "additionalProperties": False,
        })
        static = _component(auto_schema, "StaticChunkingStrategy", {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["static"]},
                "static": auto_schema.resolve_serializer(StaticChunkingSerializer, direction).ref,
            },
            "required": ["type", "static"],
            "additionalProperties": False,
        })
        return {
            "oneOf": [auto, static],
            "discriminator": {"propertyName": "type", "mapping": {"auto": auto["$ref"], "static": static["$ref"]}},
            "description": "How files are split into chunks.",
        }


METADATA_RULES = (f"At most {METADATA_MAX_PAIRS} key-value pairs; keys at most {METADATA_KEY_MAX_LENGTH} "
                  f"characters, values strings of at most {METADATA_VALUE_MAX_LENGTH} characters.")


class MetadataFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "vectorstores.api.serializers.MetadataField"

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "object",
            "maxProperties": METADATA_MAX_PAIRS,
            "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_MAX_LENGTH},
            "description": METADATA_RULES,
        }


class FileIdListFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "vectorstores.api.serializers.FileIdListField"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "uniqueItems": True}


def _search_filter(auto_schema):
    scalar = [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]
    comparison = _component(auto_schema, "ComparisonFilter", {
        "type": "object",
        "description": "Compares the attribute `key` of each file with `value`.",
        "properties": {
            "type": {"type": "string", "enum": ["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]},
            "key": {"type": "string", "minLength": 1},
            "value": {"oneOf": [*scalar, {"type": "array", "items": {"oneOf": scalar}}]},
        },
        "required": ["type", "key", "value"],
        "additionalProperties": False,
    })
    compound = _component(auto_schema, "CompoundFilter", {
        "type": "object",
        "description": f"Combines filters with `and` or `or`; filters nest at most {FILTER_MAX_DEPTH} levels.",
        "properties": {
            "type": {"type": "string", "enum": ["and", "or"]},
            "filters": {"type": "array", "minItems": 1, "items": {"oneOf": [ref("ComparisonFilter"), ref("CompoundFilter")]}},
        },
        "required": ["type", "filters"],
        "additionalProperties": False,
    })
    return {"oneOf": [comparison, compound], "description": "Only files whose attributes match are searched."}


# Per serializer: schema keywords merged into a property's generated schema (or a callable building them).
FIELD_DETAILS = {
    StaticChunkingSerializer: {
        "chunk_overlap_tokens": {
            "maximum": MAX_CHUNK_SIZE_TOKENS[1] // 2,
            "description": "At most half of max_chunk_size_tokens.",
        },
    },
    VectorStoreCreateSerializer: {
        "chunking_strategy": {"description": "Only together with a non-empty file_ids."},
        "file_ids": {"description": "OpenAI File ids to add to the new store."},
    },
    VectorStoreUpdateSerializer: {
        "name": {"description": "null leaves the name unchanged."},
        "metadata": {"description": f"Replaces the metadata; null leaves it unchanged. {METADATA_RULES}"},
        "expires_after": {"description": "null removes the expiration policy."},
    },
    RemoveFilesSerializer: {
        "file_ids": {"description": "The ids of the files to detach from the store."},
    },
    SearchSerializer: {
        "query": {"oneOf": [
            {"type": "string", "pattern": NON_BLANK},
            {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": NON_BLANK}},
        ], "description": "A query, or several; none may be blank."},
        "filters": lambda auto_schema: _search_filter(auto_schema),
    },
}


class UploadFilesRequestSerializer(StrictSerializer):
    """The multipart body of an upload (documentation only; UploadSerializer validates it)."""

    files = schema_field(
        {"type": "array", "minItems": 1, "items": {"type": "string", "format": "binary"}},
        help_text="One part per file, each named files and carrying its file name.",
    )
    chunking_strategy = ChunkingStrategySerializer(
        required=False, help_text='A part holding JSON text, e.g. {"type": "auto"}.',
    )


# --- response objects ------------------------------------------------------------------


class FileCountsSerializer(serializers.Serializer):
    in_progress = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    total = serializers.IntegerField()


ATTRIBUTES = {
    "type": "object", "nullable": True, "maxProperties": 16,
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
    expires_after = schema_field({
        "type": "object", "nullable": True,
        "properties": {"anchor": {"type": "string", "enum": ["last_active_at"]}, "days": {"type": "integer"}},
    }, required=False)
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
    last_error = schema_field({
        "type": "object", "nullable": True,
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    })
    chunking_strategy = schema_field({
        "type": "object", "properties": {"type": {"type": "string"}},
        "description": "The strategy used: static (with its sizes) or other.",
    }, required=False)
    attributes = schema_field(ATTRIBUTES, required=False)


class VectorStoreFileRemovalSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The OpenAI File id.")
    object = const("vector_store.file.deleted")
    deleted = serializers.BooleanField(help_text="Whether the file was detached from the store.")
    file_deleted = serializers.BooleanField(required=False, help_text="Present when delete_files was true: "
                                                                      "whether the OpenAI File was deleted.")
    error = schema_field(component("ErrorSerializer"), required=False, help_text="Only in a failed request's report: why this "
                                                                 "file was not removed.")


class UploadFileReportSerializer(serializers.Serializer):
    filename = serializers.CharField()
    id = serializers.CharField(allow_null=True, help_text="The OpenAI File id, if the file was uploaded.")
    status = serializers.CharField(help_text="not_uploaded, upload_failed, uploaded, or the file's status in the "
                                             "batch: completed, failed, cancelled, in_progress.")
    error = schema_field(lambda auto_schema, direction: {
        "nullable": True, "oneOf": [component("ErrorSerializer")(auto_schema, direction), {"type": "string"}],
    },
                         help_text="Why the file was not added: an error object, or OpenAI's message.")
    file_deleted = serializers.BooleanField(help_text="Whether the OpenAI File was deleted again.")


class SearchResultSerializer(serializers.Serializer):
    file_id = serializers.CharField()
    filename = serializers.CharField()
    score = serializers.FloatField()
    attributes = schema_field(ATTRIBUTES)
    content = schema_field({"type": "array", "items": {
        "type": "object", "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
        "required": ["type", "text"],
    }})


class SearchResultsPageSerializer(serializers.Serializer):
    object = const("vector_store.search_results.page")
    search_query = serializers.ListField(child=serializers.CharField())
    data = SearchResultSerializer(many=True)
    has_more = serializers.BooleanField()
    next_page = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(help_text="What went wrong, for programs (see the responses of each operation).")
    errors = schema_field({"type": "object", "additionalProperties": {}},
                          required=False, help_text="Field errors (code invalid): a list of messages per field, "
                                                    "nested like the input.")
    openai_request_id = serializers.CharField(required=False, help_text="OpenAI's x-request-id, when it sent one.")
    files = schema_field(
        lambda auto_schema, direction: {"type": "array", "items": {"anyOf": [
            component("UploadFileReportSerializer")(auto_schema, direction),
            component("VectorStoreFileRemovalSerializer")(auto_schema, direction),
        ]}},
        required=False, help_text="Failed uploads and removals: what happened to each file of the request.",
    )


# --- operations --------------------------------------------------------------------------


CREDENTIAL = OpenApiParameter(
    "credential", OpenApiTypes.UUID, OpenApiParameter.QUERY, required=True,
    description="The id of the credential whose OpenAI API key the call uses.",
)
STORE_ID = OpenApiParameter(
    "store_id", OpenApiTypes.STR, OpenApiParameter.PATH, pattern=OBJECT_ID_PATTERN.pattern,
    description="The vector store id, e.g. vs_abc123.",
)
LINK = OpenApiParameter(
    "Link", {"type": "string", "pattern": r'^<[^>]+>; rel="next"$'}, OpenApiParameter.HEADER, response=[200],
    description='Present when more objects exist: `<url>; rel="next"`, the URL of the rest of the list '
                "(`after=<last id of this page>`, the other parameters kept).",
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After", {"type": "integer", "minimum": 0}, OpenApiParameter.HEADER, response=[429],
    description="Seconds to wait before retrying: the throttle's wait, or OpenAI's when it sent one.",
)
WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[401],
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
         "`openai_not_found`: OpenAI has no such vector store or file.",
    406: "`not_acceptable`: the Accept header admits no JSON.",
    409: "`openai_conflict`: OpenAI reported a conflict.",
    413: "`payload_too_large`: too many files, a file too large, or a request too large.",
    415: "`unsupported_media_type`: the body is not of the media type this operation takes.",
    429: "`throttled`: too many requests from you (the site's throttle rates); "
         "`openai_rate_limited`: OpenAI's rate limit.",
    "4XX": "`openai_client_error`: another 4xx answer from OpenAI, passed on with its status.",
    500: "`batch_failed` / `batch_cancelled` / `batch_completed`: the file batch ended without every file "
         "processed; `files` reports each file, and the files not added were deleted from OpenAI.",
    502: "`openai_server_error`: OpenAI answered 5xx; `openai_unreachable`: no connection to OpenAI; "
         "`openai_bad_response`: OpenAI's answer was not the JSON expected.",
    503: "`credential_unreadable`: the credential's stored key cannot be decrypted with the server's keys "
         "(the server's encryption key changed).",
    504: "`openai_timeout`: OpenAI did not answer in time.",
}
ERRORS = (400, 401, 403, 404, 406, 409, 429, "4XX", 502, 503, 504)
BODY_ERRORS = (*ERRORS, 415)


def _errors(statuses, extra_descriptions):
    return {
        status: OpenApiResponse(ErrorSerializer, description=" ".join(
            filter(None, [ERROR_DESCRIPTIONS[status], extra_descriptions.get(status)])
        ))
        for status in statuses
    }


def _operation(operation_id, summary, description, *, responses, parameters=(), request=None, errors=ERRORS,
               error_descriptions=None):
    return extend_schema(
        operation_id=operation_id, summary=summary, description=description, tags=[TAG], request=request,
        parameters=[CREDENTIAL, *parameters, RETRY_AFTER, WWW_AUTHENTICATE],
        responses={**responses, **_errors(errors, error_descriptions or {})},
    )


PAGING = (
    "Without limit, after or before the answer holds every object: the server follows OpenAI's pages "
    "(up to its LIST_MAX_ITEMS setting). With any of them it holds one page. Whenever more objects exist, "
    'a `Link: <url>; rel="next"` header gives the URL of the rest.'
)

document = SimpleNamespace(
    list_vector_stores=_operation(
        "list_vector_stores", "List vector stores", PAGING,
        parameters=[ListQuerySerializer, LINK],
        responses={200: OpenApiResponse(VectorStoreSerializer(many=True),
                                        description="The vector stores, or one page of them.")},
    ),
    create_vector_store=_operation(
        "create_vector_store", "Create a vector store",
        "Every field is optional. Unknown fields are rejected.",
        request=VectorStoreCreateSerializer, errors=BODY_ERRORS,
        responses={200: OpenApiResponse(VectorStoreSerializer, description="The new vector store.")},
    ),
    get_vector_store=_operation(
        "get_vector_store", "Get a vector store", "The vector store as OpenAI returns it.",
        parameters=[STORE_ID],
        responses={200: OpenApiResponse(VectorStoreSerializer, description="The vector store.")},
    ),
    update_vector_store=_operation(
        "update_vector_store", "Update a vector store",
        "Changes the fields given; every field is optional and nullable. Unknown fields are rejected.",
        parameters=[STORE_ID], request=VectorStoreUpdateSerializer, errors=BODY_ERRORS,
        responses={200: OpenApiResponse(VectorStoreSerializer, description="The updated vector store.")},
    ),
    delete_vector_store=_operation(
        "delete_vector_store", "Delete a vector store",
        "Deletes the store; its files stay in OpenAI's file storage.",
        parameters=[STORE_ID],
        responses={200: OpenApiResponse(VectorStoreDeletionSerializer, description="The deletion object.")},
    ),
    upload_files=_operation(
        "upload_files_to_vector_store", "Upload files into a vector store",
        "Uploads the files to OpenAI concurrently (purpose `assistants`), attaches them in one file batch and "
        "waits until the batch is done. The body is multipart: one part named `files` per file, and an optional "
        "`chunking_strategy` part holding JSON text; no other part is allowed.\n\n"
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
        parameters=[STORE_ID],
        request={"multipart/form-data": OpenApiRequest(
            UploadFilesRequestSerializer, encoding={"chunking_strategy": {"contentType": "application/json"}},
        )},
        errors=(*BODY_ERRORS, 413, 500),
        error_descriptions={
            504: "`batch_timeout`: the file batch was not done within the POLL_TIMEOUT setting; it was cancelled.",
        },
        responses={200: OpenApiResponse(OpenAIFileSerializer(many=True),
                                        description="The OpenAI File objects, in the order of the parts.")},
    ),
    remove_files=_operation(
        "remove_files_from_vector_store", "Remove files from a vector store",
        "Detaches the files from the store concurrently; with `delete_files: true` also deletes the OpenAI File "
        "objects of those that were in this store. If any removal fails, the answer has the status of the "
        "first failure (as listed below) and the error's `files` reports each id: `deleted`, `file_deleted` "
        "and `error`.",
        parameters=[STORE_ID], request=RemoveFilesSerializer, errors=BODY_ERRORS,
        responses={200: OpenApiResponse(VectorStoreFileRemovalSerializer(many=True),
                                        description="One report per file id, in the order given.")},
    ),
    list_files=_operation(
        "list_vector_store_files", "List the files of a vector store", PAGING,
        parameters=[STORE_ID, FileListQuerySerializer, LINK],
        responses={200: OpenApiResponse(VectorStoreFileSerializer(many=True),
                                        description="The store's files, or one page of them.")},
    ),
    search=_operation(
        "search_vector_store", "Search a vector store",
        "Searches the store's processed files. Unknown fields are rejected.",
        parameters=[STORE_ID], request=SearchSerializer, errors=BODY_ERRORS,
        responses={200: OpenApiResponse(SearchResultsPageSerializer, description="OpenAI's search results page.")},
    ),
)
