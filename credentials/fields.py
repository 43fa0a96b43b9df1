"""The model field that holds API keys encrypted at rest (the format: credentials/encryption.py).

A value the site's keys cannot decrypt would make every query that loads its row fail. This field
loads it as an `UnreadableSecret` instead: an empty string that remembers the stored bytes, so that
saving the row writes them back unchanged (an unreadable key is never destroyed by an unrelated edit).

Serialization (`dumpdata`) writes the stored ciphertext, never the key: `"encrypted:<base64>"`.
Loading such a fixture keeps the ciphertext, so a dump and load round trip gives the same key back
on a site with the same keys, and an unreadable (never an empty) one on a site without them. (Model
validation refuses a key with that prefix, so nobody can paste another row's ciphertext into a form.)
A readable key is dumped encrypted afresh under the newest key; an unreadable one as its stored bytes.
"""

import base64
import binascii

from django.core.exceptions import ValidationError
from django.db import models

from .encryption import DECRYPTION, Undecryptable, current_keyring

SERIALIZED_PREFIX = "encrypted:"


class UnreadableSecret(str):
    """Loaded in place of a stored value that cannot be decrypted with the current keys.

    It is an empty string, so that nothing treating it as text can show or use anything; check for
    it with `isinstance(value, UnreadableSecret)` (or `Credential.api_key_readable`). It keeps the
    stored bytes, which the field writes back unchanged when the row is saved.
    """

    def __new__(cls, ciphertext, reason=DECRYPTION):
        secret = super().__new__(cls, "")
        secret.ciphertext = bytes(ciphertext)
        secret.reason = reason
        return secret

    def __getnewargs__(self):  # pickle and copy.deepcopy
        return (self.ciphertext, self.reason)

    def __repr__(self):
        return f"<UnreadableSecret: {self.reason} failed>"


def load(stored):
    """The text `stored` holds, or an UnreadableSecret keeping `stored` if the site's keys can't read it."""
    try:
        return current_keyring().read(stored).text
    except Undecryptable as error:
        return UnreadableSecret(stored, error.reason)


class TolerantEncryptedCharField(models.CharField):
    """A CharField stored encrypted (a binary column) that loads undecryptable values as `UnreadableSecret`."""

    supported_lookups = ("isnull",)  # ciphertexts differ each time: nothing else can match

    def get_internal_type(self):
        return "BinaryField"

    def get_lookup(self, lookup_name):
        return super().get_lookup(lookup_name) if lookup_name in self.supported_lookups else None

    def get_transform(self, lookup_name):
        return super().get_transform(lookup_name) if lookup_name in self.supported_lookups else None

    def from_db_value(self, value, expression, connection):
        return None if value is None else load(bytes(value))

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        if isinstance(value, UnreadableSecret):
            return connection.Database.Binary(value.ciphertext)  # written back exactly as it was read
        # A str subclass (SafeString...) is stored as its text.
        return connection.Database.Binary(current_keyring().encrypt(str.__str__(value)))

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        if value is None:
            return None
        stored = value.ciphertext if isinstance(value, UnreadableSecret) else current_keyring().encrypt(value)
        return SERIALIZED_PREFIX + base64.b64encode(stored).decode("ascii")

    def clean(self, value, model_instance):
        # Model validation (forms, full_clean) takes keys as typed: a serialized ciphertext is only ever
        # loaded by deserialization (to_python), so nobody can paste another row's key into theirs.
        if isinstance(value, str):
            validate_typed_api_key(value)
        return super().clean(value, model_instance)

    def to_python(self, value):
        if isinstance(value, str) and not isinstance(value, UnreadableSecret) and value.startswith(SERIALIZED_PREFIX):
            try:
                stored = base64.b64decode(value[len(SERIALIZED_PREFIX) :], validate=True)
            except binascii.Error:
                raise ValidationError("Not a serialized encrypted value.", code="invalid") from None
            return load(stored)
        return super().to_python(value)


def validate_typed_api_key(key):
    """A key as a person or a command gives it: one printable token, never a serialized ciphertext."""
    if isinstance(key, UnreadableSecret):
        return  # a stored value written back as it is
    if key.startswith(SERIALIZED_PREFIX):
        raise ValidationError(
            "An API key cannot start with %(prefix)r.", params={"prefix": SERIALIZED_PREFIX}, code="invalid"
        )
    if not key.isprintable() or any(char.isspace() for char in key):
        raise ValidationError("An API key is one word of printable characters.", code="invalid")
