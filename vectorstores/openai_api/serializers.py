"""What the OpenAI-compatible `files` routes take; the vector store routes take the API's own serializers."""

import re

from rest_framework import serializers

from ..api.serializers import QueryIntegerField, QuerySerializer, check_uploaded_file, object_id_validator

PURPOSE = "assistants"  # the only purpose of a File a vector store takes
FILE_EXPIRY_SECONDS = (3600, 2_592_000)  # OpenAI's bounds for expires_after.seconds: 1 hour to 30 days
MAX_FILES_PAGE = 10_000  # OpenAI's largest (and default) page of GET /files


class FileUploadSerializer(serializers.Serializer):
    """OpenAI's `POST /files`, multipart: a `file` part, `purpose`, and optionally `expires_after[anchor]` and
    `expires_after[seconds]`. Each part once; no other part."""

    EXPIRY_PARTS = {"expires_after[anchor]": "anchor", "expires_after[seconds]": "seconds"}

    file = serializers.FileField(allow_empty_file=True, use_url=False)
    purpose = serializers.ChoiceField(
        choices=[PURPOSE],
        error_messages={
            "invalid_choice": f"This site keeps Files for vector stores only: the purpose must be '{PURPOSE}'."
        },
    )
    expires_after = serializers.DictField(required=False)

    def to_internal_value(self, data):
        known = {"file", "purpose", *self.EXPIRY_PARTS}
        unknown = sorted(set(data) - known)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        repeated = [name for name in known if len(data.getlist(name)) > 1]
        if repeated:
            raise serializers.ValidationError({name: ["Give this part once."] for name in sorted(repeated)})
        not_text = [name for name in sorted(known - {"file"}) if name in data and not isinstance(data[name], str)]
        if not_text:  # a part with a filename: its content is a file's, not the field's value
            raise serializers.ValidationError({name: ["Must be a text part, not a file."] for name in not_text})
        values = {name: data[name] for name in ("file", "purpose") if name in data}
        expiry = {key: data[part] for part, key in self.EXPIRY_PARTS.items() if part in data}
        if expiry:
            values["expires_after"] = _checked_expiry(expiry)
        return super().to_internal_value(values)

    def validate_file(self, upload):
        check_uploaded_file(upload)
        return upload


def _checked_expiry(expiry):
    if expiry.get("anchor") != "created_at":
        raise serializers.ValidationError({"expires_after[anchor]": ["Must be 'created_at'."]})
    low, high = FILE_EXPIRY_SECONDS
    seconds = expiry.get("seconds", "")
    if not re.fullmatch(r"[0-9]{1,10}", seconds):  # digits only: int() also takes " 36_00 "
        raise serializers.ValidationError({"expires_after[seconds]": ["Must be an integer."]})
    seconds = int(seconds)
    if not low <= seconds <= high:
        raise serializers.ValidationError({"expires_after[seconds]": [f"Must be from {low} to {high}."]})
    return {"anchor": "created_at", "seconds": seconds}


class FileListQuerySerializer(QuerySerializer):
    """OpenAI's `GET /files` query (it has no `before`)."""

    purpose = serializers.CharField(required=False, max_length=64)
    limit = QueryIntegerField(required=False, min_value=1, max_value=MAX_FILES_PAGE, default=MAX_FILES_PAGE)
    order = serializers.ChoiceField(required=False, choices=["asc", "desc"])
    after = serializers.CharField(required=False, validators=[object_id_validator])
