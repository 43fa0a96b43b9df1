"""The keys that encrypt stored API keys, changing them, and `manage.py rotate_credentials_key`.

The site reads its keys from settings each time (CRYPTOGRAPHY_KEYS, newest first), so a test configures
a site by overriding settings. What is stored is checked by hand (tests/credentials/credentials_crypto.py), never
with the code under test: new values are Fernet tokens under the first key, and rows "under another
key" or "written by version 0.1" are written with raw SQL, exactly as such a site holds them.

Also here: dumpdata and loaddata, which carry stored keys as ciphertext only.
"""

import base64
import json

import pytest
from cryptography.fernet import Fernet
from django.core import checks, serializers
from django.core.management import CommandError, call_command
from django.core.serializers.base import DeserializationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from credentials.encryption import SIGNATURE, Keyring
from credentials.fields import UnreadableSecret
from credentials.models import Credential
from tests.conftest import TEST_API_KEY
from tests.credentials.credentials_crypto import (
    API_KEYS,
    NEW_KEY,
    OLD_KEY,
    OTHER_SECRET_KEY,
    SITE_KEY,
    SITE_SECRET_KEY,
    UNKNOWN_KEY,
    V0_1_API_KEY,
    V0_1_KEY,
    V0_1_SECRET_KEY,
    V0_1_SECRET_SIGNED_API_KEY,
    V0_1_SECRET_SIGNED_VALUE,
    V0_1_VALUE,
    all_raw_columns,
    credential_storing,
    dump_credentials,
    dumped_api_keys,
    dumped_bytes,
    fernet_encrypted,
    fernet_key,
    fernet_plaintext,
    fernet_text,
    is_fernet_under,
    legacy_aes_key,
    legacy_encrypted,
    legacy_mac_key,
    raw_column,
    rotate,
    signed_with,
    the_test_sites_keys,  # noqa: F401 (autouse)
)

pytestmark = pytest.mark.django_db

CURRENT_API_KEY = "sk-current-" + "c" * 20 + "dddd"


# --- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_old_key(monkeypatch, settings):
    """No old key outside CRYPTOGRAPHY_KEYS unless a test names one (whatever the environment running the tests)."""
    monkeypatch.delenv("OLD_CRYPTOGRAPHY_KEY", raising=False)
    if hasattr(settings, "CRYPTOGRAPHY_OLD_KEY"):
        del settings.CRYPTOGRAPHY_OLD_KEY


@pytest.fixture
def old_key_env(monkeypatch):
    """OLD_KEY in OLD_CRYPTOGRAPHY_KEY, the command's default place for a key outside the list."""
    monkeypatch.setenv("OLD_CRYPTOGRAPHY_KEY", OLD_KEY)


@pytest.fixture
def under_old_key(db):
    """Three credentials stored under OLD_KEY, and one stored by the site (under SITE_KEY): (old pks, current pk)."""
    old = [credential_storing(fernet_encrypted(api_key, OLD_KEY), name=api_key[:10]) for api_key in API_KEYS]
    current = Credential.objects.create(name="current", api_key=CURRENT_API_KEY).pk
    return old, current


@pytest.fixture
def rotating_to_new_key(settings, under_old_key):
    """The deploy that starts a rotation: CRYPTOGRAPHY_KEYS=[NEW_KEY, OLD_KEY, SITE_KEY] (rows under the last two)."""
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY, OLD_KEY, SITE_KEY]
    return under_old_key


@pytest.fixture
def site_of_0_1(settings):
    """The keys of the site that wrote the 0.1 fixtures (its SECRET_KEY signed the django_cryptography-format one)."""
    settings.CRYPTOGRAPHY_KEYS = [V0_1_KEY]
    settings.SECRET_KEY = V0_1_SECRET_KEY
    settings.SECRET_KEY_FALLBACKS = []


# (value as stored by 0.1, the key it holds), for each of 0.1's formats
ROWS_OF_0_1 = pytest.mark.parametrize(
    ("stored", "api_key"),
    [(V0_1_VALUE, V0_1_API_KEY), (V0_1_SECRET_SIGNED_VALUE, V0_1_SECRET_SIGNED_API_KEY)],
    ids=["0.1-format", "secret-key-signed"],
)


def change_secret_key(settings):
    """SECRET_KEY replaced by an unrelated value, with no fallbacks."""
    settings.SECRET_KEY = OTHER_SECRET_KEY
    settings.SECRET_KEY_FALLBACKS = []


# --- the premise: the format, checked by hand ------------------------------------------------------------


def test_a_stored_key_is_a_fernet_token_of_its_utf8_text_under_the_site_key(credential):
    stored = raw_column(credential.pk)

    assert fernet_plaintext(stored, SITE_KEY) == TEST_API_KEY.encode("utf-8")  # no pickle: the text itself
    assert fernet_text(stored, SITE_KEY) == TEST_API_KEY
    assert TEST_API_KEY.encode() not in stored
    assert not is_fernet_under(stored, SITE_SECRET_KEY)  # SECRET_KEY plays no part


