"""A stored key the server's keys cannot decrypt: rows still load, the API answers 503, admin warns.

"Unreadable" here is a key stored under another CRYPTOGRAPHY_KEY (in the current format, or in the legacy
SECRET_KEY-signed one; or in the legacy format signed with a SECRET_KEY the site no longer has), written
with raw SQL: exactly what a site sees after its encryption key changed.
"""
import copy
import logging
import os
import pickle
import re

import pytest
from django.contrib.messages import constants
from django.urls import reverse

from credentials.fields import DECRYPTION, SIGNATURE, UnreadableSecret
from credentials.models import Credential
from tests.conftest import TEST_API_KEY, client_for
from tests.test_key_rotation import (
    UNKNOWN_KEY,
    encrypted_under,
    legacy_encrypted_under,
    raw_column,
    site_cipher,
    write_raw_column,
)

pytestmark = pytest.mark.django_db

NEW_API_KEY = "sk-new-" + "n3w" * 8 + "c3d4"
UNREADABLE_DETAIL = "The credential cannot be decrypted; the server's encryption key changed."


@pytest.fixture
def unreadable(credential):
    """The conftest credential (usable by `user`, pointing at the fake OpenAI), its key now unreadable."""
    write_raw_column(credential.pk, encrypted_under(TEST_API_KEY, UNKNOWN_KEY))
    return Credential.objects.get(pk=credential.pk)


def secrets():
    return (TEST_API_KEY, TEST_API_KEY[8:-4], UNKNOWN_KEY, os.environ["CRYPTOGRAPHY_KEY"])


def assert_no_secret(text):
    for secret in secrets():
        assert secret not in text


# --- loading ---------------------------------------------------------------------------------------------


def test_an_unreadable_key_loads_as_a_placeholder(unreadable):
    assert not unreadable.api_key_readable
    assert isinstance(unreadable.api_key, UnreadableSecret)
    assert unreadable.api_key == ""  # nothing usable, nothing to show
    assert unreadable.masked_api_key == "⚠ unreadable"
    assert_no_secret(repr(unreadable.api_key))


def test_other_credentials_load_alongside_it(unreadable):
    readable = Credential.objects.create(name="Readable", api_key=NEW_API_KEY)

    loaded = {credential.pk: credential for credential in Credential.objects.all()}

    assert loaded[readable.pk].api_key == NEW_API_KEY
    assert not loaded[unreadable.pk].api_key_readable
    assert isinstance(Credential.objects.values_list("api_key", flat=True).get(pk=unreadable.pk), UnreadableSecret)


@pytest.mark.parametrize("raw", [b"", b"not a token at all", b"\x80" + b"\x00" * 80], ids=["empty", "text", "garbage"])
def test_a_damaged_value_loads_as_a_placeholder(credential, raw):
    write_raw_column(credential.pk, raw)

    assert not Credential.objects.get(pk=credential.pk).api_key_readable


def test_a_legacy_value_under_another_cryptography_key_is_a_decryption_failure(credential):
    """Signed with the current SECRET_KEY (legacy format), encrypted under another CRYPTOGRAPHY_KEY."""
    write_raw_column(credential.pk, legacy_encrypted_under(TEST_API_KEY, UNKNOWN_KEY))

    loaded = Credential.objects.get(pk=credential.pk).api_key

    assert isinstance(loaded, UnreadableSecret) and loaded.reason == DECRYPTION


def test_a_current_value_under_another_cryptography_key_is_a_signature_failure(unreadable):
    """In the current format the HMAC key comes from CRYPTOGRAPHY_KEY: another key fails the signature."""
    assert unreadable.api_key.reason == SIGNATURE


UNPICKLED = []


def record_unpickling(text):
    UNPICKLED.append(text)
    return text  # a str: were it called, the load would even "succeed"


class CallsOnUnpickling:
    def __reduce__(self):
        return (record_unpickling, (NEW_API_KEY,))  # pickled by name: tests.test_undecryptable_credentials


def test_a_signed_value_that_is_not_plain_text_is_never_unpickled(credential):
    """Only what pickle.dumps(str) writes is loaded: a value naming a callable is refused before it runs."""
    UNPICKLED.clear()
    write_raw_column(credential.pk, site_cipher().encrypt(pickle.dumps(CallsOnUnpickling())))

    assert not Credential.objects.get(pk=credential.pk).api_key_readable
    assert UNPICKLED == []


def test_a_str_subclass_is_stored_as_plain_text(db):
    from django.utils.safestring import SafeString

    credential = Credential.objects.create(name="Safe", api_key=SafeString(NEW_API_KEY))

    loaded = Credential.objects.get(pk=credential.pk).api_key
    assert loaded == NEW_API_KEY and type(loaded) is str


@pytest.mark.parametrize("legacy", [False, True], ids=["current-format", "legacy-format"])
def test_a_warning_names_the_credential_once_per_load_never_a_key(credential, caplog, legacy):
    encrypt = legacy_encrypted_under if legacy else encrypted_under
    write_raw_column(credential.pk, encrypt(TEST_API_KEY, UNKNOWN_KEY))

    with caplog.at_level(logging.WARNING, logger="credentials"):
        Credential.objects.get(pk=credential.pk)

    (record,) = [record for record in caplog.records if record.name.startswith("credentials")]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert str(credential.pk) in message
    assert "CRYPTOGRAPHY_KEY" in message and "rotate_credentials_key" in message
    assert_no_secret(message)


