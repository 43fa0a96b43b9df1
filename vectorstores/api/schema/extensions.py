"""drf-spectacular extensions: what it cannot infer from the validating serializers (serializers.py).

Each serializer field's schema is written here, and only here: serializers.py imports nothing from
drf-spectacular. Unknown fields are rejected (additionalProperties: false), metadata limits, unique
file ids, the two chunking strategies, search queries and filters. Importing this module registers
the extensions (the package's __init__ does).
"""

import copy

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent, safe_ref
from rest_framework import serializers

from ..serializers import (
    ATTRIBUTE_KEY_MAX_LENGTH,
    ATTRIBUTE_VALUE_MAX_LENGTH,
    ATTRIBUTES_MAX_PAIRS,
    FILTER_MAX_COUNT,
    FILTER_MAX_DEPTH,
    FILTER_MAX_VALUES,
    MAX_CHUNK_SIZE_TOKENS,
    METADATA_KEY_MAX_LENGTH,
    METADATA_MAX_PAIRS,
    METADATA_VALUE_MAX_LENGTH,
    SEARCH_MAX_QUERIES,
    AttributesField,
    ChunkingStrategySerializer,
    ComparisonFilterSerializer,
    FileIdListField,
    FilterField,
    MetadataField,
    RemoveFilesSerializer,
    SearchQueryField,
    StaticChunkingSerializer,
    StrictSerializer,
    UpdateFileSerializer,
    VectorStoreCreateSerializer,
    VectorStoreUpdateSerializer,
)

NON_BLANK = r"\S"  # at least one character that is not whitespace
METADATA_RULES = (
    f"At most {METADATA_MAX_PAIRS} key-value pairs; keys at most {METADATA_KEY_MAX_LENGTH} "
    f"characters, values strings of at most {METADATA_VALUE_MAX_LENGTH} characters."
)
ATTRIBUTE_RULES = (
    f"At most {ATTRIBUTES_MAX_PAIRS} attributes, keys of up to {ATTRIBUTE_KEY_MAX_LENGTH} characters, "
    f"values strings of up to {ATTRIBUTE_VALUE_MAX_LENGTH} characters, numbers or booleans; "
    "filterable in search."
)


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def register_component(auto_schema, name, schema):
    """Register `schema` as the named component (once) and return a reference to it."""
    component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name)
    auto_schema.registry.register_on_missing(component)
    return component.ref


# --- fields documented by a schema of their own (response objects, the upload's body) -----------


class SchemaField(serializers.JSONField):
    """A field documented by its class's `schema` (see `schema_field`); only ever used for documentation."""

    schema = None


def schema_field(schema, **kwargs):
    """A serializer field documented by the JSON schema `schema`.

    `schema` may also be a function of `ref`, called when a document is built: `ref(SerializerClass)` is
    a reference to that serializer's component. So a class defined further down can be named, e.g.
    `schema_field(lambda ref: ref(ErrorSerializer))`.
    """
    field_class = type("SchemaField", (SchemaField,), {"schema": staticmethod(schema) if callable(schema) else schema})
    return field_class(**kwargs)


class SchemaFieldExtension(OpenApiSerializerFieldExtension):
    target_class = SchemaField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = type(self.target).schema
        if callable(schema):
            return schema(lambda serializer: auto_schema.resolve_serializer(serializer, direction).ref)
        return copy.deepcopy(schema)


# --- request bodies ------------------------------------------------------------------------


