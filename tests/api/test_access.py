"""Who may use a credential through the API, and how the credential is named."""

import uuid

import pytest
from django.contrib.auth.models import Group
from django.http import QueryDict
from rest_framework import serializers

from tests.conftest import API_ROOT, TEST_API_KEY, client_for
from vectorstores.api.serializers import CredentialQuerySerializer
from vectorstores.api.views import validated_value

pytestmark = pytest.mark.django_db


def test_unauthenticated_caller_gets_401(url):
    response = client_for(None).get(url())
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_session_authentication_works_too(client, user, url, fake_openai):
    client.force_login(user)
    assert client.get(url()).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?credential=",
        "?credential=not-a-uuid",
        "?credential=123",
        "?credential=0b6f7cde-53f2-4cbb-9d0e-1a4c27e4ad11&credential=x",
    ],
)
def test_missing_or_malformed_credential_is_400_naming_it(api, credential, query):
    response = api.get(API_ROOT + query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"].startswith("credential:")
    # What the query's serializer says of it, word for word.
    serializer = CredentialQuerySerializer(data=QueryDict(query.removeprefix("?")))
    assert not serializer.is_valid()
    assert body["errors"] == {"credential": [str(message) for message in serializer.errors["credential"]]}


def test_of_two_credentials_named_neither_counts(api, credential, fake_openai):
    response = api.get(f"{API_ROOT}?credential=not-a-uuid&credential={credential.pk}")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["credential"])


def test_a_query_serializer_that_validates_more_than_its_fields_is_never_taken_field_by_field():
    """validated_value() runs a field's own validation only: a serializer with more would lose it, so it refuses."""

    class Checked(CredentialQuerySerializer):
        def validate_credential(self, value):
            raise serializers.ValidationError("never this one")

    with pytest.raises(TypeError, match="validates more than its fields"):
        validated_value(Checked, "credential", QueryDict(f"credential={uuid.uuid4()}"))


def test_someone_elses_credential_looks_exactly_like_a_missing_one(credential, other_user, url, fake_openai):
    not_allowed = client_for(other_user).get(url())
    missing = client_for(other_user).get(url(credential_id=uuid.uuid4()))
    assert not_allowed.status_code == missing.status_code == 404
    assert (
        not_allowed.json()
        == missing.json()
        == {"detail": "Credential not found.", "message": "Credential not found.", "code": "credential_not_found"}
    )
    assert fake_openai.requests == []


def test_member_of_an_allowed_group_may_use_it(credential, other_user, url, fake_openai):
    group = Group.objects.create(name="search-team")
    other_user.groups.add(group)
    credential.groups.add(group)
    assert client_for(other_user).get(url()).status_code == 200


def test_superuser_may_use_every_credential(credential, admin_user, url, fake_openai):
    assert client_for(admin_user).get(url()).status_code == 200


def test_removed_user_loses_access_on_the_next_request(api, credential, user, url, fake_openai):
    assert api.get(url()).status_code == 200
    credential.users.remove(user)
    assert api.get(url()).status_code == 404


def test_the_call_uses_the_credentials_key_and_headers(api, credential, url, fake_openai):
    credential.organization, credential.project, credential.api_key = "org-123", "proj-456", TEST_API_KEY
    credential.save()
    api.get(url())
    sent = fake_openai.requests[-1].headers
    assert sent["authorization"] == f"Bearer {credential.api_key}"
    assert sent["openai-organization"] == "org-123"
    assert sent["openai-project"] == "proj-456"


def test_a_use_updates_last_used_at(api, credential, url, fake_openai):
    assert credential.last_used_at is None
    api.get(url())
    credential.refresh_from_db()
    assert credential.last_used_at is not None
