"""`manage.py rotate_credentials_key`: re-encrypt every stored key into the current format under the current key.

The site's key (the "new" key) is the test settings' CRYPTOGRAPHY_KEY: django_cryptography derives its
AES key once and the field keeps its cipher from import time, so overriding the setting in a test would
change nothing. Values "under the old key" are therefore encrypted here, independently of the code under
test (PBKDF2, an HMAC-derived signing key and django_cryptography's FernetBytes with explicit keys), and
written with raw SQL. Two formats: the current one, whose HMAC key is derived from CRYPTOGRAPHY_KEY, and
the legacy one (django_cryptography's default), whose HMAC key is SECRET_KEY.
Written for SQLite and PostgreSQL alike (bytea comes back from psycopg as bytes or memoryview).
"""
import hashlib
import hmac
import os
import pickle
import struct
import time
from io import StringIO

import pytest
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django_cryptography.core.signing import FernetSigner
from django_cryptography.utils.crypto import FernetBytes

from credentials.fields import (
    SIGNATURE,
    TolerantEncryptedCharField,
    UnreadableSecret,
    derive_key,
)
from credentials.models import Credential
from tests.conftest import TEST_API_KEY

pytestmark = pytest.mark.django_db

OLD_KEY = "old-cryptography-key-for-the-rotation-tests"
UNKNOWN_KEY = "a-cryptography-key-nobody-has-any-more"
OTHER_SECRET_KEY = "an-entirely-different-secret-key-" + "z" * 24  # shares nothing with the test SECRET_KEY
API_KEYS = ["sk-first-" + "1" * 24 + "aaaa", "sk-second-" + "2" * 24 + "bbbb", "sk-third-" + "3" * 24 + "cccc"]


# --- helpers (also used by test_undecryptable_credentials.py) ---------------------------------------


def aes_key(key):
    """django_cryptography's derivation of its AES key from a CRYPTOGRAPHY_KEY value (conf.py)."""
    return PBKDF2HMAC(hashes.SHA256(), 32, b"django-cryptography", 30000).derive(key.encode())


def mac_key(key):
    """The HMAC key of the current format for a CRYPTOGRAPHY_KEY value: derived from the AES key, not equal to it."""
    return hmac.new(aes_key(key), b"credentials.api_key signing", hashlib.sha256).digest()


def site_key():
    return os.environ["CRYPTOGRAPHY_KEY"]  # what tests/settings.py configured


def encrypted_under(api_key, key):
    """`api_key` as the site stores it under CRYPTOGRAPHY_KEY=`key` (the current format)."""
    return FernetBytes(aes_key(key), FernetSigner(mac_key(key))).encrypt(pickle.dumps(api_key))


def legacy_encrypted_under(api_key, key, *, secret_key=None):
    """`api_key` as django_cryptography's default stores it: CRYPTOGRAPHY_KEY=`key`, HMAC keyed with SECRET_KEY."""
    signer = FernetSigner(secret_key or settings.SECRET_KEY)
    return FernetBytes(aes_key(key), signer).encrypt(pickle.dumps(api_key))


def signed_with(raw, hmac_key):
    """Whether `raw`'s trailing HMAC-SHA256 is keyed with `hmac_key`."""
    return hmac.compare_digest(raw[-32:], hmac.new(hmac_key, raw[:-32], hashlib.sha256).digest())


