"""How stored API keys look at rest, re-implemented for the tests without the code under test.

Used by test_key_rotation.py and test_undecryptable_credentials.py (and `raw_column`, `db_pk` by the
other tests that look at the stored bytes). Everything here is built from
`cryptography` primitives and the standard library alone (never credentials.encryption, never
django_cryptography), so that the tests check the stored bytes against the formats as specified:

- the current format: a Fernet token (`cryptography.fernet`) whose plaintext is the key's UTF-8 text,
  under the Fernet key urlsafe_b64(PBKDF2-HMAC-SHA256(passphrase, salt b"credentials.api_key fernet",
  100 000 iterations));
- version 0.1's formats (read, never written): 0x80 || timestamp (8 bytes, big-endian) || IV ||
  AES-256-CBC(PKCS7(pickle.dumps(key))) || HMAC-SHA256 of all that, the AES key being
  PBKDF2-HMAC-SHA256(passphrase, salt b"django-cryptography", 30 000 iterations) and the HMAC key
  either derived from the AES key (0.1's own format) or SECRET_KEY (django_cryptography's default).

Also: the api_key column read and written with raw SQL (SQLite and PostgreSQL alike: bytea comes back
from psycopg as bytes or memoryview), the management commands run with their output captured, and
`the_test_sites_keys`, an autouse fixture for the test modules that import it.
"""

import base64
import functools
import hashlib
import hmac
import json
import os
import pickle
import struct
import time
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.core.management import call_command
from django.db import connection

from credentials.models import Credential

# --- keys ------------------------------------------------------------------------------------------------

SITE_KEY = "test-cryptography-key-not-for-production"  # tests/settings.py: CRYPTOGRAPHY_KEYS == [SITE_KEY]
SITE_SECRET_KEY = "test-secret-key-not-for-production"
NEW_KEY = "new-cryptography-key-for-the-rotation-tests"
OLD_KEY = "old-cryptography-key-for-the-rotation-tests"
UNKNOWN_KEY = "a-cryptography-key-nobody-has-any-more"
OTHER_SECRET_KEY = "an-entirely-different-secret-key-" + "z" * 24  # shares nothing with the test SECRET_KEY


@pytest.fixture(autouse=True)
def the_test_sites_keys(settings):
    """The keys tests/settings.py gives the site, whatever the environment running the tests says."""
    settings.CRYPTOGRAPHY_KEYS = [SITE_KEY]
    settings.SECRET_KEY = SITE_SECRET_KEY
    settings.SECRET_KEY_FALLBACKS = []


API_KEYS = ["sk-first-" + "1" * 24 + "aaaa", "sk-second-" + "2" * 24 + "bbbb", "sk-third-" + "3" * 24 + "cccc"]

# --- rows written by version 0.1 itself (hex of the stored bytes) ------------------------------------------

V0_1_KEY = "key-of-a-0.1.0-site"  # that site's CRYPTOGRAPHY_KEY
V0_1_SECRET_KEY = "secret-key-of-a-0.1.0-site"  # that site's SECRET_KEY
# 0.1's own format: the HMAC key derived from the AES key.
V0_1_API_KEY = "sk-written-by-0.1.0-" + "x" * 20 + "a1b2"
V0_1_VALUE = bytes.fromhex(
    "80000000006b0cac16b29fdf2e8b465201ea44ea44dac800d650611c6d18120b4325398997ac60a1147807578e98c64b0f3621e0e2"
    "90337f9ec1a5a470a6bffbae717bd96bc825bf2ee0fb5e694ec895cec0d05926beeb9e8957f817dcedea6b3274eb9c429e15c22d52"
    "40ff47cc56a5a8c2190cf713eeed41"
)
# django_cryptography's default format, as 0.1 also read and wrote it: the HMAC keyed with SECRET_KEY.
V0_1_SECRET_SIGNED_API_KEY = "sk-legacy-by-0.1.0-" + "y" * 20 + "c3d4"
V0_1_SECRET_SIGNED_VALUE = bytes.fromhex(
    "80000000006b0cac16469ea18074899226452967f16b142290cf199660bfb10828207db736f00769c6eb2e7b1d75e95406590473153a"
    "d1220de79939eb9668a8fa30173e095730fd3cb8b01475fc13ee63fe65844803863a44d403e737fa414bc2579859bd2a2621e61503"
    "6a92bc21e487b6e129926e9c3684"
)

# --- the current format: Fernet ------------------------------------------------------------------------------


@functools.cache
def fernet_key(passphrase):
    """The Fernet key of a CRYPTOGRAPHY_KEYS passphrase."""
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=b"credentials.api_key fernet", iterations=100_000)
    return base64.urlsafe_b64encode(kdf.derive(passphrase.encode()))


