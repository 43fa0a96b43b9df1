"""A stored key the server's keys cannot decrypt: rows still load, the API answers 503, admin warns.

"Unreadable" here is a key stored under a key that is not in CRYPTOGRAPHY_KEYS (a Fernet token, or a value
in one of version 0.1's formats), a 0.1 value signed with a SECRET_KEY the site no longer has, or damaged
bytes, written with raw SQL (tests/credentials/credentials_crypto.py): exactly what a site sees after its keys changed.
"""

import copy
import logging
import pickle
import re

import pytest
from cryptography.fernet import Fernet
from django.contrib.messages import constants
from django.utils.safestring import SafeString

from credentials.encryption import DECRYPTION, SIGNATURE
from credentials.fields import UnreadableSecret
from credentials.models import Credential
from tests.conftest import TEST_API_KEY, admin_url, client_for, form_data, messages_of
from tests.credentials.credentials_crypto import (
    OTHER_SECRET_KEY,
    SITE_KEY,
    SITE_SECRET_KEY,
    UNKNOWN_KEY,
    fernet_encrypted,
    fernet_key,
    fernet_text,
    legacy_encrypted,
    raw_column,
    the_test_sites_keys,  # noqa: F401 (autouse)
    write_raw_column,
)

pytestmark = pytest.mark.django_db

NEW_API_KEY = "sk-new-" + "n3w" * 8 + "c3d4"
UNREADABLE_DETAIL = "The credential cannot be decrypted; the server's encryption key changed."
UNREADABLE_STATE = (
    "cannot be decrypted: the server's encryption keys changed. Enter the key again, or add the old key to "
    "CRYPTOGRAPHY_KEYS and run manage.py rotate_credentials_key."
)

# Each way a stored key can be unreadable, as stored, and the reason it is given.
UNREADABLE_VALUES = {
    "fernet-under-another-key": (lambda: fernet_encrypted(TEST_API_KEY, UNKNOWN_KEY), SIGNATURE),
    "0.1-format-under-another-key": (lambda: legacy_encrypted(TEST_API_KEY, UNKNOWN_KEY), SIGNATURE),
    # Signed with the site's SECRET_KEY, so the signature verifies; no key of the site decrypts it.
    "secret-key-signed-under-another-key": (
        lambda: legacy_encrypted(TEST_API_KEY, UNKNOWN_KEY, secret_key=SITE_SECRET_KEY),
        DECRYPTION,
    ),
    "secret-key-signed-with-another-secret-key": (
        lambda: legacy_encrypted(TEST_API_KEY, SITE_KEY, secret_key=OTHER_SECRET_KEY),
        SIGNATURE,
    ),
}


@pytest.fixture
def unreadable(credential):
    """The conftest credential (usable by `user`, pointing at the fake OpenAI), its key stored under UNKNOWN_KEY."""
    write_raw_column(credential.pk, fernet_encrypted(TEST_API_KEY, UNKNOWN_KEY))
    return Credential.objects.get(pk=credential.pk)


def secrets():
    return (TEST_API_KEY, TEST_API_KEY[8:-4], UNKNOWN_KEY, SITE_KEY, SITE_SECRET_KEY)


def assert_no_secret(text):
    for secret in secrets():
        assert secret not in text


# --- loading ---------------------------------------------------------------------------------------------


def test_an_unreadable_key_loads_as_a_placeholder(unreadable):
    assert not unreadable.api_key_readable
    assert isinstance(unreadable.api_key, UnreadableSecret)
    assert unreadable.api_key == ""  # nothing usable, nothing to show
    assert unreadable.masked_api_key == "⚠ unreadable"
    assert unreadable.api_key.ciphertext == raw_column(unreadable.pk)
    assert_no_secret(repr(unreadable.api_key))


def test_other_credentials_load_alongside_it(unreadable):
    readable = Credential.objects.create(name="Readable", api_key=NEW_API_KEY)

    loaded = {credential.pk: credential for credential in Credential.objects.all()}

    assert loaded[readable.pk].api_key == NEW_API_KEY
    assert not loaded[unreadable.pk].api_key_readable
    assert isinstance(Credential.objects.values_list("api_key", flat=True).get(pk=unreadable.pk), UnreadableSecret)


@pytest.mark.parametrize(("make_value", "reason"), list(UNREADABLE_VALUES.values()), ids=list(UNREADABLE_VALUES))
def test_each_kind_of_unreadable_value_loads_as_a_placeholder_with_its_reason(credential, make_value, reason):
    stored = make_value()
    write_raw_column(credential.pk, stored)

    loaded = Credential.objects.get(pk=credential.pk).api_key

    assert isinstance(loaded, UnreadableSecret)
    assert loaded.reason == reason
    assert loaded.ciphertext == stored