def current_format_value(raw, key=None):
    """The text `raw` holds, read by hand as the current format under CRYPTOGRAPHY_KEY=`key` (default: the site's)."""
    key = key or site_key()
    version, timestamp = struct.unpack(">cQ", raw[:9])
    assert version == b"\x80"
    assert abs(time.time() - timestamp) < 3600
    assert signed_with(raw, mac_key(key)), "not signed with the key derived from CRYPTOGRAPHY_KEY"
    assert not signed_with(raw, settings.SECRET_KEY.encode())
    iv, ciphertext = raw[9:25], raw[25:-32]
    decryptor = Cipher(algorithms.AES(aes_key(key)), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    value = pickle.loads(unpadder.update(padded) + unpadder.finalize())
    assert type(value) is str
    return value


def _db_pk(pk):
    return pk if connection.features.has_native_uuid_field else pk.hex


def raw_column(pk):
    """The api_key column exactly as the database holds it, as bytes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM credentials_credential WHERE id = %s", [_db_pk(pk)])
        (value,) = cursor.fetchone()
    return bytes(value)


def write_raw_column(pk, raw):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE credentials_credential SET api_key = %s WHERE id = %s", [raw, _db_pk(pk)])


def credential_under(key, api_key, name=None, *, legacy=False, secret_key=None):
    """A credential whose stored key was encrypted under CRYPTOGRAPHY_KEY=`key` (`legacy`: SECRET_KEY-signed)."""
    credential = Credential.objects.create(name=name or api_key[:10], api_key="sk-placeholder-" + "p" * 20)
    if legacy:
        raw = legacy_encrypted_under(api_key, key, secret_key=secret_key)
    else:
        assert secret_key is None, "the current format does not depend on SECRET_KEY"
        raw = encrypted_under(api_key, key)
    write_raw_column(credential.pk, raw)
    return credential.pk


def all_raw_columns():
    return {pk: raw_column(pk) for pk in Credential.objects.values_list("pk", flat=True)}


def site_cipher():
    return Credential._meta.get_field("api_key")._fernet


def rotate(*args, **options):
    """Run the command; (stdout, stderr)."""
    stdout, stderr = StringIO(), StringIO()
    call_command("rotate_credentials_key", *args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def old_key_env(monkeypatch):
    monkeypatch.setenv("OLD_CRYPTOGRAPHY_KEY", OLD_KEY)


@pytest.fixture
def no_old_key(monkeypatch, settings):
    monkeypatch.delenv("OLD_CRYPTOGRAPHY_KEY", raising=False)
    if hasattr(settings, "CRYPTOGRAPHY_OLD_KEY"):
        del settings.CRYPTOGRAPHY_OLD_KEY


@pytest.fixture
def restart_site(monkeypatch):
    """restart_site(): the field's cipher rebuilt from the settings as they are now, as a new process builds it.

    The field builds its cipher when the model class is created, so changing a setting in a running test
    alone proves nothing about a site started with the new value: this is that site. Undone after the test.
    """
    field = Credential._meta.get_field("api_key")

    def restart():
        rebuilt = TolerantEncryptedCharField(max_length=500)._fernet
        monkeypatch.setattr(field, "_fernet", rebuilt)
        return rebuilt

    return restart


def change_secret_key(settings, restart_site):
    """SECRET_KEY replaced by an unrelated value, no fallbacks, and the site restarted with it."""
    settings.SECRET_KEY = OTHER_SECRET_KEY
    settings.SECRET_KEY_FALLBACKS = []
    rebuilt = restart_site()
    assert (rebuilt.key, rebuilt.signer.key) == (aes_key(site_key()), mac_key(site_key()))  # SECRET_KEY plays no part


@pytest.fixture
def under_old_key(db):
    """Three credentials stored under the old key, and one already under the site's key."""
    old = [credential_under(OLD_KEY, api_key) for api_key in API_KEYS]
    current = Credential.objects.create(name="current", api_key="sk-current-" + "c" * 20 + "dddd").pk
    return old, current


# --- the premise ------------------------------------------------------------------------------------------


def test_the_tests_derive_keys_as_django_cryptography_does():
    assert aes_key(site_key()) == site_cipher().key
    assert derive_key(site_key()) == site_cipher().key
    assert derive_key(OLD_KEY) == aes_key(OLD_KEY) != site_cipher().key


def test_the_site_signs_with_a_key_derived_from_cryptography_key():
    signing_key = site_cipher().signer.key
    assert signing_key == mac_key(site_key())
    assert signing_key not in (site_cipher().key, settings.SECRET_KEY, settings.SECRET_KEY.encode())
    assert mac_key(OLD_KEY) != signing_key


def test_old_key_values_do_not_load_before_rotation(under_old_key):
    old, current = under_old_key
    loaded = {credential.pk: credential for credential in Credential.objects.all()}

    assert all(not loaded[pk].api_key_readable for pk in old)
    assert loaded[current].api_key_readable


# --- rotation ----------------------------------------------------------------------------------------------


def test_rotates_every_credential_to_the_new_key(under_old_key, old_key_env):
    old, current = under_old_key
    before = all_raw_columns()

    stdout, stderr = rotate()

    assert stdout.strip() == "3 re-encrypted, 1 already on the new key."
    assert stderr == ""
    for pk, api_key in zip(old, API_KEYS):
        credential = Credential.objects.get(pk=pk)  # through the ORM, with the site's key
        assert credential.api_key_readable
        assert credential.api_key == api_key
        assert raw_column(pk) != before[pk]
        assert api_key.encode() not in raw_column(pk)
    assert raw_column(current) == before[current]  # already on the new key: not touched


def test_running_twice_changes_nothing_the_second_time(under_old_key, old_key_env):
    rotate()
    after_first = all_raw_columns()

    stdout, _ = rotate()

    assert stdout.strip() == "0 re-encrypted, 4 already on the new key."
    assert all_raw_columns() == after_first
    assert sorted(Credential.objects.values_list("api_key", flat=True)) == sorted([*API_KEYS, "sk-current-" + "c" * 20 + "dddd"])


def test_no_credentials_at_all(old_key_env):
    stdout, _ = rotate()

    assert stdout.strip() == "0 re-encrypted, 0 already on the new key."


def test_a_credential_under_an_unknown_key_aborts_everything(under_old_key, old_key_env):
    old, _ = under_old_key
    lost = credential_under(UNKNOWN_KEY, "sk-lost-" + "l" * 24)
    before = all_raw_columns()

    with pytest.raises(CommandError) as error:
        rotate()

    message = str(error.value)
    assert str(lost) in message
    assert not any(str(pk) in message for pk in old)  # only the culprit is named
    assert "Nothing was changed" in message
    assert all_raw_columns() == before  # one transaction: the readable ones were not rotated either
    assert not Credential.objects.get(pk=old[0]).api_key_readable
    for secret in (OLD_KEY, UNKNOWN_KEY, site_key(), *API_KEYS):
        assert secret not in message


def test_a_failed_verification_rolls_everything_back(under_old_key, old_key_env, monkeypatch):
    """Should a re-encrypted value not decrypt with the new key, the writes already made are undone."""
    field = Credential._meta.get_field("api_key")
    wrong = FernetBytes(aes_key(UNKNOWN_KEY), FernetSigner(mac_key(UNKNOWN_KEY)))
    monkeypatch.setattr(field, "_dump", lambda value: wrong.encrypt(pickle.dumps(value)))
    before = all_raw_columns()

    with pytest.raises(CommandError, match="do not decrypt with the new key.*Rolled back"):
        rotate()

    monkeypatch.undo()
    assert all_raw_columns() == before


def test_dry_run_changes_nothing(under_old_key, old_key_env):
    old, _ = under_old_key
    before = all_raw_columns()

    stdout, _ = rotate("--dry-run")

    assert stdout.strip() == "Dry run, rolled back: 3 re-encrypted, 1 already on the new key. Nothing was changed."
    assert all_raw_columns() == before
    assert not Credential.objects.get(pk=old[0]).api_key_readable
    # ...and the real run afterwards still has all the work to do.
    assert rotate()[0].strip() == "3 re-encrypted, 1 already on the new key."


def test_dry_run_still_reports_unreadable_credentials(under_old_key, old_key_env):
    lost = credential_under(UNKNOWN_KEY, "sk-lost-" + "l" * 24)

    with pytest.raises(CommandError, match=str(lost)):
        rotate("--dry-run")


@pytest.mark.skipif(not connection.features.has_select_for_update,
                    reason="SQLite has no row locks (its writes lock the whole database)")
def test_rows_are_locked_while_rotating(under_old_key, old_key_env):
    with CaptureQueriesContext(connection) as queries:
        rotate()

    assert any("FOR UPDATE" in query["sql"] for query in queries.captured_queries)


def test_keys_never_appear_in_the_output(under_old_key, old_key_env, capsys):
    stdout, stderr = rotate(verbosity=3)
    lost = credential_under(UNKNOWN_KEY, "sk-lost-" + "l" * 24)
    with pytest.raises(CommandError) as error:
        rotate(verbosity=3)
    captured = capsys.readouterr()

    text = "\n".join([stdout, stderr, str(error.value), captured.out, captured.err])
    for secret in (OLD_KEY, UNKNOWN_KEY, site_key(), settings.SECRET_KEY, *API_KEYS):
        assert secret not in text
    for derived in (aes_key(OLD_KEY), aes_key(UNKNOWN_KEY), site_cipher().key, mac_key(OLD_KEY), site_cipher().signer.key):
        assert derived.hex() not in text
    # verbosity 2+ lists what it re-encrypted, by id only
    assert all(f"Re-encrypted credential {pk}" in stdout for pk in under_old_key[0])
    assert str(lost) in str(error.value)


# --- where the old key comes from -----------------------------------------------------------------------------


def test_old_key_from_another_environment_variable(under_old_key, no_old_key, monkeypatch):
    monkeypatch.setenv("PREVIOUS_CRYPTO_KEY", OLD_KEY)

    stdout, _ = rotate("--old-key-env", "PREVIOUS_CRYPTO_KEY")

    assert stdout.strip() == "3 re-encrypted, 1 already on the new key."


def test_old_key_from_the_setting(under_old_key, no_old_key, settings):
    settings.CRYPTOGRAPHY_OLD_KEY = OLD_KEY

    stdout, _ = rotate()

    assert stdout.strip() == "3 re-encrypted, 1 already on the new key."


def test_the_environment_variable_wins_over_the_setting(under_old_key, old_key_env, settings):
    settings.CRYPTOGRAPHY_OLD_KEY = UNKNOWN_KEY

    assert rotate()[0].strip() == "3 re-encrypted, 1 already on the new key."


def test_no_old_key_is_an_error_when_a_credential_needs_one(under_old_key, no_old_key):
    old, current = under_old_key
    before = all_raw_columns()

    with pytest.raises(CommandError, match="OLD_CRYPTOGRAPHY_KEY") as error:
        rotate()

    message = str(error.value)
    assert "cannot be decrypted with the current key" in message and "Nothing was changed" in message
    assert all(str(pk) in message for pk in old) and str(current) not in message
    assert all_raw_columns() == before


def test_no_old_key_is_needed_when_every_credential_decrypts_with_the_current_key(no_old_key, db):
    legacy = [credential_under(site_key(), api_key, legacy=True) for api_key in API_KEYS[:2]]
    current = Credential.objects.create(name="current", api_key=API_KEYS[2]).pk
    before = all_raw_columns()

    stdout, _ = rotate()

    assert stdout.strip() == "2 re-encrypted, 1 already on the new key."
    for pk, api_key in zip(legacy, API_KEYS):
        assert current_format_value(raw_column(pk)) == api_key
    assert raw_column(current) == before[current]
    assert rotate()[0].strip() == "0 re-encrypted, 3 already on the new key."


def test_a_named_old_key_variable_is_still_required_to_be_set(no_old_key, db):
    """--old-key-env is an explicit request for an old key: its variable being unset is an error, not "no old key"."""
    credential_under(site_key(), API_KEYS[0], legacy=True)

    with pytest.raises(CommandError, match="PREVIOUS_CRYPTO_KEY"):
        rotate("--old-key-env", "PREVIOUS_CRYPTO_KEY")


def test_a_named_variable_that_is_not_set_is_an_error(under_old_key, no_old_key):
    with pytest.raises(CommandError, match="PREVIOUS_CRYPTO_KEY"):
        rotate("--old-key-env", "PREVIOUS_CRYPTO_KEY")


def test_a_key_given_where_the_variable_name_belongs_is_not_echoed(under_old_key, no_old_key):
    typed_key = "k3y-typed/on+the=command-line"

    with pytest.raises(CommandError) as error:
        rotate("--old-key-env", typed_key)

    assert typed_key not in str(error.value)
    assert "name of an environment variable" in str(error.value)


def test_the_command_takes_no_key_argument():
    with pytest.raises(CommandError):
        call_command("rotate_credentials_key", "--old-key", OLD_KEY)


# --- the legacy format: the HMAC keyed with SECRET_KEY (django_cryptography's default) ------------------------


def test_values_signed_with_a_fallback_secret_key_are_re_signed(settings, no_old_key):
    pk = credential_under(site_key(), API_KEYS[0], legacy=True, secret_key="the-previous-secret-key")
    assert not Credential.objects.get(pk=pk).api_key_readable  # another SECRET_KEY: the signature fails
    settings.SECRET_KEY_FALLBACKS = ["the-previous-secret-key"]
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]  # readable while the fallback is listed

    stdout, _ = rotate()

    assert stdout.strip() == "1 re-encrypted, 0 already on the new key."
    settings.SECRET_KEY_FALLBACKS = []
    assert current_format_value(raw_column(pk)) == API_KEYS[0]
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]


