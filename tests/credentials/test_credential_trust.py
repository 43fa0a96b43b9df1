"""What a hostile staff user cannot do with a credential: send its key elsewhere, or grant it to themselves."""

import io

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from credentials.models import Credential, EndpointChangeNeedsKey
from tests.conftest import TEST_API_KEY, admin_url, client_for, form_data, logged_in, messages_of, run_test_connection

pytestmark = pytest.mark.django_db

ATTACKER_URL = "https://attacker.example/v1"


@pytest.fixture
def staff(django_user_model):
    """A staff user with every credential permission, who is not a superuser."""
    user = django_user_model.objects.create_user("stan", password="stan-password", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="credentials"))
    return user


@pytest.fixture
def staff_client(staff):
    return logged_in(staff)


def post_change(client, credential, **changes):
    return client.post(admin_url("change", credential.pk), form_data(credential, **changes))


def form_errors(response):
    form = response.context["adminform"].form
    return {name: [str(error) for error in errors] for name, errors in form.errors.items()}


def history(credential):
    return [entry.get_change_message() for entry in LogEntry.objects.filter(object_id=str(credential.pk))]


# --- where the key goes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value", [("base_url", "http://127.0.0.1:9/v1"), ("organization", "org-other"), ("project", "proj-other")]
)
def test_changing_the_endpoint_without_typing_the_key_is_refused(admin_client, credential, field, value):
    response = post_change(admin_client, credential, **{field: value})

    assert response.status_code == 200
    assert "Type the API key again" in form_errors(response)["api_key"][0]
    assert getattr(Credential.objects.get(pk=credential.pk), field) == getattr(credential, field)


def test_changing_the_endpoint_with_the_key_typed_again_is_saved(admin_client, credential, fake_openai):
    response = post_change(admin_client, credential, api_key=TEST_API_KEY, organization="org-new")

    assert response.status_code == 302
    saved = Credential.objects.get(pk=credential.pk)
    assert (saved.organization, saved.api_key) == ("org-new", TEST_API_KEY)


def test_a_model_save_that_moves_the_endpoint_needs_the_key(credential):
    loaded = Credential.objects.get(pk=credential.pk)
    loaded.base_url = "http://127.0.0.1:9/v1"
    with pytest.raises(EndpointChangeNeedsKey):
        loaded.save()

    loaded.api_key = TEST_API_KEY
    loaded.save()
    assert Credential.objects.get(pk=credential.pk).base_url == "http://127.0.0.1:9/v1"


def test_a_save_that_keeps_the_endpoint_needs_no_key(credential):
    loaded = Credential.objects.get(pk=credential.pk)
    loaded.name = "Renamed"
    loaded.save()
    assert Credential.objects.get(pk=credential.pk).name == "Renamed"


def test_a_staff_user_who_is_not_superuser_cannot_change_the_base_url(staff_client, staff, credential):
    credential.users.add(staff)
    response = post_change(staff_client, credential, api_key=TEST_API_KEY, base_url=ATTACKER_URL)

    assert response.status_code == 302  # saved, without the base URL: the field is read-only for them
    assert Credential.objects.get(pk=credential.pk).base_url == credential.base_url
    page = staff_client.get(admin_url("change", credential.pk)).content.decode()
    assert 'name="base_url"' not in page


def test_only_a_superuser_changes_who_reaches_whose_stores(staff_client, staff, admin_client, credential):
    credential.users.add(staff)
    credential.access_mode = "owned"
    credential.save()

    assert post_change(staff_client, credential, access_mode="shared").status_code == 302  # saved without it
    assert Credential.objects.get(pk=credential.pk).access_mode == "owned"
    assert 'name="access_mode"' not in staff_client.get(admin_url("change", credential.pk)).content.decode()

    assert post_change(admin_client, credential, access_mode="shared").status_code == 302
    assert Credential.objects.get(pk=credential.pk).access_mode == "shared"


