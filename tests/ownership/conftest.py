"""Fixtures of the ownership tests: stores made at OpenAI (the fake) at a given time. (alice, bob and their
`owned_credential` are the whole suite's, in tests/conftest.py.)"""

import pytest

from vectorstores.testing.fake_openai import state


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