def test_the_key_it_was_stored_under_makes_it_readable_again(unreadable, settings, api, url, fake_openai):
    """What admin and the log advise: add the old key to CRYPTOGRAPHY_KEYS."""
    settings.CRYPTOGRAPHY_KEYS = [SITE_KEY, UNKNOWN_KEY]

    assert Credential.objects.get(pk=unreadable.pk).api_key == TEST_API_KEY
    assert api.get(url()).status_code == 200


def fernet_token_under_the_site_key(plaintext):
    return Fernet(fernet_key(SITE_KEY)).encrypt(plaintext)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not a token at all",
        b"\x80" + b"\x00" * 80,
        b"\x80" + b"\x00" * 8,
        fernet_token_under_the_site_key(TEST_API_KEY.encode())[:-10],
        fernet_token_under_the_site_key(TEST_API_KEY.encode()).replace(b"A", b"B", 1),
    ],
    ids=["empty", "text", "legacy-version-byte-then-zeros", "legacy-header-only", "truncated-token", "altered-token"],
)
def test_a_damaged_value_loads_as_a_placeholder(credential, raw):
    write_raw_column(credential.pk, raw)

    loaded = Credential.objects.get(pk=credential.pk).api_key

    assert isinstance(loaded, UnreadableSecret) and loaded.reason == SIGNATURE
    assert loaded.ciphertext == raw


def test_a_token_under_the_site_key_that_is_not_utf8_text_is_a_decryption_failure(credential):
    write_raw_column(credential.pk, fernet_token_under_the_site_key(b"\xff\xfe not text"))

    loaded = Credential.objects.get(pk=credential.pk).api_key

    assert isinstance(loaded, UnreadableSecret) and loaded.reason == DECRYPTION


UNPICKLED = []


def record_unpickling(text):
    UNPICKLED.append(text)
    return text  # a str: were it called, the load would even "succeed"


class CallsOnUnpickling:
    def __reduce__(self):
        return (record_unpickling, (NEW_API_KEY,))  # pickled by name: tests.test_undecryptable_credentials


@pytest.mark.parametrize("secret_key", [None, SITE_SECRET_KEY], ids=["0.1-format", "secret-key-signed"])
def test_a_legacy_signed_value_that_is_not_plain_text_is_never_unpickled(credential, secret_key):
    """Only what pickle.dumps(str) writes is loaded: a value naming a callable is refused before it runs."""
    UNPICKLED.clear()
    stored = legacy_encrypted(None, SITE_KEY, secret_key=secret_key, pickled=pickle.dumps(CallsOnUnpickling()))
    write_raw_column(credential.pk, stored)

    loaded = Credential.objects.get(pk=credential.pk).api_key

    assert isinstance(loaded, UnreadableSecret) and loaded.reason == DECRYPTION
    assert UNPICKLED == []


@pytest.mark.parametrize("value", [NEW_API_KEY.encode(), [NEW_API_KEY], 42, None], ids=["bytes", "list", "int", "none"])
def test_a_legacy_signed_value_that_is_not_a_str_is_unreadable(credential, value):
    write_raw_column(credential.pk, legacy_encrypted(value, SITE_KEY))

    assert not Credential.objects.get(pk=credential.pk).api_key_readable


def test_a_str_subclass_is_stored_as_plain_text(db):
    credential = Credential.objects.create(name="Safe", api_key=SafeString(NEW_API_KEY))

    loaded = Credential.objects.get(pk=credential.pk).api_key
    assert loaded == NEW_API_KEY and type(loaded) is str
    assert fernet_text(raw_column(credential.pk), SITE_KEY) == NEW_API_KEY


@pytest.mark.parametrize(
    "kind", ["fernet-under-another-key", "0.1-format-under-another-key", "secret-key-signed-under-another-key"]
)
def test_a_warning_names_the_credential_once_per_load_never_a_key(credential, caplog, kind):
    make_value, _ = UNREADABLE_VALUES[kind]
    write_raw_column(credential.pk, make_value())

    with caplog.at_level(logging.WARNING, logger="credentials"):
        Credential.objects.get(pk=credential.pk)

    (record,) = [record for record in caplog.records if record.name.startswith("credentials")]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert str(credential.pk) in message
    assert "CRYPTOGRAPHY_KEYS" in message and "rotate_credentials_key" in message
    assert_no_secret(message)