def test_old_key_values_signed_with_a_fallback_secret_key_are_rotated(settings, old_key_env):
    pk = credential_under(OLD_KEY, API_KEYS[1], legacy=True, secret_key="the-previous-secret-key")
    settings.SECRET_KEY_FALLBACKS = ["the-previous-secret-key"]

    assert rotate()[0].strip() == "1 re-encrypted, 0 already on the new key."

    settings.SECRET_KEY_FALLBACKS = []
    assert current_format_value(raw_column(pk)) == API_KEYS[1]
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[1]


def test_old_key_values_in_either_format_are_rotated_together(old_key_env, db):
    legacy = credential_under(OLD_KEY, API_KEYS[0], legacy=True)
    current_format = credential_under(OLD_KEY, API_KEYS[1])
    legacy_on_the_site_key = credential_under(site_key(), API_KEYS[2], legacy=True)

    assert rotate()[0].strip() == "3 re-encrypted, 0 already on the new key."

    for pk, api_key in zip((legacy, current_format, legacy_on_the_site_key), API_KEYS):
        assert current_format_value(raw_column(pk)) == api_key


def test_a_legacy_row_loads_and_rotation_moves_it_to_the_current_format(settings, no_old_key, restart_site):
    """Written by django_cryptography itself (HMAC keyed with SECRET_KEY): it loads, and after rotation
    (no old key needed: the AES key is the same) it no longer depends on SECRET_KEY."""
    pk = credential_under(site_key(), API_KEYS[0], legacy=True)
    stored = raw_column(pk)
    assert signed_with(stored, settings.SECRET_KEY.encode())
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]
    assert raw_column(pk) == stored  # loading writes nothing

    stdout, _ = rotate()

    assert stdout.strip() == "1 re-encrypted, 0 already on the new key."
    assert current_format_value(raw_column(pk)) == API_KEYS[0]
    change_secret_key(settings, restart_site)
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]


