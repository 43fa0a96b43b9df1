"""pytest fixtures for the fake OpenAI. A host site enables them in its top-level conftest.py::

    pytest_plugins = ["vectorstores.testing.pytest_plugin"]

- `fake_openai_server` (session): one FakeOpenAI on 127.0.0.1 for the whole run (one per xdist worker).
- `fake_openai`: that fake, emptied before each test (stores, files, recorded requests, faults, delays).
- `openai_credential`: a saved Credential pointing at the fake, with a key it accepts; needs the
  database (pytest-django's `db`). Nobody may use it until you add users or groups
  (`openai_credential.users.add(user)`), except superusers.
- `fake_openai_api_key` (session): the key the fake accepts, FAKE_API_KEY; override this fixture in
  your conftest.py to choose another.

The plugin is not registered automatically: a site opts in. Only this module imports pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .fake_openai import FAKE_API_KEY, FakeOpenAI
from .helpers import create_credential

if TYPE_CHECKING:
    from credentials.models import Credential

__all__ = ["fake_openai", "fake_openai_api_key", "fake_openai_server", "openai_credential"]


@pytest.fixture(scope="session")
def fake_openai_api_key() -> str:
    """The API key the fake accepts and `openai_credential` stores (override it to choose another)."""
    return FAKE_API_KEY


@pytest.fixture(scope="session")
def fake_openai_server(fake_openai_api_key: str) -> Iterator[FakeOpenAI]:
    """One fake OpenAI for the session, started on a free port of 127.0.0.1 and stopped at the end."""
    with FakeOpenAI(api_keys=[fake_openai_api_key]) as fake:
        yield fake


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> FakeOpenAI:
    """The session's fake OpenAI, emptied for this test."""
    fake_openai_server.reset()
    return fake_openai_server


@pytest.fixture
def openai_credential(db: None, fake_openai: FakeOpenAI, fake_openai_api_key: str) -> Credential:
    """A saved credential pointing at the fake OpenAI, with a key it accepts; usable by superusers only
    until you add users or groups."""
    return create_credential(fake_openai, name="Fake OpenAI", api_key=fake_openai_api_key)