def fernet_encrypted(api_key, passphrase):
    """`api_key` as the site stores it under the passphrase `passphrase` (the newest of its keys)."""
    return Fernet(fernet_key(passphrase)).encrypt(api_key.encode("utf-8"))


def fernet_plaintext(raw, passphrase):
    """The plaintext bytes of the Fernet token `raw` under `passphrase`; raises InvalidToken if it is not one."""
    return Fernet(fernet_key(passphrase)).decrypt(bytes(raw))


def fernet_text(raw, passphrase):
    """The key `raw` holds, read by hand as a Fernet token under `passphrase`, written within the last hour."""
    fernet = Fernet(fernet_key(passphrase))
    assert abs(time.time() - fernet.extract_timestamp(bytes(raw))) < 3600
    return fernet_plaintext(raw, passphrase).decode("utf-8")


def is_fernet_under(raw, passphrase):
    try:
        fernet_plaintext(raw, passphrase)
    except InvalidToken:
        return False
    return True


# --- version 0.1's formats -------------------------------------------------------------------------------------


@functools.cache
def legacy_aes_key(passphrase, salt=b"django-cryptography"):
    """The AES key django_cryptography (and so version 0.1) derived from a CRYPTOGRAPHY_KEY."""
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=30_000).derive(passphrase.encode())


def legacy_mac_key(passphrase, salt=b"django-cryptography"):
    """Version 0.1's own HMAC key: derived from the AES key, never equal to it."""
    return hmac.new(legacy_aes_key(passphrase, salt), b"credentials.api_key signing", hashlib.sha256).digest()


def legacy_encrypted(
    api_key, passphrase, *, secret_key=None, pickled=None, iv=None, timestamp=None, salt=b"django-cryptography"
):
    """`api_key` as version 0.1 stored it under CRYPTOGRAPHY_KEY=`passphrase`.

    Signed with the key derived from the AES key (0.1's own format), or, given `secret_key`, with that
    SECRET_KEY (django_cryptography's default). `pickled` replaces pickle.dumps(api_key) as the plaintext.
    """
    plaintext = pickle.dumps(api_key) if pickled is None else pickled
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    iv = os.urandom(16) if iv is None else iv
    encryptor = Cipher(algorithms.AES(legacy_aes_key(passphrase, salt)), modes.CBC(iv)).encryptor()
    timestamp = int(time.time()) if timestamp is None else timestamp
    payload = b"\x80" + struct.pack(">Q", timestamp) + iv + encryptor.update(padded) + encryptor.finalize()
    mac_key = secret_key.encode() if secret_key is not None else legacy_mac_key(passphrase, salt)
    return payload + hmac.new(mac_key, payload, hashlib.sha256).digest()


def signed_with(raw, hmac_key):
    """Whether `raw`'s trailing HMAC-SHA256 is keyed with `hmac_key`."""
    return hmac.compare_digest(raw[-32:], hmac.new(hmac_key, raw[:-32], hashlib.sha256).digest())


# --- the column, bypassing the field ------------------------------------------------------------------------------


def db_pk(pk):
    """`pk` as the id column holds it: a native uuid, or its hex digits (SQLite)."""
    return pk if connection.features.has_native_uuid_field else pk.hex


def raw_column(pk):
    """The api_key column exactly as the database holds it, as bytes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM credentials_credential WHERE id = %s", [db_pk(pk)])
        (value,) = cursor.fetchone()
    return bytes(value)


def write_raw_column(pk, raw):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE credentials_credential SET api_key = %s WHERE id = %s", [raw, db_pk(pk)])


def all_raw_columns():
    return {pk: raw_column(pk) for pk in Credential.objects.values_list("pk", flat=True)}


def credential_storing(raw, name="Stored by hand"):
    """The pk of a new credential whose api_key column holds exactly `raw`."""
    credential = Credential.objects.create(name=name, api_key="sk-placeholder-" + "p" * 20)
    write_raw_column(credential.pk, raw)
    return credential.pk


# --- the commands ---------------------------------------------------------------------------------------------------


def rotate(*args, **options):
    """Run rotate_credentials_key; (stdout, stderr)."""
    stdout, stderr = StringIO(), StringIO()
    call_command("rotate_credentials_key", *args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


def dump_credentials():
    """`manage.py dumpdata credentials.credential`'s output (JSON text)."""
    stdout = StringIO()
    call_command("dumpdata", "credentials.credential", stdout=stdout)
    return stdout.getvalue()


def dumped_api_keys(dump):
    """{pk: the api_key value of that credential} in a dumpdata JSON text."""
    return {row["pk"]: row["fields"]["api_key"] for row in json.loads(dump)}


def dumped_bytes(value):
    """The stored bytes a dumped "encrypted:<base64>" value carries."""
    prefix = "encrypted:"
    assert value.startswith(prefix), value[:20]
    return base64.b64decode(value[len(prefix) :], validate=True)
