"""How stored API keys are encrypted: Fernet under a list of keys, newest first, with `MultiFernet`.

The site's keys are passphrases in settings (`CRYPTOGRAPHY_KEYS`, newest first; `CRYPTOGRAPHY_KEY` is a
list of one; without either, `SECRET_KEY`, which the system check warns about as credentials.W001).
Each passphrase becomes a Fernet key by PBKDF2-HMAC-SHA256 (`FERNET_KEY_ITERATIONS`, a fixed salt).

- New values are Fernet tokens (AES-128-CBC and HMAC-SHA256, `cryptography.fernet`) under the first key;
  the plaintext is the key's UTF-8 text.
- Reading tries every key, newest first (as `MultiFernet` does), so a deploy can carry the new key and the
  old one while `manage.py rotate_credentials_key` moves every row to the first. A keyring remembers what
  each token decrypted to: every API call reads its credential's key.
- Values written by version 0.1 of this project are still read (see `read_legacy`): django_cryptography's
  byte format, a pickled string under AES-256-CBC with the key django_cryptography derives from the
  passphrase, signed with HMAC-SHA256 keyed either with a key derived from that AES key (0.1's own format)
  or with SECRET_KEY (django_cryptography's default). They start with the byte 0x80; a Fernet token is
  base64 text, so it never does. Both are rewritten as Fernet tokens by the next save or rotation.

A value no key reads raises `Undecryptable`, whose reason says which check failed, never key material.
"""

import base64
import functools
import hashlib
import hmac
import io
import pickle
import struct
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.encoding import force_bytes

# Why a stored value could not be read.
# No key of this site verifies its signature: stored under another key, or damaged.
SIGNATURE = "signature"
# A legacy signature (SECRET_KEY) matches but no key decrypts it: stored under another CRYPTOGRAPHY_KEY.
DECRYPTION = "decryption"

FERNET_KEY_SALT = b"credentials.api_key fernet"
FERNET_KEY_ITERATIONS = 100_000
# Decrypted tokens a keyring remembers (one per credential in use; the clients hold the same keys).
MAX_REMEMBERED_READINGS = 1024

# Version 0.1's format (django_cryptography's FernetBytes and FernetSigner, with its defaults).
LEGACY_VERSION = b"\x80"
LEGACY_HEADER = struct.Struct(">cQ")  # version, timestamp
LEGACY_IV_BYTES = 16
LEGACY_MAC_BYTES = hashlib.sha256().digest_size
LEGACY_DEFAULT_SALT = b"django-cryptography"
LEGACY_KEY_ITERATIONS = 30_000
LEGACY_MAC_LABEL = b"credentials.api_key signing"


class Undecryptable(Exception):
    """A stored value that the site's keys cannot decrypt. Carries the reason, never key material."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def configured_keys():
    """The site's key passphrases, newest first, as settings hold them now."""
    keys = getattr(settings, "CRYPTOGRAPHY_KEYS", None)
    if keys is None:
        single = getattr(settings, "CRYPTOGRAPHY_KEY", None)
        keys = [single] if single else [settings.SECRET_KEY]
    if isinstance(keys, (str, bytes)) or not keys or not all(isinstance(key, str) and key for key in keys):
        raise ImproperlyConfigured("CRYPTOGRAPHY_KEYS must be a non-empty list of non-empty strings, newest first.")
    return tuple(keys)


def keys_are_configured():
    """Whether the site names its own keys (else they derive from SECRET_KEY: credentials.W001)."""
    return bool(getattr(settings, "CRYPTOGRAPHY_KEYS", None) or getattr(settings, "CRYPTOGRAPHY_KEY", None))


def current_keyring(also=()):
    """The keyring of the keys settings hold now, then the keys `also` names (built once per set of keys)."""
    salt = getattr(settings, "CRYPTOGRAPHY_SALT", LEGACY_DEFAULT_SALT)
    return _keyring((*configured_keys(), *also), force_bytes(salt))


def newest_keyring():
    """The keyring of the newest key alone: what every stored value ends up under."""
    return _keyring(configured_keys()[:1], LEGACY_DEFAULT_SALT)


@functools.lru_cache(maxsize=16)
def _keyring(keys, legacy_salt):
    return Keyring(keys, legacy_salt)


@functools.lru_cache(maxsize=64)
def fernet_key(passphrase):
    """The Fernet key of a passphrase (PBKDF2 is slow on purpose: computed once per process)."""
    kdf = PBKDF2HMAC(hashes.SHA256(), 32, FERNET_KEY_SALT, FERNET_KEY_ITERATIONS)
    return base64.urlsafe_b64encode(kdf.derive(passphrase.encode()))


