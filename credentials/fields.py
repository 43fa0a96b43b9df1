"""The encrypted field that holds API keys: django_cryptography's, but tolerant of values it cannot decrypt.

How django_cryptography (distribution django-cryptography-5) stores a value:

    stored = FernetSigner(SECRET_KEY).sign(0x80 | timestamp | iv | AES-256-CBC(pickle.dumps(value)))
    AES key = PBKDF2-HMAC(CRYPTOGRAPHY_DIGEST, CRYPTOGRAPHY_KEY or SECRET_KEY, CRYPTOGRAPHY_SALT, 30000 rounds)

The AES key is derived once, when django_cryptography's settings are first read; the field builds its
cipher (AES key and HMAC signer) when the model class is created. Note that the HMAC that guards every
value is keyed with SECRET_KEY, not with CRYPTOGRAPHY_KEY: a value stored under another SECRET_KEY
fails its signature check. Values signed with a key in SECRET_KEY_FALLBACKS are still read here, and
`manage.py rotate_credentials_key` re-signs them.

Reading a value the current keys cannot decrypt raises inside django_cryptography's from_db_value, so
every query loading the row would crash. This field loads such a value as an `UnreadableSecret`
instead: an empty string that remembers the stored bytes, so that saving the row writes them back
unchanged (an unreadable key is never destroyed by an unrelated edit).
"""
import pickle

from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.core.signing import BadSignature
from django.db import models
from django.utils.encoding import force_bytes
from django_cryptography.core.signing import FernetSigner
from django_cryptography.fields import EncryptedMixin
from django_cryptography.utils.crypto import FernetBytes, InvalidToken

# Why a stored value could not be read.
SIGNATURE = "signature"  # the HMAC does not match: another SECRET_KEY (or a damaged value)
DECRYPTION = "decryption"  # the HMAC matches but the AES key does not: another CRYPTOGRAPHY_KEY

PBKDF2_ITERATIONS = 30000  # django_cryptography.conf.CryptographyConf.configure


class Undecryptable(Exception):
    """A stored value that a given cipher cannot decrypt. Carries the reason, never key material."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


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


def derive_key(key):
    """The AES key django_cryptography derives from a CRYPTOGRAPHY_KEY value (with this site's salt)."""
    digest = settings.CRYPTOGRAPHY_DIGEST
    kdf = PBKDF2HMAC(
        algorithm=digest, length=digest.digest_size, salt=force_bytes(settings.CRYPTOGRAPHY_SALT),
        iterations=PBKDF2_ITERATIONS, backend=settings.CRYPTOGRAPHY_BACKEND,
    )
    return kdf.derive(force_bytes(key))


def cipher(aes_key, signing_key):
    """django_cryptography's cipher for an explicit (derived) AES key and HMAC key."""
    return FernetBytes(aes_key, FernetSigner(signing_key))


def decrypt(stored, fernet):
    """The string `stored` holds, decrypted with `fernet`; raises Undecryptable if it can't be."""
    try:
        pickled = fernet.decrypt(force_bytes(stored))
    except BadSignature:  # includes SignatureExpired; struct errors (too short) come as BadSignature too
        raise Undecryptable(SIGNATURE) from None
    except (InvalidToken, ValueError):  # bad padding (wrong AES key), bad IV or block length
        raise Undecryptable(DECRYPTION) from None
    try:
        # Safe to unpickle: the HMAC matched, so these bytes were written by a holder of our keys.
        # A wrong AES key that happens to leave valid padding yields garbage, and unpickling
        # garbage can raise nearly anything (UnpicklingError, ValueError, EOFError, KeyError...).
        value = pickle.loads(pickled)
    except Exception:  # noqa: BLE001
        raise Undecryptable(DECRYPTION) from None
    if type(value) is not str:
        raise Undecryptable(DECRYPTION)
    return value


class TolerantEncryptedCharField(EncryptedMixin, models.CharField):
    """`encrypt(models.CharField(...))`, loading undecryptable values as `UnreadableSecret`.

    The stored format is django_cryptography's, unchanged: existing rows read as before.
    """

    base_class = models.CharField
    wasinstance = True

    def __init__(self, *args, **kwargs):
        if kwargs.get("key") is not None or kwargs.get("ttl") is not None:
            raise TypeError("TolerantEncryptedCharField uses the site's keys and takes no key or ttl.")
        super().__init__(*args, **kwargs)

    # This class by its own path with CharField's arguments (EncryptedMixin's versions would turn it
    # back into django_cryptography's own field in migrations and in the migration state).
    def deconstruct(self):
        return models.CharField.deconstruct(self)

    def clone(self):
        return models.Field.clone(self)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return self.load(value)

    def load(self, stored):
        """The string `stored` holds, or an UnreadableSecret keeping `stored` if the keys can't decrypt it."""
        stored = force_bytes(stored)  # memoryview from psycopg2, bytes elsewhere
        try:
            return decrypt(stored, self._fernet)
        except Undecryptable as error:
            reason = error.reason
        if reason == SIGNATURE:
            # Signed under a previous SECRET_KEY that Django's own rotation setting still trusts.
            for fallback in settings.SECRET_KEY_FALLBACKS:
                try:
                    return decrypt(stored, cipher(self._fernet.key, fallback))
                except Undecryptable as error:
                    if error.reason == DECRYPTION:
                        reason = DECRYPTION
        return UnreadableSecret(stored, reason)

    def get_db_prep_value(self, value, connection, prepared=False):
        if isinstance(value, UnreadableSecret):
            # Written back exactly as it was read: never re-encrypted as "" (which would destroy it).
            return connection.Database.Binary(value.ciphertext)
        return super().get_db_prep_value(value, connection, prepared)