def test_a_key_beyond_ascii_is_stored_as_utf8(db):
    api_key = "sk-clé-ünïcødé-" + "u" * 20 + "e5f6"
    pk = Credential.objects.create(name="Unicode", api_key=api_key).pk

    assert fernet_plaintext(raw_column(pk), SITE_KEY) == api_key.encode("utf-8")
    assert Credential.objects.get(pk=pk).api_key == api_key


def test_the_helpers_write_0_1s_format_byte_for_byte():
    """The legacy helper (used for the other legacy rows) reproduces the real 0.1 fixtures exactly."""
    for stored, api_key, secret_key in [
        (V0_1_VALUE, V0_1_API_KEY, None),
        (V0_1_SECRET_SIGNED_VALUE, V0_1_SECRET_SIGNED_API_KEY, V0_1_SECRET_KEY),
    ]:
        timestamp = int.from_bytes(stored[1:9], "big")
        rebuilt = legacy_encrypted(api_key, V0_1_KEY, secret_key=secret_key, iv=stored[9:25], timestamp=timestamp)
        assert rebuilt == stored
    assert signed_with(V0_1_VALUE, legacy_mac_key(V0_1_KEY))
    assert signed_with(V0_1_SECRET_SIGNED_VALUE, V0_1_SECRET_KEY.encode())


# --- several keys: CRYPTOGRAPHY_KEYS = [new, old] ----------------------------------------------------------------


def test_before_the_old_key_is_listed_its_rows_do_not_load(under_old_key):
    old, current = under_old_key
    loaded = {credential.pk: credential for credential in Credential.objects.all()}

    assert all(not loaded[pk].api_key_readable for pk in old)
    assert loaded[current].api_key == CURRENT_API_KEY


def test_rows_under_every_key_of_the_list_read(rotating_to_new_key):
    old, current = rotating_to_new_key
    before = all_raw_columns()

    for pk, api_key in zip(old, API_KEYS, strict=True):
        assert Credential.objects.get(pk=pk).api_key == api_key
    assert Credential.objects.get(pk=current).api_key == CURRENT_API_KEY
    assert all_raw_columns() == before  # reading rewrites nothing


@pytest.fixture
def decryptions(monkeypatch):
    """The tokens Fernet is asked to decrypt, one entry per key tried."""
    tokens, real_decrypt = [], Fernet.decrypt

    def recording_decrypt(fernet, token, *args):
        tokens.append(token)
        return real_decrypt(fernet, token, *args)

    monkeypatch.setattr(Fernet, "decrypt", recording_decrypt)
    return tokens


def test_a_stored_key_is_decrypted_once_until_it_changes(credential, decryptions):
    """Every API call loads its credential: the same stored token is not decrypted again."""
    for _ in range(3):
        assert Credential.objects.get(pk=credential.pk).api_key == TEST_API_KEY
    assert decryptions == [raw_column(credential.pk)]

    credential.api_key = "sk-changed-" + "e" * 24
    credential.save()
    decryptions.clear()
    for _ in range(2):
        assert Credential.objects.get(pk=credential.pk).api_key == "sk-changed-" + "e" * 24
    assert decryptions == [raw_column(credential.pk)]  # a new token: decrypted once more


def test_keys_are_tried_newest_first_once_per_token(rotating_to_new_key, decryptions):
    old, current = rotating_to_new_key  # under OLD_KEY (second) and SITE_KEY (third)

    for _ in range(2):
        assert Credential.objects.get(pk=old[0]).api_key == API_KEYS[0]
        assert Credential.objects.get(pk=current).api_key == CURRENT_API_KEY
    assert decryptions == [raw_column(old[0])] * 2 + [raw_column(current)] * 3


def test_new_values_are_written_under_the_first_key_only(settings):
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY, OLD_KEY]

    pk = Credential.objects.create(name="New", api_key=API_KEYS[0]).pk

    stored = raw_column(pk)
    assert fernet_text(stored, NEW_KEY) == API_KEYS[0]
    assert not is_fernet_under(stored, OLD_KEY)


def test_saving_a_row_under_an_older_key_moves_it_to_the_first(rotating_to_new_key):
    old, _ = rotating_to_new_key
    credential = Credential.objects.get(pk=old[0])

    credential.name = "Renamed"
    credential.save()

    assert fernet_text(raw_column(old[0]), NEW_KEY) == API_KEYS[0]


def test_rotation_moves_every_row_to_the_first_key(rotating_to_new_key):
    old, current = rotating_to_new_key
    before = all_raw_columns()

    stdout, stderr = rotate()

    assert stdout.strip() == "4 re-encrypted, 0 already on the new key."
    assert stderr == ""
    for pk, api_key in [*zip(old, API_KEYS, strict=True), (current, CURRENT_API_KEY)]:
        stored = raw_column(pk)
        assert stored != before[pk]
        assert fernet_text(stored, NEW_KEY) == api_key
        assert not is_fernet_under(stored, OLD_KEY) and not is_fernet_under(stored, SITE_KEY)


