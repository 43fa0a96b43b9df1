"""The encrypted field that holds API keys: django_cryptography's format, signed with CRYPTOGRAPHY_KEY.

How this field stores a value (`||` is concatenation):

    aes_key = PBKDF2-HMAC(CRYPTOGRAPHY_DIGEST, CRYPTOGRAPHY_KEY or SECRET_KEY, CRYPTOGRAPHY_SALT, 30000 rounds)
    mac_key = HMAC-SHA256(key=aes_key, msg=b"credentials.api_key signing")
    payload = 0x80 || timestamp (8 bytes, big-endian) || iv (16 random bytes)
                   || AES-CBC(aes_key, iv, PKCS7(pickle.dumps(value)))
    stored  = payload || HMAC-SHA256(key=mac_key, msg=payload)

The AES key is django_cryptography's own: it derives it once, when its settings are first read, and
stores it in settings.CRYPTOGRAPHY_KEY in place of the configured value (with the default SHA-256
digest it is 32 bytes: AES-256). The bytes are exactly django_cryptography's format
(`FernetBytes(aes_key, FernetSigner(mac_key))`); only the key of the HMAC differs. django_cryptography
keys that HMAC with SECRET_KEY itself, so its values stop verifying when SECRET_KEY changes; here the
HMAC key is derived from the AES key, so every stored value depends on CRYPTOGRAPHY_KEY alone and
rotating SECRET_KEY never makes stored keys unreadable. (The MAC key is a separate derived key, never
the AES key itself.) The field builds its cipher when the model class is created; it does not
depend on SECRET_KEY.

The legacy format, written before this change (django_cryptography's default), is the same bytes
with `HMAC-SHA256(key=SECRET_KEY, msg=payload)`. Such values are still read, with the current AES
key and the SECRET_KEY (then each key of SECRET_KEY_FALLBACKS) that settings hold when the value is
loaded; saving the row writes them in the current format, and `manage.py rotate_credentials_key`
(which needs no old key for this) rewrites every one of them.

Reading a value the current keys cannot decrypt raises inside django_cryptography's from_db_value, so
every query loading the row would crash. This field loads such a value as an `UnreadableSecret`
instead: an empty string that remembers the stored bytes, so that saving the row writes them back
unchanged (an unreadable key is never destroyed by an unrelated edit).
"""
import hashlib
import hmac
import io
import itertools
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
# No key of this site verifies its HMAC: stored under another CRYPTOGRAPHY_KEY (or, in the legacy
# format, signed with a SECRET_KEY that is neither SECRET_KEY nor in SECRET_KEY_FALLBACKS), or damaged.
SIGNATURE = "signature"
# A legacy HMAC (SECRET_KEY) matches but the AES key does not decrypt: stored under another CRYPTOGRAPHY_KEY.
DECRYPTION = "decryption"

PBKDF2_ITERATIONS = 30000  # django_cryptography.conf.CryptographyConf.configure
MAC_KEY_LABEL = b"credentials.api_key signing"


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


def mac_key(aes_key):
    """The HMAC key of the current format: derived from the AES key, never the AES key itself."""
    return hmac.new(force_bytes(aes_key), MAC_KEY_LABEL, hashlib.sha256).digest()


def cipher(aes_key):
    """The cipher of the current format for an (already derived) AES key: its HMAC key comes from it."""
    return FernetBytes(aes_key, FernetSigner(mac_key(aes_key)))


def legacy_cipher(aes_key, secret_key):
    """django_cryptography's default cipher: the HMAC keyed with a SECRET_KEY value."""
    return FernetBytes(aes_key, FernetSigner(secret_key))


def legacy_ciphers(aes_key):
    """The legacy ciphers for `aes_key` and the SECRET_KEY values settings hold now, one at a time."""
    for secret_key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        if secret_key:  # FernetSigner would silently take SECRET_KEY in place of an empty key
            yield legacy_cipher(aes_key, secret_key)