def test_another_secret_key_is_named_as_a_possible_cause(credential, caplog):
    """A 0.1 value signed with a SECRET_KEY the site no longer has; the log can't tell it from a missing
    key (no key verifies either), so it names both."""
    make_value, _ = UNREADABLE_VALUES["secret-key-signed-with-another-secret-key"]
    write_raw_column(credential.pk, make_value())

    with caplog.at_level(logging.WARNING, logger="credentials"):
        assert not Credential.objects.get(pk=credential.pk).api_key_readable

    message = caplog.records[-1].getMessage()
    assert "SECRET_KEY" in message and "CRYPTOGRAPHY_KEYS" in message


def test_no_warning_for_readable_credentials(credential, caplog):
    with caplog.at_level(logging.WARNING, logger="credentials"):
        list(Credential.objects.all())

    assert [record for record in caplog.records if record.name.startswith("credentials")] == []


def test_saving_the_instance_writes_the_stored_value_back_unchanged(unreadable):
    stored = raw_column(unreadable.pk)
    unreadable.name = "Renamed"
    unreadable.full_clean()  # an unreadable key is not "blank"

    unreadable.save()

    assert raw_column(unreadable.pk) == stored
    reloaded = Credential.objects.get(pk=unreadable.pk)
    assert reloaded.name == "Renamed"
    assert not reloaded.api_key_readable


def test_the_placeholder_survives_pickling_and_copying(unreadable):
    for copied in (pickle.loads(pickle.dumps(unreadable)), copy.deepcopy(unreadable)):
        assert not copied.api_key_readable
        assert copied.api_key.ciphertext == unreadable.api_key.ciphertext
        assert copied.api_key.reason == unreadable.api_key.reason


def test_a_copied_instance_saved_writes_the_stored_value_back_unchanged(unreadable):
    stored = raw_column(unreadable.pk)
    copied = pickle.loads(pickle.dumps(unreadable))

    copied.name = "Renamed"
    copied.save()

    assert raw_column(unreadable.pk) == stored


# --- the API -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "", None),
        ("post", "", {"name": "x"}),
        ("get", "/vs_abc", None),
        ("delete", "/vs_abc", None),
        ("post", "/vs_abc/search", {"query": "hello"}),
    ],
    ids=["list", "create", "get", "delete", "search"],
)
def test_the_api_answers_503_json(api, url, unreadable, fake_openai, method, path, body):
    response = getattr(api, method)(url(path), body, format="json") if body else getattr(api, method)(url(path))

    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "detail": UNREADABLE_DETAIL,
        "message": UNREADABLE_DETAIL,
        "code": "credential_unreadable",
    }
    assert "Traceback" not in response.content.decode()
    assert_no_secret(response.content.decode())
    assert fake_openai.requests == []  # the gateway never got the placeholder as a key
    assert Credential.objects.get(pk=unreadable.pk).last_used_at is None


def test_a_caller_who_may_not_use_it_still_gets_404(unreadable, other_user, url):
    response = client_for(other_user).get(url())

    assert response.status_code == 404
    assert response.json()["code"] == "credential_not_found"


def test_entering_the_key_again_makes_the_api_work(admin_client, api, url, unreadable, fake_openai):
    admin_client.post(admin_url("change", unreadable.pk), form_data(unreadable, api_key=TEST_API_KEY))

    response = api.get(url())

    assert response.status_code == 200
    (request,) = fake_openai.requests_to("GET", "/vector_stores")
    assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"


# --- admin -------------------------------------------------------------------------------------------------------


def changelist_warning(*names):
    count = f"{len(names)} credential{'s' if len(names) > 1 else ''} cannot be decrypted: "
    return (
        constants.WARNING,
        count + "the server's encryption keys changed (CRYPTOGRAPHY_KEYS, or SECRET_KEY for "
        "keys stored by version 0.1). Add the old key to CRYPTOGRAPHY_KEYS and run manage.py "
        "rotate_credentials_key, or enter the key again: " + ", ".join(names) + ".",
    )