def test_after_dropping_the_old_keys_every_row_still_reads(rotating_to_new_key, settings):
    old, current = rotating_to_new_key
    rotate()

    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY]

    loaded = {credential.pk: credential.api_key for credential in Credential.objects.all()}
    assert loaded == {**dict(zip(old, API_KEYS, strict=True)), current: CURRENT_API_KEY}


def test_dropping_an_old_key_before_rotating_leaves_its_rows_unreadable_until_it_is_back(rotating_to_new_key, settings):
    """Why the rotation matters; and a row that did not load was not damaged by loading it."""
    old, _ = rotating_to_new_key
    stored = raw_column(old[0])
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY, SITE_KEY]

    loaded = Credential.objects.get(pk=old[0]).api_key
    assert isinstance(loaded, UnreadableSecret) and loaded.reason == SIGNATURE
    assert raw_column(old[0]) == stored

    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY, OLD_KEY]
    assert Credential.objects.get(pk=old[0]).api_key == API_KEYS[0]


def test_rows_already_under_the_first_key_are_left_alone(rotating_to_new_key, settings):
    _old, _current = rotating_to_new_key
    first_pk = Credential.objects.create(name="Written after the deploy", api_key=API_KEYS[0]).pk
    written = raw_column(first_pk)

    assert rotate()[0].strip() == "4 re-encrypted, 1 already on the new key."

    assert raw_column(first_pk) == written


def test_a_rotation_needs_no_downtime(settings, credential, api, url, fake_openai):
    """Deploy [new, old], rotate, deploy [new]: the API works with the key at every step."""

    def api_uses_the_key():
        fake_openai.reset()
        assert api.get(url()).status_code == 200
        (request,) = fake_openai.requests_to("GET", "/vector_stores")
        assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"
        assert Credential.objects.get(pk=credential.pk).api_key == TEST_API_KEY

    api_uses_the_key()  # the site as it ran: CRYPTOGRAPHY_KEYS = [SITE_KEY]
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY, SITE_KEY]
    api_uses_the_key()  # the row is still under the old key
    assert is_fernet_under(raw_column(credential.pk), SITE_KEY)

    assert rotate()[0].strip() == "1 re-encrypted, 0 already on the new key."
    api_uses_the_key()
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY]
    api_uses_the_key()
    assert fernet_text(raw_column(credential.pk), NEW_KEY) == TEST_API_KEY


def test_rows_written_by_the_old_site_during_the_deploy_are_rotated_too(settings, db):
    """During a rolling deploy, instances still on [old] write rows that instances on [new, old] read."""
    settings.CRYPTOGRAPHY_KEYS = [OLD_KEY]
    by_old_instance = Credential.objects.create(name="Old instance", api_key=API_KEYS[0]).pk
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY, OLD_KEY]
    by_new_instance = Credential.objects.create(name="New instance", api_key=API_KEYS[1]).pk
    assert Credential.objects.get(pk=by_old_instance).api_key == API_KEYS[0]
    settings.CRYPTOGRAPHY_KEYS = [OLD_KEY]
    assert not Credential.objects.get(pk=by_new_instance).api_key_readable  # the old code can't read the new key's rows
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY, OLD_KEY]

    assert rotate()[0].strip() == "1 re-encrypted, 1 already on the new key."

    assert fernet_text(raw_column(by_old_instance), NEW_KEY) == API_KEYS[0]


# --- one key in CRYPTOGRAPHY_KEY, or none ------------------------------------------------------------------------


def test_cryptography_key_alone_is_a_list_of_one(settings, credential):
    settings.CRYPTOGRAPHY_KEYS = None
    settings.CRYPTOGRAPHY_KEY = SITE_KEY

    assert Credential.objects.get(pk=credential.pk).api_key == TEST_API_KEY
    pk = Credential.objects.create(name="New", api_key=API_KEYS[0]).pk
    assert fernet_text(raw_column(pk), SITE_KEY) == API_KEYS[0]
    assert rotate()[0].strip() == "0 re-encrypted, 2 already on the new key."
    assert not [message for message in checks.run_checks() if message.id.startswith("credentials.")]


def test_another_cryptography_key_alone_reads_only_its_own_rows(settings, credential):
    settings.CRYPTOGRAPHY_KEYS = None
    settings.CRYPTOGRAPHY_KEY = NEW_KEY

    assert not Credential.objects.get(pk=credential.pk).api_key_readable
    pk = Credential.objects.create(name="New", api_key=API_KEYS[0]).pk
    assert fernet_text(raw_column(pk), NEW_KEY) == API_KEYS[0]


@pytest.mark.parametrize("single", [None, "", "unset"], ids=["none", "empty", "unset"])
def test_without_any_key_secret_key_is_the_key_and_a_warning_says_so(settings, db, single):
    del settings.CRYPTOGRAPHY_KEYS
    if single != "unset":
        settings.CRYPTOGRAPHY_KEY = single

    pk = Credential.objects.create(name="New", api_key=API_KEYS[0]).pk

    assert fernet_text(raw_column(pk), SITE_SECRET_KEY) == API_KEYS[0]
    (warning,) = [message for message in checks.run_checks() if message.id.startswith("credentials.")]
    assert warning.id == "credentials.W001" and warning.level == checks.WARNING


