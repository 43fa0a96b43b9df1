"""The console's forms. Their bounds come from the API's serializers, and each form's final check
runs the API's own serializer on the body it is about to send, so the console accepts exactly what
the API accepts and no limit is written down twice."""

import json
import math
import re

from django import forms
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from .. import ownership
from ..api.exceptions import flatten_errors
from ..api.serializers import (
    ATTRIBUTE_KEY_MAX_LENGTH,
    ATTRIBUTE_VALUE_MAX_LENGTH,
    ATTRIBUTES_MAX_PAIRS,
    EXPIRY_DAYS,
    MAX_BATCH_FILES,
    MAX_CHUNK_SIZE_TOKENS,
    MAX_FILE_IDS,
    MAX_SEARCH_RESULTS,
    METADATA_KEY_MAX_LENGTH,
    METADATA_MAX_PAIRS,
    METADATA_VALUE_MAX_LENGTH,
    AttachFilesSerializer,
    RankingOptionsSerializer,
    SearchSerializer,
    UpdateFileSerializer,
    VectorStoreCreateSerializer,
    VectorStoreUpdateSerializer,
    object_id_validator,
)
from .display import StoreRow

EXPIRES_AFTER_ANCHOR = "last_active_at"  # the only anchor OpenAI offers
DEFAULT_SEARCH_RESULTS = 10  # OpenAI's default max_num_results
# OpenAI's defaults for a static strategy, offered as starting values (the bounds come from the serializers).
DEFAULT_MAX_CHUNK_SIZE_TOKENS, DEFAULT_CHUNK_OVERLAP_TOKENS = 800, 400
INTEGER = forms.NumberInput(attrs={"class": "vIntegerField"})
TEXT = forms.TextInput(attrs={"class": "vTextField"})
CHUNKING_CHOICES = [("auto", "Auto (OpenAI chooses)"), ("static", "Static (fixed chunk size)")]


def add_serializer_errors(form, errors, field_map):
    """Put a serializer's errors on the form fields `field_map` names ((path prefix, field) pairs, longest first)."""
    for path, message in flatten_errors(errors):
        for prefix, field, label in field_map:
            if path[: len(prefix)] == prefix:
                if field:
                    form.add_error(field, message)
                else:
                    form.add_error(None, f"{label}: {message}" if label else message)
                break
        else:
            form.add_error(None, f"{'.'.join(path)}: {message}" if path else message)


def validate_body(form, serializer_class, body):
    """Check `body` with the API's own serializer: keep it as `form.body`, or put its errors on `form`.
    Returns the serializer."""
    serializer = serializer_class(data=body)
    if serializer.is_valid():
        form.body = dict(serializer.validated_data)
    else:
        add_serializer_errors(form, serializer.errors, form.ERRORS)
    return serializer


def split_ids(text):
    """The ids in `text`, separated by spaces, commas or new lines."""
    return [item for item in re.split(r"[\s,]+", text) if item]


def refuse_files_of_others(form, access, file_ids):
    """A File that a store the user cannot reach holds is, for them, no such File (as the API answers)."""
    others = ownership.files_of_others(access, file_ids, attaching=True)
    if others:
        form.add_error("file_ids", f"No such file: {', '.join(sorted(others))}.")


# --- metadata: key/value rows ------------------------------------------------------------------


class MetadataRowForm(forms.Form):
    key = forms.CharField(label="Key", required=False, strip=False, max_length=METADATA_KEY_MAX_LENGTH)
    value = forms.CharField(label="Value", required=False, strip=False, max_length=METADATA_VALUE_MAX_LENGTH)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("key") and cleaned.get("value"):
            self.add_error("key", "Enter a key for this value.")
        return cleaned


class BaseMetadataFormSet(forms.BaseFormSet):
    """Rows of metadata; blank rows are ignored, and a key may appear once."""

    def clean(self):
        if any(self.errors):
            return
        keys = [form.cleaned_data.get("key") for form in self.forms if form.cleaned_data.get("key")]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValidationError(f"Each key may appear once: {', '.join(repr(key) for key in duplicates)}.")

    def pairs(self):
        return {
            form.cleaned_data["key"]: form.cleaned_data.get("value") or ""
            for form in self.forms
            if form.cleaned_data.get("key")
        }