def test_another_secret_key_is_named_as_a_possible_cause(credential, caplog):
    """A legacy value signed with a SECRET_KEY the site no longer has; the log can't tell it from another
    CRYPTOGRAPHY_KEY (no key verifies either), so it names both."""
    write_raw_column(
        credential.pk, legacy_encrypted_under(TEST_API_KEY, os.environ["CRYPTOGRAPHY_KEY"], secret_key="other"),
    )

    with caplog.at_level(logging.WARNING, logger="credentials"):
        assert not Credential.objects.get(pk=credential.pk).api_key_readable

    message = caplog.records[-1].getMessage()
    assert "SECRET_KEY" in message and "CRYPTOGRAPHY_KEY" in message


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


# --- the API -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("get", "", None), ("post", "", {"name": "x"}), ("get", "/vs_abc", None), ("delete", "/vs_abc", None),
     ("post", "/vs_abc/search", {"query": "hello"})],
    ids=["list", "create", "get", "delete", "search"],
)
def test_the_api_answers_503_json(api, url, unreadable, fake_openai, method, path, body):
    response = getattr(api, method)(url(path), body, format="json") if body else getattr(api, method)(url(path))

    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": UNREADABLE_DETAIL, "code": "credential_unreadable"}
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


def admin_url(name, *args):
    return reverse(f"admin:credentials_credential_{name}", args=args)


def messages_of(response):
    return [(message.level, str(message)) for message in response.context["messages"]]


def form_data(credential, **changes):
    data = {
        "name": credential.name, "api_key": "", "base_url": credential.base_url,
        "organization": credential.organization, "project": credential.project,
        "users": [user.pk for user in credential.users.all()],
        "groups": [group.pk for group in credential.groups.all()], "_save": "Save",
    }
    return {**data, **changes}


def test_changelist_warns_and_marks_the_key(admin_client, unreadable):
    Credential.objects.create(name="Readable", api_key=NEW_API_KEY)

    response = admin_client.get(admin_url("changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "⚠ unreadable" in content
    assert "sk-…c3d4" in content  # the readable one as before
    [(level, message)] = messages_of(response)
    assert level == constants.WARNING
    assert message.startswith("1 credential cannot be decrypted: the server's CRYPTOGRAPHY_KEY")
    assert "Run manage.py rotate_credentials_key with the old key, or enter the key again" in message
    assert message.endswith(": Test credential.")
    assert_no_secret(content)


def test_changelist_counts_every_unreadable_credential(admin_client, unreadable):
    other = Credential.objects.create(name="Another", api_key=NEW_API_KEY)
    write_raw_column(other.pk, legacy_encrypted_under(NEW_API_KEY, UNKNOWN_KEY))  # either format counts

    [(_, message)] = messages_of(admin_client.get(admin_url("changelist")))

    assert message.startswith("2 credentials cannot be decrypted")
    assert message.endswith(": Another, Test credential.")


def test_no_warning_when_every_key_is_readable(admin_client, credential):
    assert messages_of(admin_client.get(admin_url("changelist"))) == []


def test_every_admin_page_renders(admin_client, unreadable):
    for page in (admin_url("changelist"), admin_url("change", unreadable.pk), admin_url("history", unreadable.pk),
                 admin_url("delete", unreadable.pk)):
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert_no_secret(response.content.decode())


def test_change_page_says_the_stored_key_is_unreadable(admin_client, unreadable):
    response = admin_client.get(admin_url("change", unreadable.pk))

    content = response.content.decode()
    assert "The stored key cannot be decrypted: the server's encryption key changed. Enter the key again" in content
    (api_key_input,) = re.findall(r'<input[^>]*name="api_key"[^>]*>', content)
    assert "value=" not in api_key_input
    [(level, message)] = messages_of(response)
    assert level == constants.WARNING and "cannot be decrypted" in message


def test_saving_with_a_blank_key_keeps_the_stored_value(admin_client, unreadable, user):
    stored = raw_column(unreadable.pk)

    response = admin_client.post(admin_url("change", unreadable.pk), form_data(unreadable, name="Renamed"), follow=True)

    assert response.status_code == 200
    still_unreadable = (
        "The stored API key of Renamed still cannot be decrypted: the server's encryption key changed. "
        "Enter the key again, or run manage.py rotate_credentials_key with the old key."
    )
    assert (constants.WARNING, still_unreadable) in messages_of(response)
    assert raw_column(unreadable.pk) == stored  # byte for byte: the rotation command can still recover it
    reloaded = Credential.objects.get(pk=unreadable.pk)
    assert reloaded.name == "Renamed"
    assert list(reloaded.users.all()) == [user]
    assert not reloaded.api_key_readable


def test_saving_with_a_new_key_fixes_it(admin_client, unreadable):
    response = admin_client.post(admin_url("change", unreadable.pk), form_data(unreadable, api_key=NEW_API_KEY))

    assert response.status_code == 302
    reloaded = Credential.objects.get(pk=unreadable.pk)
    assert reloaded.api_key_readable
    assert reloaded.api_key == NEW_API_KEY
    assert NEW_API_KEY.encode() not in raw_column(unreadable.pk)
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
    unreadable_error = (
        "Test credential: the stored API key cannot be decrypted: the server's encryption key changed. "
        "Enter the key again, or run manage.py rotate_credentials_key with the old key."
    )
    assert (constants.ERROR, unreadable_error) in messages
    assert (constants.SUCCESS, "1 credential connected to OpenAI.") in messages
    # Only the readable credential reached OpenAI, with its own key.
    assert [request.headers["authorization"] for request in fake_openai.requests] == [f"Bearer {TEST_API_KEY}"]
    assert Credential.objects.get(pk=unreadable.pk).last_used_at is None
