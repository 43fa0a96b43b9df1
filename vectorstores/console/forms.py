"""The console's forms. Their bounds come from the API's serializers, and each form's final check
runs the API's own serializer on the body it is about to send, so the console accepts exactly what
the API accepts and no limit is written down twice."""
import re

from django import forms
from django.core.exceptions import ValidationError

from ..api.exceptions import flatten_errors
from ..api.serializers import (
    EXPIRY_DAYS,
    MAX_CHUNK_SIZE_TOKENS,
    MAX_FILE_IDS,
    MAX_SEARCH_RESULTS,
    METADATA_KEY_MAX_LENGTH,
    METADATA_MAX_PAIRS,
    METADATA_VALUE_MAX_LENGTH,
    SearchSerializer,
    VectorStoreCreateSerializer,
    VectorStoreUpdateSerializer,
    object_id_validator,
)

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
            if path[:len(prefix)] == prefix:
                if field:
                    form.add_error(field, message)
                else:
                    form.add_error(None, f"{label}: {message}" if label else message)
                break
        else:
            form.add_error(None, f"{'.'.join(path)}: {message}" if path else message)


def validate_body(form, serializer_class, body):
    """Check `body` with the API's own serializer: keep it as `form.body`, or put its errors on `form`."""
    serializer = serializer_class(data=body)
    if serializer.is_valid():
        form.body = dict(serializer.validated_data)
    else:
        add_serializer_errors(form, serializer.errors, form.ERRORS)


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
        return {form.cleaned_data["key"]: form.cleaned_data.get("value") or ""
                for form in self.forms if form.cleaned_data.get("key")}


def metadata_formset(data=None, pairs=None):
    pairs = pairs or {}
    spare = max(0, min(METADATA_MAX_PAIRS - len(pairs), 1 if pairs else 2))
    formset_class = forms.formset_factory(
        MetadataRowForm, formset=BaseMetadataFormSet, extra=spare,
        max_num=METADATA_MAX_PAIRS, absolute_max=METADATA_MAX_PAIRS, validate_max=True,
    )
    initial = [{"key": key, "value": value} for key, value in pairs.items()]
    return formset_class(data, prefix="metadata", initial=initial)


# --- the chunking strategy ---------------------------------------------------------------------


