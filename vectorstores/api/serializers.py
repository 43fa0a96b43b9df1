"""Validation of every input before anything goes to OpenAI.

Limits follow OpenAI's published spec (see the constraints table in the README).
JSON types are strict: "5" is not an integer, 1 is not a string, "true" is not a
boolean, and unknown fields are rejected rather than silently dropped.
"""

import re

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from rest_framework import serializers

from .. import strict_json
from ..filetypes import file_type_problem
from ..gateway import OBJECT_ID

OBJECT_ID_PATTERN = re.compile(rf"^{OBJECT_ID}$")  # as written in the OpenAPI document
METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX_LENGTH = 64
METADATA_VALUE_MAX_LENGTH = 512
MAX_FILE_IDS = 500  # OpenAI's maxItems for file_ids of a new vector store
MAX_BATCH_FILES = 2000  # OpenAI's maxItems for a file batch's file_ids or files
ATTRIBUTES_MAX_PAIRS = 16
ATTRIBUTE_KEY_MAX_LENGTH = 64
ATTRIBUTE_VALUE_MAX_LENGTH = 512
PAGE_TOKEN_MAX_LENGTH = 1024
MAX_CHUNK_SIZE_TOKENS = (100, 4096)
EXPIRY_DAYS = (1, 365)
MAX_SEARCH_RESULTS = 50
FILTER_MAX_DEPTH = 8
# Filters in one search, and/or filters included: each is validated on its own (tens of µs), and a body of a few
# MB held 60,000 of them, seconds of a worker's CPU for one call.
FILTER_MAX_COUNT = 100
# Values of one `in`/`nin` comparison, and queries of one search: the OpenAI SDK walks each one before sending
# (20 µs apiece), and 400,000 of them in a 2.4 MB body took 8 s of a worker's CPU.
FILTER_MAX_VALUES = 100
SEARCH_MAX_QUERIES = 100

# \Z, not $: "$" would also accept a trailing newline.
object_id_validator = RegexValidator(
    rf"^{OBJECT_ID}\Z", "Must be 1 to 128 letters, digits, '_' or '-'.", code="invalid_id"
)


# --- strict JSON fields --------------------------------------------------------


def refuse_null_characters(*texts):
    """As DRF's CharField does, for text its fields do not check (keys, free-form values): NUL characters are
    refused wherever a caller's text goes on (PostgreSQL's text columns cannot even hold them)."""
    if any("\x00" in text for text in texts if isinstance(text, str)):
        raise serializers.ValidationError(ProhibitNullCharactersValidator.message)


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)  # pass text on exactly as sent
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryIntegerField(serializers.IntegerField):
    """A whole number in a query string: ASCII digits only (DRF's would take "1.0", " 1" and other scripts' digits)."""

    default_error_messages = {"invalid": "Must be a whole number, in digits."}

    def to_internal_value(self, data):
        if not (isinstance(data, str) and data.isascii() and data.isdigit()):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"invalid": "Must be a number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def object_id_field(**kwargs):
    return StrictCharField(validators=[object_id_validator], **kwargs)


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, instead of dropping them silently."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


# --- shared parts of request bodies ----------------------------------------------


class MetadataField(serializers.DictField):
    """OpenAI metadata: at most 16 pairs, keys up to 64 characters, string values up to 512."""

    child = StrictCharField(max_length=METADATA_VALUE_MAX_LENGTH, allow_blank=True)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            if len(data) > METADATA_MAX_PAIRS:
                raise serializers.ValidationError(f"At most {METADATA_MAX_PAIRS} key-value pairs.")
            refuse_null_characters(*data)
            long_keys = [key for key in data if len(key) > METADATA_KEY_MAX_LENGTH]
            if long_keys:
                raise serializers.ValidationError(
                    f"Keys must be at most {METADATA_KEY_MAX_LENGTH} characters: {long_keys[0][:80]!r}."
                )
        return super().to_internal_value(data)