@pytest.mark.parametrize("keys", ["a-single-string", [], [""], [SITE_KEY, None]], ids=["str", "empty", "blank", "none"])
def test_a_malformed_key_list_is_an_error(settings, keys):
    settings.CRYPTOGRAPHY_KEYS = keys

    ids = [message.id for message in checks.run_checks() if message.id.startswith("credentials.")]

    assert ids == ["credentials.E001"]


# --- rotation: the command ---------------------------------------------------------------------------------------


def test_running_twice_changes_nothing_the_second_time(rotating_to_new_key):
    rotate()
    after_first = all_raw_columns()

    stdout, _ = rotate()

    assert stdout.strip() == "0 re-encrypted, 4 already on the new key."
    assert all_raw_columns() == after_first
    assert sorted(Credential.objects.values_list("api_key", flat=True)) == sorted([*API_KEYS, CURRENT_API_KEY])


def test_no_credentials_at_all(db):
    stdout, _ = rotate()

    assert stdout.strip() == "0 re-encrypted, 0 already on the new key."


def test_a_credential_under_an_unknown_key_aborts_everything(rotating_to_new_key, settings):
    old, current = rotating_to_new_key
    lost = credential_storing(fernet_encrypted("sk-lost-" + "l" * 24, UNKNOWN_KEY))
    before = all_raw_columns()

    with pytest.raises(CommandError) as error:
        rotate()

    message = str(error.value)
    assert str(lost) in message
    assert not any(str(pk) in message for pk in [*old, current])  # only the culprit is named
    assert "Nothing was changed" in message
    assert all_raw_columns() == before  # one transaction: the readable ones were not rotated either
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY]
    assert not Credential.objects.get(pk=old[0]).api_key_readable
    for secret in (NEW_KEY, OLD_KEY, UNKNOWN_KEY, SITE_KEY, *API_KEYS):
        assert secret not in message


def test_a_failed_verification_rolls_everything_back(rotating_to_new_key, monkeypatch):
    """Should a re-encrypted value not decrypt with the new key, the writes already made are undone."""
    monkeypatch.setattr(Keyring, "encrypt", lambda self, text: fernet_encrypted(text, UNKNOWN_KEY))
    before = all_raw_columns()

    with pytest.raises(CommandError, match=r"do not decrypt with the new key.*Rolled back"):
        rotate()

    monkeypatch.undo()
    assert all_raw_columns() == before


def test_a_verification_that_reads_another_key_rolls_back_too(rotating_to_new_key, monkeypatch):
    """Decrypting is not enough: each rewritten row must hold the very key it held before."""
    monkeypatch.setattr(Keyring, "encrypt", lambda self, text: fernet_encrypted(text[::-1], NEW_KEY))
    before = all_raw_columns()

    with pytest.raises(CommandError, match="Rolled back"):
        rotate()

    monkeypatch.undo()
    assert all_raw_columns() == before


def test_dry_run_changes_nothing(rotating_to_new_key):
    old, _ = rotating_to_new_key
    before = all_raw_columns()

    stdout, _ = rotate("--dry-run")

    assert stdout.strip() == "Dry run, rolled back: 4 re-encrypted, 0 already on the new key. Nothing was changed."
    assert all_raw_columns() == before
    assert is_fernet_under(raw_column(old[0]), OLD_KEY)
    # ...and the real run afterwards still has all the work to do.
    assert rotate()[0].strip() == "4 re-encrypted, 0 already on the new key."


def test_dry_run_still_reports_unreadable_credentials(rotating_to_new_key):
    lost = credential_storing(fernet_encrypted("sk-lost-" + "l" * 24, UNKNOWN_KEY))

    with pytest.raises(CommandError, match=str(lost)):
        rotate("--dry-run")


@pytest.mark.skipif(
    not connection.features.has_select_for_update, reason="SQLite has no row locks (its writes lock the whole database)"
)
def test_rows_are_locked_while_rotating(rotating_to_new_key):
    with CaptureQueriesContext(connection) as queries:
        rotate()

    assert any("FOR UPDATE" in query["sql"] for query in queries.captured_queries)


def test_keys_never_appear_in_the_output(rotating_to_new_key, capsys):
    old, current = rotating_to_new_key
    stdout, stderr = rotate(verbosity=3)
    lost = credential_storing(fernet_encrypted("sk-lost-" + "l" * 24, UNKNOWN_KEY))
    with pytest.raises(CommandError) as error:
        rotate(verbosity=3)
    captured = capsys.readouterr()

    text = "\n".join([stdout, stderr, str(error.value), captured.out, captured.err])
    for secret in (NEW_KEY, OLD_KEY, UNKNOWN_KEY, SITE_KEY, SITE_SECRET_KEY, *API_KEYS, CURRENT_API_KEY):
        assert secret not in text
    for passphrase in (NEW_KEY, OLD_KEY, UNKNOWN_KEY, SITE_KEY):
        assert fernet_key(passphrase).decode() not in text
        assert legacy_aes_key(passphrase).hex() not in text
    # verbosity 2+ lists what it re-encrypted, by id only
    assert all(f"Re-encrypted credential {pk}" in stdout for pk in [*old, current])
    assert str(lost) in str(error.value)