def metadata_formset(data=None, pairs=None):
    pairs = pairs or {}
    spare = max(0, min(METADATA_MAX_PAIRS - len(pairs), 1 if pairs else 2))
    formset_class = forms.formset_factory(
        MetadataRowForm,
        formset=BaseMetadataFormSet,
        extra=spare,
        max_num=METADATA_MAX_PAIRS,
        absolute_max=METADATA_MAX_PAIRS,
        validate_max=True,
    )
    initial = [{"key": key, "value": value} for key, value in pairs.items()]
    return formset_class(data, prefix="metadata", initial=initial)


# --- attributes of a vector store file: typed key/value rows ---------------------------------------

# The types an attribute's value may have (OpenAI's VectorStoreFileAttributes: string, number, boolean).
ATTRIBUTE_TYPES = [("text", "Text"), ("number", "Number"), ("boolean", "True/false")]
BOOLEANS = {"true": True, "false": False}
INTEGER_TEXT = re.compile(r"[+-]?\d+")


def typed_value(kind, text):
    """The value `text` (as typed in a form) as an attribute of `kind`: text as it is, a number (an integer
    when written as one), or true/false. Raises ValidationError when it is not one."""
    if kind == "text":
        return text
    text = text.strip()
    if kind == "boolean":
        if text.lower() not in BOOLEANS:
            raise ValidationError("Enter true or false.", code="invalid")
        return BOOLEANS[text.lower()]
    try:
        number = int(text) if INTEGER_TEXT.fullmatch(text) else float(text)
    except ValueError:
        raise ValidationError("Enter a number.", code="invalid") from None
    if not math.isfinite(number):
        raise ValidationError("Enter a finite number.", code="invalid")
    return number


def value_type(value):
    """The row type ("text", "number" or "boolean") of an attribute's value."""
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, (int, float)) else "text"


def value_text(value):
    """An attribute's value as its row shows it: true/false, a number as JSON writes it, text as it is."""
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return value if isinstance(value, str) else json.dumps(value)


class TypedValueRow(forms.Form):
    """A row with a key, a type and a value typed as text: blank rows are left out."""

    key = forms.CharField(label="Key", required=False, strip=False, max_length=ATTRIBUTE_KEY_MAX_LENGTH)
    type = forms.ChoiceField(label="Type", choices=ATTRIBUTE_TYPES, initial="text")
    value = forms.CharField(label="Value", required=False, strip=False, max_length=ATTRIBUTE_VALUE_MAX_LENGTH)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if not cleaned.get("key"):
            if cleaned.get("value"):
                self.add_error("key", "Enter a key for this value.")
            return cleaned
        try:
            cleaned["typed"] = typed_value(cleaned["type"], cleaned.get("value") or "")
        except ValidationError as error:
            self.add_error("value", error)
        return cleaned


class BaseAttributesFormSet(forms.BaseFormSet):
    """Rows of attributes; blank rows and rows marked for removal are left out, and a key may appear once."""

    def kept_forms(self):
        return [
            form
            for form in self.forms
            if form.cleaned_data.get("key") and not (self.can_delete and self._should_delete_form(form))
        ]

    def clean(self):
        if any(self.errors):
            return
        keys = [form.cleaned_data["key"] for form in self.kept_forms()]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValidationError(f"Each key may appear once: {', '.join(repr(key) for key in duplicates)}.")

    def pairs(self):
        return {form.cleaned_data["key"]: form.cleaned_data["typed"] for form in self.kept_forms()}


