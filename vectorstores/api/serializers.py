"""Validation of every input before anything goes to OpenAI.

Limits follow OpenAI's published spec (see the constraints table in the README).
JSON types are strict: "5" is not an integer, 1 is not a string, "true" is not a
boolean, and unknown fields are rejected rather than silently dropped.
"""
import json
import re

from django.core.validators import RegexValidator
from rest_framework import serializers

from ..filetypes import file_type_problem


OBJECT_ID = r"[A-Za-z0-9_-]{1,128}"  # a vector store's, file's or batch's id: nothing else reaches OpenAI
OBJECT_ID_PATTERN = re.compile(rf"^{OBJECT_ID}$")  # as written in the OpenAPI document
METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX_LENGTH = 64
METADATA_VALUE_MAX_LENGTH = 512
MAX_FILE_IDS = 500  # OpenAI's maxItems for file_ids of a new vector store
MAX_CHUNK_SIZE_TOKENS = (100, 4096)
EXPIRY_DAYS = (1, 365)
MAX_SEARCH_RESULTS = 50
FILTER_MAX_DEPTH = 8

# \Z, not $: "$" would also accept a trailing newline.
object_id_validator = RegexValidator(
    rf"^{OBJECT_ID}\Z", "Must be 1 to 128 letters, digits, '_' or '-'.", code="invalid_id"
)


# --- strict JSON fields --------------------------------------------------------


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


class FileIdListField(serializers.ListField):
    child = object_id_field()

    def to_internal_value(self, data):
        ids = super().to_internal_value(data)
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("File ids must be unique.")
        return ids


# --- query parameters --------------------------------------------------------------


class CredentialQuerySerializer(serializers.Serializer):
    credential = serializers.UUIDField(help_text="The id of the credential whose API key the call uses.")


class ListQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100,
                                     help_text="Page size (1-100). Giving limit, after or before returns one page.")
    order = serializers.ChoiceField(required=False, choices=["asc", "desc"], help_text="By created_at; default desc.")
    after = serializers.CharField(required=False, validators=[object_id_validator], help_text="Cursor: an object id.")
    before = serializers.CharField(required=False, validators=[object_id_validator], help_text="Cursor: an object id.")

    @property
    def paged(self):
        return any(name in self.validated_data for name in ("limit", "after", "before"))


class FileListQuerySerializer(ListQuerySerializer):
    filter = serializers.ChoiceField(required=False, choices=["in_progress", "completed", "failed", "cancelled"])


# --- request bodies ----------------------------------------------------------------


class VectorStoreCreateSerializer(StrictSerializer):
    name = StrictCharField(required=False, allow_blank=True)
    description = StrictCharField(required=False, allow_blank=True)
    file_ids = FileIdListField(required=False, max_length=MAX_FILE_IDS)
    metadata = MetadataField(required=False, allow_null=True)
    expires_after = ExpiresAfterSerializer(required=False)
    chunking_strategy = ChunkingStrategySerializer(required=False)

    def validate(self, attrs):
        if "chunking_strategy" in attrs and not attrs.get("file_ids"):
            raise serializers.ValidationError({"chunking_strategy": ["Only applicable when file_ids is not empty."]})
        return attrs


class VectorStoreUpdateSerializer(StrictSerializer):
    name = StrictCharField(required=False, allow_null=True, allow_blank=True)
    metadata = MetadataField(required=False, allow_null=True)
    expires_after = ExpiresAfterSerializer(required=False, allow_null=True)


class RemoveFilesSerializer(StrictSerializer):
    file_ids = FileIdListField(min_length=1, max_length=MAX_FILE_IDS)
    delete_files = StrictBooleanField(required=False, default=False,
                                      help_text="Also delete the OpenAI File objects, not only detach them.")


class JSONTextField(serializers.CharField):
    """A multipart text field that holds JSON, validated by `serializer_class`."""

    def __init__(self, serializer_class, **kwargs):
        self.serializer_class = serializer_class
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            value = json.loads(text)
        except ValueError:
            raise serializers.ValidationError("Must be JSON text.") from None
        serializer = self.serializer_class(data=value)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class UploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        allow_empty=False, error_messages={"empty": "No files.", "required": "No files."},
    )
    chunking_strategy = JSONTextField(ChunkingStrategySerializer, required=False,
                                      help_text='JSON text, e.g. {"type": "auto"}.')

    def to_internal_value(self, data):
        # A multipart body is a QueryDict: take every part named "files", and no stray fields.
        known = {"files", "chunking_strategy"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        values = {"files": data.getlist("files")}
        if "chunking_strategy" in data:
            values["chunking_strategy"] = data["chunking_strategy"]
        return super().to_internal_value(values)

    def validate_files(self, files):
        for upload in files:
            if not upload.size:
                raise serializers.ValidationError(f"File {upload.name!r} is empty.")
            if problem := file_type_problem(upload):
                raise serializers.ValidationError(problem)
        return files


class ComparisonFilterSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"])
    key = StrictCharField()
    value = serializers.JSONField()

    def validate_value(self, value):
        scalar = (str, int, float, bool)
        if isinstance(value, scalar) or (isinstance(value, list) and all(isinstance(v, scalar) for v in value)):
            return value
        raise serializers.ValidationError("Must be a string, number, boolean, or a list of them.")


class FilterField(serializers.Field):
    """OpenAI's search filter: a comparison, or an and/or of filters, nested a few levels at most."""

    default_error_messages = {"invalid": "Must be a comparison filter or a compound (and/or) filter."}

    def to_internal_value(self, data, depth=1):
        if not isinstance(data, dict):
            self.fail("invalid")
        if data.get("type") in ("and", "or"):
            unknown = set(data) - {"type", "filters"}
            filters = data.get("filters")
            if unknown or not isinstance(filters, list) or not filters:
                raise serializers.ValidationError("A compound filter has a type and a non-empty list of filters.")
            if depth >= FILTER_MAX_DEPTH:
                raise serializers.ValidationError(f"Filters nest at most {FILTER_MAX_DEPTH} levels.")
            return {"type": data["type"], "filters": [self.to_internal_value(f, depth + 1) for f in filters]}
        serializer = ComparisonFilterSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def to_representation(self, value):
        return value


class RankingOptionsSerializer(StrictSerializer):
    ranker = serializers.ChoiceField(required=False, choices=["none", "auto", "default-2024-11-15"])
    score_threshold = StrictFloatField(required=False, min_value=0, max_value=1)


class SearchQueryField(serializers.Field):
    default_error_messages = {"invalid": "Must be a non-empty string or a non-empty list of non-empty strings."}

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip():
            return data
        if isinstance(data, list) and data and all(isinstance(q, str) and q.strip() for q in data):
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
