"""`manage.py rotate_credentials_key`: re-encrypt every stored key from the old CRYPTOGRAPHY_KEY to the new one.

The site's key (the "new" key) is the test settings' CRYPTOGRAPHY_KEY: django_cryptography derives its
AES key once and the field keeps its cipher from import time, so overriding the setting in a test would
change nothing. Values "under the old key" are therefore encrypted here, independently of the code under
test (PBKDF2 + django_cryptography's FernetBytes with explicit keys), and written with raw SQL.
Written for SQLite and PostgreSQL alike (bytea comes back from psycopg as bytes or memoryview).
"""
import os
import pickle
from io import StringIO

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_cryptography.core.signing import FernetSigner
from django_cryptography.utils.crypto import FernetBytes

from credentials.fields import UnreadableSecret, derive_key
from credentials.models import Credential

pytestmark = pytest.mark.django_db

OLD_KEY = "old-cryptography-key-for-the-rotation-tests"
UNKNOWN_KEY = "a-cryptography-key-nobody-has-any-more"
API_KEYS = ["sk-first-" + "1" * 24 + "aaaa", "sk-second-" + "2" * 24 + "bbbb", "sk-third-" + "3" * 24 + "cccc"]


# --- helpers (also used by test_undecryptable_credentials.py) ---------------------------------------


def aes_key(key):
    """django_cryptography's derivation of its AES key from a CRYPTOGRAPHY_KEY value (conf.py)."""
    return PBKDF2HMAC(hashes.SHA256(), 32, b"django-cryptography", 30000).derive(key.encode())


def encrypted_under(api_key, key, *, secret_key=None):
    """`api_key` as django_cryptography stores it under CRYPTOGRAPHY_KEY=`key` (and SECRET_KEY=`secret_key`)."""
    signer = FernetSigner(secret_key or settings.SECRET_KEY)
    return FernetBytes(aes_key(key), signer).encrypt(pickle.dumps(api_key))


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


def credential_under(key, api_key, name=None, *, secret_key=None):
    """A credential whose stored key was encrypted under CRYPTOGRAPHY_KEY=`key`."""
    credential = Credential.objects.create(name=name or api_key[:10], api_key="sk-placeholder-" + "p" * 20)
    write_raw_column(credential.pk, encrypted_under(api_key, key, secret_key=secret_key))
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
def under_old_key(db):
    """Three credentials stored under the old key, and one already under the site's key."""
    old = [credential_under(OLD_KEY, api_key) for api_key in API_KEYS]
    current = Credential.objects.create(name="current", api_key="sk-current-" + "c" * 20 + "dddd").pk
    return old, current


# --- the premise ------------------------------------------------------------------------------------------


def test_the_tests_derive_keys_as_django_cryptography_does():
    site_key = os.environ["CRYPTOGRAPHY_KEY"]  # what tests/settings.py configured
    assert aes_key(site_key) == site_cipher().key
    assert derive_key(site_key) == site_cipher().key
    assert derive_key(OLD_KEY) == aes_key(OLD_KEY) != site_cipher().key


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
    for secret in (OLD_KEY, UNKNOWN_KEY, os.environ["CRYPTOGRAPHY_KEY"], *API_KEYS):
        assert secret not in message


def test_a_failed_verification_rolls_everything_back(under_old_key, old_key_env, monkeypatch):
    """Should a re-encrypted value not decrypt with the new key, the writes already made are undone."""
    field = Credential._meta.get_field("api_key")
    wrong = FernetBytes(aes_key(UNKNOWN_KEY), FernetSigner(settings.SECRET_KEY))
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


def test_rows_are_locked_while_rotating(under_old_key, old_key_env):
    with CaptureQueriesContext(connection) as queries:
        rotate()

    if connection.features.has_select_for_update:  # PostgreSQL; SQLite locks the whole database anyway
        assert any("FOR UPDATE" in query["sql"] for query in queries.captured_queries)


def test_keys_never_appear_in_the_output(under_old_key, old_key_env, capsys):
    stdout, stderr = rotate(verbosity=3)
    lost = credential_under(UNKNOWN_KEY, "sk-lost-" + "l" * 24)
    with pytest.raises(CommandError) as error:
        rotate(verbosity=3)
    captured = capsys.readouterr()

    text = "\n".join([stdout, stderr, str(error.value), captured.out, captured.err])
    for secret in (OLD_KEY, UNKNOWN_KEY, os.environ["CRYPTOGRAPHY_KEY"], settings.SECRET_KEY, *API_KEYS):
        assert secret not in text
    for derived in (aes_key(OLD_KEY), aes_key(UNKNOWN_KEY), site_cipher().key):
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


def test_no_old_key_is_an_error(under_old_key, no_old_key):
    before = all_raw_columns()

    with pytest.raises(CommandError, match="OLD_CRYPTOGRAPHY_KEY"):
        rotate()

    assert all_raw_columns() == before


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


# --- SECRET_KEY: the HMAC of every stored value is keyed with it ------------------------------------------------


def test_values_signed_with_a_fallback_secret_key_are_re_signed(settings, old_key_env):
    pk = credential_under(os.environ["CRYPTOGRAPHY_KEY"], API_KEYS[0], secret_key="the-previous-secret-key")
    assert not Credential.objects.get(pk=pk).api_key_readable  # another SECRET_KEY: the signature fails
    settings.SECRET_KEY_FALLBACKS = ["the-previous-secret-key"]
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]  # readable while the fallback is listed

    stdout, _ = rotate()

    assert stdout.strip() == "1 re-encrypted, 0 already on the new key."
    settings.SECRET_KEY_FALLBACKS = []
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]  # now signed with the current SECRET_KEY


def test_old_key_values_signed_with_a_fallback_secret_key_are_rotated(settings, old_key_env):
    pk = credential_under(OLD_KEY, API_KEYS[1], secret_key="the-previous-secret-key")
    settings.SECRET_KEY_FALLBACKS = ["the-previous-secret-key"]

    assert rotate()[0].strip() == "1 re-encrypted, 0 already on the new key."

    settings.SECRET_KEY_FALLBACKS = []
    assert Credential.objects.get(pk=pk).api_key == API_KEYS[1]


def test_rotation_keeps_loaded_placeholders_out(under_old_key, old_key_env):
    """What rotation writes is the decrypted key, never the empty placeholder an unreadable row loads as."""
    old, _ = under_old_key
    rotate()

    for pk in old:
        value = Credential.objects.get(pk=pk).api_key
        assert value and not isinstance(value, UnreadableSecret)