class _TextOnlyUnpickler(pickle.Unpickler):
    """Unpickles what pickle.dumps(str) writes, and nothing that names a class or a function."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError("a stored API key is a plain string")


def decrypt(stored, fernet):
    """The string `stored` holds, decrypted with `fernet`; raises Undecryptable if it can't be."""
    try:
        pickled = fernet.decrypt(force_bytes(stored))
    except BadSignature:  # includes SignatureExpired; struct errors (too short) come as BadSignature too
        raise Undecryptable(SIGNATURE) from None
    except (InvalidToken, ValueError):  # bad padding (wrong AES key), bad IV or block length
        raise Undecryptable(DECRYPTION) from None
    try:
        # The HMAC matched, so these bytes were written by a holder of the signing key; and a str
        # pickles without naming any class or function, so nothing that does is loaded at all.
        # A wrong AES key that happens to leave valid padding yields garbage, and unpickling
        # garbage can raise nearly anything (UnpicklingError, ValueError, EOFError, KeyError...).
        value = _TextOnlyUnpickler(io.BytesIO(pickled)).load()
    except Exception:  # noqa: BLE001
        raise Undecryptable(DECRYPTION) from None
    if type(value) is not str:
        raise Undecryptable(DECRYPTION)
    return value


def read(stored, fernet, others=()):
    """(value, stale) for `stored`, tried with `fernet` and then each of the `others` ciphers in turn.

    `stale` is True when one of `others` read it: it is not in `fernet`'s format and key. Raises
    Undecryptable: DECRYPTION if some HMAC matched but its AES key did not decrypt, else SIGNATURE.
    """
    reason = SIGNATURE
    for candidate in itertools.chain((fernet,), others):  # a generator is only run as far as needed
        try:
            return decrypt(stored, candidate), candidate is not fernet
        except Undecryptable as error:
            if error.reason == DECRYPTION:
                reason = DECRYPTION
    raise Undecryptable(reason)


class TolerantEncryptedCharField(EncryptedMixin, models.CharField):
    """`encrypt(models.CharField(...))` in the format above, loading undecryptable values as `UnreadableSecret`.

    Writes the current format; reads the current format and the legacy (SECRET_KEY-signed) one.
    """

    def __init__(self, *args, **kwargs):
        if kwargs.get("key") is not None or kwargs.get("ttl") is not None:
            raise TypeError("TolerantEncryptedCharField uses the site's keys and takes no key or ttl.")
        super().__init__(*args, **kwargs)
        # EncryptedMixin built FernetBytes(): django_cryptography's derived AES key (kept), and a
        # signer keyed with SECRET_KEY (replaced: the HMAC key must come from CRYPTOGRAPHY_KEY).
        self._fernet = cipher(self._fernet.key)

    # This class by its own path with CharField's arguments (EncryptedMixin's versions would turn it
    # back into django_cryptography's own field in migrations and in the migration state).
    def deconstruct(self):
        return models.CharField.deconstruct(self)

    def clone(self):
        return models.Field.clone(self)

    def _load(self, stored):
        """The string `stored` holds (bytes: EncryptedMixin.from_db_value converts what the database
        returns), or an UnreadableSecret keeping `stored` if the keys can't decrypt it."""
        try:
            value, _ = read(stored, self._fernet, legacy_ciphers(self._fernet.key))
        except Undecryptable as error:
            return UnreadableSecret(stored, error.reason)
        return value

    def _dump(self, value):
        # A str subclass (SafeString...) would pickle with its class, which _load() refuses: store the text.
        if isinstance(value, str) and type(value) is not str:
            value = str.__str__(value)
        return super()._dump(value)

    def get_db_prep_value(self, value, connection, prepared=False):
        if isinstance(value, UnreadableSecret):
            # Written back exactly as it was read: never re-encrypted as "" (which would destroy it).
            return connection.Database.Binary(value.ciphertext)
        return super().get_db_prep_value(value, connection, prepared)