@pytest.mark.parametrize("base_url", [ATTACKER_URL, "http://api.openai.com/v1", "https://u:p@api.openai.com/v1"])
def test_a_base_url_outside_the_allow_list_is_refused_even_to_a_superuser(admin_client, credential, base_url):
    response = post_change(admin_client, credential, api_key=TEST_API_KEY, base_url=base_url)

    assert response.status_code == 200
    assert "base_url" in form_errors(response)
    assert Credential.objects.get(pk=credential.pk).base_url == credential.base_url


def test_a_host_the_setting_allows_is_accepted(admin_client, credential, settings):
    settings.OPENAI_CREDENTIALS = {"ALLOWED_BASE_URL_HOSTS": [".openai.azure.com"]}
    azure = "https://team.openai.azure.com/openai/v1"

    assert post_change(admin_client, credential, api_key=TEST_API_KEY, base_url=azure).status_code == 302
    assert Credential.objects.get(pk=credential.pk).base_url == azure


def test_history_records_old_and_new_endpoint_values_never_the_key(admin_client, credential, fake_openai):
    old_url = credential.base_url
    new_url = old_url.replace("/v1", "/v2")
    post_change(admin_client, credential, api_key=TEST_API_KEY, base_url=new_url, organization="org-9")

    [message] = history(credential)
    assert f"Base URL (from “{old_url}” to “{new_url}”)" in message
    assert "Organization (from blank to “org-9”)" in message
    assert "API key" in message
    assert TEST_API_KEY not in message and TEST_API_KEY[8:-4] not in message


# --- a row the allow-list no longer admits ------------------------------------------------------------


@pytest.fixture
def redirected(credential):
    """The conftest credential pointed at a host outside the allow-list, as if saved before it existed."""
    Credential.objects.filter(pk=credential.pk).update(base_url=ATTACKER_URL)
    return Credential.objects.get(pk=credential.pk)


def test_the_system_check_warns_of_a_stored_base_url_outside_the_allow_list(redirected):
    """A warning: the key is never sent there, and a narrowed allow-list must not stop the next migrate."""
    out, err = io.StringIO(), io.StringIO()
    call_command("check", databases=["default"], stdout=out, stderr=err)
    assert "credentials.W003" in out.getvalue() + err.getvalue()
    with pytest.raises(SystemCheckError, match=r"credentials\.W003"):
        call_command("check", "--fail-level", "WARNING", databases=["default"])


def test_the_api_never_sends_the_key_to_a_refused_host(redirected, api, url, fake_openai):
    response = api.get(url())

    assert response.status_code == 503
    assert response.json()["code"] == "credential_endpoint_refused"
    assert fake_openai.requests == []


def test_test_connection_reports_a_refused_host_and_sends_nothing(admin_client, redirected, fake_openai):
    response = run_test_connection(admin_client, redirected)

    [(_, message)] = messages_of(response)
    assert message == "Test credential: The credential's base URL names a host this site does not send API keys to."
    assert fake_openai.requests == []


# --- Test connection -----------------------------------------------------------------------------------


