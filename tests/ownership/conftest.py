"""Fixtures of the ownership tests: alice and bob, who may both use a credential in `owned` mode, and stores
made at OpenAI (the fake) at a given time."""

import pytest

from tests.conftest import TEST_API_KEY
from vectorstores.testing import create_credential
from vectorstores.testing.fake_openai import state


@pytest.fixture
def alice(user):
    return user


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-password")


@pytest.fixture
def owned_credential(fake_openai, alice, bob):
    """A credential in owned mode that alice and bob may both use."""
    return create_credential(
        fake_openai, name="Team key", api_key=TEST_API_KEY, users=[alice, bob], access_mode="owned"
    )


@pytest.fixture
def store_made_at(fake_openai, monkeypatch):
    """store_made_at(name, created_at): a store made at OpenAI (the fake) at the Unix time `created_at`,
    as made there outside this site: no record."""

    def create(name, created_at):
        # The fake stamps created_at from its clock; stores made in one test otherwise share a second.
        with monkeypatch.context() as clock:
            clock.setattr(state, "now", lambda: created_at)
            return fake_openai.create_vector_store(name=name)

    return create