def test_a_legacy_row_is_re_signed_when_it_is_next_saved(settings, db, restart_site):
    pk = credential_under(site_key(), API_KEYS[0], legacy=True)
    credential = Credential.objects.get(pk=pk)

    credential.name = "Renamed"
    credential.save()

    assert current_format_value(raw_column(pk)) == API_KEYS[0]
    change_secret_key(settings, restart_site)
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]


def test_an_unrotated_legacy_row_still_needs_its_secret_key(settings, db, restart_site):
    """Why rotation matters: until re-signed, a legacy row depends on SECRET_KEY (or SECRET_KEY_FALLBACKS)."""
    pk = credential_under(site_key(), API_KEYS[0], legacy=True)
    previous = settings.SECRET_KEY
    change_secret_key(settings, restart_site)

    loaded = Credential.objects.get(pk=pk).api_key
    assert isinstance(loaded, UnreadableSecret) and loaded.reason == SIGNATURE

    settings.SECRET_KEY_FALLBACKS = [previous]  # read from settings at load time, not when the field was built
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]


# --- the promise: rotating SECRET_KEY never makes stored keys unreadable -------------------------------------------


def test_what_the_site_stores_is_signed_with_the_key_derived_from_cryptography_key(credential):
    stored = raw_column(credential.pk)

    assert current_format_value(stored) == TEST_API_KEY  # read by hand, without the code under test
    assert not signed_with(stored, settings.SECRET_KEY.encode())
    assert not signed_with(stored, aes_key(site_key()))  # the AES key is never the MAC key