def attributes_formset(data=None, attributes=None, auto_id="id_%s"):
    """The editor's rows: one per attribute (each with a "Remove" box), and a blank one or two to add more.
    Up to ATTRIBUTES_MAX_PAIRS rows are offered; more are refused by the API's rule (AttributesField)."""
    attributes = attributes if isinstance(attributes, dict) else {}
    spare = max(0, min(ATTRIBUTES_MAX_PAIRS - len(attributes), 1 if attributes else 2))
    formset_class = forms.formset_factory(
        TypedValueRow,
        formset=BaseAttributesFormSet,
        extra=spare,
        can_delete=True,
        can_delete_extra=False,
        max_num=max(ATTRIBUTES_MAX_PAIRS, len(attributes)),
        absolute_max=4 * ATTRIBUTES_MAX_PAIRS,
    )
    initial = [{"key": key, "type": value_type(value), "value": value_text(value)} for key, value in attributes.items()]
    return formset_class(data, prefix="attributes", initial=initial, auto_id=auto_id)


class AttributesMixin:
    """A form that owns attribute rows: valid only when both are."""

    def __init__(self, data=None, *, attributes=None, **kwargs):
        super().__init__(data, **kwargs)
        self.attributes = attributes_formset(data, attributes, auto_id=self.auto_id)

    def is_valid(self):
        attributes_valid = self.attributes.is_valid()
        return super().is_valid() and attributes_valid

    @property
    def has_errors(self):
        return bool(self.errors or self.attributes.total_error_count())

    def attribute_pairs(self):
        return self.attributes.pairs() if self.attributes.is_valid() else None


def same_attributes(first, second):
    """Whether two sets of attributes are the same, types included (1, 1.0 and true are three values)."""
    return json.dumps(first or {}, sort_keys=True) == json.dumps(second or {}, sort_keys=True)


class FileAttributesForm(AttributesMixin, forms.Form):
    """A vector store file's attributes, replaced as a whole; no rows left clears them (null)."""

    ERRORS = [(("attributes",), None, "Attributes")]

    def __init__(self, data=None, *, vs_file, **kwargs):
        self.current = vs_file.get("attributes") if isinstance(vs_file.get("attributes"), dict) else {}
        super().__init__(data, attributes=self.current, **kwargs)
        self.changed = False

    def clean(self):
        cleaned = super().clean()
        pairs = self.attribute_pairs()
        if self.errors or pairs is None:
            return cleaned
        self.changed = not same_attributes(pairs, self.current)
        validate_body(self, UpdateFileSerializer, {"attributes": pairs or None})
        return cleaned


# --- the chunking strategy ---------------------------------------------------------------------


class ChunkingFields(forms.Form):
    """The chunking strategy: auto, or static with a chunk size and overlap within OpenAI's bounds."""

    chunking = forms.ChoiceField(
        label="Chunking strategy", choices=CHUNKING_CHOICES, initial="auto", widget=forms.RadioSelect
    )
    max_chunk_size_tokens = forms.IntegerField(
        label="Max chunk size (tokens)",
        required=False,
        initial=DEFAULT_MAX_CHUNK_SIZE_TOKENS,
        widget=INTEGER,
        min_value=MAX_CHUNK_SIZE_TOKENS[0],
        max_value=MAX_CHUNK_SIZE_TOKENS[1],
        help_text=f"Static only: {MAX_CHUNK_SIZE_TOKENS[0]} to {MAX_CHUNK_SIZE_TOKENS[1]}.",
    )
    chunk_overlap_tokens = forms.IntegerField(
        label="Chunk overlap (tokens)",
        required=False,
        initial=DEFAULT_CHUNK_OVERLAP_TOKENS,
        min_value=0,
        widget=INTEGER,
        help_text="Static only: at most half of the max chunk size.",
    )

    CHUNKING_ERRORS = [
        (("chunking_strategy", "static", "max_chunk_size_tokens"), "max_chunk_size_tokens", None),
        (("chunking_strategy", "static", "chunk_overlap_tokens"), "chunk_overlap_tokens", None),
        (("chunking_strategy",), "chunking", None),
    ]

    def chunking_strategy(self):
        """The strategy as the API takes it (None for auto), once the form is clean."""
        if self.cleaned_data.get("chunking") != "static":
            return None
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.cleaned_data.get("max_chunk_size_tokens"),
                "chunk_overlap_tokens": self.cleaned_data.get("chunk_overlap_tokens"),
            },
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("chunking") == "static":
            for name in ("max_chunk_size_tokens", "chunk_overlap_tokens"):
                if cleaned.get(name) is None and name not in self.errors:
                    self.add_error(name, "Required for a static chunking strategy.")
        return cleaned