class ChunkingFields(forms.Form):
    """The chunking strategy: auto, or static with a chunk size and overlap within OpenAI's bounds."""

    chunking = forms.ChoiceField(label="Chunking strategy", choices=CHUNKING_CHOICES, initial="auto",
                                 widget=forms.RadioSelect)
    max_chunk_size_tokens = forms.IntegerField(
        label="Max chunk size (tokens)", required=False, initial=DEFAULT_MAX_CHUNK_SIZE_TOKENS, widget=INTEGER,
        min_value=MAX_CHUNK_SIZE_TOKENS[0], max_value=MAX_CHUNK_SIZE_TOKENS[1],
        help_text=f"Static only: {MAX_CHUNK_SIZE_TOKENS[0]} to {MAX_CHUNK_SIZE_TOKENS[1]}.",
    )
    chunk_overlap_tokens = forms.IntegerField(
        label="Chunk overlap (tokens)", required=False, initial=DEFAULT_CHUNK_OVERLAP_TOKENS, min_value=0,
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
        return {"type": "static", "static": {
            "max_chunk_size_tokens": self.cleaned_data.get("max_chunk_size_tokens"),
            "chunk_overlap_tokens": self.cleaned_data.get("chunk_overlap_tokens"),
        }}

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


# --- vector stores ---------------------------------------------------------------------------------


def expiry_days_field(**kwargs):
    return forms.IntegerField(
        label="Expires after (days)", required=False, min_value=EXPIRY_DAYS[0], max_value=EXPIRY_DAYS[1],
        help_text=f"{EXPIRY_DAYS[0]} to {EXPIRY_DAYS[1]} days after its last activity, OpenAI deletes the store. "
                  "Leave blank to keep it until it is deleted.", widget=INTEGER, **kwargs,
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
    description = forms.CharField(label="Description", required=False, strip=False,
                                  widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}))
    expiry_days = expiry_days_field()
    file_ids = forms.CharField(
        label="File ids", required=False, widget=forms.Textarea(attrs={"rows": 2, "class": "vLargeTextField"}),
        help_text=f"Optional: up to {MAX_FILE_IDS} ids of files already uploaded to OpenAI (file-…), separated by "
                  "spaces, commas or new lines. The chunking strategy applies to these; for files you upload "
                  "later, choose it when uploading.",
    )
    field_order = ["name", "description", "expiry_days", "file_ids", "chunking", "max_chunk_size_tokens",
                   "chunk_overlap_tokens"]

    ERRORS = [
        (("name",), "name", None), (("description",), "description", None), (("file_ids",), "file_ids", None),
        (("expires_after",), "expiry_days", None), (("metadata",), None, "Metadata"),
        *ChunkingFields.CHUNKING_ERRORS,
    ]

    def clean_file_ids(self):
        return [file_id for file_id in re.split(r"[\s,]+", self.cleaned_data["file_ids"]) if file_id]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned.get("chunking") == "static" and not cleaned.get("file_ids"):
            self.add_error("chunking", "A chunking strategy applies to the files added when the store is created: "
                                       "enter their file ids, or choose the strategy when uploading files.")
            return cleaned
        metadata = self.metadata_pairs()
        if metadata is None:
            return cleaned
        validate_body(self, VectorStoreCreateSerializer, self._body(cleaned, metadata))
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
        days = (store.get("expires_after") or {}).get("days")
        initial = {"name": store.get("name") or "", "expiry_days": days}
        super().__init__(data, metadata=store.get("metadata") or {}, initial=initial, **kwargs)

    def clean(self):
        cleaned = super().clean()
        metadata = self.metadata_pairs()
        if self.errors or metadata is None:
            return cleaned
        current = {"name": self.store.get("name") or "", "metadata": self.store.get("metadata") or {},
                   "expires_after": self.store.get("expires_after")}
        wanted = {"name": cleaned["name"], "metadata": metadata, "expires_after": expires_after(cleaned["expiry_days"])}
        changed = {name: value for name, value in wanted.items() if value != current[name]}
        validate_body(self, VectorStoreUpdateSerializer, changed)
        return cleaned

    def changed_labels(self):
        return [self.LABELS[name] for name in self.body]


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


class SearchForm(forms.Form):
    q = forms.CharField(label="Search the store's content", strip=False)
    max_results = forms.IntegerField(label="Results", min_value=1, max_value=MAX_SEARCH_RESULTS,
                                     initial=DEFAULT_SEARCH_RESULTS, required=False,
                                     widget=INTEGER)
    rewrite = forms.BooleanField(label="Let OpenAI rewrite the query", required=False)

    ERRORS = [(("query",), "q", None), (("max_num_results",), "max_results", None),
              (("rewrite_query",), "rewrite", None)]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_search_%s")
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        body = {"query": cleaned["q"]}
        if cleaned.get("max_results") is not None:
            body["max_num_results"] = cleaned["max_results"]
        if cleaned.get("rewrite"):
            body["rewrite_query"] = True
        validate_body(self, SearchSerializer, body)
        return cleaned


class RemoveFilesForm(forms.Form):
    delete_files = forms.BooleanField(
        label="Also delete these files from OpenAI", required=False,
        help_text="Otherwise they are only detached from this store and stay in your OpenAI files.",
    )


class DeleteStoreForm(forms.Form):
    delete_files = forms.BooleanField(
        label="Also delete the store's files from OpenAI", required=False,
        help_text="Otherwise the files stay in your OpenAI files (and keep using storage) after the store is gone.",
    )