def test_a_credential_survives_a_new_secret_key_and_the_api_still_works(
    settings, restart_site, credential, api, url, fake_openai,
):
    change_secret_key(settings, restart_site)

    loaded = Credential.objects.get(pk=credential.pk)
    assert loaded.api_key_readable
    assert loaded.api_key == TEST_API_KEY

    response = api.get(url())

    assert response.status_code == 200
    (request,) = fake_openai.requests_to("GET", "/vector_stores")
    assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"


def test_a_credential_saved_under_a_new_secret_key_reads_under_the_next_one(settings, db, restart_site):
    change_secret_key(settings, restart_site)
    pk = Credential.objects.create(name="Saved later", api_key=API_KEYS[0]).pk
    settings.SECRET_KEY = "yet-another-secret-key-" + "y" * 24
    restart_site()

    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]
    assert current_format_value(raw_column(pk)) == API_KEYS[0]


def test_rotation_after_a_new_secret_key_has_nothing_to_do(settings, restart_site, under_old_key, old_key_env):
    rotate()
    after = all_raw_columns()
    change_secret_key(settings, restart_site)

    assert rotate()[0].strip() == "0 re-encrypted, 4 already on the new key."
    assert all_raw_columns() == after


def test_values_written_now_are_unreadable_under_another_cryptography_key(credential, restart_site, monkeypatch):
    """A changed CRYPTOGRAPHY_KEY still makes stored keys unreadable: the site restarts with another key."""
    stored = raw_column(credential.pk)
    # What django_cryptography's settings hold once it has derived the AES key from the other key.
    with override_settings(CRYPTOGRAPHY_KEY=aes_key(UNKNOWN_KEY)):
        restarted = restart_site()
    assert restarted.key == aes_key(UNKNOWN_KEY)
    assert restarted.signer.key == mac_key(UNKNOWN_KEY)

    loaded = Credential.objects.get(pk=credential.pk)

    assert isinstance(loaded.api_key, UnreadableSecret)
    assert loaded.api_key.reason == SIGNATURE
    loaded.name = "Renamed"
    loaded.save()
    assert raw_column(credential.pk) == stored  # written back unchanged
    monkeypatch.undo()  # the right key again: nothing was lost
    assert Credential.objects.get(pk=credential.pk).api_key == TEST_API_KEY


def test_rotation_keeps_loaded_placeholders_out(under_old_key, old_key_env):
    """What rotation writes is the decrypted key, never the empty placeholder an unreadable row loads as."""
    old, _ = under_old_key
    rotate()

    for pk in old:
        value = Credential.objects.get(pk=pk).api_key
        assert value and not isinstance(value, UnreadableSecret)