def test_rotation_writes_the_keys_never_the_placeholders(rotating_to_new_key, settings):
    """What rotation writes is the decrypted key, never the empty placeholder an unreadable row loads as."""
    old, _ = rotating_to_new_key
    rotate()
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY]

    for pk in old:
        value = Credential.objects.get(pk=pk).api_key
        assert value and not isinstance(value, UnreadableSecret)


# --- an old key that is not in CRYPTOGRAPHY_KEYS -----------------------------------------------------------------


def test_old_key_from_the_environment(under_old_key, old_key_env):
    old, current = under_old_key
    before = all_raw_columns()

    stdout, stderr = rotate()

    assert stdout.strip() == "3 re-encrypted, 1 already on the new key."
    assert stderr == ""
    for pk, api_key in zip(old, API_KEYS, strict=True):
        assert fernet_text(raw_column(pk), SITE_KEY) == api_key
        assert Credential.objects.get(pk=pk).api_key == api_key  # through the ORM, with the site's keys
    assert raw_column(current) == before[current]  # already on the new key: not touched


def test_old_key_from_another_environment_variable(under_old_key, monkeypatch):
    monkeypatch.setenv("PREVIOUS_CRYPTO_KEY", OLD_KEY)

    stdout, _ = rotate("--old-key-env", "PREVIOUS_CRYPTO_KEY")

    assert stdout.strip() == "3 re-encrypted, 1 already on the new key."


def test_old_key_from_the_setting(under_old_key, settings):
    settings.CRYPTOGRAPHY_OLD_KEY = OLD_KEY

    stdout, _ = rotate()

    assert stdout.strip() == "3 re-encrypted, 1 already on the new key."


def test_the_environment_variable_wins_over_the_setting(under_old_key, old_key_env, settings):
    settings.CRYPTOGRAPHY_OLD_KEY = UNKNOWN_KEY

    assert rotate()[0].strip() == "3 re-encrypted, 1 already on the new key."


def test_no_old_key_is_an_error_when_a_credential_needs_one(under_old_key):
    old, current = under_old_key
    before = all_raw_columns()

    with pytest.raises(CommandError, match="OLD_CRYPTOGRAPHY_KEY") as error:
        rotate()

    message = str(error.value)
    assert "cannot be decrypted with the keys of CRYPTOGRAPHY_KEYS" in message and "Nothing was changed" in message
    assert "CRYPTOGRAPHY_KEYS" in message  # the other way to name the old key
    assert all(str(pk) in message for pk in old) and str(current) not in message
    assert all_raw_columns() == before


def test_a_wrong_old_key_is_an_error_that_changes_nothing(under_old_key, monkeypatch):
    monkeypatch.setenv("OLD_CRYPTOGRAPHY_KEY", UNKNOWN_KEY)
    before = all_raw_columns()

    with pytest.raises(CommandError, match="cannot be decrypted with the new or the old key") as error:
        rotate()

    assert UNKNOWN_KEY not in str(error.value)
    assert all_raw_columns() == before


def test_no_old_key_is_needed_when_every_credential_reads_with_the_list(db):
    legacy = [credential_storing(legacy_encrypted(api_key, SITE_KEY)) for api_key in API_KEYS[:2]]
    current = Credential.objects.create(name="current", api_key=API_KEYS[2]).pk
    before = all_raw_columns()

    stdout, _ = rotate()

    assert stdout.strip() == "2 re-encrypted, 1 already on the new key."
    for pk, api_key in zip(legacy, API_KEYS[:2], strict=True):
        assert fernet_text(raw_column(pk), SITE_KEY) == api_key
    assert raw_column(current) == before[current]
    assert rotate()[0].strip() == "0 re-encrypted, 3 already on the new key."


def test_a_named_old_key_variable_is_still_required_to_be_set(db):
    """--old-key-env is an explicit request for an old key: its variable being unset is an error, not "no old key"."""
    credential_storing(legacy_encrypted(API_KEYS[0], SITE_KEY))

    with pytest.raises(CommandError, match="PREVIOUS_CRYPTO_KEY"):
        rotate("--old-key-env", "PREVIOUS_CRYPTO_KEY")


def test_a_named_variable_that_is_not_set_is_an_error(under_old_key):
    with pytest.raises(CommandError, match="PREVIOUS_CRYPTO_KEY"):
        rotate("--old-key-env", "PREVIOUS_CRYPTO_KEY")


def test_a_key_given_where_the_variable_name_belongs_is_not_echoed(under_old_key):
    typed_key = "k3y-typed/on+the=command-line"

    with pytest.raises(CommandError) as error:
        rotate("--old-key-env", typed_key)

    assert typed_key not in str(error.value)
    assert "name of an environment variable" in str(error.value)