class ExpiresAfterSerializer(StrictSerializer):
    anchor = serializers.ChoiceField(choices=["last_active_at"])
    days = StrictIntegerField(min_value=EXPIRY_DAYS[0], max_value=EXPIRY_DAYS[1])


class StaticChunkingSerializer(StrictSerializer):
    max_chunk_size_tokens = StrictIntegerField(min_value=MAX_CHUNK_SIZE_TOKENS[0], max_value=MAX_CHUNK_SIZE_TOKENS[1])
    chunk_overlap_tokens = StrictIntegerField(min_value=0)

    def validate(self, attrs):
        if attrs["chunk_overlap_tokens"] > attrs["max_chunk_size_tokens"] / 2:
            raise serializers.ValidationError(
                {"chunk_overlap_tokens": ["Must not exceed half of max_chunk_size_tokens."]}
            )
        return attrs


class ChunkingStrategySerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["auto", "static"])
    static = StaticChunkingSerializer(required=False)

    def validate(self, attrs):
        if attrs["type"] == "static" and "static" not in attrs:
            raise serializers.ValidationError({"static": ["Required when type is 'static'."]})
        if attrs["type"] == "auto" and "static" in attrs:
            raise serializers.ValidationError({"static": ["Only allowed when type is 'static'."]})
        return attrs


class AttributesField(serializers.Field):
    """A vector store file's attributes: at most 16 keys of up to 64 characters; each value a string of up to
    512 characters, a number or a boolean (OpenAI's VectorStoreFileAttributes)."""

    default_error_messages = {"invalid": "Must be an object of attributes."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        if len(data) > ATTRIBUTES_MAX_PAIRS:
            raise serializers.ValidationError(f"At most {ATTRIBUTES_MAX_PAIRS} attributes.")
        refuse_null_characters(*data, *data.values())
        for key, value in data.items():
            if len(key) > ATTRIBUTE_KEY_MAX_LENGTH:
                raise serializers.ValidationError(
                    f"Keys must be at most {ATTRIBUTE_KEY_MAX_LENGTH} characters: {key[:80]!r}."
                )
            if isinstance(value, str):
                if len(value) > ATTRIBUTE_VALUE_MAX_LENGTH:
                    raise serializers.ValidationError(
                        f"{key!r}: strings must be at most {ATTRIBUTE_VALUE_MAX_LENGTH} characters."
                    )
            elif not isinstance(value, (bool, int, float)):
                raise serializers.ValidationError(f"{key!r}: a value must be a string, a number or a boolean.")
        return data

    def to_representation(self, value):
        return value


class FileIdListField(serializers.ListField):
    child = object_id_field()

    def to_internal_value(self, data):
        ids = super().to_internal_value(data)
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("File ids must be unique.")
        return ids


# --- query parameters --------------------------------------------------------------


def refuse_repeated(query, names):
    """A ValidationError for the parameters of `names` that `query` (a QueryDict) gives more than once: one
    value would be dropped without a word."""
    repeated = {name: ["Give this parameter once."] for name in names if len(query.getlist(name)) > 1}
    if repeated:
        raise serializers.ValidationError(repeated)


class QuerySerializer(serializers.Serializer):
    """Query parameters: each of its fields at most once."""

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):
            refuse_repeated(data, self.fields)
        return super().to_internal_value(data)


class CredentialQuerySerializer(QuerySerializer):
    credential = serializers.UUIDField(help_text="The id of the credential whose API key the call uses.")


class ListQuerySerializer(QuerySerializer):
    limit = QueryIntegerField(
        required=False,
        min_value=1,
        max_value=100,
        help_text="Page size (1-100). Giving limit, after or before returns one page.",
    )
    order = serializers.ChoiceField(required=False, choices=["asc", "desc"], help_text="By created_at; default desc.")
    after = serializers.CharField(required=False, validators=[object_id_validator], help_text="Cursor: an object id.")
    before = serializers.CharField(required=False, validators=[object_id_validator], help_text="Cursor: an object id.")

    @property
    def paged(self):
        return any(name in self.validated_data for name in ("limit", "after", "before"))


