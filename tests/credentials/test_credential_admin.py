"""The credential admin: the key is write-only everywhere, and the connection test action."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.messages import constants

from credentials.models import Credential
from tests.conftest import TEST_API_KEY, admin_url, form_data, messages_of, run_test_connection
from tests.credentials.credentials_crypto import raw_column

NEW_API_KEY = "sk-new-" + "n3w" * 8 + "c3d4"


def assert_no_key(response, *keys):
    content = response.content.decode()
    for key in keys or (TEST_API_KEY,):
        assert key not in content
        assert key[8:-4] not in content


# --- the changelist -----------------------------------------------------------------------


def test_changelist_shows_the_masked_key_never_the_key(admin_client, credential):
    response = admin_client.get(admin_url("changelist"))

    assert response.status_code == 200
    assert "sk-…a1b2" in response.content.decode()
    assert_no_key(response)


def test_changelist_shows_endpoint_who_and_last_use(admin_client, credential, group, fake_openai):
    credential.groups.add(group)
    credential.last_used_at = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    credential.save()
    Credential.objects.create(name="Default endpoint", api_key="sk-default-" + "d" * 20)

    content = admin_client.get(admin_url("changelist")).content.decode()

    assert fake_openai.base_url in content
    assert "OpenAI (default)" in content
    assert "alice, group analysts" in content
    assert "superusers only" in content
    assert "March 5, 2024, 2:30 p.m." in content


def test_changelist_search_by_name(admin_client, credential):
    Credential.objects.create(name="Production", api_key="sk-prod-" + "p" * 20)

    found = admin_client.get(admin_url("changelist"), {"q": "produc"}).content.decode()
    missed = admin_client.get(admin_url("changelist"), {"q": "nothing-like-it"}).content.decode()

    assert "Production" in found
    assert "Test credential" not in found
    assert "Production" not in missed
    assert "Test credential" not in missed


# --- pages never show the key ------------------------------------------------------------------


def test_no_admin_page_shows_the_key(admin_client, credential):
    # A change through the admin first, so the history page has an entry to render.
    admin_client.post(admin_url("change", credential.pk), form_data(credential, organization="org-1"))

    pages = [
        admin_url("changelist"),
        admin_url("add"),
        admin_url("change", credential.pk),
        admin_url("history", credential.pk),
        admin_url("delete", credential.pk),
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert_no_key(response)


def test_change_page_names_the_stored_key_by_its_mask(admin_client, credential):
    content = admin_client.get(admin_url("change", credential.pk)).content.decode()

    assert "Stored key: sk-…a1b2" in content


def test_api_key_input_is_a_password_without_value(admin_client, credential):
    content = admin_client.get(admin_url("change", credential.pk)).content.decode()

    (api_key_input,) = re.findall(r'<input[^>]*name="api_key"[^>]*>', content)
    assert 'type="password"' in api_key_input
    assert "value=" not in api_key_input


# --- editing -------------------------------------------------------------------------------------


def test_saving_with_a_blank_key_keeps_the_stored_key(admin_client, credential, user):
    response = admin_client.post(admin_url("change", credential.pk), form_data(credential, name="Renamed"))

    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.name == "Renamed"
    assert credential.api_key == TEST_API_KEY
    assert list(credential.users.all()) == [user]


def test_typing_a_new_key_replaces_the_stored_key(admin_client, credential):
    response = admin_client.post(admin_url("change", credential.pk), form_data(credential, api_key=NEW_API_KEY))

    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.api_key == NEW_API_KEY
    assert NEW_API_KEY.encode() not in raw_column(credential.pk)


@pytest.mark.parametrize("value", ["org\r\nX-Evil: 1", "orgé", "org x"])
@pytest.mark.parametrize("field", ["organization", "project"])
def test_organization_and_project_are_visible_ascii_as_http_headers_are(admin_client, credential, field, value):
    """Each goes out as an HTTP header: a line break would add a header, other characters fail every call."""
    changes = {field: value, "api_key": NEW_API_KEY}
    response = admin_client.post(admin_url("change", credential.pk), form_data(credential, **changes))

    assert response.status_code == 200
    assert "Visible ASCII characters only" in str(response.context["adminform"].form.errors[field])
    credential.refresh_from_db()
    assert getattr(credential, field) == ""


def test_adding_without_a_key_is_a_form_error(admin_client):
    response = admin_client.post(admin_url("add"), form_data(name="No key"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"api_key": ["An API key is required."]}
    assert not Credential.objects.exists()


def test_adding_with_a_key_stores_it_encrypted(admin_client, user, group):
    data = form_data(
        name="Added",
        api_key=f"  {NEW_API_KEY}  ",
        users=[user.pk],
        groups=[group.pk],
        organization="org-1",
        project="proj-1",
    )

    response = admin_client.post(admin_url("add"), data, follow=True)

    assert response.status_code == 200
    credential = Credential.objects.get(name="Added")
    assert credential.api_key == NEW_API_KEY  # surrounding blanks stripped
    assert (credential.organization, credential.project) == ("org-1", "proj-1")
    assert list(credential.users.all()) == [user]
    assert list(credential.groups.all()) == [group]
    assert NEW_API_KEY.encode() not in raw_column(credential.pk)
    assert_no_key(response, NEW_API_KEY)


def test_a_rejected_form_does_not_echo_the_typed_key(admin_client):
    response = admin_client.post(admin_url("add"), form_data(name="Bad URL", api_key=NEW_API_KEY, base_url="not a url"))

    assert response.status_code == 200
    assert "base_url" in response.context["adminform"].form.errors
    assert_no_key(response, NEW_API_KEY)
    assert not Credential.objects.exists()


# --- the "Test connection" action ---------------------------------------------------------------


def vector_store_lists(fake_openai):
    return fake_openai.requests_to("GET", "/vector_stores")


def test_connection_accepted(admin_client, credential, fake_openai):
    response = run_test_connection(admin_client, credential)

    assert response.status_code == 200
    assert messages_of(response) == [(constants.SUCCESS, "1 credential connected to OpenAI.")]
    (request,) = vector_store_lists(fake_openai)
    assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert_no_key(response)


def test_connection_accepted_records_the_use(admin_client, credential):
    run_test_connection(admin_client, credential)

    credential.refresh_from_db()
    assert credential.last_used_at is not None


def test_connection_rejected_key(admin_client, credential, fake_openai):
    fake_openai.api_keys.discard(TEST_API_KEY)

    response = run_test_connection(admin_client, credential)

    [(level, message)] = messages_of(response)
    assert level == constants.ERROR
    assert message.startswith("Test credential: ")
    assert "rejected" in message
    (request,) = vector_store_lists(fake_openai)
    assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert_no_key(response)
    assert TEST_API_KEY[:5] + "*" not in response.content.decode()  # not even OpenAI's own masked echo
    credential.refresh_from_db()
    assert credential.last_used_at is None


def test_connection_openai_server_error(admin_client, credential, fake_openai):
    fake_openai.fail("GET", "/vector_stores", 500)

    response = run_test_connection(admin_client, credential)

    [(level, message)] = messages_of(response)
    assert level == constants.ERROR
    assert message.startswith("Test credential: ")
    assert "OpenAI" in message
    assert len(vector_store_lists(fake_openai)) == 1
    assert_no_key(response)


def test_connection_unreadable_server_error(admin_client, credential, fake_openai):
    fake_openai.fail("GET", "/vector_stores", 503, body="<html>Bad gateway</html>")

    response = run_test_connection(admin_client, credential)

    assert messages_of(response) == [(constants.ERROR, "Test credential: OpenAI failed (503).")]


def test_connection_reports_each_credential(admin_client, credential, fake_openai):
    broken = Credential.objects.create(name="Broken", api_key="sk-broken-" + "b" * 20, base_url=fake_openai.base_url)

    response = run_test_connection(admin_client, credential, broken)

    messages = messages_of(response)
    assert (constants.SUCCESS, "1 credential connected to OpenAI.") in messages
    [error] = [text for level, text in messages if level == constants.ERROR]
    assert error.startswith("Broken: ") and "rejected" in error
    assert {request.headers["authorization"] for request in vector_store_lists(fake_openai)} == {
        f"Bearer {TEST_API_KEY}",
        f"Bearer {broken.api_key}",
    }
    assert_no_key(response, TEST_API_KEY, broken.api_key)


def test_the_standalone_admin_carries_the_sites_name(admin_client):
    assert "OpenAI vector stores" in admin_client.get("/admin/").content.decode()
