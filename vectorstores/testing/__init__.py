"""Test helpers for sites that install the `credentials` and `vectorstores` apps.

A stateful fake of OpenAI's Vector Stores + Files API, served over real HTTP on 127.0.0.1, and
credentials that point at it::

    from vectorstores.testing import FakeOpenAI, create_credential

    with FakeOpenAI() as fake:  # a free port on 127.0.0.1; stopped on leaving the block
        fake.create_vector_store(name="Handbook")
        credential = create_credential(fake, users=[user])

With pytest, enable the fixtures in a conftest.py instead:
`pytest_plugins = ["vectorstores.testing.pytest_plugin"]` (see that module).

Importing this package needs neither pytest nor Django settings; `create_credential` needs Django
set up and its database.
"""

from .fake_openai import FAKE_API_KEY, FakeOpenAI, FakeOpenAIHandler, RecordedRequest
from .helpers import create_credential

__all__ = [
    "FAKE_API_KEY",
    "FakeOpenAI",
    "FakeOpenAIHandler",
    "RecordedRequest",
    "create_credential",
]