class FileListQuerySerializer(ListQuerySerializer):
    filter = serializers.ChoiceField(required=False, choices=["in_progress", "completed", "failed", "cancelled"])


class CreateQuerySerializer(QuerySerializer):
    group = serializers.CharField(
        required=False,
        max_length=150,
        help_text="The name of a group of yours to share the new store with: its members reach it too.",
    )


class WaitQuerySerializer(QuerySerializer):
    wait = serializers.BooleanField(
        required=False,
        default=True,
        help_text=(
            "false: answer 202 with the file batch as soon as it exists (poll its Location), instead of once "
            "OpenAI has processed every file."
        ),
    )


class DetachQuerySerializer(QuerySerializer):
    delete_file = serializers.BooleanField(
        required=False, default=False, help_text="Also delete the OpenAI File, not only detach it."
    )


class ContentQuerySerializer(QuerySerializer):
    page = serializers.RegexField(
        r"^[\x21-\x7e]+\Z",
        required=False,
        max_length=PAGE_TOKEN_MAX_LENGTH,
        help_text="A page token (OpenAI's next_page): that page only. Without it, every page.",
    )


# --- request bodies ----------------------------------------------------------------


class VectorStoreCreateSerializer(StrictSerializer):
    """On create, null means "not given" (as Flowise's UI sends it), for every field."""

    name = StrictCharField(required=False, allow_blank=True, allow_null=True)
    description = StrictCharField(required=False, allow_blank=True, allow_null=True)
    file_ids = FileIdListField(required=False, max_length=MAX_FILE_IDS, allow_null=True)
    metadata = MetadataField(required=False, allow_null=True)
    expires_after = ExpiresAfterSerializer(required=False, allow_null=True)
    chunking_strategy = ChunkingStrategySerializer(required=False, allow_null=True)

    def validate(self, attrs):
        attrs = _given(attrs)
        if "chunking_strategy" in attrs and not attrs.get("file_ids"):
            raise serializers.ValidationError({"chunking_strategy": ["Only applicable when file_ids is not empty."]})
        return attrs


class VectorStoreUpdateSerializer(StrictSerializer):
    name = StrictCharField(required=False, allow_null=True, allow_blank=True)
    metadata = MetadataField(required=False, allow_null=True)
    expires_after = ExpiresAfterSerializer(required=False, allow_null=True)


class RemoveFilesSerializer(StrictSerializer):
    file_ids = FileIdListField(min_length=1, max_length=MAX_FILE_IDS)
    delete_files = StrictBooleanField(
        required=False, default=False, help_text="Also delete the OpenAI File objects, not only detach them."
    )


class AttachedFileSerializer(StrictSerializer):
    """One existing File to attach, with its own attributes and chunking strategy."""

    file_id = object_id_field()
    attributes = AttributesField(required=False, allow_null=True)
    chunking_strategy = ChunkingStrategySerializer(required=False, allow_null=True)

    def validate(self, attrs):
        return _given(attrs)


def _given(attrs):
    """The fields that are not null: on these creates, null means "not given" (as on a store's create)."""
    return {name: value for name, value in attrs.items() if value is not None}


class FileBatchSerializer(StrictSerializer):
    """A file batch: `file_ids` (with the batch's attributes and chunking strategy), or `files` (each with its
    own; OpenAI would ignore the batch's, so giving both is refused rather than lost)."""

    file_ids = FileIdListField(required=False, min_length=1, max_length=MAX_BATCH_FILES)
    files = serializers.ListField(
        child=AttachedFileSerializer(), required=False, min_length=1, max_length=MAX_BATCH_FILES
    )
    attributes = AttributesField(required=False, allow_null=True)
    chunking_strategy = ChunkingStrategySerializer(required=False, allow_null=True)

    def validate(self, attrs):
        attrs = _given(attrs)
        given = [name for name in ("file_id", "file_ids", "files") if name in attrs]
        if len(given) != 1:
            choices = " or ".join(name for name in ("file_id", "file_ids", "files") if name in self.fields)
            raise serializers.ValidationError(f"Give exactly one of {choices}.")
        if "files" in attrs:
            for name in ("attributes", "chunking_strategy"):
                if name in attrs:
                    raise serializers.ValidationError({name: ["With files, give it per file."]})
            ids = [entry["file_id"] for entry in attrs["files"]]
            if len(set(ids)) != len(ids):
                raise serializers.ValidationError({"files": ["File ids must be unique."]})
        return attrs


