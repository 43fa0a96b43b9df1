"""The API's token authentication (one SQL statement) answers exactly as DRF's TokenAuthentication does."""

from unittest.mock import Mock

import pytest
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from tests.conftest import typed_fields
from vectorstores.api.authentication import TokenAuthentication

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(user):
    return Token.objects.create(user=user)


@pytest.fixture
def no_drf_lookup(monkeypatch):
    """After it: DRF's own lookup fails the test, so that an answer can only come from the one statement."""

    def refuse(*args):
        raise AssertionError("DRF's lookup was used")

    return lambda: monkeypatch.setattr(authentication.TokenAuthentication, "authenticate_credentials", refuse)


def test_a_valid_token_gives_the_same_user_and_token_as_drfs(token, django_assert_num_queries, no_drf_lookup):
    drf_user, drf_token = authentication.TokenAuthentication().authenticate_credentials(token.key)
    no_drf_lookup()
    with django_assert_num_queries(1):
        user, found = TokenAuthentication().authenticate_credentials(token.key)

    assert (user.pk, found.pk, found.user_id) == (drf_user.pk, drf_token.pk, drf_token.user_id)
    assert typed_fields(user) == typed_fields(drf_user)  # values as the ORM converts them, types too
    assert found.created == drf_token.created and found.user is user


@pytest.mark.parametrize("case", ["unknown token", "inactive user"])
def test_the_refusals_are_drfs(token, user, case, no_drf_lookup):
    key = "0" * 40 if case == "unknown token" else token.key
    if case == "inactive user":
        user.is_active = False
        user.save()
    with pytest.raises(exceptions.AuthenticationFailed) as drf_refusal:
        authentication.TokenAuthentication().authenticate_credentials(key)
    no_drf_lookup()
    with pytest.raises(exceptions.AuthenticationFailed) as refusal:
        TokenAuthentication().authenticate_credentials(key)
    assert refusal.value.detail == drf_refusal.value.detail


def test_another_token_model_is_looked_up_as_drf_does(user):
    """A host's own token model may have its own manager (say, one that leaves out expired tokens): DRF's
    lookup, through it, is used."""

    class HostTokenAuthentication(TokenAuthentication):
        model = Mock(_meta=Mock(label="hosts.Token"))

    HostTokenAuthentication.model.objects.select_related.return_value.get.return_value = Mock(user=user)

    authenticated, _token = HostTokenAuthentication().authenticate_credentials("a key")

    assert authenticated == user
    HostTokenAuthentication.model.objects.select_related.return_value.get.assert_called_once_with(key="a key")