def test_changelist_warns_and_marks_the_key(admin_client, unreadable):
    Credential.objects.create(name="Readable", api_key=NEW_API_KEY)

    response = admin_client.get(admin_url("changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "⚠ unreadable" in content
    assert "sk-…c3d4" in content  # the readable one as before
    assert messages_of(response) == [changelist_warning("Test credential")]
    assert_no_secret(content)


def test_changelist_counts_every_unreadable_credential(admin_client, unreadable):
    other = Credential.objects.create(name="Another", api_key=NEW_API_KEY)
    write_raw_column(other.pk, legacy_encrypted(NEW_API_KEY, UNKNOWN_KEY))  # every format counts

    assert messages_of(admin_client.get(admin_url("changelist"))) == [changelist_warning("Another", "Test credential")]


def test_no_warning_when_every_key_is_readable(admin_client, credential):
    assert messages_of(admin_client.get(admin_url("changelist"))) == []


def test_every_admin_page_renders(admin_client, unreadable):
    for page in (
        admin_url("changelist"),
        admin_url("change", unreadable.pk),
        admin_url("history", unreadable.pk),
        admin_url("delete", unreadable.pk),
    ):
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert_no_secret(response.content.decode())


def test_change_page_says_the_stored_key_is_unreadable(admin_client, unreadable):
    response = admin_client.get(admin_url("change", unreadable.pk))

    content = response.content.decode()
    assert (
        "The stored key cannot be decrypted: the server's encryption keys changed. Enter the key again to "
        "replace it (for an owned credential, a superuser must), or add the old key to CRYPTOGRAPHY_KEYS and run "
        "manage.py rotate_credentials_key. Leaving this blank keeps the unreadable stored value as it is."
    ) in content
    (api_key_input,) = re.findall(r'<input[^>]*name="api_key"[^>]*>', content)
    assert "value=" not in api_key_input
    assert messages_of(response) == [(constants.WARNING, f"The stored API key of Test credential {UNREADABLE_STATE}")]


def test_saving_with_a_blank_key_keeps_the_stored_value(admin_client, unreadable, user):
    stored = raw_column(unreadable.pk)

    response = admin_client.post(admin_url("change", unreadable.pk), form_data(unreadable, name="Renamed"), follow=True)

    assert response.status_code == 200
    assert (constants.WARNING, f"The stored API key of Renamed still {UNREADABLE_STATE}") in messages_of(response)
    assert raw_column(unreadable.pk) == stored  # byte for byte: the rotation command can still recover it
    reloaded = Credential.objects.get(pk=unreadable.pk)
    assert reloaded.name == "Renamed"
    assert list(reloaded.users.all()) == [user]
    assert not reloaded.api_key_readable


def test_changing_the_endpoint_of_an_unreadable_credential_needs_the_key(admin_client, unreadable):
    stored = raw_column(unreadable.pk)

    response = admin_client.post(
        admin_url("change", unreadable.pk), form_data(unreadable, organization="org-elsewhere")
    )

    assert response.status_code == 200  # the form again, with the error
    assert "Type the API key again to change the base URL, organization or project" in response.content.decode()
    assert raw_column(unreadable.pk) == stored
    assert Credential.objects.get(pk=unreadable.pk).organization == ""


def test_saving_with_a_new_key_fixes_it(admin_client, unreadable):
    response = admin_client.post(admin_url("change", unreadable.pk), form_data(unreadable, api_key=NEW_API_KEY))

    assert response.status_code == 302
    reloaded = Credential.objects.get(pk=unreadable.pk)
    assert reloaded.api_key_readable
    assert reloaded.api_key == NEW_API_KEY
    assert fernet_text(raw_column(unreadable.pk), SITE_KEY) == NEW_API_KEY
    response = admin_client.get(admin_url("changelist"))
    assert [level for level, _ in messages_of(response)] == [constants.SUCCESS]  # "...was changed successfully."
    assert "⚠ unreadable" not in response.content.decode()


def test_test_connection_reports_an_error(admin_client, unreadable, fake_openai):
    readable = Credential.objects.create(name="Readable", api_key=TEST_API_KEY, base_url=fake_openai.base_url)

    response = admin_client.post(
        admin_url("changelist"),
        {"action": "test_connection", "_selected_action": [unreadable.pk, readable.pk]},
        follow=True,
    )

    assert response.status_code == 200
    messages = messages_of(response)
    assert (
        constants.ERROR,
        "Test credential: The credential cannot be decrypted; the server's encryption key changed.",
    ) in messages
    assert (constants.SUCCESS, "1 credential connected to OpenAI.") in messages
    # Only the readable credential reached OpenAI, with its own key.
    assert [request.headers["authorization"] for request in fake_openai.requests] == [f"Bearer {TEST_API_KEY}"]
    assert Credential.objects.get(pk=unreadable.pk).last_used_at is None