class UploadOptionsForm(ChunkingFields):
    """The options of an upload (sent by the console's script; checked by the API's UploadSerializer)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_upload_%s")
        super().__init__(*args, **kwargs)


# --- attaching existing files ------------------------------------------------------------------------


class AttachFilesForm(AttributesMixin, ChunkingFields):
    """Files already at OpenAI, attached in one file batch, with the same attributes and chunking strategy."""

    file_ids = forms.CharField(
        label="File ids",
        widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}),
        help_text=f"Up to {MAX_BATCH_FILES:,} ids of files already uploaded to OpenAI (file-…), one per line or "
        "separated by commas or spaces.",
    )
    field_order = ["file_ids", "chunking", "max_chunk_size_tokens", "chunk_overlap_tokens"]

    ERRORS = [(("file_ids",), "file_ids", None), (("attributes",), None, "Attributes"), *ChunkingFields.CHUNKING_ERRORS]

    def __init__(self, *args, access=None, **kwargs):
        kwargs.setdefault("auto_id", "id_attach_%s")
        super().__init__(*args, **kwargs)
        self.access = access  # what the user reaches: needed to validate (a bound form)
        self.files = None

    def clean_file_ids(self):
        ids = split_ids(self.cleaned_data["file_ids"])
        if not ids:
            raise ValidationError("Enter at least one file id.")
        for file_id in ids:
            try:
                object_id_validator(file_id)
            except ValidationError as error:
                raise ValidationError(f"{file_id[:80]!r}: {error.messages[0]}") from None
        return ids

    def clean(self):
        cleaned = super().clean()
        pairs = self.attribute_pairs()
        if self.errors or pairs is None:
            return cleaned
        body = {"file_ids": cleaned["file_ids"]}
        if pairs:
            body["attributes"] = pairs
        strategy = self.chunking_strategy()
        if strategy:
            body["chunking_strategy"] = strategy
        serializer = validate_body(self, AttachFilesSerializer, body)
        if not self.errors:
            refuse_files_of_others(self, self.access, cleaned["file_ids"])
        if not self.errors:
            self.files = serializer.attached_files()  # one entry per file, as the batch takes them
        return cleaned


# --- vector stores ---------------------------------------------------------------------------------


def expiry_days_field(**kwargs):
    return forms.IntegerField(
        label="Expires after (days)",
        required=False,
        min_value=EXPIRY_DAYS[0],
        max_value=EXPIRY_DAYS[1],
        help_text=f"{EXPIRY_DAYS[0]} to {EXPIRY_DAYS[1]} days after its last activity, OpenAI deletes the store. "
        "Leave blank to keep it until it is deleted.",
        widget=INTEGER,
        **kwargs,
    )


def expires_after(days):
    return None if days is None else {"anchor": EXPIRES_AFTER_ANCHOR, "days": days}


class StoreFormMixin:
    """A store form owns its metadata rows: valid only when both are."""

    def __init__(self, data=None, *, metadata=None, **kwargs):
        super().__init__(data, **kwargs)
        self.metadata = metadata_formset(data, metadata)

    def is_valid(self):
        metadata_valid = self.metadata.is_valid()
        return super().is_valid() and metadata_valid

    def metadata_pairs(self):
        return self.metadata.pairs() if self.metadata.is_valid() else None


class StoreCreateForm(StoreFormMixin, ChunkingFields):
    name = forms.CharField(label="Name", required=False, strip=False, widget=TEXT)
    description = forms.CharField(
        label="Description",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}),
    )
    expiry_days = expiry_days_field()
    file_ids = forms.CharField(
        label="File ids",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "class": "vLargeTextField"}),
        help_text=f"Optional: up to {MAX_FILE_IDS} ids of files already uploaded to OpenAI (file-…), separated by "
        "spaces, commas or new lines. The chunking strategy applies to these; for files you upload "
        "later, choose it when uploading.",
    )
    field_order = [
        "name",
        "description",
        "expiry_days",
        "file_ids",
        "chunking",
        "max_chunk_size_tokens",
        "chunk_overlap_tokens",
    ]

    ERRORS = [
        (("name",), "name", None),
        (("description",), "description", None),
        (("file_ids",), "file_ids", None),
        (("expires_after",), "expiry_days", None),
        (("metadata",), None, "Metadata"),
        *ChunkingFields.CHUNKING_ERRORS,
    ]

    def __init__(self, data=None, *, access, **kwargs):
        super().__init__(data, **kwargs)
        self.access = access
        groups = ownership.groups_for_new_store(access).order_by("name")
        if groups.exists():
            self.fields["group"] = forms.ModelChoiceField(
                queryset=groups,
                to_field_name="name",
                required=False,
                empty_label="(none)",
                label="Share with group",
                help_text="Optional: the store is yours, and the members of this group reach it too.",
            )

    def clean_file_ids(self):
        return split_ids(self.cleaned_data["file_ids"])

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("chunking") == "static" and not cleaned.get("file_ids"):
            self.add_error(
                "chunking",
                "A chunking strategy applies to the files added when the store is created: "
                "enter their file ids, or choose the strategy when uploading files.",
            )
            return cleaned
        metadata = self.metadata_pairs()
        if metadata is None:
            return cleaned
        validate_body(self, VectorStoreCreateSerializer, self._body(cleaned, metadata))
        if not self.errors:
            refuse_files_of_others(self, self.access, cleaned["file_ids"])
        return cleaned

    def _body(self, cleaned, metadata):
        body = {}
        if cleaned["name"]:
            body["name"] = cleaned["name"]
        if cleaned["description"]:
            body["description"] = cleaned["description"]
        if metadata:
            body["metadata"] = metadata
        if cleaned["expiry_days"] is not None:
            body["expires_after"] = expires_after(cleaned["expiry_days"])
        if cleaned["file_ids"]:
            body["file_ids"] = cleaned["file_ids"]
            body["chunking_strategy"] = self.chunking_strategy() or {"type": "auto"}
        return body


class StoreChangeForm(StoreFormMixin, forms.Form):
    """Name, metadata and expiry of an existing store; only what changed is sent."""

    name = forms.CharField(label="Name", required=False, strip=False, widget=TEXT)
    expiry_days = expiry_days_field()

    ERRORS = [(("name",), "name", None), (("expires_after",), "expiry_days", None), (("metadata",), None, "Metadata")]
    LABELS = {"name": "name", "metadata": "metadata", "expires_after": "expiry"}

    def __init__(self, data=None, *, store, **kwargs):
        self.store = store
        row = StoreRow.of(store)  # what OpenAI sent, of the types the form shows (hostile answers included)
        super().__init__(
            data, metadata=row.metadata, initial={"name": row.name, "expiry_days": row.expiry_days}, **kwargs
        )

    def clean(self):
        cleaned = super().clean()
        metadata = self.metadata_pairs()
        if self.errors or metadata is None:
            return cleaned
        current = {
            "name": self.store.get("name") or "",
            "metadata": self.store.get("metadata") or {},
            "expires_after": self.store.get("expires_after"),
        }
        wanted = {"name": cleaned["name"], "metadata": metadata, "expires_after": expires_after(cleaned["expiry_days"])}
        changed = {name: value for name, value in wanted.items() if value != current[name]}
        validate_body(self, VectorStoreUpdateSerializer, changed)
        return cleaned

    def changed_labels(self):
        return [self.LABELS[name] for name in self.body]


# --- whose a store is ------------------------------------------------------------------------------


class StoreOwnerForm(forms.Form):
    """Whose a store is: its owner (a user who may use the credential) and the group whose members reach it."""

    owner = forms.ModelChoiceField(queryset=None, required=False, empty_label="(none)", label="Owner")
    group = forms.ModelChoiceField(
        queryset=Group.objects.order_by("name"),
        required=False,
        empty_label="(none)",
        label="Group",
        help_text="Its members reach the store too.",
    )

    def __init__(self, data=None, *, credential, record=None, **kwargs):
        if record is not None:
            kwargs.setdefault("initial", {"owner": record.owner_id, "group": record.group_id})
        super().__init__(data, **kwargs)
        users = credential.allowed_users()
        self.fields["owner"].queryset = users.order_by(users.model.USERNAME_FIELD)

    def clean(self):
        cleaned = super().clean()
        if not self.errors and cleaned.get("owner") is None and cleaned.get("group") is None:
            raise ValidationError(
                "Choose an owner, a group or both: a store with neither is reached only by those who reach every store."
            )
        return cleaned


class ImportStoresForm(StoreOwnerForm):
    """Stores without a record, given an owner and a group: those checked, or with "Assign all listed"
    (the submit button named ASSIGN_ALL) every one of `stores`."""

    ASSIGN_ALL = "_assign_all"

    store_ids = forms.MultipleChoiceField(required=False, label="Vector stores")

    def __init__(self, data=None, *, credential, stores, **kwargs):
        kwargs.setdefault("auto_id", "id_import_%s")
        super().__init__(data, credential=credential, **kwargs)
        self.stores = stores
        self.fields["store_ids"].choices = [(store["id"], store["id"]) for store in stores]

    @property
    def assign_all(self):
        return self.is_bound and self.ASSIGN_ALL in self.data

    def clean(self):
        cleaned = super().clean()
        if not (self.assign_all or cleaned.get("store_ids") or "store_ids" in self.errors):
            raise ValidationError("Select the vector stores to assign, or assign all listed.")
        return cleaned

    def chosen_stores(self):
        """The stores to record, once the form is valid."""
        chosen = set(self.cleaned_data["store_ids"])
        return [store for store in self.stores if self.assign_all or store["id"] in chosen]


# --- a list page's cursor -------------------------------------------------------------------------


class CursorForm(forms.Form):
    """Where a list page starts: `after` an object (the next page) or `before` one (the previous page),
    given by its id under the API's object id rule, so no other text reaches OpenAI."""

    after = forms.CharField(required=False, strip=False, validators=[object_id_validator])
    before = forms.CharField(required=False, strip=False, validators=[object_id_validator])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("after") and cleaned.get("before"):
            raise ValidationError("A page starts after an object or ends before one, not both.")
        return cleaned

    @property
    def cursor(self):
        """{"after": id} or {"before": id} when the form is valid and names one, else {}."""
        if not self.is_valid():
            return {}
        return {name: value for name, value in self.cleaned_data.items() if value}