def test_the_command_takes_no_key_argument():
    with pytest.raises(CommandError):
        call_command("rotate_credentials_key", "--old-key", OLD_KEY)


# --- rows written by version 0.1 ---------------------------------------------------------------------------------


@ROWS_OF_0_1
def test_a_row_written_by_0_1_loads(site_of_0_1, stored, api_key):
    pk = credential_storing(stored)

    credential = Credential.objects.get(pk=pk)

    assert credential.api_key_readable
    assert credential.api_key == api_key
    assert raw_column(pk) == stored  # loading writes nothing


@ROWS_OF_0_1
def test_rotation_rewrites_a_0_1_row_as_a_fernet_token(site_of_0_1, settings, stored, api_key):
    """Legacy values are always stale, even under the newest key: rotation rewrites them, no old key needed."""
    pk = credential_storing(stored)

    stdout, _ = rotate()

    assert stdout.strip() == "1 re-encrypted, 0 already on the new key."
    assert fernet_text(raw_column(pk), V0_1_KEY) == api_key
    change_secret_key(settings)  # no longer depends on SECRET_KEY
    assert Credential.objects.get(pk=pk).api_key == api_key
    assert rotate()[0].strip() == "0 re-encrypted, 1 already on the new key."


@ROWS_OF_0_1
def test_a_0_1_row_is_rewritten_as_a_fernet_token_when_it_is_next_saved(site_of_0_1, settings, stored, api_key):
    pk = credential_storing(stored)
    credential = Credential.objects.get(pk=pk)

    credential.name = "Renamed"
    credential.save()

    assert fernet_text(raw_column(pk), V0_1_KEY) == api_key
    change_secret_key(settings)
    assert Credential.objects.get(pk=pk).api_key == api_key


@ROWS_OF_0_1
def test_rotation_moves_0_1_rows_to_a_new_key(site_of_0_1, settings, stored, api_key):
    pk = credential_storing(stored)
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY, V0_1_KEY]
    assert Credential.objects.get(pk=pk).api_key == api_key

    assert rotate()[0].strip() == "1 re-encrypted, 0 already on the new key."

    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY]
    change_secret_key(settings)
    assert fernet_text(raw_column(pk), NEW_KEY) == api_key
    assert Credential.objects.get(pk=pk).api_key == api_key


@ROWS_OF_0_1
def test_a_0_1_row_under_a_key_outside_the_list_is_rotated_with_the_old_key(
    site_of_0_1, settings, monkeypatch, stored, api_key
):
    pk = credential_storing(stored)
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY]
    assert not Credential.objects.get(pk=pk).api_key_readable
    monkeypatch.setenv("OLD_CRYPTOGRAPHY_KEY", V0_1_KEY)

    assert rotate()[0].strip() == "1 re-encrypted, 0 already on the new key."

    assert fernet_text(raw_column(pk), NEW_KEY) == api_key


def test_an_unrotated_secret_key_signed_row_still_needs_its_secret_key(site_of_0_1, settings):
    """Why rotation matters: until rewritten, a django_cryptography-format row depends on SECRET_KEY."""
    pk = credential_storing(V0_1_SECRET_SIGNED_VALUE)
    change_secret_key(settings)

    loaded = Credential.objects.get(pk=pk).api_key
    assert isinstance(loaded, UnreadableSecret) and loaded.reason == SIGNATURE
    assert raw_column(pk) == V0_1_SECRET_SIGNED_VALUE

    settings.SECRET_KEY_FALLBACKS = [V0_1_SECRET_KEY]  # read from settings at load time
    assert Credential.objects.get(pk=pk).api_key == V0_1_SECRET_SIGNED_API_KEY


def test_a_0_1_format_row_does_not_depend_on_secret_key(site_of_0_1, settings):
    pk = credential_storing(V0_1_VALUE)
    change_secret_key(settings)

    assert Credential.objects.get(pk=pk).api_key == V0_1_API_KEY


def test_a_row_signed_with_a_fallback_secret_key_is_rotated(site_of_0_1, settings):
    pk = credential_storing(V0_1_SECRET_SIGNED_VALUE)
    change_secret_key(settings)
    settings.SECRET_KEY_FALLBACKS = [V0_1_SECRET_KEY]

    assert rotate()[0].strip() == "1 re-encrypted, 0 already on the new key."

    settings.SECRET_KEY_FALLBACKS = []
    assert fernet_text(raw_column(pk), V0_1_KEY) == V0_1_SECRET_SIGNED_API_KEY
    assert Credential.objects.get(pk=pk).api_key == V0_1_SECRET_SIGNED_API_KEY


def test_a_secret_key_signed_row_whose_secret_key_is_gone_stops_the_rotation(site_of_0_1, settings):
    pk = credential_storing(V0_1_SECRET_SIGNED_VALUE)
    change_secret_key(settings)

    with pytest.raises(CommandError, match=str(pk)):
        rotate()

    assert raw_column(pk) == V0_1_SECRET_SIGNED_VALUE