def test_test_connection_needs_the_change_permission(django_user_model, credential, fake_openai):
    viewer = django_user_model.objects.create_user("vera", password="x", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_credential"))
    credential.users.add(viewer)
    client = logged_in(viewer)

    page = client.get(admin_url("changelist"))
    assert page.status_code == 200 and "Test credential" in page.content.decode()  # they see it...
    assert "test_connection" not in page.content.decode()  # ...but are not offered the action
    run_test_connection(client, credential)
    assert fake_openai.requests == []


def test_test_connection_says_nothing_about_credentials_the_user_may_not_use(
    staff_client, staff, credential, fake_openai
):
    response = run_test_connection(staff_client, credential)

    assert messages_of(response) == []
    assert fake_openai.requests == []


def test_test_connection_runs_on_the_credentials_the_user_may_use(staff_client, staff, credential, fake_openai):
    credential.users.add(staff)
    response = run_test_connection(staff_client, credential)

    assert [text for _, text in messages_of(response)] == ["1 credential connected to OpenAI."]


# --- granting access --------------------------------------------------------------------------------


def test_nobody_grants_themselves_a_credential_they_may_not_use(staff_client, staff, credential, api, url):
    response = post_change(staff_client, credential, users=[*credential.users.values_list("pk", flat=True), staff.pk])

    assert response.status_code == 200
    assert "only to a credential you may use yourself" in str(response.context["adminform"].form.non_field_errors())
    assert not credential.users.filter(pk=staff.pk).exists()
    assert client_for(staff).get(url()).status_code == 404


def test_nobody_grants_a_group_access_to_a_credential_they_may_not_use(staff_client, credential, group):
    response = post_change(staff_client, credential, groups=[group.pk])

    assert response.status_code == 200
    assert not credential.groups.exists()


def test_a_user_of_the_credential_may_share_it(staff_client, staff, credential, other_user):
    credential.users.add(staff)
    users = [*credential.users.values_list("pk", flat=True), other_user.pk]

    assert post_change(staff_client, credential, users=users).status_code == 302
    assert credential.users.filter(pk=other_user.pk).exists()


def test_a_superuser_may_share_any_credential(admin_client, credential, other_user):
    assert post_change(admin_client, credential, users=[other_user.pk]).status_code == 302
    assert list(credential.users.all()) == [other_user]


def test_removing_users_needs_no_access(staff_client, credential):
    assert post_change(staff_client, credential, users=[]).status_code == 302
    assert not credential.users.exists()


def test_whoever_adds_a_credential_may_share_it(staff_client, other_user):
    response = staff_client.post(admin_url("add"), form_data(name="New", api_key=TEST_API_KEY, users=[other_user.pk]))

    assert response.status_code == 302
    assert list(Credential.objects.get(name="New").users.all()) == [other_user]


OTHER_KEY = "sk-proj-" + "b" * 40


@pytest.mark.parametrize(
    "changes",
    [{"api_key": OTHER_KEY}, {"api_key": OTHER_KEY, "organization": "org-theirs"}],
    ids=["a new key", "a new key and organization"],
)
def test_nobody_replaces_the_key_of_a_credential_they_may_not_use(staff_client, credential, changes):
    """Its users' uploads and searches would go to the account of the key's new owner."""
    stored = (credential.api_key, credential.organization)
    response = post_change(staff_client, credential, **changes)

    assert response.status_code == 200
    errors = str(response.context["adminform"].form.non_field_errors())
    assert "replace the key or change the endpoint only of a credential you may use yourself" in errors
    credential.refresh_from_db()
    assert (credential.api_key, credential.organization) == stored


def test_a_user_of_the_credential_may_replace_its_key(staff_client, staff, credential):
    credential.users.add(staff)
    assert post_change(staff_client, credential, api_key=OTHER_KEY, organization="org-new").status_code == 302
    credential.refresh_from_db()
    assert (credential.api_key, credential.organization) == (OTHER_KEY, "org-new")


@pytest.mark.parametrize("changes", [{"api_key": OTHER_KEY}, {"api_key": OTHER_KEY, "project": "proj_theirs"}])
def test_only_a_superuser_replaces_the_key_of_an_owned_credential(
    staff_client, staff, admin_client, credential, changes
):
    """Its users do not reach each other's stores; a new key would send the others' uploads to its owner."""
    credential.users.add(staff)
    credential.access_mode = "owned"
    credential.save()
    stored = (credential.api_key, credential.project)

    response = post_change(staff_client, credential, access_mode="owned", **changes)

    assert response.status_code == 200
    errors = str(response.context["adminform"].form.non_field_errors())
    assert "Only a superuser may replace the key or change the endpoint of an owned credential." in errors
    credential.refresh_from_db()
    assert (credential.api_key, credential.project) == stored
    assert post_change(admin_client, credential, access_mode="owned", **changes).status_code == 302
    credential.refresh_from_db()
    assert credential.api_key == OTHER_KEY


def test_the_console_link_is_not_shown_for_a_credential_the_user_may_not_use(staff_client, staff, credential):
    page = staff_client.get(admin_url("changelist")).content.decode()
    assert admin_url("vector_stores", credential.pk) not in page
    credential.users.add(staff)  # the control: once they may use it, the same page links to its console
    assert admin_url("vector_stores", credential.pk) in staff_client.get(admin_url("changelist")).content.decode()