# --- search, removal, deletion ---------------------------------------------------------------------


# Comparisons of a search filter row (the API's ComparisonFilterSerializer also takes in/nin, lists).
COMPARISONS = [
    ("eq", "equals"),
    ("ne", "does not equal"),
    ("gt", "greater than"),
    ("gte", "at least"),
    ("lt", "less than"),
    ("lte", "at most"),
]
COMBINATIONS = [("and", "All of them (and)"), ("or", "Any of them (or)")]
MAX_FILTER_ROWS = 20  # the form's rows: OpenAI's own limit is on nesting, not on the number of filters
SCORE_THRESHOLD = RankingOptionsSerializer().fields["score_threshold"]


class FilterRowForm(TypedValueRow):
    """One comparison: an attribute, how it compares, and a typed value."""

    comparison = forms.ChoiceField(label="Comparison", choices=COMPARISONS, initial="eq")
    field_order = ["key", "comparison", "type", "value"]

    def comparison_filter(self):
        return {
            "type": self.cleaned_data["comparison"],
            "key": self.cleaned_data["key"],
            "value": self.cleaned_data["typed"],
        }


class BaseFiltersFormSet(forms.BaseFormSet):
    def filters(self):
        return [form.comparison_filter() for form in self.forms if form.cleaned_data.get("key")]