@functools.lru_cache(maxsize=64)
def legacy_aes_key(passphrase, salt=LEGACY_DEFAULT_SALT):
    """The AES key django_cryptography derives from a CRYPTOGRAPHY_KEY passphrase (and version 0.1 used)."""
    return PBKDF2HMAC(hashes.SHA256(), 32, salt, LEGACY_KEY_ITERATIONS).derive(force_bytes(passphrase))


def legacy_mac_key(aes_key):
    """Version 0.1's HMAC key: derived from the AES key, never the AES key itself."""
    return hmac.new(aes_key, LEGACY_MAC_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class Reading:
    text: str
    stale: bool  # not a Fernet token under the newest key: the next save or rotation rewrites it


class Keyring:
    """Encrypts with the newest key; decrypts with any of them, in either format."""

    def __init__(self, keys, legacy_salt=LEGACY_DEFAULT_SALT):
        self.keys = tuple(keys)
        self._fernets = [Fernet(fernet_key(key)) for key in self.keys]
        self._fernet_readings = {}  # token -> Reading, see _read_fernet
        self._legacy_aes_keys = [legacy_aes_key(key, legacy_salt) for key in self.keys]

    def encrypt(self, text):
        return self._fernets[0].encrypt(text.encode("utf-8"))  # the newest key, as MultiFernet encrypts

    def read(self, stored):
        """The text `stored` holds, and whether it needs rewriting; raises Undecryptable."""
        stored = bytes(stored)
        if stored[:1] == LEGACY_VERSION:
            return Reading(self.read_legacy(stored), stale=True)
        return self._read_fernet(stored)

    def _read_fernet(self, stored):
        # Every API call reads its credential's key: the same token decrypts to the same text, so each
        # is decrypted once per keyring. A token is new bytes on every save, and new keys a new keyring.
        try:
            return self._fernet_readings[stored]
        except KeyError:
            pass
        for index, fernet in enumerate(self._fernets):  # newest first, as MultiFernet tries them
            try:
                plaintext = fernet.decrypt(stored)
            except InvalidToken:
                continue
            try:
                reading = Reading(plaintext.decode("utf-8"), stale=index > 0)
            except UnicodeDecodeError:
                raise Undecryptable(DECRYPTION) from None
            break
        else:
            raise Undecryptable(SIGNATURE)
        if len(self._fernet_readings) >= MAX_REMEMBERED_READINGS:
            self._fernet_readings.clear()
        self._fernet_readings[stored] = reading
        return reading

    def read_legacy(self, stored):
        """A value in version 0.1's format, under any key, signed either way; raises Undecryptable."""
        reason = SIGNATURE
        secret_keys = [force_bytes(key) for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS) if key]
        for aes_key in self._legacy_aes_keys:
            for mac_key in (legacy_mac_key(aes_key), *secret_keys):
                try:
                    return _legacy_decrypt(stored, aes_key, mac_key)
                except Undecryptable as error:
                    if error.reason == DECRYPTION:
                        reason = DECRYPTION
        raise Undecryptable(reason)


def _legacy_decrypt(stored, aes_key, mac_key):
    header, mac = LEGACY_HEADER.size, LEGACY_MAC_BYTES
    if len(stored) < header + LEGACY_IV_BYTES + 16 + mac:
        raise Undecryptable(SIGNATURE)
    payload, signature = stored[:-mac], stored[-mac:]
    if not hmac.compare_digest(signature, hmac.new(mac_key, payload, hashlib.sha256).digest()):
        raise Undecryptable(SIGNATURE)
    iv, ciphertext = payload[header : header + LEGACY_IV_BYTES], payload[header + LEGACY_IV_BYTES :]
    try:
        decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
        pickled = unpadder.update(padded) + unpadder.finalize()
    except ValueError:  # a block length or padding that only a wrong AES key produces
        raise Undecryptable(DECRYPTION) from None
    try:
        # The signature matched, so a holder of the signing key wrote these bytes; a str pickles
        # without naming any class, so nothing that does is loaded. Garbage from a wrong AES key
        # with valid padding can make unpickling raise nearly anything.
        value = _TextOnlyUnpickler(io.BytesIO(pickled)).load()
    except Exception:
        raise Undecryptable(DECRYPTION) from None
    if type(value) is not str:
        raise Undecryptable(DECRYPTION)
    return value


class _TextOnlyUnpickler(pickle.Unpickler):
    """Unpickles what pickle.dumps(str) writes, and nothing that names a class or a function."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError("a stored API key is a plain string")