class AttachFilesSerializer(FileBatchSerializer):
    """What POST .../{id}/files attaches: one `file_id`, or a batch (`file_ids` or `files`)."""

    file_id = object_id_field(required=False)

    def attached_files(self):
        """The files, one entry each ({"file_id", "attributes"?, "chunking_strategy"?}), for one batch."""
        data = self.validated_data
        if "files" in data:
            return [dict(entry) for entry in data["files"]]
        shared = {name: data[name] for name in ("attributes", "chunking_strategy") if name in data}
        ids = data["file_ids"] if "file_ids" in data else [data["file_id"]]
        return [{"file_id": file_id, **shared} for file_id in ids]


class UpdateFileSerializer(StrictSerializer):
    attributes = AttributesField(allow_null=True, help_text="The file's new attributes; null clears them.")


class JSONTextField(serializers.CharField):
    """A multipart text field that holds JSON, validated by `field` (a field or a serializer)."""

    def __init__(self, field, **kwargs):
        self.field = field
        super().__init__(**kwargs)

    def bind(self, field_name, parent):
        super().bind(field_name, parent)
        self.field.bind(field_name, self)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            value = strict_json.loads(text, unique_keys=True)
        except strict_json.Unsendable as exc:
            raise serializers.ValidationError(
                f"Must be JSON that can be sent on to OpenAI; this holds {exc}."
            ) from None
        except ValueError:
            raise serializers.ValidationError("Must be JSON text.") from None
        return self.field.run_validation(value)


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        allow_empty=False,
        error_messages={"empty": "No files.", "required": "No files."},
    )
    chunking_strategy = JSONTextField(
        ChunkingStrategySerializer(), required=False, help_text='JSON text, e.g. {"type": "auto"}.'
    )
    attributes = JSONTextField(
        serializers.DictField(),
        required=False,
        help_text=(
            'JSON text: attributes for every file ({"team": "support"}), or per file name '
            '({"a.pdf": {"team": "support"}}).'
        ),
    )

    def to_internal_value(self, data):
        # A multipart body is a QueryDict: take every part named "files", and no stray fields.
        known = {"files", "chunking_strategy", "attributes"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        # A QueryDict keeps the last of repeated parts: refuse them rather than drop all but one.
        repeated = [name for name in ("chunking_strategy", "attributes") if len(data.getlist(name)) > 1]
        if repeated:
            raise serializers.ValidationError({name: ["Give this part once."] for name in repeated})
        values = {"files": data.getlist("files")}
        values.update({name: data[name] for name in ("chunking_strategy", "attributes") if name in data})
        return super().to_internal_value(values)

    def validate(self, attrs):
        if "attributes" in attrs:
            attrs["attributes"] = self._attributes_per_file(attrs["attributes"], attrs["files"])
        return attrs

    @staticmethod
    def _attributes_per_file(given, files):
        """One entry per file: the same attributes for all, or each file's by its name (values that are
        objects can only be a mapping of names: an attribute's value never is one)."""
        field = AttributesField()
        by_name = bool(given) and all(isinstance(value, dict) for value in given.values())
        if not by_name:
            try:
                return [field.run_validation(given)] * len(files)
            except serializers.ValidationError as error:
                raise serializers.ValidationError({"attributes": error.detail}) from None
        names = [upload.name for upload in files]
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise serializers.ValidationError({"attributes": [f"No file is named {unknown[0][:80]!r}."]})
        try:
            checked = {name: field.run_validation(value) for name, value in given.items()}
        except serializers.ValidationError as error:
            raise serializers.ValidationError({"attributes": error.detail}) from None
        return [checked.get(name) for name in names]

    def validate_files(self, files):
        for upload in files:
            check_uploaded_file(upload)
        return files


def check_uploaded_file(upload):
    """Refuse an empty file, or one of a type OpenAI's file search does not take (see vectorstores.filetypes)."""
    if not upload.size:
        raise serializers.ValidationError(f"File {upload.name!r} is empty.")
    if problem := file_type_problem(upload):
        raise serializers.ValidationError(problem)


class ComparisonFilterSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"])
    key = StrictCharField()
    value = serializers.JSONField()

    def validate_value(self, value):
        scalar = (str, int, float, bool)
        if isinstance(value, list) and len(value) > FILTER_MAX_VALUES:
            raise serializers.ValidationError(f"A list of at most {FILTER_MAX_VALUES} values.")
        if isinstance(value, scalar) or (isinstance(value, list) and all(isinstance(v, scalar) for v in value)):
            refuse_null_characters(*(value if isinstance(value, list) else [value]))
            return value
        raise serializers.ValidationError("Must be a string, number, boolean, or a list of them.")


class FilterField(serializers.Field):
    """OpenAI's search filter: a comparison, or an and/or of filters, nested a few levels at most."""

    default_error_messages = {"invalid": "Must be a comparison filter or a compound (and/or) filter."}

    def to_internal_value(self, data):
        if _count_filters(data, FILTER_MAX_COUNT + 1) > FILTER_MAX_COUNT:
            raise serializers.ValidationError(f"At most {FILTER_MAX_COUNT} filters in all, and/or filters included.")
        return self._validated(data, depth=1)

    def _validated(self, data, depth):
        if not isinstance(data, dict):
            self.fail("invalid")
        if data.get("type") in ("and", "or"):
            unknown = set(data) - {"type", "filters"}
            filters = data.get("filters")
            if unknown or not isinstance(filters, list) or not filters:
                raise serializers.ValidationError("A compound filter has a type and a non-empty list of filters.")
            if depth >= FILTER_MAX_DEPTH:
                raise serializers.ValidationError(f"Filters nest at most {FILTER_MAX_DEPTH} levels.")
            return {"type": data["type"], "filters": [self._validated(f, depth + 1) for f in filters]}
        serializer = ComparisonFilterSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def to_representation(self, value):
        return value


def _count_filters(data, stop_at):
    """The filters in `data`, and/or filters included, counted up to `stop_at` at most (before any is validated)."""
    count, pending = 0, [data]
    while pending and count < stop_at:
        count += 1
        inner = pending.pop()
        inner = inner.get("filters") if isinstance(inner, dict) else None
        if isinstance(inner, list):
            if count + len(inner) >= stop_at:
                return stop_at
            pending.extend(inner)
    return count


class RankingOptionsSerializer(StrictSerializer):
    ranker = serializers.ChoiceField(required=False, choices=["none", "auto", "default-2024-11-15"])
    score_threshold = StrictFloatField(required=False, min_value=0, max_value=1)


class SearchQueryField(serializers.Field):
    default_error_messages = {
        "invalid": "Must be a non-empty string or a non-empty list of non-empty strings.",
        "too_many": f"At most {SEARCH_MAX_QUERIES} queries.",
    }

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip():
            refuse_null_characters(data)
            return data
        if isinstance(data, list) and len(data) > SEARCH_MAX_QUERIES:
            self.fail("too_many")
        if isinstance(data, list) and data and all(isinstance(q, str) and q.strip() for q in data):
            refuse_null_characters(*data)
            return data
        self.fail("invalid")

    def to_representation(self, value):
        return value


class SearchSerializer(StrictSerializer):
    query = SearchQueryField()
    max_num_results = StrictIntegerField(required=False, min_value=1, max_value=MAX_SEARCH_RESULTS)
    filters = FilterField(required=False)
    ranking_options = RankingOptionsSerializer(required=False)
    rewrite_query = StrictBooleanField(required=False)