def filters_formset(data=None, auto_id="id_%s"):
    formset_class = forms.formset_factory(
        FilterRowForm,
        formset=BaseFiltersFormSet,
        extra=1,
        max_num=MAX_FILTER_ROWS,
        absolute_max=MAX_FILTER_ROWS,
        validate_max=True,
    )
    return formset_class(data, prefix="filters", auto_id=auto_id)


class SearchForm(forms.Form):
    q = forms.CharField(label="Search the store's content", strip=False)
    max_results = forms.IntegerField(
        label="Results",
        min_value=1,
        max_value=MAX_SEARCH_RESULTS,
        initial=DEFAULT_SEARCH_RESULTS,
        required=False,
        widget=INTEGER,
    )
    rewrite = forms.BooleanField(label="Let OpenAI rewrite the query", required=False)
    combine = forms.ChoiceField(
        label="Files must match", choices=COMBINATIONS, initial="and", required=False, widget=forms.RadioSelect
    )
    score_threshold = forms.FloatField(
        label="Minimum score",
        required=False,
        min_value=SCORE_THRESHOLD.min_value,
        max_value=SCORE_THRESHOLD.max_value,
        widget=forms.NumberInput(attrs={"step": "0.01", "class": "vIntegerField"}),
        help_text=f"Optional: only results scoring at least this ({SCORE_THRESHOLD.min_value} to "
        f"{SCORE_THRESHOLD.max_value}).",
    )

    ERRORS = [
        (("query",), "q", None),
        (("max_num_results",), "max_results", None),
        (("rewrite_query",), "rewrite", None),
        (("filters",), None, "Filters"),
        (("ranking_options",), "score_threshold", None),
    ]

    def __init__(self, data=None, **kwargs):
        kwargs.setdefault("auto_id", "id_search_%s")
        super().__init__(data, **kwargs)
        # The filter rows count only when the form sent them (a link with just ?q=... has none).
        sent = data is not None and "filters-TOTAL_FORMS" in data
        self.filters = filters_formset(data if sent else None, auto_id=self.auto_id)

    def is_valid(self):
        filters_valid = not self.filters.is_bound or self.filters.is_valid()
        return super().is_valid() and filters_valid

    @property
    def has_filters(self):
        """Whether the form sent filter rows with something in them (to show them open)."""
        return self.filters.is_bound and any(form.has_changed() for form in self.filters.forms)

    def clean(self):
        cleaned = super().clean()
        filters_valid = not self.filters.is_bound or self.filters.is_valid()
        if self.errors or not filters_valid:
            return cleaned
        body = {"query": cleaned["q"]}
        if cleaned.get("max_results") is not None:
            body["max_num_results"] = cleaned["max_results"]
        if cleaned.get("rewrite"):
            body["rewrite_query"] = True
        filters = self.filters.filters() if self.filters.is_bound else []
        if len(filters) == 1:
            body["filters"] = filters[0]
        elif filters:
            body["filters"] = {"type": cleaned.get("combine") or "and", "filters": filters}
        if cleaned.get("score_threshold") is not None:
            body["ranking_options"] = {"score_threshold": cleaned["score_threshold"]}
        validate_body(self, SearchSerializer, body)
        return cleaned


class RemoveFilesForm(forms.Form):
    delete_files = forms.BooleanField(
        label="Also delete these files from OpenAI",
        required=False,
        help_text="Otherwise they are only detached from this store and stay in your OpenAI files.",
    )


class DeleteStoreForm(forms.Form):
    delete_files = forms.BooleanField(
        label="Also delete the store's files from OpenAI",
        required=False,
        help_text="Otherwise the files stay in your OpenAI files (and keep using storage) after the store is gone.",
    )


class RemoveFileForm(forms.Form):
    delete_files = forms.BooleanField(
        label="Also delete this file from OpenAI",
        required=False,
        help_text="Otherwise it is only detached from this store and stays in your OpenAI files.",
    )