def test_rows_in_every_format_and_key_are_rotated_together(settings, old_key_env):
    """One run: 0.1's two formats under the site key and under the old key, Fernet under the old key."""
    rows = {
        credential_storing(legacy_encrypted(API_KEYS[0], SITE_KEY)): API_KEYS[0],
        credential_storing(legacy_encrypted(API_KEYS[1], SITE_KEY, secret_key=SITE_SECRET_KEY)): API_KEYS[1],
        credential_storing(legacy_encrypted(API_KEYS[2], OLD_KEY)): API_KEYS[2],
        credential_storing(legacy_encrypted(CURRENT_API_KEY, OLD_KEY, secret_key=SITE_SECRET_KEY)): CURRENT_API_KEY,
        credential_storing(fernet_encrypted(TEST_API_KEY, OLD_KEY)): TEST_API_KEY,
    }

    assert rotate()[0].strip() == "5 re-encrypted, 0 already on the new key."

    change_secret_key(settings)
    for pk, api_key in rows.items():
        assert fernet_text(raw_column(pk), SITE_KEY) == api_key
        assert Credential.objects.get(pk=pk).api_key == api_key


def test_0_1_rows_encrypted_with_another_salt_read_with_cryptography_salt(settings, db):
    """django_cryptography's CRYPTOGRAPHY_SALT setting, which a 0.1 site may have set, is honoured."""
    pk = credential_storing(legacy_encrypted(API_KEYS[0], SITE_KEY, salt=b"a-salt-of-that-site"))
    assert not Credential.objects.get(pk=pk).api_key_readable

    settings.CRYPTOGRAPHY_SALT = "a-salt-of-that-site"

    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]
    assert rotate()[0].strip() == "1 re-encrypted, 0 already on the new key."
    del settings.CRYPTOGRAPHY_SALT
    assert fernet_text(raw_column(pk), SITE_KEY) == API_KEYS[0]


# --- the promise: changing SECRET_KEY never makes stored keys unreadable -----------------------------------------


def test_a_credential_survives_a_new_secret_key_and_the_api_still_works(settings, credential, api, url, fake_openai):
    change_secret_key(settings)

    loaded = Credential.objects.get(pk=credential.pk)
    assert loaded.api_key_readable
    assert loaded.api_key == TEST_API_KEY

    response = api.get(url())

    assert response.status_code == 200
    (request,) = fake_openai.requests_to("GET", "/vector_stores")
    assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"


def test_a_credential_saved_under_a_new_secret_key_reads_under_the_next_one(settings, db):
    change_secret_key(settings)
    pk = Credential.objects.create(name="Saved later", api_key=API_KEYS[0]).pk
    settings.SECRET_KEY = "yet-another-secret-key-" + "y" * 24

    assert Credential.objects.get(pk=pk).api_key == API_KEYS[0]
    assert fernet_text(raw_column(pk), SITE_KEY) == API_KEYS[0]


def test_rotation_after_a_new_secret_key_has_nothing_to_do(settings, under_old_key, old_key_env):
    rotate()
    after = all_raw_columns()
    change_secret_key(settings)

    assert rotate()[0].strip() == "0 re-encrypted, 4 already on the new key."
    assert all_raw_columns() == after


def test_values_written_now_are_unreadable_under_another_key_and_saving_keeps_them(settings, credential):
    """A site started with another CRYPTOGRAPHY_KEYS cannot read the keys, and destroys none by saving."""
    stored = raw_column(credential.pk)
    settings.CRYPTOGRAPHY_KEYS = [UNKNOWN_KEY]

    loaded = Credential.objects.get(pk=credential.pk)

    assert isinstance(loaded.api_key, UnreadableSecret)
    assert loaded.api_key.reason == SIGNATURE
    loaded.name = "Renamed"
    loaded.save()
    assert raw_column(credential.pk) == stored  # written back unchanged
    settings.CRYPTOGRAPHY_KEYS = [SITE_KEY]  # the right key again: nothing was lost
    assert Credential.objects.get(pk=credential.pk).api_key == TEST_API_KEY


# --- dumpdata and loaddata: ciphertext only ---------------------------------------------------------------------


@pytest.fixture
def dumped(credential):
    """dumpdata of the conftest credential and one more: (the JSON text, {pk: api key})."""
    other = Credential.objects.create(name="Other", api_key=API_KEYS[0])
    return dump_credentials(), {str(credential.pk): TEST_API_KEY, str(other.pk): API_KEYS[0]}


def load_dump(dump, tmp_path):
    """Delete every credential, then loaddata the dump from a .json file."""
    fixture = tmp_path / "credentials.json"
    fixture.write_text(dump)
    Credential.objects.all().delete()
    call_command("loaddata", str(fixture), verbosity=0)


def test_dumpdata_never_writes_a_key_in_clear_text(dumped):
    dump, api_keys = dumped

    for api_key in api_keys.values():
        assert api_key not in dump
        assert api_key[8:-4] not in dump
    values = dumped_api_keys(dump)
    assert values.keys() == api_keys.keys()
    for pk, value in values.items():
        assert value.startswith("encrypted:")
        assert fernet_text(dumped_bytes(value), SITE_KEY) == api_keys[pk]  # the site's ciphertext, read by hand