class StrictSerializerExtension(OpenApiSerializerExtension):
    """StrictSerializer rejects unknown fields: additionalProperties is false."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        # drf-spectacular has no public "map as usual" for extensions; its docs' own examples call these.
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        schema.pop("description", None)  # StrictSerializer's docstring, not the body's
        properties = schema["properties"]
        for name, details in PROPERTY_DETAILS.get(type(self.target), {}).items():
            properties[name] = safe_ref({**properties[name], **details})  # a $ref gets no siblings
        return schema


# Per serializer: what a property's generated schema lacks there (the field's own schema stays its field's).
PROPERTY_DETAILS = {
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
    UpdateFileSerializer: {
        "attributes": {
            "description": f"The file's new attributes, replacing the old; null clears them. {ATTRIBUTE_RULES}"
        },
    },
    RemoveFilesSerializer: {
        "file_ids": {"description": "The ids of the files to detach from the store."},
    },
}


class ChunkingStrategyExtension(OpenApiSerializerExtension):
    """`{"type": "auto"}` or `{"type": "static", "static": {...}}`, nothing else."""

    target_class = ChunkingStrategySerializer
    priority = 1  # over StrictSerializerExtension

    def get_name(self, auto_schema, direction):
        return "ChunkingStrategy"

    def map_serializer(self, auto_schema, direction):
        auto = register_component(
            auto_schema,
            "AutoChunkingStrategy",
            {
                "type": "object",
                "description": "OpenAI chooses: currently 800-token chunks overlapping by 400 tokens.",
                "properties": {"type": {"type": "string", "enum": ["auto"]}},
                "required": ["type"],
                "additionalProperties": False,
            },
        )
        static = register_component(
            auto_schema,
            "StaticChunkingStrategy",
            {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "enum": ["static"]},
                    "static": auto_schema.resolve_serializer(StaticChunkingSerializer, direction).ref,
                },
                "required": ["type", "static"],
                "additionalProperties": False,
            },
        )
        return {
            "oneOf": [auto, static],
            "discriminator": {"propertyName": "type", "mapping": {"auto": auto["$ref"], "static": static["$ref"]}},
            "description": "How files are split into chunks.",
        }


class MetadataFieldExtension(OpenApiSerializerFieldExtension):
    target_class = MetadataField

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "object",
            "maxProperties": METADATA_MAX_PAIRS,
            "additionalProperties": {"type": "string", "maxLength": METADATA_VALUE_MAX_LENGTH},
            "description": METADATA_RULES,
        }


class AttributesFieldExtension(OpenApiSerializerFieldExtension):
    target_class = AttributesField

    def map_serializer_field(self, auto_schema, direction):
        return {
            "type": "object",
            "maxProperties": ATTRIBUTES_MAX_PAIRS,
            "additionalProperties": {
                "oneOf": [
                    {"type": "string", "maxLength": ATTRIBUTE_VALUE_MAX_LENGTH},
                    {"type": "number"},
                    {"type": "boolean"},
                ]
            },
            "description": ATTRIBUTE_RULES,
            **({"nullable": True} if self.target.allow_null else {}),
        }


class FileIdListFieldExtension(OpenApiSerializerFieldExtension):
    target_class = FileIdListField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)  # as above
        return {**schema, "uniqueItems": True}


class SearchQueryFieldExtension(OpenApiSerializerFieldExtension):
    target_class = SearchQueryField

    def map_serializer_field(self, auto_schema, direction):
        return {
            "oneOf": [
                {"type": "string", "pattern": NON_BLANK},
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": SEARCH_MAX_QUERIES,
                    "items": {"type": "string", "pattern": NON_BLANK},
                },
            ],
            "description": f"A query, or several (at most {SEARCH_MAX_QUERIES}); none may be blank.",
        }


class FilterFieldExtension(OpenApiSerializerFieldExtension):
    """A comparison, or an and/or of filters: two components, the second recursive."""

    target_class = FilterField

    def map_serializer_field(self, auto_schema, direction):
        scalar = [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]
        comparison = register_component(
            auto_schema,
            "ComparisonFilter",
            {
                "type": "object",
                "description": "Compares the attribute `key` of each file with `value`.",
                "properties": {
                    "type": {"type": "string", "enum": list(ComparisonFilterSerializer().fields["type"].choices)},
                    "key": {"type": "string", "minLength": 1},
                    "value": {
                        "oneOf": [*scalar, {"type": "array", "maxItems": FILTER_MAX_VALUES, "items": {"oneOf": scalar}}]
                    },
                },
                "required": ["type", "key", "value"],
                "additionalProperties": False,
            },
        )
        compound = register_component(
            auto_schema,
            "CompoundFilter",
            {
                "type": "object",
                "description": (
                    f"Combines filters with `and` or `or`; filters nest at most {FILTER_MAX_DEPTH} levels, and a"
                    f" search takes at most {FILTER_MAX_COUNT} filters in all (and/or filters included)."
                ),
                "properties": {
                    "type": {"type": "string", "enum": ["and", "or"]},
                    "filters": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": FILTER_MAX_COUNT - 1,
                        "items": {"oneOf": [ref("ComparisonFilter"), ref("CompoundFilter")]},
                    },
                },
                "required": ["type", "filters"],
                "additionalProperties": False,
            },
        )
        return {"oneOf": [comparison, compound], "description": "Only files whose attributes match are searched."}