def test_a_dumped_legacy_row_holds_neither_its_key_nor_needs_secret_key(site_of_0_1, settings):
    pk = credential_storing(V0_1_SECRET_SIGNED_VALUE)

    dump = dump_credentials()

    assert V0_1_SECRET_SIGNED_API_KEY not in dump
    assert fernet_text(dumped_bytes(dumped_api_keys(dump)[str(pk)]), V0_1_KEY) == V0_1_SECRET_SIGNED_API_KEY


def test_dump_delete_and_load_gives_back_the_same_keys(dumped, tmp_path, credential, user):
    dump, api_keys = dumped

    load_dump(dump, tmp_path)

    loaded = {str(loaded.pk): loaded for loaded in Credential.objects.all()}
    assert {pk: loaded.api_key for pk, loaded in loaded.items()} == api_keys
    for pk, api_key in api_keys.items():
        assert fernet_text(raw_column(loaded[pk].pk), SITE_KEY) == api_key
    assert list(Credential.objects.usable_by(user)) == [credential]  # the rest of the row came back too


def test_a_dumped_value_deserializes_as_the_key_when_the_site_reads_it(dumped, settings):
    dump, api_keys = dumped

    assert {str(row.object.pk): row.object.api_key for row in serializers.deserialize("json", dump)} == api_keys
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY]
    assert all(isinstance(row.object.api_key, UnreadableSecret) for row in serializers.deserialize("json", dump))


def test_a_dump_loaded_on_a_site_with_other_keys_keeps_the_ciphertext(dumped, tmp_path, settings, monkeypatch):
    """Unreadable there, never an empty key; and a rotation with the right old key recovers it."""
    dump, api_keys = dumped
    dumped_values = {pk: dumped_bytes(value) for pk, value in dumped_api_keys(dump).items()}
    settings.CRYPTOGRAPHY_KEYS = [NEW_KEY]

    load_dump(dump, tmp_path)

    for credential in Credential.objects.all():
        assert isinstance(credential.api_key, UnreadableSecret)
        assert raw_column(credential.pk) == dumped_values[str(credential.pk)]  # the exact ciphertext
    monkeypatch.setenv("OLD_CRYPTOGRAPHY_KEY", SITE_KEY)
    assert rotate()[0].strip() == "2 re-encrypted, 0 already on the new key."
    for credential in Credential.objects.all():
        assert credential.api_key == api_keys[str(credential.pk)]
        assert fernet_text(raw_column(credential.pk), NEW_KEY) == api_keys[str(credential.pk)]


def test_an_unreadable_row_dumps_its_exact_stored_bytes(db, tmp_path):
    stored = {
        credential_storing(fernet_encrypted(API_KEYS[0], UNKNOWN_KEY), "Other key"): None,
        credential_storing(legacy_encrypted(API_KEYS[1], UNKNOWN_KEY), "0.1, other key"): None,
        credential_storing(b"damaged beyond repair", "Damaged"): None,
    }
    stored = {pk: raw_column(pk) for pk in stored}

    dump = dump_credentials()

    assert {pk: dumped_bytes(value) for pk, value in dumped_api_keys(dump).items()} == {
        str(pk): raw for pk, raw in stored.items()
    }
    load_dump(dump, tmp_path)  # and a round trip keeps them byte for byte
    assert all_raw_columns() == stored


def test_a_fixture_with_a_malformed_encrypted_value_is_refused(credential, tmp_path):
    dump = json.loads(dump_credentials())
    dump[0]["fields"]["api_key"] = "encrypted:not base64!"

    with pytest.raises(DeserializationError):
        load_dump(json.dumps(dump), tmp_path)


def test_admin_refuses_a_pasted_ciphertext_as_a_key(admin_client, credential):
    """Else someone could copy another row's dumped value into a credential of their own."""
    pasted = "encrypted:" + base64.b64encode(raw_column(credential.pk)).decode()

    response = admin_client.post(
        reverse("admin:credentials_credential_add"),
        {
            "name": "Pasted",
            "api_key": pasted,
            "base_url": "",
            "organization": "",
            "project": "",
            "_save": "Save",
        },
    )

    assert response.status_code == 200
    assert "An API key cannot start with" in response.content.decode()
    assert not Credential.objects.filter(name="Pasted").exists()


def test_model_validation_refuses_a_pasted_ciphertext_whatever_the_form(credential):
    """A host's own form or full_clean(): the prefix is only ever decoded by deserialization."""
    from django.core.exceptions import ValidationError

    pasted = Credential(name="Mine", api_key="encrypted:" + base64.b64encode(raw_column(credential.pk)).decode())
    with pytest.raises(ValidationError) as error:
        pasted.full_clean()
    assert "api_key" in error.value.message_dict
    assert pasted.api_key.startswith("encrypted:")  # never replaced by the other row's key
